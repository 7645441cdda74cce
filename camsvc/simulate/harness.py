"""Run the simulator as a subprocess for tests, benchmarks and the demo.

    with Simulator(roadside=3, household=6) as sim:
        url = sim.url("cam-001")             # credentials inserted, for the prober
        sim.fault("cam-001", "frozen")       # returns once the fault is in effect
        sim.fault_hamlet("Bac Chien Thang", "down")

    with Simulator(roadside=2, household=0, clock_cameras=1, playback_minutes=5) as sim:
        live = sim.url("cam-001")            # the burnt-in clock (camsvc.simulate.clock.read_clock)
        past = sim.playback_url("cam-001", start, end, vendor="dahua")

Ports default to free ones (parallel test sessions do not collide). ``stop()`` terminates the simulator,
which stops its GStreamer child; as a last resort the whole process group is killed: no orphans.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from camsvc import paths
from camsvc.redact import with_credentials
from camsvc.simulate.fleet import FleetCamera, read_fleet
from camsvc.simulate.playback import DEVICE_TZ

log = logging.getLogger(__name__)

__all__ = ["FleetCamera", "SimulatorError", "Simulator"]


class SimulatorError(RuntimeError):
    """The simulator failed to start, or the control API refused a request (message says why)."""

    def __init__(self, message: str, valid: list[str] | None = None) -> None:
        super().__init__(message)
        self.valid = valid or []


class Simulator:
    """Context manager around ``python -m camsvc.simulate serve``."""

    def __init__(
        self,
        roadside: int = 40,
        household: int = 200,
        *,
        base_port: int | None = None,
        control_port: int | None = None,
        rtsp_port: int | None = None,
        cache_dir: Path | None = None,
        out_dir: Path | None = None,
        seed: int = 1,
        extra_streams: dict[str, Path] | None = None,
        prebuild_faults: bool = False,
        clock_cameras: int = 0,
        playback_minutes: float | None = None,
    ) -> None:
        self.roadside = roadside
        self.household = household
        self.base_port = base_port
        self.control_port = control_port
        self.rtsp_port = rtsp_port
        self.cache_dir = cache_dir
        self.seed = seed
        self.extra_streams = dict(extra_streams or {})
        self.prebuild_faults = prebuild_faults
        self.clock_cameras = clock_cameras
        self.playback_minutes = playback_minutes
        self._own_out = out_dir is None
        self.out_dir = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="camsvc-sim-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self.fleet: list[FleetCamera] = []
        self.fleet_csv = self.out_dir / "fleet.csv"
        self.fleet_yaml = self.out_dir / "fleet.yaml"
        self.log_path = self.out_dir / "simulator.log"
        self.startup_s: float | None = None
        self.started_at: float | None = None  # wall clock when ready: cameras keep what they served since
        self._by_id: dict[str, FleetCamera] = {}

    # --- life cycle -------------------------------------------------------------------------------------

    def command(self, ready_file: Path) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "camsvc.simulate",
            "--roadside",
            str(self.roadside),
            "--household",
            str(self.household),
            "--seed",
            str(self.seed),
            "--host",
            "127.0.0.1",
            "--base-port",
            str(self.base_port or 0),
            "--control-port",
            str(self.control_port or 0),
            "--rtsp-port",
            str(self.rtsp_port or 0),
            "--out",
            str(self.out_dir),
            "--ready-file",
            str(ready_file),
            "--quiet",
        ]
        # The cache the settings name here, passed on so the child cannot resolve it differently.
        cmd += ["--cache-dir", str(self.cache_dir if self.cache_dir is not None else paths.cache_dir())]
        for name, path in self.extra_streams.items():
            cmd += ["--extra", f"{name}={Path(path).resolve()}"]
        if self.prebuild_faults:
            cmd.append("--prebuild-faults")
        cmd += ["--clock-cameras", str(self.clock_cameras)]
        if self.playback_minutes is not None:  # else the child's settings simulator.playback_minutes
            cmd += ["--playback-minutes", str(self.playback_minutes)]
        return [*cmd, "serve"]

    def environment(self) -> dict[str, str]:
        # The prober's process-wide OpenCV FFmpeg options (camsvc.probing.stream.configure_opencv_env) are
        # not the simulator's: their protocol whitelist has no ``file``, and the simulator reads local clips.
        env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_CAPTURE_OPTIONS"}
        return {**env, "PYTHONUNBUFFERED": "1"}

    def start(self, timeout_s: float = 300.0) -> Simulator:
        """Start the simulator; block until every camera serves (first run encodes footage: ~10 s)."""
        if self.proc is not None:
            return self
        self.out_dir.mkdir(parents=True, exist_ok=True)
        ready = self.out_dir / "ready.json"
        ready.unlink(missing_ok=True)
        t0 = time.monotonic()
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(
                self.command(ready),
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.environment(),
            )
        deadline = t0 + timeout_s
        try:
            while not ready.is_file():
                if self.proc.poll() is not None:
                    raise SimulatorError(f"simulator exited with {self.proc.returncode}: {self._log_tail()}")
                if time.monotonic() > deadline:
                    raise SimulatorError(f"simulator not ready after {timeout_s:.0f} s: {self._log_tail()}")
                time.sleep(0.1)
            self.info = json.loads(ready.read_text())
            self.fleet_csv = Path(self.info["fleet_csv"])
            self.fleet_yaml = Path(self.info["fleet_yaml"])
            self.fleet = read_fleet(self.fleet_csv)
            self._by_id = {c.id: c for c in self.fleet}
            self._wait_ports(deadline)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - t0
        self.started_at = time.time()
        log.info("simulator ready: %d cameras in %.1f s", len(self.fleet), self.startup_s)
        return self

    def _wait_ports(self, deadline: float) -> None:
        for cam in self.fleet:
            port = self.port(cam.id)
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SimulatorError(f"{cam.id}: port {port} does not accept connections") from None
                    time.sleep(0.05)

    def _log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Terminate, wait, kill; the GStreamer child goes with its parent (and with the process group)."""
        proc = self.proc
        if proc is None:
            return
        self.proc = None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # Anything left in the simulator's own process group (only its children live there).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if self._own_out:
            shutil.rmtree(self.out_dir, ignore_errors=True)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    # --- control ----------------------------------------------------------------------------------------

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.info['control_port']}"

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, timeout_s: float = 120
    ) -> Any:
        import httpx

        if not self.info:
            raise SimulatorError("simulator is not running")
        with httpx.Client(timeout=timeout_s, trust_env=False) as client:
            resp = client.request(method, self.control_url + path, json=body)
        data = resp.json()
        if resp.status_code >= 400:
            raise SimulatorError(str(data.get("error", data)), data.get("valid"))
        return data

    def fault(self, camera_id: str, fault: str) -> None:
        """Switch one camera to *fault*; returns once it is in effect. SimulatorError on bad names."""
        self._call("POST", "/faults", {"camera": camera_id, "fault": fault})

    def fault_hamlet(self, hamlet: str, fault: str) -> list[str]:
        """Switch every camera of *hamlet* (accents/case ignored); returns the camera ids affected."""
        return list(self._call("POST", "/faults", {"hamlet": hamlet, "fault": fault})["cameras"])

    def status(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/cameras")["cameras"])

    def stats(self) -> dict[str, int]:
        """Live RTSP sessions in the GStreamer server, open camera connections, requests served."""
        return dict(self._call("GET", "/stats"))

    def faults(self) -> dict[str, str]:
        """Current fault of every camera."""
        return {c["id"]: c["fault"] for c in self.status()}

    # --- addresses --------------------------------------------------------------------------------------

    def camera(self, camera_id: str) -> FleetCamera:
        try:
            return self._by_id[camera_id]
        except KeyError:
            ids = list(self._by_id)
            raise SimulatorError(
                f"unknown camera {camera_id!r}; valid cameras: {', '.join(ids)}", ids
            ) from None

    def port(self, camera_id: str) -> int:
        cam = self.camera(camera_id)
        return int(self.info["base_port"]) + self.fleet.index(cam)

    def url(self, camera_id: str, which: str = "main") -> str:
        """The camera's ``main``/``sub``/``snapshot`` URL with its credentials inserted (for the prober)."""
        cam = self.camera(camera_id)
        urls = {"main": cam.main_url, "sub": cam.sub_url, "snapshot": cam.snapshot_url}
        if which not in urls:
            raise SimulatorError(f"unknown stream {which!r}; valid: main, sub, snapshot", list(urls))
        if not urls[which]:
            raise SimulatorError(f"{camera_id} has no {which} URL")
        return with_credentials(urls[which], cam.username, cam.password)

    def playback_url(
        self,
        camera_id: str,
        start: datetime,
        end: datetime,
        *,
        vendor: str = "hikvision",
        stream: str = "main",
        credentials: bool = True,
    ) -> str:
        """A vendor playback URL (``hikvision``: UTC ``/Streaming/tracks/10x``; ``dahua``: local-time
        ``/cam/playback``) for *camera_id*'s port, any simulated RTSP camera answering both forms."""
        cam = self.camera(camera_id)
        if stream not in ("main", "sub"):
            raise SimulatorError(f"unknown stream {stream!r}; valid: main, sub", ["main", "sub"])
        base = f"rtsp://127.0.0.1:{self.port(camera_id)}"
        if vendor == "hikvision":
            fmt = "%Y%m%dT%H%M%SZ"
            s, e = start.astimezone(UTC).strftime(fmt), end.astimezone(UTC).strftime(fmt)
            url = f"{base}/Streaming/tracks/{101 if stream == 'main' else 102}?starttime={s}&endtime={e}"
        elif vendor == "dahua":
            fmt = "%Y_%m_%d_%H_%M_%S"
            s, e = start.astimezone(DEVICE_TZ).strftime(fmt), end.astimezone(DEVICE_TZ).strftime(fmt)
            sub = 0 if stream == "main" else 1
            url = f"{base}/cam/playback?channel=1&subtype={sub}&starttime={s}&endtime={e}"
        else:
            raise SimulatorError(
                f"unknown vendor {vendor!r}; valid: hikvision, dahua", ["hikvision", "dahua"]
            )
        return with_credentials(url, cam.username, cam.password) if credentials else url

    @property
    def clock_camera_ids(self) -> list[str]:
        return list(self.info.get("clock_cameras", []))

    def extra_url(self, name: str) -> str:
        extra: dict[str, str] = self.info.get("extra", {})
        if name not in extra:
            raise SimulatorError(f"unknown extra stream {name!r}; valid: {', '.join(extra)}", list(extra))
        return extra[name]

    @property
    def rtsp_port_bound(self) -> int | None:
        return self.info.get("rtsp_port")
