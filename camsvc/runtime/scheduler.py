"""Scheduled checks: every enabled camera at its own interval, through the probe pool.

APScheduler runs three jobs: ``tick`` (every second: submit the checks that are due, as far as the pool has
room), ``refresh`` (every few seconds and on demand: reload the registry so edits take effect without a
restart) and ``prune`` (hourly: check retention). One writer thread records results in order, so the
database sees one writer per process.

Why a due-time table and not one APScheduler job per camera: a camera's next check depends on its previous
one (never before it ends; sooner while a failure awaits confirmation), and 10,000 cameras would mean
10,000 jobs to reschedule after every check. Here each camera has a due time: ``finish + interval`` (or
``+ retry_interval`` while pending) with ±5 % jitter; first checks are spread over ``jitter_fraction`` of
the interval so a restart does not open every stream at once. A hung camera holds one pool slot for at
most the probe budget; the others keep their schedule as long as the pool has free slots.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.enums import ErrorClass, StreamKind
from camsvc.health.outages import ConcurrentUpdate, prune_checks
from camsvc.metrics import Metrics
from camsvc.models import Camera, CameraSecret, MaintenanceWindow, Transition
from camsvc.probing.result import ProbeResult
from camsvc.redact import with_credentials
from camsvc.runtime.checks import CameraEntry, CheckProcessor, load_windows

log = logging.getLogger(__name__)


def pick_stream(cam: Camera, prefer: str = "sub") -> tuple[str, str, str | None] | None:
    """(url, which, stream kind) a routine check decodes: the preferred video stream, then the other,
    then the snapshot URL."""
    video = [("sub", cam.sub_url), ("main", cam.main_url)]
    if prefer == "main":
        video.reverse()
    for which, url in video:
        if url:
            return url, which, None
    if cam.snapshot_url:
        return cam.snapshot_url, "snapshot", StreamKind.SNAPSHOT.value
    return None


def camera_entries(session: Session, default_interval: float, prefer: str = "sub") -> dict[str, CameraEntry]:
    secrets = {s.camera_id: s for s in session.exec(select(CameraSecret))}
    out = {}
    for cam in session.exec(select(Camera).where(Camera.enabled == True)):  # noqa: E712
        picked = pick_stream(cam, prefer)
        if picked is None:
            continue
        url, which, sk = picked
        s = secrets.get(cam.id)
        if s:
            url = with_credentials(url, s.username, s.password)
        out[cam.id] = CameraEntry(
            id=cam.id,
            url=url,
            url_kind=which,
            stream_kind=sk,
            interval_s=cam.check_interval_s or default_interval,
            hamlet=cam.hamlet,
            kind=cam.kind.value,
            version=f"{cam.updated_at.isoformat()}|{hash(url)}",
            picture_thresholds=cam.picture_thresholds,
        )
    return out


class CheckScheduler:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        pool: Any,
        metrics: Metrics | None = None,
        on_transitions: Callable[[list[Transition]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.settings = settings
        self.engine = engine
        self.pool = pool
        self.metrics = metrics
        self.on_transitions = on_transitions
        self.clock = clock
        self.processor = CheckProcessor(settings, engine)
        self._lock = threading.Lock()
        self._cams: dict[str, CameraEntry] = {}
        self._due: dict[str, float] = {}
        self._inflight: set[str] = set()
        self._windows: list[MaintenanceWindow] = []
        self._results: queue.Queue[tuple[CameraEntry, ProbeResult] | None] = queue.Queue()
        self._stop = threading.Event()
        self._sched = BackgroundScheduler(
            timezone=dt.UTC, job_defaults={"coalesce": True, "max_instances": 1}
        )
        self._writer = threading.Thread(target=self._write_loop, name="check-writer", daemon=True)
        self._rng = random.Random()
        self.capacity = int(getattr(pool, "capacity", 0) or pool.stats().get("capacity", 32))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.refresh()
        self._writer.start()
        self._sched.add_job(
            self.tick, "interval", seconds=1.0, id="tick", next_run_time=dt.datetime.now(dt.UTC)
        )
        self._sched.add_job(self.refresh, "interval", seconds=5.0, id="refresh")
        self._sched.add_job(
            self.prune, "interval", hours=1.0, id="prune", next_run_time=dt.datetime.now(dt.UTC)
        )
        self._sched.start()
        log.info("scheduler started: %d cameras, pool capacity %d", len(self._cams), self.capacity)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop submitting; results already received are recorded; in-flight probes are abandoned."""
        self._stop.set()
        with contextlib.suppress(Exception):  # already stopped
            self._sched.shutdown(wait=False)
        self._results.put(None)
        self._writer.join(timeout_s)

    # ------------------------------------------------------------------ jobs
    def refresh(self) -> None:
        """Reload the registry: new cameras are scheduled (spread), removed ones dropped, edits applied."""
        with Session(self.engine) as session:
            cams = camera_entries(
                session, self.settings.checks.interval_s, self.settings.checks.prefer_stream
            )
            windows = load_windows(session)
        now = self.clock()
        with self._lock:
            for cid, entry in cams.items():
                old = self._cams.get(cid)
                if old is None:
                    spread = entry.interval_s * self.settings.checks.jitter_fraction
                    self._due[cid] = now + self._rng.uniform(0, spread)
                elif old.version != entry.version:
                    self._due[cid] = min(self._due.get(cid, now), now)  # an edit is checked promptly
            for cid in list(self._cams):
                if cid not in cams:
                    self._due.pop(cid, None)
            self._cams = cams
            self._windows = windows

    def tick(self) -> int:
        """Submit due checks while the pool has room. Returns how many were submitted."""
        if self._stop.is_set():
            return 0
        now = self.clock()
        with self._lock:
            room = self.capacity - len(self._inflight)
            due = sorted((t, cid) for cid, t in self._due.items() if t <= now and cid not in self._inflight)
            picked = [self._cams[cid] for _, cid in due[: max(room, 0)] if cid in self._cams]
            for cam in picked:
                self._inflight.add(cam.id)
        for cam in picked:
            try:
                kind = StreamKind(cam.stream_kind) if cam.stream_kind else None
                fut: Future[ProbeResult] = self.pool.submit(cam.url, kind=kind)
            except Exception:
                log.exception("could not submit a check for camera %s", cam.id)
                with self._lock:
                    self._inflight.discard(cam.id)
                    self._due[cam.id] = now + 5.0
                continue
            fut.add_done_callback(functools.partial(self._done, cam))
        return len(picked)

    def _done(self, cam: CameraEntry, fut: Future[ProbeResult]) -> None:
        try:
            result = fut.result()
        except Exception as exc:  # the pool failed this probe (worker crash, shutdown): still a check
            if self._stop.is_set():
                return
            result = ProbeResult(
                url="",
                ok=False,
                error=ErrorClass.DECODE_ERROR,
                detail=f"probe failed: {type(exc).__name__}",
                started_at=time.time(),
            )
        self._results.put((cam, result))

    def _write_loop(self) -> None:
        while True:
            item = self._results.get()
            if item is None:
                return
            cam, result = item
            pending = False
            try:
                with self._lock:
                    windows = list(self._windows)
                rec = self.processor.process(cam, result, windows)
                pending = rec.health.pending
                if self.metrics:
                    self.metrics.checks.labels(result="ok" if result.ok else (result.error or "error")).inc()
                    self.metrics.check_duration.observe(result.total_ms / 1000.0)
                    for tr in rec.transitions:
                        self.metrics.transitions.labels(new_state=tr.new_state.value).inc()
                if rec.transitions and self.on_transitions:
                    self.on_transitions(rec.transitions)
            except ConcurrentUpdate:
                log.warning("camera %s was updated by another writer; this check was not applied", cam.id)
            except Exception:
                if self.metrics:
                    self.metrics.check_errors.inc()
                log.exception("could not record a check of camera %s", cam.id)
            finally:
                self._reschedule(cam, pending)

    def _reschedule(self, cam: CameraEntry, pending: bool) -> None:
        base = self.settings.checks.retry_interval_s if pending else cam.interval_s
        with self._lock:
            self._inflight.discard(cam.id)
            if cam.id in self._cams:
                self._due[cam.id] = self.clock() + base * self._rng.uniform(0.95, 1.05)

    def prune(self) -> None:
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=self.settings.checks.retention_days)
        with session_scope(self.engine) as session:
            n = prune_checks(session, cutoff)
        if n:
            log.info("retention: deleted %d checks older than %s", n, cutoff.isoformat())

    # ------------------------------------------------------------------ introspection
    def registry_changed(self) -> None:
        self._sched.add_job(self.refresh, id="refresh-now", replace_existing=True)

    def stats(self) -> dict[str, float]:
        with self._lock:
            now = self.clock()
            overdue = sum(1 for cid, t in self._due.items() if t < now - 5 and cid not in self._inflight)
            return {
                "cameras": len(self._cams),
                "in_flight": len(self._inflight),
                "overdue": overdue,
                "queued_results": self._results.qsize(),
            }
