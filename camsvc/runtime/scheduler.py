"""Scheduled checks: every enabled camera at its own interval, through the probe pool.

APScheduler runs two jobs: ``tick`` (every second: submit the checks that are due, as far as the pool has
room) and ``refresh`` (every few seconds and on demand: reload the registry so edits take effect without a
restart). Check retention is the central rollup worker's (camsvc.rollup.worker: raw checks are deleted only
once their hour is rolled up). One writer thread records results in order, so the
database sees one writer per process.

Why a due-time table and not one APScheduler job per camera: a camera's next check depends on its previous
one (never before it ends; sooner while a failure awaits confirmation), and 10,000 cameras would mean
10,000 jobs to reschedule after every check. Here each camera has a due time: ``finish + interval`` (or
``+ retry_interval`` while pending) with ±5 % jitter; first checks are spread over ``jitter_fraction`` of
the interval so a restart does not open every stream at once. A camera the database has already checked
(``CameraStatus.last_check_at``) resumes from there instead (:func:`resume_due`): after a restart or a
takeover by another process, a camera is checked when its next check was due, never twice for one due
time and none skipped. A hung camera holds one pool slot for at
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
from concurrent.futures import CancelledError, Future
from typing import Any

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from camsvc.config import Settings
from camsvc.enums import ErrorClass, HealthState, StreamKind
from camsvc.health.outages import ConcurrentUpdate
from camsvc.metrics import Metrics
from camsvc.models import Camera, CameraSecret, CameraStatus, MaintenanceWindow, Transition
from camsvc.probing.adaptive import DepthTracker
from camsvc.probing.result import ProbeResult
from camsvc.redact import with_credentials
from camsvc.runtime.checks import CameraEntry, CheckProcessor, is_duplicate_due, load_windows
from camsvc.runtime.spool import SPOOL_FILE, Spool, Spooled

log = logging.getLogger(__name__)

SPOOL_BACKOFF_MIN_S, SPOOL_BACKOFF_MAX_S = 1.0, 10.0  # asking a database that is away again
SPOOL_BATCH = 50  # spooled results replayed per spool read
_NOTHING = object()  # the writer's wait ended with no result (time to ask the database again)


def db_unreachable(exc: BaseException, dialect: str) -> bool:
    """Whether a write failed because the database cannot be reached now (the result is worth keeping
    for later), rather than refused: a lost or refused connection (OperationalError, InterfaceError, a
    connection invalidated, the pool's timeout), or for SQLite a lock still held after the busy timeout
    (SQLite's other OperationalErrors, such as a missing table or a full disk, are refusals)."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa.exc.TimeoutError):
        return True
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        if dialect == "sqlite":
            text = str(exc.orig).lower()
            return "locked" in text or "busy" in text or "unable to open" in text
        return True
    return False


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(getattr(exc, 'orig', None) or exc).strip().splitlines()[0][:200]}"


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


def resume_due(
    last_check_at: float | None, pending: bool, interval_s: float, retry_interval_s: float
) -> float | None:
    """When (epoch seconds) a camera last checked at *last_check_at* is next due: one interval later (the
    retry interval while a failure awaits confirmation). None: never checked, spread it like a new one."""
    if last_check_at is None:
        return None
    return last_check_at + (retry_interval_s if pending else interval_s)


def last_checks(session: Session, ids: list[str]) -> dict[str, tuple[float, bool]]:
    """camera id -> (last check time as epoch seconds, a failure or fault awaiting confirmation)."""
    out: dict[str, tuple[float, bool]] = {}
    for i in range(0, len(ids), 500):
        rows = session.execute(
            sa.select(
                col(CameraStatus.camera_id),
                col(CameraStatus.last_check_at),
                col(CameraStatus.state),
                col(CameraStatus.fail_streak),
                col(CameraStatus.fault_streak),
            ).where(col(CameraStatus.camera_id).in_(ids[i : i + 500]))
        ).all()
        for cid, at, state, fails, faults in rows:
            if at is None:
                continue
            if at.tzinfo is None:
                at = at.replace(tzinfo=dt.UTC)
            pending = (fails > 0 and state != HealthState.DOWN) or (
                faults > 0 and state != HealthState.DEGRADED
            )
            out[cid] = (at.timestamp(), pending)
    return out


def pool_usable(pool: Any) -> bool:
    """The pool can probe: not given up on its workers (a given-up pool fails every probe at once, and the
    watchdog is about to replace it, so nothing is submitted meanwhile)."""
    alive = getattr(pool, "alive", None)
    if callable(alive):
        return bool(alive())
    return pool is not None and not getattr(pool, "_broken", None)


class CheckScheduler:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        pool: Any,
        metrics: Metrics | None = None,
        on_transitions: Callable[[list[Transition]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        owned: Callable[[], set[str] | None] | None = None,
        node: str | None = None,
    ):
        self.settings = settings
        self.engine = engine
        self.pool = pool
        self.metrics = metrics
        self.on_transitions = on_transitions
        self.clock = clock
        # which cameras this scheduler checks: None (or *owned* answering None) every enabled camera; else
        # the ids *owned* returns at each refresh (a probe node's leases: camsvc.nodes)
        self.owned = owned
        self.node = node  # recorded with each check
        self.processor = CheckProcessor(settings, engine)
        self._lock = threading.Lock()
        self._cams: dict[str, CameraEntry] = {}
        self._due: dict[str, float] = {}
        self._inflight: set[str] = set()
        self._due_wall: dict[str, float] = {}  # camera -> the due time (epoch) of its check in flight
        self._windows: list[MaintenanceWindow] = []
        # (camera, result, due time as epoch seconds or None)
        self._results: queue.Queue[tuple[CameraEntry, ProbeResult, float | None] | None] = queue.Queue()
        self._stop = threading.Event()
        self._sched = BackgroundScheduler(
            timezone=dt.UTC, job_defaults={"coalesce": True, "max_instances": 1}
        )
        self._writer = threading.Thread(target=self._write_loop, name="check-writer", daemon=True)
        self._rng = random.Random()
        # adaptive depth (camsvc.probing.adaptive): light checks for long-healthy cameras (engine packets)
        self._depth = DepthTracker(settings.probe)
        self._written = 0  # checks recorded by the writer, and their database time (bench scale, nodes)
        self._write_s = 0.0
        self._spool_obj: Spool | None = None
        self._lost = 0  # results neither recorded nor spooled (no spool could be opened)
        self._backoff = SPOOL_BACKOFF_MIN_S
        self._next_try = 0.0  # monotonic time of the next question to the database while spooling
        if (settings.spool_dir / SPOOL_FILE).exists():
            self._spool()  # results spooled before a restart: replayed first, new ones queue behind
        self.capacity = 0
        if pool is not None:
            self.use_pool(pool)

    # ------------------------------------------------------------------ lifecycle
    def use_pool(self, pool: Any) -> None:
        """Submit to *pool* from now on (the watchdog replaced a dead probe pool)."""
        self.pool = pool
        self.capacity = int(getattr(pool, "capacity", 0) or pool.stats().get("capacity", 32))

    def start(self) -> None:
        if self.pool is None:
            raise RuntimeError("no probe pool to check with")
        self.refresh()
        self._writer.start()
        self._sched.add_job(
            self.tick, "interval", seconds=1.0, id="tick", next_run_time=dt.datetime.now(dt.UTC)
        )
        self._sched.add_job(self.refresh, "interval", seconds=5.0, id="refresh")
        self._sched.start()
        log.info("scheduler started: %d cameras, pool capacity %d", len(self._cams), self.capacity)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop submitting; results already received are recorded; in-flight probes are abandoned."""
        self._stop.set()
        with contextlib.suppress(Exception):  # already stopped
            self._sched.shutdown(wait=False)
        self._results.put(None)
        self._writer.join(timeout_s)
        if self._spool_obj is not None and not self._writer.is_alive():
            self._spool_obj.close()

    def alive(self) -> bool:
        """The APScheduler thread runs (the writer is watched on its own: :meth:`writer_alive`)."""
        thread = getattr(self._sched, "_thread", None)
        return bool(self._sched.running and (thread is None or thread.is_alive())) and not self._stop.is_set()

    def writer_alive(self) -> bool:
        return self._writer.is_alive()

    def restart_writer(self) -> None:
        """A new writer thread on the same result queue (the old one died)."""
        if self._writer.is_alive():
            return
        self._writer = threading.Thread(target=self._write_loop, name="check-writer", daemon=True)
        self._writer.start()

    # ------------------------------------------------------------------ jobs
    def refresh(self) -> None:
        """Reload the registry: new cameras are scheduled (spread), removed ones dropped, edits applied."""
        with Session(self.engine) as session:
            cams = camera_entries(
                session, self.settings.checks.interval_s, self.settings.checks.prefer_stream
            )
            windows = load_windows(session)
            ids = self.owned() if self.owned is not None else None
            if ids is not None:
                cams = {cid: e for cid, e in cams.items() if cid in ids}
            with self._lock:
                new = [cid for cid in cams if cid not in self._cams]
            last = last_checks(session, new) if new else {}
        now, wall = self.clock(), time.time()
        retry = self.settings.checks.retry_interval_s
        with self._lock:
            for cid, entry in cams.items():
                old = self._cams.get(cid)
                if old is None:
                    at, pending = last.get(cid, (None, False))
                    due = resume_due(at, pending, entry.interval_s, retry)
                    if due is not None:
                        self._due[cid] = now + max(0.0, due - wall)
                    else:
                        spread = entry.interval_s * self.settings.checks.jitter_fraction
                        self._due[cid] = now + self._rng.uniform(0, spread)
                elif old.version != entry.version:
                    self._due[cid] = min(self._due.get(cid, now), now)  # an edit is checked promptly
                    if old.url != entry.url:
                        self._depth.forget(cid)  # another stream: full checks until its packets are learned
            for cid in list(self._cams):
                if cid not in cams:
                    self._due.pop(cid, None)
                    self._depth.forget(cid)
                    self.processor.forget(cid)
            self._cams = cams
            self._windows = windows

    def tick(self) -> int:
        """Submit due checks while the pool has room. Returns how many were submitted."""
        if self._stop.is_set() or not pool_usable(self.pool):
            return 0
        now, wall = self.clock(), time.time()
        with self._lock:
            room = self.capacity - len(self._inflight)
            due = sorted((t, cid) for cid, t in self._due.items() if t <= now and cid not in self._inflight)
            picked = []
            for t, cid in due[: max(room, 0)]:
                if cid in self._cams:
                    picked.append(self._cams[cid])
                    self._inflight.add(cid)
                    self._due_wall[cid] = round(wall - (now - t), 3)
        for cam in picked:
            try:
                kind = StreamKind(cam.stream_kind) if cam.stream_kind else None
                # adaptive depth (camsvc.probing.adaptive): light checks for long-healthy cameras
                depth = self._depth
                fut: Future[ProbeResult] = self.pool.submit(cam.url, kind=kind, depth=depth.next(cam.id))
                depth.watch(cam.id, fut)
            except Exception:
                log.exception("could not submit a check for camera %s", cam.id)
                with self._lock:
                    self._inflight.discard(cam.id)
                    self._due_wall.pop(cam.id, None)
                    self._due[cam.id] = now + 5.0
                continue
            fut.add_done_callback(functools.partial(self._done, cam))
        return len(picked)

    def _done(self, cam: CameraEntry, fut: Future[ProbeResult]) -> None:
        try:
            result = fut.result()
        except CancelledError:  # the pool was closed or replaced: not a check; due again at once
            with self._lock:
                self._inflight.discard(cam.id)
                self._due_wall.pop(cam.id, None)
                if cam.id in self._cams:
                    self._due[cam.id] = self.clock()
            return
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
        with self._lock:
            due_at = self._due_wall.pop(cam.id, None)
        self._results.put((cam, result, due_at))

    def _write_loop(self) -> None:
        """Record results in order; while the database is away (or anything is spooled) results go to the
        local spool, replayed oldest first when the database answers again (docs/spool.md)."""
        while True:
            timeout = None
            if self._spooling():
                timeout = max(0.05, self._next_try - time.monotonic())
            first: Any
            try:
                first = self._results.get(timeout=timeout)
            except queue.Empty:
                first = _NOTHING
            batch: list[Any] = [first]
            while first is not None and len(batch) < 500:  # what else arrived: appended to the spool at once
                try:
                    batch.append(self._results.get_nowait())
                except queue.Empty:
                    break
            stopping = False
            for n, item in enumerate(batch):
                if item is None:
                    stopping = True
                    continue
                if item is _NOTHING:
                    continue
                if self._spooling():
                    self._to_spool([i for i in batch[n:] if isinstance(i, tuple)])
                    stopping = stopping or any(i is None for i in batch[n:])
                    break
                self._write_direct(item)  # type: ignore[arg-type]
            if stopping or self._stop.is_set() and self._results.empty():
                return
            if self._spooling() and time.monotonic() >= self._next_try:
                self._replay()

    def _write(self, cam: CameraEntry, result: ProbeResult, due_at: float | None) -> bool:
        """Record one check (raises what the database raised); whether a failure awaits confirmation."""
        with self._lock:
            windows = list(self._windows)
        t0 = time.perf_counter()
        rec = self.processor.process(cam, result, windows, due_at=due_at, node=self.node)
        took = time.perf_counter() - t0
        self._written += 1
        self._write_s += took
        if self.metrics:
            self.metrics.checks.labels(result="ok" if result.ok else (result.error or "error")).inc()
            self.metrics.check_depth.labels(depth=result.depth or "full").inc()
            self.metrics.check_duration.observe(result.total_ms / 1000.0)
            self.metrics.check_write.observe(took)
            for tr in rec.transitions:
                self.metrics.transitions.labels(new_state=tr.new_state.value).inc()
        if rec.transitions and self.on_transitions:
            self.on_transitions(rec.transitions)
        if rec.check.faults or rec.health.state == HealthState.DEGRADED:
            self._depth.degraded(cam.id)  # a picture judged faulty: full checks until it is healthy again
        return bool(rec.health.pending)

    def _write_direct(self, item: tuple[CameraEntry, ProbeResult, float | None]) -> None:
        cam, result, due_at = item
        pending = False
        try:
            pending = self._write(cam, result, due_at)
        except Exception as exc:
            if db_unreachable(exc, self.engine.dialect.name):
                log.warning(
                    "the database is unreachable (%s): check results go to the local spool %s until it "
                    "answers",
                    _short(exc),
                    self.settings.spool_dir,
                )
                self._backoff = SPOOL_BACKOFF_MIN_S
                self._next_try = time.monotonic() + self._backoff
                self._to_spool([item], reschedule=False)
            else:
                self._write_failed(cam, due_at, exc)
        finally:
            self._reschedule(cam, pending)

    def _write_failed(self, cam: CameraEntry, due_at: float | None, exc: Exception) -> None:
        """A write error that is not the database being away: counted and logged, the check not kept."""
        if isinstance(exc, ConcurrentUpdate):
            log.warning("camera %s was updated by another writer; this check was not applied", cam.id)
        elif isinstance(exc, sa.exc.IntegrityError) and is_duplicate_due(exc):
            # the unique (camera, due time): another node or an earlier replay recorded it
            log.info("camera %s: the check due at %s was already recorded", cam.id, due_at)
        elif isinstance(exc, sa.exc.IntegrityError):  # another constraint (or a trigger's ABORT)
            if self.metrics:
                self.metrics.check_errors.inc()
            log.error("could not record a check of camera %s: %s", cam.id, exc.orig)
        else:
            if self.metrics:
                self.metrics.check_errors.inc()
            log.error("could not record a check of camera %s", cam.id, exc_info=exc)

    # ------------------------------------------------------------------ the spool
    def _spool(self) -> Spool | None:
        """The spool, opened on first need (or at start when a file from before holds results)."""
        if self._spool_obj is None:
            try:
                c = self.settings.checks
                self._spool_obj = Spool(
                    self.settings.spool_dir,
                    int(self.settings.node.spool_max_mb * 1024 * 1024),
                    keep_head=max(c.fail_threshold, c.recover_threshold, c.degrade_threshold),
                )
            except Exception:
                log.exception(
                    "cannot open the spool in %s: results are lost while the database is away",
                    self.settings.spool_dir,
                )
                return None
        return self._spool_obj

    def _spooling(self) -> bool:
        return self._spool_obj is not None and len(self._spool_obj) > 0

    def _to_spool(
        self, items: list[tuple[CameraEntry, ProbeResult, float | None]], reschedule: bool = True
    ) -> None:
        if not items:
            return
        spool = self._spool()
        try:
            if spool is None:
                raise RuntimeError("no spool")
            spool.append([Spooled(cam, result, due_at) for cam, result, due_at in items])
        except Exception as exc:
            if spool is not None:
                spool.lost(len(items))
            else:
                self._lost += len(items)
            if self.metrics:
                self.metrics.check_errors.inc(len(items))
            log.error("could not spool %d check results (%s): they are lost", len(items), _short(exc))
        finally:
            if reschedule:
                # the recorded state is unknown meanwhile: each camera keeps its normal interval
                for cam, _r, _d in items:
                    self._reschedule(cam, False)

    def _take_new(self) -> bool:
        """Spool what arrived meanwhile, so probing never waits on a replay. False: told to stop."""
        items: list[tuple[CameraEntry, ProbeResult, float | None]] = []
        go_on = True
        while len(items) < 500:
            try:
                item = self._results.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._results.put(None)  # seen again by the loop, which then ends
                go_on = False
                break
            items.append(item)
        self._to_spool(items)
        return go_on and not self._stop.is_set()

    def _db_answers(self) -> bool:
        """A cheap question to the database: can a write start? (SQLite: a write lock, waited for briefly,
        not for the whole busy timeout.)"""
        try:
            if self.engine.dialect.name == "sqlite":
                raw = self.engine.raw_connection()
                try:
                    cur = raw.cursor()
                    cur.execute("PRAGMA busy_timeout=200")
                    try:
                        cur.execute("BEGIN IMMEDIATE")
                        cur.execute("ROLLBACK")
                    finally:
                        cur.execute("PRAGMA busy_timeout=30000")
                finally:
                    raw.close()
            else:
                with self.engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
            return True
        except Exception as exc:
            log.debug("database still unreachable: %s", _short(exc))
            return False

    def _retry_later(self) -> None:
        self._backoff = min(SPOOL_BACKOFF_MAX_S, max(SPOOL_BACKOFF_MIN_S, self._backoff * 2))
        self._next_try = time.monotonic() + self._backoff

    def _replay(self) -> None:
        """Record the spooled results oldest first while the database answers; each recorded one is removed.
        One already recorded (its due time, or a check at or after it: another node's, or this one's before
        a crash) is skipped."""
        spool = self._spool_obj
        if spool is None or not self._db_answers():
            self._retry_later()
            return
        log.info("the database answers again: replaying %d spooled check results", len(spool))
        t0, n0 = time.monotonic(), spool.replayed
        while len(spool) and not self._stop.is_set():
            batch = spool.peek(SPOOL_BATCH)
            done: list[int] = []
            written = 0
            try:
                for rid, rec in batch:
                    if not self._take_new():
                        return
                    try:
                        if self._recorded_already(rec):
                            log.debug("camera %s: spooled check at %s recorded already", rec.entry.id, rec.at)
                        else:
                            self._write(rec.entry, rec.result, rec.due_at)
                            written += 1
                            if rec.count > 1:
                                log.info(
                                    "camera %s: replayed a check standing for %d (summarised in the spool)",
                                    rec.entry.id,
                                    rec.count,
                                )
                    except Exception as exc:
                        if db_unreachable(exc, self.engine.dialect.name):
                            log.warning("the database went away again during the replay (%s)", _short(exc))
                            self._retry_later()
                            return
                        self._write_failed(rec.entry, rec.due_at, exc)
                    done.append(rid)
            finally:
                spool.remove(done, replayed=written)
        if not len(spool):
            self._backoff = SPOOL_BACKOFF_MIN_S
            log.info(
                "spool replayed: %d check results in %.1f s; writing to the database directly again",
                spool.replayed - n0,
                time.monotonic() - t0,
            )

    def _recorded_already(self, rec: Spooled) -> bool:
        if rec.at is None:
            return False
        with Session(self.engine) as session:
            last = session.execute(
                sa.select(col(CameraStatus.last_check_at)).where(col(CameraStatus.camera_id) == rec.entry.id)
            ).scalar()
        if last is None:
            return False
        if last.tzinfo is None:
            last = last.replace(tzinfo=dt.UTC)
        return bool(last.timestamp() >= rec.at - 0.0005)

    def spool_stats(self) -> dict[str, Any]:
        """The local spool: spooled (results queued now), oldest_spooled_at (UTC datetime or None),
        replayed, summarised, dropped (checks lost)."""
        if self._spool_obj is None:
            return {
                "spooled": 0,
                "oldest_spooled_at": None,
                "replayed": 0,
                "summarised": 0,
                "dropped": self._lost,
            }
        st = self._spool_obj.stats()
        st.pop("bytes", None)
        st["dropped"] += self._lost
        return st

    def _reschedule(self, cam: CameraEntry, pending: bool) -> None:
        base = self.settings.checks.retry_interval_s if pending else cam.interval_s
        with self._lock:
            self._inflight.discard(cam.id)
            if cam.id in self._cams:
                self._due[cam.id] = self.clock() + base * self._rng.uniform(0.95, 1.05)

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
                "checks_written": self._written,
                "write_ms_avg": 1000.0 * self._write_s / self._written if self._written else 0.0,
            }
