"""The running simulator: footage, the GStreamer RTSP server, one front per camera, the control API.

Process model: this asyncio process owns every camera port and the control API; one child process
(``gst_server.py`` under /usr/bin/python3) serves the H.264 loops on an internal port. The child dies with
its parent (stdin EOF, PR_SET_PDEATHSIG). Start-up order: encode missing scenes, start GStreamer and mount
every stream, bind the camera ports (a free consecutive range when ``base_port`` is 0), then the control
API; last, write the fleet files and the ready file.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from camsvc import paths
from camsvc.simulate import clockcam, footage
from camsvc.simulate.camera import CameraFront, bind_socket
from camsvc.simulate.faults import (
    DESCRIPTIONS,
    ENDED_AFTER_S,
    FAULTS,
    NORMAL,
    PICTURE_FAULTS,
    check_fault,
)
from camsvc.simulate.fleet import HAMLETS, CameraSpec, fold, generate_fleet, match_hamlet, write_fleet
from camsvc.simulate.frames import SceneFrames

log = logging.getLogger(__name__)

CLOCK_START_S = 30.0  # longest wait for a clock stream's first keyframe at start


@dataclass
class SimConfig:
    roadside: int = 40
    household: int = 200
    seed: int = 1
    host: str = "127.0.0.1"
    base_port: int = 20000  # 0: any free consecutive range
    rtsp_port: int = 8554  # 0: any free port
    control_port: int = 8560  # 0: any free port
    cache_dir: Path = field(default_factory=paths.cache_dir)
    out_dir: Path = Path("data/simulator")
    extra_streams: dict[str, Path] = field(default_factory=dict)
    ready_file: Path | None = None
    gst_threads: int = 32
    prebuild_faults: bool = False
    # The first N roadside cameras serve the live-encoded clock picture (camsvc/simulate/clock.py).
    clock_cameras: int = 0
    # What each camera keeps for vendor playback (settings simulator.playback_minutes).
    playback_minutes: float = 30.0


class SimError(ValueError):
    """Bad input from a user of the control API / CLI; ``valid`` lists what would have been accepted."""

    def __init__(self, message: str, valid: list[str], status: int = 400) -> None:
        super().__init__(message)
        self.valid = valid
        self.status = status


def _ids_summary(ids: list[str]) -> str:
    if len(ids) <= 12:
        return ", ".join(ids)
    return f"{ids[0]} … {ids[-1]} ({len(ids)} cameras)"


class Simulator:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.specs: list[CameraSpec] = []
        self.fronts: dict[str, CameraFront] = {}
        self.gst: Any = None
        self.control: asyncio.Server | None = None
        self.control_port: int | None = None
        self.base_port: int | None = None
        self.extra_urls: dict[str, str] = {}
        self.scene_files: dict[str, footage.SceneFiles] = {}
        self.fleet_paths: tuple[Path, Path] | None = None
        self._fault_lock = asyncio.Lock()
        self.started_at = time.time()
        self.clock_ids: list[str] = []
        self.clock_streams: list[Any] = []
        self._playback_ids = itertools.count(1)
        self.startup_s: float | None = None

    # --- start / stop -----------------------------------------------------------------------------------

    async def start(self) -> None:
        from camsvc.simulate.gst import GstServer

        cfg = self.config
        t0 = time.monotonic()
        sockets = self._bind_camera_ports()
        try:
            self.specs = generate_fleet(
                cfg.roadside, cfg.household, seed=cfg.seed, host=cfg.host, base_port=self.base_port or 0
            )
            scenes = {s.scene for s in self.specs}
            t_enc = time.monotonic()
            self.scene_files = await asyncio.to_thread(footage.ensure_scenes, cfg.cache_dir, scenes)
            log.info("footage ready in %.1f s (%d scenes)", time.monotonic() - t_enc, len(scenes))
            extra = {
                name: await asyncio.to_thread(footage.prepare_extra, cfg.cache_dir, name, Path(path))
                for name, path in cfg.extra_streams.items()
            }
            rtsp_specs = [s for s in self.specs if s.protocol == "rtsp"]
            roadside_rtsp = [s.id for s in rtsp_specs if s.camera.kind == "roadside"]
            self.clock_ids = roadside_rtsp[: max(0, cfg.clock_cameras)]
            keep_s = cfg.playback_minutes * 60
            gst_port: int | None = None
            if rtsp_specs or extra:
                self.gst = GstServer()
                await self.gst.start()
                for s in rtsp_specs:
                    if s.id in self.clock_ids:
                        for which in ("main", "sub"):
                            await self.gst.call(
                                "live", path=f"/{s.id}/{which}", fps=clockcam.FPS, keep_s=keep_s
                            )
                        continue
                    files = self.scene_files[s.scene]
                    for which, clip in (("main", files.main), ("sub", files.sub)):
                        await self.gst.call(
                            "mount",
                            path=f"/{s.id}/{which}",
                            file=str(clip.path),
                            fps=clip.fps,
                            phase=s.phase_s,
                        )
                for name, clip in extra.items():
                    await self.gst.call(
                        "mount", path=f"/{name}", file=str(clip.path), fps=clip.fps, phase=0.0
                    )
                gst_port = await self.gst.listen(cfg.rtsp_port, cfg.gst_threads)
                # ready only once every clock stream has kept its first keyframe: what a clock camera
                # keeps (its playback) starts no later than the simulator says it is ready (on a loaded
                # machine the encoders start seconds late; a replay of "since ready" then had no frame)
                for first in self._start_clocks():
                    if not await asyncio.to_thread(first.wait, CLOCK_START_S):
                        raise RuntimeError(f"a clock stream sent no frame within {CLOCK_START_S:.0f} s")
                self.extra_urls = {name: f"rtsp://{cfg.host}:{gst_port}/{name}" for name in extra}
            frames = {
                name: SceneFrames(footage.jpeg_frames(files), footage.FPS)
                for name, files in self.scene_files.items()
            }
            for spec, sock in zip(self.specs, sockets, strict=True):
                front = CameraFront(
                    spec,
                    cfg.host,
                    gst_port,
                    clockcam.ClockFrames() if spec.id in self.clock_ids else frames.get(spec.scene),
                    open_playback=self._playback_opener(spec.id),
                    keep_s=keep_s,
                    kept_since=self.started_at,
                )
                await front.open(sock)
                self.fronts[spec.id] = front
            sockets = []
        finally:
            for sock in sockets:
                sock.close()
        self.control = await asyncio.start_server(self._control, cfg.host, cfg.control_port)
        self.control_port = self.control.sockets[0].getsockname()[1]
        self.fleet_paths = write_fleet([s.camera for s in self.specs], cfg.out_dir)
        if cfg.prebuild_faults:
            await asyncio.to_thread(self._prebuild_faults)
        self.startup_s = time.monotonic() - t0
        if cfg.ready_file is not None:
            tmp = cfg.ready_file.with_name(cfg.ready_file.name + ".tmp")
            tmp.write_text(json.dumps(self.ready_info(), indent=1))
            tmp.replace(cfg.ready_file)
        log.info("simulator ready in %.1f s: %d cameras", self.startup_s, len(self.specs))

    def _start_clocks(self) -> list[threading.Event]:
        """Start the clock streams; one event per stream, set when its first keyframe was sent."""
        gst = self.gst
        firsts = []
        for cam_id in self.clock_ids:
            for which, (w, h) in clockcam.SIZES.items():
                path = f"/{cam_id}/{which}"
                first = threading.Event()

                def sink(
                    wall_ms: int, key: bool, au: bytes, path: str = path, first: threading.Event = first
                ) -> None:
                    gst.send_au(path, wall_ms, key, au)
                    if key:
                        first.set()

                stream = clockcam.ClockStream(f"{cam_id}/{which}", w, h, sink)
                stream.start()
                self.clock_streams.append(stream)
                firsts.append(first)
        if self.clock_ids:
            log.info("clock picture on %s", _ids_summary(self.clock_ids))
        return firsts

    def _playback_opener(self, camera_id: str) -> Any:
        async def open_playback(stream: str, start_ms: int, end_ms: int) -> str:
            if self.gst is None:
                raise LookupError("no RTSP server")
            path = f"/{camera_id}/{stream}/pb{next(self._playback_ids)}"
            await self.gst.call(
                "playback", path=path, source=f"/{camera_id}/{stream}", start_ms=start_ms, end_ms=end_ms
            )
            return path

        return open_playback

    def _prebuild_faults(self) -> None:
        for scene in self.scene_files:
            for fault in PICTURE_FAULTS:
                footage.fault_clips(self.config.cache_dir, scene, fault)

    def _bind_camera_ports(self) -> list[socket.socket]:
        cfg = self.config
        n = cfg.roadside + cfg.household
        if cfg.base_port:
            self.base_port = cfg.base_port
            return _bind_range(cfg.host, cfg.base_port, n)
        rng = random.Random(os.getpid() ^ int(time.time() * 1000))
        for _ in range(60):
            base = rng.randrange(21000, 32700 - n)  # below the ephemeral range (32768+) outgoing sockets use
            try:
                socks = _bind_range(cfg.host, base, n)
            except OSError:
                continue
            self.base_port = base
            return socks
        raise OSError(f"no free range of {n} consecutive ports found")

    def ready_info(self) -> dict[str, Any]:
        assert self.fleet_paths is not None
        return {
            "pid": os.getpid(),
            "host": self.config.host,
            "control_port": self.control_port,
            "base_port": self.base_port,
            "rtsp_port": self.gst.port if self.gst is not None else None,
            "cameras": len(self.specs),
            "fleet_csv": str(self.fleet_paths[0].resolve()),
            "fleet_yaml": str(self.fleet_paths[1].resolve()),
            "extra": self.extra_urls,
            "clock_cameras": self.clock_ids,
            "playback_minutes": self.config.playback_minutes,
            "startup_s": round(self.startup_s or 0.0, 3),
        }

    async def stop(self) -> None:
        if self.config.ready_file is not None:
            with contextlib.suppress(OSError):
                self.config.ready_file.unlink()
        if self.control is not None:
            self.control.close()
            self.control = None
        for front in self.fronts.values():
            await front.close()
        for stream in self.clock_streams:
            await asyncio.to_thread(stream.stop)
        self.clock_streams = []
        if self.gst is not None:
            await self.gst.stop()
            self.gst = None

    # --- faults -----------------------------------------------------------------------------------------

    def front(self, camera_id: str) -> CameraFront:
        front = self.fronts.get(camera_id)
        if front is None:
            ids = list(self.fronts)
            raise SimError(f"unknown camera {camera_id!r}; valid cameras: {_ids_summary(ids)}", ids, 404)
        return front

    def hamlet_cameras(self, hamlet: str) -> tuple[str, list[str]]:
        present = [h for h in HAMLETS if any(s.camera.hamlet == h for s in self.specs)]
        try:
            name = match_hamlet(hamlet, present)
        except ValueError as exc:
            raise SimError(str(exc), present, 404) from None
        return name, [s.id for s in self.specs if fold(s.camera.hamlet) == fold(name)]

    async def set_fault(self, camera_ids: list[str], fault: str) -> list[str]:
        try:
            check_fault(fault)
        except ValueError as exc:
            raise SimError(str(exc), list(FAULTS), 400) from None
        fronts = [self.front(cid) for cid in camera_ids]
        async with self._fault_lock:
            if fault in PICTURE_FAULTS:
                scenes = sorted({f.spec.scene for f in fronts if f.spec.protocol == "rtsp"})
                await asyncio.gather(
                    *(
                        asyncio.to_thread(footage.fault_clips, self.config.cache_dir, sc, fault)
                        for sc in scenes
                    )
                )
            for front in fronts:
                await self._apply(front, fault)
        log.info("fault %s on %s", fault, _ids_summary(camera_ids))
        return camera_ids

    async def _apply(self, front: CameraFront, fault: str) -> None:
        spec = front.spec
        old = front.fault
        if spec.protocol == "rtsp" and self.gst is not None:
            if fault in PICTURE_FAULTS:
                main, sub = footage.fault_clips(self.config.cache_dir, spec.scene, fault)
            else:
                files = self.scene_files[spec.scene]
                main, sub = files.main, files.sub
            if spec.id in self.clock_ids:
                pass  # the clock picture is drawn live: picture faults do not apply to it
            elif fault in PICTURE_FAULTS or old in PICTURE_FAULTS:
                await self.gst.call("source", path=f"/{spec.id}/main", file=str(main.path), fps=main.fps)
                await self.gst.call("source", path=f"/{spec.id}/sub", file=str(sub.path), fps=sub.fps)
            if fault == "ended" or old == "ended":
                for which in ("main", "sub"):
                    await self.gst.call(
                        "ended", path=f"/{spec.id}/{which}", value=fault == "ended", after_s=ENDED_AFTER_S
                    )
        await front.set_fault(fault)

    def camera_status(self, front: CameraFront) -> dict[str, Any]:
        cam = front.spec.camera
        return {
            "id": cam.id,
            "name": cam.name,
            "kind": cam.kind,
            "hamlet": cam.hamlet,
            "protocol": front.spec.protocol,
            "port": front.spec.port,
            "scene": front.spec.scene,
            "fault": front.fault,
            "listening": front.server is not None,
            "connections": len(front.conns),
            "requests": front.requests,
            "main_url": cam.main_url,
            "sub_url": cam.sub_url,
            "snapshot_url": cam.snapshot_url,
            "has_credentials": bool(cam.username),
        }

    # --- control API ------------------------------------------------------------------------------------

    async def _control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, payload = await asyncio.wait_for(self._control_request(reader), 120)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        body = json.dumps(payload, ensure_ascii=False).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}.get(
            status, "Error"
        )
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(ConnectionError):
            writer.write(head.encode() + body)
            await writer.drain()
        writer.close()

    async def _control_request(self, reader: asyncio.StreamReader) -> tuple[int, Any]:
        line = await reader.readline()
        parts = line.decode("latin-1").split()
        if len(parts) != 3:
            return 400, {"error": "bad request line"}
        method, target = parts[0].upper(), parts[1].split("?", 1)[0].rstrip("/") or "/"
        length = 0
        for _ in range(100):
            raw = await reader.readline()
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip() or 0)
        body = await reader.readexactly(min(length, 1 << 20)) if length else b""
        try:
            return await self._route(method, target, body)
        except SimError as exc:
            return exc.status, {"error": str(exc), "valid": exc.valid}
        except Exception as exc:  # e.g. an encode failed: tell the caller, keep serving
            log.exception("control request %s %s failed", method, target)
            return 500, {"error": f"{type(exc).__name__}: {exc}"}

    async def _route(self, method: str, target: str, body: bytes) -> tuple[int, Any]:
        if method == "GET" and target in ("/", "/health"):
            return 200, {"ok": True, **self.ready_info()}
        if method == "GET" and target == "/cameras":
            return 200, {"cameras": [self.camera_status(f) for f in self.fronts.values()]}
        if method == "GET" and target.startswith("/cameras/"):
            return 200, self.camera_status(self.front(target.split("/", 2)[2]))
        if method == "GET" and target == "/hamlets":
            return 200, {"hamlets": [h for h in HAMLETS if any(s.camera.hamlet == h for s in self.specs)]}
        if method == "GET" and target == "/faults":
            return 200, {"faults": list(FAULTS), "descriptions": DESCRIPTIONS}
        if method == "GET" and target == "/stats":
            gst = await self.gst.call("stats") if self.gst is not None else {}
            return 200, {
                "rtsp_sessions": gst.get("sessions", 0),
                "connections": sum(len(f.conns) for f in self.fronts.values()),
                "requests": sum(f.requests for f in self.fronts.values()),
                "faulted": sum(f.fault != NORMAL for f in self.fronts.values()),
            }
        if method == "GET" and target == "/extra":
            return 200, {"extra": self.extra_urls}
        if method == "POST" and target == "/faults":
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                return 400, {"error": 'body must be JSON: {"camera"|"hamlet": ..., "fault": ...}'}
            if not isinstance(data, dict) or "fault" not in data or ("camera" in data) == ("hamlet" in data):
                return 400, {"error": 'body must hold "fault" and exactly one of "camera", "hamlet"'}
            fault = str(data["fault"])
            if "camera" in data:
                ids = await self.set_fault([str(data["camera"])], fault)
                return 200, {"fault": fault, "cameras": ids}
            hamlet, ids = self.hamlet_cameras(str(data["hamlet"]))
            await self.set_fault(ids, fault)
            return 200, {"fault": fault, "hamlet": hamlet, "cameras": ids}
        if target in ("/", "/health", "/cameras", "/hamlets", "/faults", "/extra", "/stats"):
            return 405, {"error": f"{method} not allowed on {target}"}
        return 404, {
            "error": f"no such endpoint {target}",
            "valid": ["GET /health", "GET /cameras", "GET /cameras/<id>", "GET /hamlets", "GET /faults",
                      "POST /faults", "GET /extra", "GET /stats"],
        }  # fmt: skip


def _bind_range(host: str, base: int, n: int) -> list[socket.socket]:
    socks: list[socket.socket] = []
    try:
        for i in range(n):
            socks.append(bind_socket(host, base + i))
    except OSError:
        for s in socks:
            s.close()
        raise
    return socks


async def serve(config: SimConfig, stop: asyncio.Event, on_ready: Any = None) -> None:
    """Run the simulator until *stop* is set; always cleans up (no orphan GStreamer process)."""
    sim = Simulator(config)
    try:
        await sim.start()
        if on_ready is not None:
            on_ready(sim)
        await stop.wait()
    finally:
        await sim.stop()
