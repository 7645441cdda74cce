"""The recorder supervisor: which cameras are recorded, by which worker, and what to do when one fails.

Runs in the leader (started by :class:`camsvc.runtime.service.Runtime` after the scheduler). It reads the
registry (enabled, not deleted cameras whose effective mode is ``continuous`` and that have a URL for the
recorded stream), shards them over worker processes (``python -m camsvc.recording.worker``, up to
``recording.cameras_per_worker`` recorders each, one thread per camera) and keeps them recording:

- a recorder session that ends (stream error, end of stream, write failure) is restarted after an
  exponential backoff (1, 2, 4 ... s, capped at ``recording.restart_backoff_max_s``; reset by a segment);
- a recorder with no packet for ``recording.packet_timeout_s`` or no new segment within the stall rule
  (``recording.stall_s``; 0: max(120 s, 2 x segment_s + 30 s)) is stopped and restarted the same way;
- a worker that dies (even SIGKILL) takes its sessions with it: the files they had open are indexed as
  ``recovered`` (fragmented MP4 stays readable up to the last fragment) and the recorders restart in a
  fresh worker. At start, every file on disk the index does not know is recovered the same way; files
  that cannot be read are renamed ``*.unreadable`` and logged.

It writes ``Segment`` rows as segments close and keeps ``RecorderStatus`` current (``since`` is when this
camera's recording began and does not move on restarts, so a recorder that keeps failing shows as
``not_recording`` after the stall window). Credentials go to workers only through their stdin.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.enums import RecordingMode
from camsvc.models import Camera, CameraSecret, utcnow
from camsvc.probing.pool import _describe_exit  # one wording for a worker's exit
from camsvc.recording.models import RecorderStatus, Segment
from camsvc.recording.policy import (
    effective_mode,
    effective_stream,
    stall_seconds,
    stream_url,
)
from camsvc.recording.writer import SegmentInfo, parse_relpath, probe_file
from camsvc.redact import redact_text, with_credentials

log = logging.getLogger(__name__)

_TICK_S = 0.5
_REFRESH_S = 10.0
_STATUS_FLUSH_S = 5.0
OPEN_TIMEOUT_S = 10.0
WRITE_ALERT_AFTER = 3  # consecutive write failures (any camera) before admins are alerted


@dataclass(frozen=True)
class RecEntry:
    id: str
    url: str = field(repr=False)  # with credentials: only ever sent to a worker's stdin
    stream: str
    secrets: tuple[str, ...] = field(repr=False)
    version: str


def recorded_cameras(session: Session, settings: Settings) -> dict[str, RecEntry]:
    """The cameras camsvc records now, with credentials inserted (as the scheduler does)."""
    secrets = {s.camera_id: s for s in session.exec(select(CameraSecret))}
    out: dict[str, RecEntry] = {}
    cams = session.exec(
        select(Camera).where(Camera.enabled == True, col(Camera.deleted_at).is_(None))  # noqa: E712
    )
    for cam in cams:
        if effective_mode(cam, settings) != RecordingMode.CONTINUOUS:
            continue
        stream = effective_stream(cam, settings)
        raw = stream_url(cam, stream)
        if not raw:
            continue
        s = secrets.get(cam.id)
        url = with_credentials(raw, s.username, s.password) if s else raw
        out[cam.id] = RecEntry(
            id=cam.id,
            url=url,
            stream=stream,
            secrets=tuple(x for x in ((s.password if s else ""),) if x),
            version=f"{stream}|{hash(url)}",
        )
    return out


class _Worker:
    def __init__(self, slot: int, events: queue.Queue[tuple[int, int, dict[str, Any]]]) -> None:
        self.slot = slot
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "camsvc.recording.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            close_fds=True,
        )
        self.pid = self.popen.pid
        self.dead = False
        self.secrets: set[str] = set()
        self._lock = threading.Lock()
        threading.Thread(
            target=self._read, args=(events,), name=f"rec-worker-{slot}-out", daemon=True
        ).start()
        threading.Thread(target=self._stderr, name=f"rec-worker-{slot}-err", daemon=True).start()

    def _read(self, events: queue.Queue[tuple[int, int, dict[str, Any]]]) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if isinstance(ev, dict):
                events.put((self.slot, self.pid, ev))
        events.put((self.slot, self.pid, {"event": "_eof"}))

    def _stderr(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            line = line.rstrip()
            if line:
                log.warning("[recorder worker %s] %s", self.pid, redact_text(line, tuple(self.secrets)))

    def send(self, cmd: dict[str, Any]) -> bool:
        with self._lock:
            if self.popen.stdin is None:
                return False
            try:
                self.popen.stdin.write(json.dumps(cmd) + "\n")
                self.popen.stdin.flush()
                return True
            except (OSError, ValueError):
                return False

    def close_stdin(self) -> None:
        with self._lock, contextlib.suppress(OSError, ValueError):
            if self.popen.stdin is not None:
                self.popen.stdin.close()

    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class _Cam:
    entry: RecEntry
    slot: int
    since: dt.datetime
    session: int = 0
    running: bool = False
    next_start: float = 0.0
    failures: int = 0
    restarts: int = 0
    started_mono: float = 0.0
    last_packet_mono: float = 0.0
    last_segment_mono: float = 0.0
    last_packet_at: dt.datetime | None = None
    last_segment_end: dt.datetime | None = None
    last_error: str | None = None
    last_error_at: dt.datetime | None = None
    dirty: bool = True


class RecorderSupervisor:
    def __init__(
        self, settings: Settings, engine: Engine, owned: Callable[[], set[str] | None] | None = None
    ) -> None:
        self.settings = settings
        # which cameras this node may record: None every camera; else the ids *owned* returns at each
        # reload (a probe node records only the cameras it holds leases for: camsvc.nodes)
        self.owned = owned
        self.rec = settings.recording
        self.engine = engine
        self.root: Path = settings.recording_dir
        self.stall_s = stall_seconds(self.rec)
        self._events: queue.Queue[tuple[int, int, dict[str, Any]]] = queue.Queue()
        self._workers: dict[int, _Worker] = {}
        self._cams: dict[str, _Cam] = {}
        self._sessions = 0
        self._stop = threading.Event()
        self._refresh = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recorder-supervisor", daemon=True)
        self._lock = threading.Lock()
        self._last_refresh = 0.0
        self._last_flush = 0.0
        self.write_failures = 0
        self.counts = {"segments": 0, "recovered": 0, "unreadable": 0, "restarts": 0, "worker_deaths": 0}

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.recover()
        self._reload()
        self._thread.start()
        log.info("recorder supervisor started: %d cameras recorded into %s", len(self._cams), self.root)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop every recorder (each closes its segment, which is indexed), then the workers."""
        self._stop.set()
        self._thread.join(timeout_s)
        with self._lock:
            workers = list(self._workers.values())
        for w in workers:
            w.send({"cmd": "exit"})
            w.close_stdin()
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and any(not w.dead for w in workers):
            self._drain(0.2)
        for w in workers:
            if w.alive():
                w.popen.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                w.popen.wait(2)
        self._drain(0)
        now = utcnow()
        for cam in self._cams.values():
            cam.running, cam.dirty = False, True
        self._flush(now, force=True)
        log.info("recorder supervisor stopped: %s", self.counts)

    def registry_changed(self) -> None:
        self._refresh.set()

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._workers.values() if not w.dead and w.alive()]

    def stats(self) -> dict[str, float]:
        with self._lock:
            return {
                "cameras": len(self._cams),
                "running": sum(1 for c in self._cams.values() if c.running),
                "workers": sum(1 for w in self._workers.values() if not w.dead),
                **{k: float(v) for k, v in self.counts.items()},
            }

    # ------------------------------------------------------------------ loop
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._drain(_TICK_S)
                mono = time.monotonic()
                if self._refresh.is_set() or mono - self._last_refresh > _REFRESH_S:
                    self._refresh.clear()
                    self._reload()
                self._supervise(mono)
                self._flush(utcnow())
            except Exception:  # the supervisor must survive its own bugs
                log.exception("recorder supervisor error")
                time.sleep(_TICK_S)

    def _drain(self, timeout: float) -> None:
        try:
            item = self._events.get(timeout=timeout) if timeout > 0 else self._events.get_nowait()
        except queue.Empty:
            return
        while True:
            try:
                self._on_event(*item)
            except Exception:
                log.exception("recorder event not handled")
            try:
                item = self._events.get_nowait()
            except queue.Empty:
                return

    def _reload(self) -> None:
        self._last_refresh = time.monotonic()
        with Session(self.engine) as session:
            wanted = recorded_cameras(session, self.settings)
        ids = self.owned() if self.owned is not None else None
        if ids is not None:
            wanted = {cid: e for cid, e in wanted.items() if cid in ids}
        now = utcnow()
        with self._lock:
            for cid in [c for c in self._cams if c not in wanted or self._cams[c].entry != wanted[c]]:
                cam = self._cams.pop(cid)
                self._stop_cam(cam, None)
                if cid not in wanted:
                    self._write_status(cam, now, running=False)
                    log.info("camera %s is no longer recorded", cid)
            for cid, entry in wanted.items():
                if cid not in self._cams:
                    self._cams[cid] = _Cam(entry=entry, slot=self._pick_slot(), since=now)

    def _pick_slot(self) -> int:
        per = self.rec.cameras_per_worker
        counts: dict[int, int] = {}
        for c in self._cams.values():
            counts[c.slot] = counts.get(c.slot, 0) + 1
        slot = 0
        while counts.get(slot, 0) >= per:
            slot += 1
        return slot

    def _supervise(self, mono: float) -> None:
        now = utcnow()
        with self._lock:
            cams = list(self._cams.values())
        for cam in cams:
            if not cam.running:
                if mono >= cam.next_start and not self._stop.is_set():  # no new recorder while stopping
                    self._start_cam(cam, mono, now)
                continue
            quiet = mono - max(cam.last_packet_mono, cam.started_mono + OPEN_TIMEOUT_S)
            if quiet > self.rec.packet_timeout_s:
                self._fail(cam, f"no packet for {self.rec.packet_timeout_s:.0f} s", mono, now, stop=True)
                continue
            if mono - max(cam.started_mono, cam.last_segment_mono) > self.stall_s:
                self._fail(cam, f"no new segment for {self.stall_s:.0f} s", mono, now, stop=True)

    def _worker(self, slot: int) -> _Worker:
        w = self._workers.get(slot)
        if w is None or w.dead:
            w = _Worker(slot, self._events)
            self._workers[slot] = w
            log.info("recorder worker slot %d started (pid %d)", slot, w.pid)
        return w

    def _start_cam(self, cam: _Cam, mono: float, now: dt.datetime) -> None:
        with self._lock:
            worker = self._worker(cam.slot)
        self._sessions += 1
        cam.session = self._sessions
        worker.secrets.update(cam.entry.secrets)
        ok = worker.send(
            {
                "cmd": "start",
                "camera_id": cam.entry.id,
                "session": cam.session,
                "url": cam.entry.url,
                "stream": cam.entry.stream,
                "root": str(self.root),
                "segment_s": self.rec.segment_s,
                "open_timeout_s": OPEN_TIMEOUT_S,
                "read_timeout_s": self.rec.packet_timeout_s,
                "secrets": list(cam.entry.secrets),
            }
        )
        cam.running = True
        cam.started_mono = cam.last_packet_mono = mono
        cam.dirty = True
        if not ok:  # its death is handled when its output ends
            log.warning("recorder worker slot %d did not take camera %s", cam.slot, cam.entry.id)

    def _stop_cam(self, cam: _Cam, error: str | None) -> None:
        w = self._workers.get(cam.slot)
        if cam.running and w is not None and not w.dead:
            w.send({"cmd": "stop", "camera_id": cam.entry.id})
        cam.running = False

    def _fail(self, cam: _Cam, error: str, mono: float, now: dt.datetime, *, stop: bool = False) -> None:
        if stop:
            self._stop_cam(cam, error)
        cam.running = False
        cam.failures += 1
        cam.restarts += 1
        self.counts["restarts"] += 1
        delay = min(self.rec.restart_backoff_max_s, 2.0 ** (cam.failures - 1))
        cam.next_start = mono + delay
        cam.last_error, cam.last_error_at, cam.dirty = error[:1000], now, True
        log.warning("recorder of camera %s stopped (%s); restart in %.0f s", cam.entry.id, error, delay)
        if error.startswith("write failed"):
            self.write_failures += 1
            if self.write_failures == WRITE_ALERT_AFTER or self.write_failures % 50 == 0:
                self._alert_writes(error)

    def _alert_writes(self, error: str) -> None:
        try:
            from camsvc.alerts.system import queue_system_alert

            queue_system_alert(
                self.engine,
                self.settings,
                problem="recording_write",
                text_vi=f"Không ghi được hình vào {self.root}: {error}",
                text_en=f"Recordings cannot be written to {self.root}: {error}",
            )
        except Exception:
            log.exception("could not queue the recording write alert")

    # ------------------------------------------------------------------ events
    def _on_event(self, slot: int, pid: int, ev: dict[str, Any]) -> None:
        kind = ev.get("event")
        mono = time.monotonic()
        now = utcnow()
        if kind == "_eof":
            self._on_worker_death(slot, pid, mono, now)
            return
        if kind == "log":
            w = self._workers.get(slot)
            text = redact_text(str(ev.get("text", "")), tuple(w.secrets) if w else ())
            logging.getLogger(str(ev.get("name", __name__))).log(
                int(ev.get("level", logging.INFO)), "[recorder %s] %s", pid, text
            )
            return
        if kind == "ready":
            return
        cid = str(ev.get("camera_id", ""))
        cam = self._cams.get(cid)
        if kind == "segment":
            info = SegmentInfo(**{k: v for k, v in ev.items() if k not in ("event", "session")})
            self._index(info)
            self.write_failures = 0
            if cam is not None:
                end = dt.datetime.fromisoformat(info.end)
                cam.last_segment_end = max(cam.last_segment_end or end, end)
                cam.last_segment_mono = mono
                if ev.get("session") == cam.session:
                    cam.failures = 0
                cam.dirty = True
                self._write_status(cam, now)
            return
        if cam is None or ev.get("session") != cam.session:
            return  # an old session (restarted or removed camera)
        if kind == "status":
            cam.last_packet_mono = mono
            if ev.get("last_packet_at"):
                cam.last_packet_at = dt.datetime.fromisoformat(str(ev["last_packet_at"]))
            cam.dirty = True
        elif kind == "stopped" and cam.running and not self._stop.is_set():
            self._fail(cam, str(ev.get("error") or "recorder stopped"), mono, now)

    def _on_worker_death(self, slot: int, pid: int, mono: float, now: dt.datetime) -> None:
        with self._lock:
            w = self._workers.get(slot)
            if w is None or w.pid != pid or w.dead:
                return
            w.dead = True
        with contextlib.suppress(subprocess.TimeoutExpired):
            w.popen.wait(2)
        if self._stop.is_set():
            return
        how = _describe_exit(w.popen.poll())
        self.counts["worker_deaths"] += 1
        cams = [c for c in self._cams.values() if c.slot == slot]
        log.warning("recorder worker %s (slot %d) died (%s) with %d cameras", pid, slot, how, len(cams))
        self.recover([c.entry.id for c in cams])
        for cam in cams:
            if cam.running:
                self._fail(cam, f"recorder worker died ({how})", mono, now)

    # ------------------------------------------------------------------ database
    def _index(self, info: SegmentInfo) -> bool:
        with session_scope(self.engine) as session:
            if session.exec(select(Segment.id).where(Segment.path == info.path)).first() is not None:
                return False
            if session.get(Camera, info.camera_id) is None:
                log.warning("segment %s of an unknown camera is not indexed", info.path)
                return False
            session.add(
                Segment(
                    camera_id=info.camera_id,
                    stream=info.stream,
                    path=info.path,
                    start=dt.datetime.fromisoformat(info.start),
                    end=dt.datetime.fromisoformat(info.end),
                    duration_s=info.duration_s,
                    size=info.size,
                    sha256=info.sha256,
                    frames=info.frames,
                    keyframes=info.keyframes,
                    codec=info.codec[:20],
                    width=info.width,
                    height=info.height,
                    recovered=info.recovered,
                )
            )
        self.counts["recovered" if info.recovered else "segments"] += 1
        return True

    def _flush(self, now: dt.datetime, force: bool = False) -> None:
        mono = time.monotonic()
        if not force and mono - self._last_flush < _STATUS_FLUSH_S:
            return
        self._last_flush = mono
        for cam in list(self._cams.values()):
            if cam.dirty:
                self._write_status(cam, now)

    def _write_status(self, cam: _Cam, now: dt.datetime, running: bool | None = None) -> None:
        from camsvc.recording.index import bytes_per_hour

        try:
            with session_scope(self.engine) as session:
                if session.get(Camera, cam.entry.id) is None:
                    return
                st = session.get(RecorderStatus, cam.entry.id) or RecorderStatus(camera_id=cam.entry.id)
                st.running = cam.running if running is None else running
                st.since = cam.since
                st.last_segment_end = cam.last_segment_end or st.last_segment_end
                st.last_packet_at = cam.last_packet_at or st.last_packet_at
                st.restarts = cam.restarts
                st.last_error = cam.last_error
                st.last_error_at = cam.last_error_at
                st.bytes_per_hour = bytes_per_hour(session, cam.entry.id, now)
                st.updated_at = now
                session.add(st)
            cam.dirty = False
        except Exception:
            log.exception("could not write the recorder status of camera %s", cam.entry.id)

    # ------------------------------------------------------------------ recovery
    def recover(self, camera_ids: list[str] | None = None) -> list[str]:
        """Index segment files the index does not know (their recorder died before closing them) as
        ``recovered``; rename unreadable ones ``*.unreadable``. Returns the recovered paths."""
        if not self.root.is_dir():
            return []
        dirs = (
            [self.root / c for c in camera_ids]
            if camera_ids is not None
            else [d for d in self.root.iterdir() if d.is_dir()]
        )
        found: list[str] = []
        for d in dirs:
            if not d.is_dir():
                continue
            files = sorted(str(p.relative_to(self.root)) for p in d.rglob("*.mp4"))
            if not files:
                continue
            with Session(self.engine) as session:
                known = set(session.exec(select(Segment.path).where(Segment.camera_id == d.name)).all())
            for rel in files:
                if rel in known or parse_relpath(rel) is None:
                    continue
                try:
                    info = probe_file(self.root, rel)
                except Exception as exc:
                    target = self.root / (rel + ".unreadable")
                    with contextlib.suppress(OSError):
                        (self.root / rel).rename(target)
                    self.counts["unreadable"] += 1
                    log.warning("segment %s cannot be read (%s): moved aside as %s", rel, exc, target.name)
                    continue
                if self._index(info):
                    found.append(rel)
                    log.info(
                        "recovered segment %s (%.1f s) left by a recorder that died", rel, info.duration_s
                    )
        return found
