"""Measure the simulator: cold/warm start-up, idle CPU, CPU with every camera pulled at once.

``camsvc bench simulator`` (or ``camsvc simulate bench``) prints a table and writes JSON to
``bench-results/simulator.json``. Clients are OpenCV with the prober's settings (FACTS.md).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from camsvc.bench.common import process_cpu_seconds, tree_cpu_seconds, tree_rss_mb

os.environ.setdefault("OPENCV_FFMPEG_IS_THREAD_SAFE", "1")
os.environ.setdefault(
    "OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp|analyzeduration;200000|probesize;32768"
)


def _pull(url: str, seconds: float, max_frames: int) -> tuple[bool, int, float]:
    import cv2

    t0 = time.monotonic()
    cap = cv2.VideoCapture(
        url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 3000]
    )
    frames = 0
    try:
        if not cap.isOpened():
            return False, 0, time.monotonic() - t0
        while frames < max_frames and time.monotonic() - t0 < seconds + 5:
            if not cap.grab():
                break
            frames += 1
            if time.monotonic() - t0 >= seconds and frames >= 1:
                break
    finally:
        cap.release()
    return frames > 0, frames, time.monotonic() - t0


# --- a minimal RTSP/MJPEG client that does not decode: the server's cost without the client's ------------


async def _rtsp_pull(url: str, seconds: float) -> tuple[bool, int]:
    """OPTIONS/DESCRIBE (Basic or Digest auth)/SETUP (TCP interleaved)/PLAY; count complete frames (RTP
    marker bit) for *seconds*. Returns (ok, frames)."""
    import asyncio
    import hashlib
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    user, pw = unquote(parts.username or ""), unquote(parts.password or "")
    clean = f"rtsp://{parts.hostname}:{parts.port}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    reader, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, parts.port), 10)
    cseq = 0
    auth_header = ""
    challenge: dict[str, str] = {}

    async def request(method: str, uri: str, extra: str = "") -> tuple[int, dict[str, str], bytes]:
        nonlocal cseq
        cseq += 1
        auth = ""
        if challenge.get("scheme") == "digest":
            ha1 = hashlib.md5(f"{user}:{challenge['realm']}:{pw}".encode()).hexdigest()
            ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
            resp = hashlib.md5(f"{ha1}:{challenge['nonce']}:{ha2}".encode()).hexdigest()
            auth = (
                f'Authorization: Digest username="{user}", realm="{challenge["realm"]}", '
                f'nonce="{challenge["nonce"]}", uri="{uri}", response="{resp}"\r\n'
            )
        elif auth_header:
            auth = auth_header
        writer.write(f"{method} {uri} RTSP/1.0\r\nCSeq: {cseq}\r\n{auth}{extra}\r\n".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k:
                headers[k.strip().lower()] = v.strip()
        body = await reader.readexactly(int(headers.get("content-length", 0)))
        return status, headers, body

    frames = 0
    try:
        status, headers, body = await request("DESCRIBE", clean, "Accept: application/sdp\r\n")
        if status == 401:
            www = headers.get("www-authenticate", "")
            if www.lower().startswith("digest"):
                from camsvc.simulate.camera import _parse_auth_params

                challenge = {"scheme": "digest", **_parse_auth_params(www.split(" ", 1)[1])}
            else:
                import base64

                auth_header = f"Authorization: Basic {base64.b64encode(f'{user}:{pw}'.encode()).decode()}\r\n"
            status, headers, body = await request("DESCRIBE", clean, "Accept: application/sdp\r\n")
        if status != 200:
            return False, 0
        base = headers.get("content-base", clean).rstrip("/")
        control = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in body.decode().split("m=video", 1)[-1].splitlines()
                if ln.startswith("a=control:")
            ),
            "stream=0",
        )
        track = control if control.startswith("rtsp://") else f"{base}/{control}"
        status, headers, _ = await request(
            "SETUP", track, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"
        )
        session = headers.get("session", "").split(";")[0]
        status, _, _ = await request("PLAY", base + "/", f"Session: {session}\r\nRange: npt=0-\r\n")
        if status != 200:
            return False, 0
        deadline = time.monotonic() + seconds
        buf = bytearray()
        while time.monotonic() < deadline:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            if not chunk:
                break
            buf += chunk
            pos = 0
            while len(buf) - pos >= 4:  # interleaved frames: $ channel length(2) payload
                if buf[pos] != 0x24:
                    return frames > 0, frames  # an RTSP message in the stream: good enough for a count
                end = pos + 4 + int.from_bytes(buf[pos + 2 : pos + 4], "big")
                if end > len(buf):
                    break
                if buf[pos + 1] == 0 and end - pos > 5 and buf[pos + 5] & 0x80:  # RTP marker: frame ends
                    frames += 1
                pos = end
            del buf[:pos]
        return True, frames
    except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
        return frames > 0, frames
    finally:
        writer.close()


async def _mjpeg_pull(url: str, seconds: float) -> tuple[bool, int]:
    """GET an MJPEG stream over a plain socket (Basic auth); count parts for *seconds*."""
    import asyncio
    import base64
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    auth = ""
    if parts.username:
        token = base64.b64encode(
            f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        ).decode()
        auth = f"Authorization: Basic {token}\r\n"
    frames = 0
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, parts.port), 10)
    except OSError:
        return False, 0
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {parts.hostname}\r\n{auth}\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            return False, 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            if not chunk:
                break
            frames += chunk.count(b"Content-Type: image/jpeg")
        return True, frames
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
        return frames > 0, frames
    finally:
        writer.close()


def raw_pull_all(urls: list[str], seconds: float) -> list[tuple[bool, int]]:
    import asyncio

    async def main() -> list[tuple[bool, int]]:
        tasks = [_rtsp_pull(u, seconds) if u.startswith("rtsp://") else _mjpeg_pull(u, seconds) for u in urls]
        return list(await asyncio.gather(*tasks))

    return asyncio.run(main())


def run(
    roadside: int = 40, household: int = 200, pull_s: float = 5.0, probe_threads: int = 64, cold: bool = True
) -> dict[str, Any]:
    from camsvc.paths import cache_dir
    from camsvc.simulate import footage
    from camsvc.simulate.harness import Simulator

    res: dict[str, Any] = {
        "cameras": roadside + household,
        "cpu_count": os.cpu_count(),
        "loadavg_before": round(os.getloadavg()[0], 2),
    }
    if cold:  # every scene from the source footage into an empty cache (footage copied, not fetched)
        cache = Path(tempfile.mkdtemp(prefix="camsvc-cold-cache-"))
        try:
            main_cache = cache_dir()
            src = footage.ensure_sources(main_cache)
            shutil.copytree(src, footage.footage_dir(cache))
            t0 = time.monotonic()
            footage.ensure_scenes(cache, footage.SCENES)
            res["cold_cache_build_s"] = round(time.monotonic() - t0, 2)
            t0 = time.monotonic()
            footage.fault_clips(cache, "street-a", "frozen")
            footage.fault_clips(cache, "street-a", "snow")
            res["fault_variant_encode_s"] = round((time.monotonic() - t0) / 2, 2)
        finally:
            shutil.rmtree(cache, ignore_errors=True)

    with Simulator(roadside, household) as sim:
        assert sim.pid is not None
        res["startup_warm_s"] = round(sim.startup_s or 0.0, 2)
        res["startup_server_s"] = sim.info.get("startup_s")
        time.sleep(2)
        c0, t0 = tree_cpu_seconds(sim.pid), time.monotonic()
        time.sleep(5)
        res["idle_cpu_pct"] = round(100 * (tree_cpu_seconds(sim.pid) - c0) / (time.monotonic() - t0), 2)
        res["idle_rss_mb"] = round(tree_rss_mb(sim.pid), 1)
        urls = [sim.url(c.id) for c in sim.fleet]

        # 1) a probe sweep: open + 3 frames on every camera, probe_threads at a time
        c0, t0 = tree_cpu_seconds(sim.pid), time.monotonic()
        with ThreadPoolExecutor(probe_threads) as pool:
            sweep = list(pool.map(lambda u: _pull(u, 0.0, 3), urls))
        dt = time.monotonic() - t0
        res["sweep"] = {
            "threads": probe_threads,
            "wall_s": round(dt, 2),
            "failed": sum(not ok for ok, _, _ in sweep),
            "failed_ids": [c.id for c, (ok, _, _) in zip(sim.fleet, sweep, strict=True) if not ok],
            "server_cpu_pct": round(100 * (tree_cpu_seconds(sim.pid) - c0) / dt, 1),
            "probe_s_median": round(sorted(s for _, _, s in sweep)[len(sweep) // 2], 2),
        }

        # 2) every camera pulled at once by a client that does not decode: the server's own cost
        own = (os.getpid(), (sim.pid,))  # this process (the clients), not the simulator below it
        c0, m0, k0 = tree_cpu_seconds(sim.pid), process_cpu_seconds(sim.pid), tree_cpu_seconds(*own)
        t0 = time.monotonic()
        raw = raw_pull_all(urls, pull_s)
        dt = time.monotonic() - t0
        relay = 100 * (process_cpu_seconds(sim.pid) - m0) / dt
        client = 100 * (tree_cpu_seconds(*own) - k0) / dt
        fps = sorted(n / pull_s for _, n in raw)
        res["pull_all_raw"] = {
            "clients": len(urls),
            "seconds_each": pull_s,
            "wall_s": round(dt, 2),
            "failed": sum(not ok for ok, _ in raw),
            "server_cpu_pct": round(100 * (tree_cpu_seconds(sim.pid) - c0) / dt, 1),
            "of_which_front_relay_pct": round(relay, 1),
            "client_cpu_pct": round(client, 1),
            "fps_per_client_median": round(fps[len(fps) // 2], 2),
            "fps_per_client_min": round(fps[0], 2),
        }

        # 3) every camera pulled at once by OpenCV (decoding: on 2 cores the clients starve the server)
        peak_rss = [0.0]
        stop = threading.Event()

        def sample_rss() -> None:
            while not stop.wait(0.5):
                peak_rss[0] = max(peak_rss[0], tree_rss_mb(sim.pid or 0))

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        c0, t0 = tree_cpu_seconds(sim.pid), time.monotonic()
        with ThreadPoolExecutor(len(urls)) as pool:
            pulls = list(pool.map(lambda u: _pull(u, pull_s, 1000), urls))
        dt = time.monotonic() - t0
        stop.set()
        frames = sorted(n for _, n, _ in pulls)
        res["pull_all"] = {
            "clients": len(urls),
            "seconds_each": pull_s,
            "wall_s": round(dt, 2),
            "failed": sum(not ok for ok, _, _ in pulls),
            "server_cpu_pct": round(100 * (tree_cpu_seconds(sim.pid) - c0) / dt, 1),
            "frames_per_client_median": frames[len(frames) // 2],
            "frames_per_client_min": frames[0],
            "server_peak_rss_mb": round(peak_rss[0], 1),
        }
    return res


def write(res: dict[str, Any], out: Path = Path("bench-results/simulator.json")) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    return out
