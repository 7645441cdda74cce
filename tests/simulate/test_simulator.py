"""The real simulator on 127.0.0.1: streams decode, and every fault looks like the real thing on the wire.

Clients are the ones camsvc uses: OpenCV (FFmpeg backend) for RTSP/MJPEG, httpx for snapshots, plain
sockets for what happens below the protocols (refused, silent, reset).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from camsvc.bench.common import wait_until
from camsvc.cli.simulate import simulate
from camsvc.simulate.fleet import FLEET_COLUMNS, fold, read_fleet
from camsvc.simulate.harness import Simulator, SimulatorError

pytestmark = pytest.mark.integration

READ_TIMEOUT_MS = 2000


# --- helpers ---------------------------------------------------------------------------------------------


def pick(sim: Simulator, protocol: str, credentials: bool | None = None) -> str:
    for cam in sim.fleet:
        proto = "rtsp" if cam.main_url.startswith("rtsp://") else "http"
        if proto == protocol and (credentials is None or bool(cam.username) == credentials):
            return cam.id
    raise AssertionError(f"no {protocol} camera (credentials={credentials}) in the test fleet")


def grab(
    url: str, frames: int, read_timeout_ms: int = READ_TIMEOUT_MS
) -> tuple[bool, list[tuple[bool, float, Any]]]:
    """Open with the prober's timeouts; read up to *frames*; each read as (ok, seconds it took, frame)."""
    cap = cv2.VideoCapture(
        url,
        cv2.CAP_FFMPEG,
        [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 4000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, read_timeout_ms],
    )
    reads: list[tuple[bool, float, Any]] = []
    try:
        if not cap.isOpened():
            return False, reads
        for _ in range(frames):
            t0 = time.monotonic()
            ok, frame = cap.read()
            reads.append((ok, time.monotonic() - t0, frame if ok else None))
            if not ok:
                break
    finally:
        cap.release()
    return True, reads


def gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def sharpness(frame: np.ndarray) -> float:
    return float(cv2.Laplacian(gray(frame), cv2.CV_64F).var())


def motion(frames: list[np.ndarray]) -> float:
    g = [gray(f).astype(np.float32) for f in frames]
    return float(np.mean([np.abs(g[i] - g[i - 1]).mean() for i in range(1, len(g))]))


def dark_corners(frame: np.ndarray) -> int:
    h, w = frame.shape[:2]
    patches = [frame[:8, :8], frame[:8, w - 8 :], frame[h - 8 :, :8], frame[h - 8 :, w - 8 :]]
    return sum(float(p.mean()) < 20 for p in patches)


def rtsp_request(
    sock: socket.socket, port: int, path: str, cseq: int = 1, method: str = "OPTIONS", timeout_s: float = 3.0
) -> str:
    sock.settimeout(timeout_s)
    sock.sendall(f"{method} rtsp://127.0.0.1:{port}{path} RTSP/1.0\r\nCSeq: {cseq}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode("latin-1")


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


# --- healthy fleet ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_every_camera_serves_real_frames(sim: Simulator) -> None:
    assert len(sim.fleet) == 9
    for cam in sim.fleet:
        opened, reads = grab(sim.url(cam.id), 3)
        assert opened and len(reads) == 3 and all(ok for ok, _, _ in reads), cam.id
        frame = reads[-1][2]
        expected = (720, 1280) if cam.main_url.startswith("rtsp://") else (360, 640)
        assert frame.shape[:2] == expected, cam.id
        assert 40 < frame.mean() < 220 and sharpness(frame) > 30, cam.id  # a real picture, not a test card
        if cam.snapshot_url:
            resp = httpx.get(sim.url(cam.id, "snapshot"), timeout=5)
            assert resp.status_code == 200 and resp.headers["content-type"] == "image/jpeg"
            img = cv2.imdecode(np.frombuffer(resp.content, np.uint8), cv2.IMREAD_COLOR)
            assert img is not None and img.shape[:2] == (360, 640)
    sub = next(c for c in sim.fleet if c.sub_url)
    opened, reads = grab(sim.url(sub.id, "sub"), 2)
    assert opened and reads[-1][0] and reads[-1][2].shape[:2] == (360, 640)


def test_rtsp_stream_is_live_five_fps_with_motion(sim: Simulator) -> None:
    opened, reads = grab(sim.url(pick(sim, "rtsp")), 8)
    assert opened and all(ok for ok, _, _ in reads)
    frames = [f for _, _, f in reads]
    assert motion(frames) > 1.0
    steady = sorted(dt for _, dt, _ in reads[2:])
    assert 0.12 < steady[len(steady) // 2] < 0.3  # ~0.2 s between frames: 5 fps


def test_sessions_end_with_their_clients(sim: Simulator) -> None:
    caps = [cv2.VideoCapture(sim.url(c.id), cv2.CAP_FFMPEG) for c in sim.fleet[:3]]
    try:
        assert all(c.read()[0] for c in caps)
        stats = sim.stats()
        assert stats["rtsp_sessions"] >= 2 and stats["connections"] >= 3
    finally:
        for c in caps:
            c.release()
    # nothing keeps pushing frames for clients that left: an idle simulator costs nothing
    assert wait_until(lambda: sim.stats()["rtsp_sessions"] == 0 and sim.stats()["connections"] == 0, 5)


def test_fleet_files_describe_the_running_cameras(sim: Simulator) -> None:
    assert sim.fleet_csv.is_file() and sim.fleet_yaml.is_file()
    assert read_fleet(sim.fleet_yaml) == sim.fleet == read_fleet(sim.fleet_csv)
    header = sim.fleet_csv.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == list(FLEET_COLUMNS)
    ports = {sim.port(c.id) for c in sim.fleet}
    assert len(ports) == 9 and max(ports) - min(ports) == 8
    status = {c["id"]: c for c in sim.status()}
    assert set(status) == {c.id for c in sim.fleet}
    assert all(c["fault"] == "normal" and c["listening"] for c in status.values())


# --- protocol faults -------------------------------------------------------------------------------------


def test_down_refuses_connections_and_resets_open_ones(clean_sim: Simulator) -> None:
    sim = clean_sim
    cam = pick(sim, "rtsp")
    port = sim.port(cam)
    with socket.create_connection(("127.0.0.1", port), timeout=3) as open_conn:
        assert rtsp_request(open_conn, port, path_of(sim.camera(cam).main_url)).startswith("RTSP/1.0 200")
        sim.fault(cam, "down")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=3)
        open_conn.settimeout(3)
        with contextlib.suppress(ConnectionResetError):
            assert open_conn.recv(100) == b""
    opened, _ = grab(sim.url(cam), 1)
    assert not opened
    sim.fault(cam, "normal")
    opened, reads = grab(sim.url(cam), 1)
    assert opened and reads[0][0]


@pytest.mark.slow
def test_hang_accepts_but_never_answers(clean_sim: Simulator) -> None:
    sim = clean_sim
    rtsp, http = pick(sim, "rtsp"), pick(sim, "http")
    with socket.create_connection(("127.0.0.1", sim.port(rtsp)), timeout=3) as before:
        assert rtsp_request(before, sim.port(rtsp), path_of(sim.camera(rtsp).main_url)).startswith(
            "RTSP/1.0 200"
        )
        sim.fault(rtsp, "hang")
        sim.fault(http, "hang")
        with pytest.raises(TimeoutError):  # a connection opened before the hang goes silent too
            rtsp_request(before, sim.port(rtsp), path_of(sim.camera(rtsp).main_url), cseq=2, timeout_s=1.5)
    with (
        socket.create_connection(("127.0.0.1", sim.port(rtsp)), timeout=3) as s,  # connect succeeds
        pytest.raises(TimeoutError),
    ):
        rtsp_request(s, sim.port(rtsp), path_of(sim.camera(rtsp).main_url), timeout_s=1.5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(sim.url(http, "snapshot"), timeout=httpx.Timeout(3, read=1.5))
    t0 = time.monotonic()
    opened, _ = grab(sim.url(rtsp), 1)
    assert not opened and time.monotonic() - t0 > 3  # the open limit, not an instant refusal


def test_auth_refuses_the_right_credentials_with_401(clean_sim: Simulator) -> None:
    sim = clean_sim
    rtsp, http = pick(sim, "rtsp", True), pick(sim, "http", False)
    sim.fault(rtsp, "auth")
    sim.fault(http, "auth")
    t0 = time.monotonic()
    opened, _ = grab(sim.url(rtsp), 1)
    assert not opened and time.monotonic() - t0 < 3.5  # refused at once, not the 4 s open limit
    port = sim.port(rtsp)
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        reply = rtsp_request(s, port, path_of(sim.camera(rtsp).main_url), method="DESCRIBE")
    assert reply.startswith("RTSP/1.0 401") and "WWW-Authenticate: Digest" in reply
    resp = httpx.get(sim.url(http, "snapshot"), timeout=5)
    assert resp.status_code == 401 and resp.headers["www-authenticate"].startswith("Basic")
    sim.fault(rtsp, "normal")
    sim.fault(http, "normal")
    assert grab(sim.url(rtsp), 1)[0]
    assert httpx.get(sim.url(http, "snapshot"), timeout=5).status_code == 200


def test_credentials_are_checked_and_unknown_paths_are_404(sim: Simulator) -> None:
    rtsp, http = pick(sim, "rtsp", True), pick(sim, "http", True)
    cam = sim.camera(rtsp)
    wrong = sim.url(rtsp).replace(cam.password.replace("@", "%40"), "wrong")
    assert wrong != sim.url(rtsp)
    assert not grab(wrong, 1)[0]
    assert not grab(sim.camera(rtsp).main_url, 1)[0]  # no credentials at all
    port = sim.port(rtsp)
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        assert rtsp_request(s, port, "/no/such/channel", method="DESCRIBE").startswith("RTSP/1.0 401")
    hcam = sim.camera(http)
    assert httpx.get(hcam.snapshot_url, timeout=5).status_code == 401
    assert httpx.get(hcam.snapshot_url, auth=(hcam.username, "wrong"), timeout=5).status_code == 401
    assert httpx.get(hcam.snapshot_url, auth=(hcam.username, hcam.password), timeout=5).status_code == 200
    open_http = sim.camera(pick(sim, "http", False))
    assert httpx.get(open_http.snapshot_url, timeout=5).status_code == 200
    assert httpx.get(open_http.snapshot_url + "x", timeout=5).status_code == 404


def test_stall_stops_the_stream_but_keeps_the_connection(clean_sim: Simulator) -> None:
    sim = clean_sim
    cam = pick(sim, "rtsp")
    sim.fault(cam, "stall")
    cap = cv2.VideoCapture(
        sim.url(cam),
        cv2.CAP_FFMPEG,
        [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 4000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 2000],
    )
    try:
        assert cap.isOpened()
        reads = []
        for _ in range(12):
            t0 = time.monotonic()
            ok, _ = cap.read()
            reads.append((ok, time.monotonic() - t0))
            if not ok or reads[-1][1] > 1.7:
                break
        assert reads[0][0] and any(ok and dt < 1.0 for ok, dt in reads[:-1])  # it started ...
        assert reads[-1][1] > 1.7  # ... then a read waited out the limit
        assert next(c for c in sim.status() if c["id"] == cam)["connections"] >= 1  # still connected
    finally:
        cap.release()


@pytest.mark.slow
def test_stall_on_http_stream_and_snapshot(clean_sim: Simulator) -> None:
    sim = clean_sim
    cam = pick(sim, "http")
    sim.fault(cam, "stall")
    got = 0
    with (
        pytest.raises(httpx.ReadTimeout),
        httpx.stream("GET", sim.url(cam), timeout=httpx.Timeout(3, read=1.5)) as resp,
    ):
        assert resp.status_code == 200
        for chunk in resp.iter_raw():
            got += len(chunk)
    assert got > 10_000  # some frames came first
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(sim.url(cam, "snapshot"), timeout=httpx.Timeout(3, read=1.5))


def test_ended_rtsp_stream_ends_quickly_after_a_second(clean_sim: Simulator) -> None:
    sim = clean_sim
    cam = pick(sim, "rtsp")
    sim.fault(cam, "ended")
    opened, reads = grab(sim.url(cam), 20, read_timeout_ms=3000)
    assert opened
    assert sum(ok for ok, _, _ in reads) >= 2
    assert not reads[-1][0] and reads[-1][1] < 1.5  # the end is reported, not waited out
    assert len(reads) < 20


def test_ended_http_stream_closes(clean_sim: Simulator) -> None:
    sim = clean_sim
    cam = pick(sim, "http")
    sim.fault(cam, "ended")
    t0 = time.monotonic()
    with httpx.stream("GET", sim.url(cam), timeout=5) as resp:
        body = b"".join(resp.iter_raw())
    assert time.monotonic() - t0 < 4
    assert body.count(b"Content-Type: image/jpeg") >= 3 and body.rstrip().endswith(b"--camsvcboundary--")
    with pytest.raises(httpx.RemoteProtocolError):  # the snapshot is cut short
        httpx.get(sim.url(cam, "snapshot"), timeout=5)


# --- picture faults --------------------------------------------------------------------------------------


def check_picture(
    fault: str, frames: list[np.ndarray], base: list[np.ndarray], intervals: list[float]
) -> None:
    last = frames[-1]
    if fault == "black":
        assert last.mean() < 25
    elif fault == "frozen":
        assert motion(frames) < 0.5 < motion(base)
    elif fault == "blurred":
        assert sharpness(last) < sharpness(base[-1]) / 5
    elif fault == "covered":
        assert 30 < last.mean() < 65 and gray(last).std() < 15
    elif fault == "snow":
        assert sharpness(last) > 20 * sharpness(base[-1]) and motion(frames) > 15
    elif fault == "turned":
        assert dark_corners(last) >= 2 > dark_corners(base[-1])
    elif fault == "lowfps":
        assert sorted(intervals)[len(intervals) // 2] > 0.7
    else:  # pragma: no cover
        raise AssertionError(fault)


PICTURE = ["black", "frozen", "blurred", "covered", "snow", "turned", "lowfps"]


@pytest.mark.parametrize(
    "fault", [pytest.param(f, marks=pytest.mark.slow) if f == "lowfps" else f for f in PICTURE]
)
@pytest.mark.parametrize("protocol", ["rtsp", "http"])
def test_picture_fault(clean_sim: Simulator, protocol: str, fault: str) -> None:
    sim = clean_sim
    cam = pick(sim, protocol)
    opened, reads = grab(sim.url(cam), 4)
    assert opened
    base = [f for ok, _, f in reads if ok]
    sim.fault(cam, fault)
    n = 4 if fault == "lowfps" else 5
    opened, reads = grab(sim.url(cam), n)
    assert opened and all(ok for ok, _, _ in reads), reads
    frames = [f for _, _, f in reads]
    assert frames[-1].shape == base[-1].shape
    check_picture(fault, frames, base, [dt for _, dt, _ in reads[1:]])
    if protocol == "http" and fault == "black":
        snap = httpx.get(sim.url(cam, "snapshot"), timeout=5)
        assert cv2.imdecode(np.frombuffer(snap.content, np.uint8), cv2.IMREAD_COLOR).mean() < 25


def test_picture_fault_reaches_a_running_rtsp_session(clean_sim: Simulator) -> None:
    sim = clean_sim
    cam = pick(sim, "rtsp")
    cap = cv2.VideoCapture(
        sim.url(cam),
        cv2.CAP_FFMPEG,
        [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 4000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 3000],
    )
    try:
        ok, frame = cap.read()
        assert ok and frame.mean() > 40
        sim.fault(cam, "black")
        t0 = time.monotonic()
        for _ in range(30):  # at most 6 s of frames
            ok, frame = cap.read()
            assert ok
            if frame.mean() < 25:
                break
        assert frame.mean() < 25 and time.monotonic() - t0 < 4  # switched at the next keyframe
    finally:
        cap.release()


# --- hamlets, bad input, command line --------------------------------------------------------------------


def test_hamlet_power_cut(clean_sim: Simulator) -> None:
    sim = clean_sim
    by_hamlet: dict[str, list[str]] = {}
    for cam in sim.fleet:
        by_hamlet.setdefault(cam.hamlet, []).append(cam.id)
    hamlet, ids = max(by_hamlet.items(), key=lambda kv: len(kv[1]))
    assert len(ids) >= 2 and fold(hamlet) != hamlet  # the query below really drops accents
    affected = sim.fault_hamlet(fold(hamlet).upper(), "down")
    assert sorted(affected) == sorted(ids)
    for cam in sim.fleet:
        if cam.id in ids:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", sim.port(cam.id)), timeout=3)
        else:
            socket.create_connection(("127.0.0.1", sim.port(cam.id)), timeout=3).close()
    assert {i for i, f in sim.faults().items() if f == "down"} == set(ids)
    sim.fault_hamlet(hamlet, "normal")
    for cam_id in ids:
        socket.create_connection(("127.0.0.1", sim.port(cam_id)), timeout=3).close()


def test_bad_names_are_refused_with_the_valid_ones(sim: Simulator) -> None:
    with pytest.raises(SimulatorError, match="unknown camera 'cam-999'") as err:
        sim.fault("cam-999", "down")
    assert err.value.valid == [c.id for c in sim.fleet]
    with pytest.raises(SimulatorError, match="unknown fault 'melted'.*normal, down, hang") as err:
        sim.fault(sim.fleet[0].id, "melted")
    assert "frozen" in err.value.valid
    with pytest.raises(SimulatorError, match="unknown hamlet 'Atlantis'.*valid hamlets"):
        sim.fault_hamlet("Atlantis", "down")
    api = sim.control_url
    r = httpx.post(f"{api}/faults", content=b"{not json", timeout=5)
    assert r.status_code == 400 and "JSON" in r.json()["error"]
    r = httpx.post(f"{api}/faults", json={"camera": "cam-001", "hamlet": "x", "fault": "down"}, timeout=5)
    assert r.status_code == 400
    r = httpx.post(f"{api}/faults", json={"camera": "nope", "fault": "down"}, timeout=5)
    assert r.status_code == 404 and "cam-001" in r.json()["valid"]
    assert httpx.get(f"{api}/nothing", timeout=5).status_code == 404
    assert all(f == "normal" for f in sim.faults().values())  # nothing changed


def test_cli_fault_and_status(clean_sim: Simulator) -> None:
    sim = clean_sim
    port = str(sim.info["control_port"])
    runner = CliRunner()
    cam = sim.fleet[1].id
    res = runner.invoke(simulate, ["fault", "--control-port", port, cam, "frozen"])
    assert res.exit_code == 0, res.output
    assert f"frozen on {cam}" in res.output
    assert sim.faults()[cam] == "frozen"
    res = runner.invoke(simulate, ["status", "--control-port", port])
    assert res.exit_code == 0 and cam in res.output and "1 with a fault" in res.output
    res = runner.invoke(simulate, ["fault", "--control-port", port, cam, "melted"])
    assert res.exit_code != 0 and "valid faults: normal, down" in res.output
    hamlet = sim.fleet[0].hamlet
    res = runner.invoke(simulate, ["fault", "--control-port", port, "--hamlet", fold(hamlet), "normal"])
    assert res.exit_code == 0 and hamlet in res.output
    proc = subprocess.run(
        [sys.executable, "-m", "camsvc.simulate", "fault", "--control-port", port, "cam-999", "down"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "unknown camera 'cam-999'; valid cameras:" in proc.stderr


# --- life cycle ------------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_serve_cli_prints_redacted_urls_and_stops_cleanly(tmp_path: Any) -> None:
    out = tmp_path / "fleet"
    proc = subprocess.Popen(
        [sys.executable, "-m", "camsvc.simulate", "--roadside", "1", "--household", "1", "--base-port", "0",
         "--rtsp-port", "0", "--control-port", "0", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "control API" in line:
                break
        text = "".join(lines)
        assert "cam-001" in text and "rtsp://admin:***@127.0.0.1:" in text and "fleet.csv" in text
        fleet = read_fleet(out / "fleet.csv")
        assert all(c.password not in text for c in fleet if c.password)
        gst = _children(proc.pid)
        assert gst and all(_alive(p) for p in gst)
        proc.terminate()
        rest, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0 and "simulator stopped" in rest
        assert wait_until(lambda: not any(_alive(p) for p in gst), 5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_extra_streams_and_no_orphans_after_stop(tmp_path: Any, sim: Simulator) -> None:
    from camsvc.paths import cache_dir, ffmpeg_exe
    from camsvc.simulate import footage

    # A containered (MP4) copy of real footage, as the picture-health benchmark would hand over.
    cache_main = footage.ensure_scene(cache_dir(), "street-a").sub.path
    mp4 = tmp_path / "corpus.mp4"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-loglevel",
            "error",
            "-y",
            "-framerate",
            "5",
            "-i",
            str(cache_main),
            "-c",
            "copy",
            str(mp4),
        ],
        check=True,
        timeout=60,
    )
    s = Simulator(roadside=1, household=0, extra_streams={"corpus": mp4}, out_dir=tmp_path / "out").start()
    try:
        url = s.extra_url("corpus")
        assert url.startswith("rtsp://127.0.0.1:") and url.endswith("/corpus")
        opened, reads = grab(url, 3)
        assert opened and all(ok for ok, _, _ in reads) and reads[-1][2].shape[:2] == (360, 640)
        with pytest.raises(SimulatorError, match="valid: corpus"):
            s.extra_url("nope")
        pid = s.pid
        assert pid is not None
        gst = _children(pid)
        assert gst and all(_alive(p) for p in gst)
    finally:
        s.stop()
    assert not _alive(pid) and wait_until(lambda: not any(_alive(p) for p in gst), 5)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # nothing left in the simulator's process group


def test_an_extra_stream_plays_at_its_own_frame_rate_beside_the_prober(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1 fps clip is served at 1 fps even when the simulator starts from a process that set the
    prober's FFmpeg options (their protocol whitelist has no ``file``: the simulator once read every clip's
    rate as unknown and played low-frame-rate clips at 5 fps, so the picture benchmark never saw one)."""
    from camsvc.config import ProbeSettings
    from camsvc.paths import cache_dir, ffmpeg_exe
    from camsvc.probing.stream import capture_options, probe
    from camsvc.simulate import footage

    monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", capture_options("tcp"))
    raw = footage.ensure_scene(cache_dir(), "street-a").sub.path
    mp4 = tmp_path / "slow.mp4"
    # re-encoded at 1 fps (the clip's own timing info would outlive a remux with another rate)
    cmd = [ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(raw), "-vf", "fps=1"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", "2", str(mp4)]
    subprocess.run(cmd, check=True, timeout=60)
    with Simulator(roadside=0, household=0, extra_streams={"slow": mp4}, out_dir=tmp_path / "out") as s:
        r = probe(s.extra_url("slow"), settings=ProbeSettings(window_s=2.5, read_timeout_s=3.0))
    assert r.ok, (r.error, r.detail)
    assert r.fps is not None and 0.8 <= r.fps <= 1.25, r.fps
