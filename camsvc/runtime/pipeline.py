"""Is the check pipeline running? A pure evaluation from facts, the cheap queries that gather them, and the
``PipelineMonitor`` that alerts admins once when checks stop (and once when they resume).

The pipeline is healthy when checks are being *recorded*, not merely scheduled: a full disk, a locked
database or a dead leader all leave ``/healthz`` answering while no check lands. So the evaluation looks
at what the database holds (checks in the last N intervals against what the enabled cameras should have
produced, the newest check's age), at what this process knows (the writer's errors, whether it leads),
and at the alert dispatcher's backlog (the oldest pending outbox message).

``evaluate(facts, limits)`` is pure (no clock, no I/O) and table-tested (tests/runtime/test_pipeline.py).
``gather(...)`` runs three indexed queries (max and range count on ``check.at``, the enabled cameras'
intervals, the pending outbox rows via ``ix_outbox_status_next``): a few ms at 10,000 cameras (NOTES).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, func, select

from camsvc.models import Camera, Check, utcnow

log = logging.getLogger(__name__)

Status = Literal["ok", "degraded", "failing"]
OK: Status = "ok"
DEGRADED: Status = "degraded"
FAILING: Status = "failing"
_RANK = {OK: 0, DEGRADED: 1, FAILING: 2}


# ------------------------------------------------------------------------------------------ pure part
@dataclass(frozen=True)
class Limits:
    """Thresholds of the evaluation (from ``settings.pipeline`` and ``settings.checks``)."""

    interval_s: float = 60.0  # the service's default check interval: one "interval" of the window
    window_intervals: float = 3.0  # checks are counted over this many intervals
    degraded_ratio: float = 0.5  # fewer recorded than this share of the expected: degraded
    stopped_intervals: float = 3.0  # newest check older than this many intervals: checks stopped
    grace_s: float = 120.0  # after this process started: a stale newest check is "starting", not stopped
    backlog_age_s: float = 600.0  # oldest pending outbox message older than this: degraded
    backlog_max: int = 1000  # more pending outbox messages than this: degraded

    @property
    def window_s(self) -> float:
        return self.window_intervals * self.interval_s


@dataclass(frozen=True)
class Facts:
    """What is known at *now*. ``None`` means unknown (e.g. no runtime in this process)."""

    now: dt.datetime
    enabled_cameras: int = 0
    expected_checks: float = 0.0  # in the window, from the enabled cameras' intervals
    checks_in_window: int = 0
    newest_check_at: dt.datetime | None = None
    write_errors: int | None = None  # checks this process could not record, within the window
    is_leader: bool | None = None  # this process runs the checks
    started_at: dt.datetime | None = None  # this process
    outbox_pending: int = 0
    outbox_oldest_at: dt.datetime | None = None
    database_error: str | None = None  # the facts could not be read at all
    dead_workers: tuple[str, ...] = ()  # workers this process should run and does not ("name: why")


@dataclass(frozen=True)
class Health:
    status: Status
    reasons: list[str] = field(default_factory=list)  # machine-readable codes
    messages: list[str] = field(default_factory=list)  # one English sentence per reason
    stopped_since: dt.datetime | None = None  # checks are not running since (failing only)
    newest_check_age_s: float | None = None
    leader: str = "unknown"  # this | other | none | unknown
    checks_in_window: int = 0
    expected_checks: float = 0.0
    window_s: float = 0.0
    outbox_pending: int = 0
    outbox_oldest_age_s: float | None = None
    write_errors: int | None = None
    enabled_cameras: int = 0
    dead_workers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stopped_since"] = _iso(self.stopped_since)
        for k in ("newest_check_age_s", "outbox_oldest_age_s", "expected_checks", "window_s"):
            if d[k] is not None:
                d[k] = round(d[k], 1)
        return d


def _iso(t: dt.datetime | None) -> str | None:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if t else None


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    return t.replace(tzinfo=dt.UTC) if t is not None and t.tzinfo is None else t


def evaluate(facts: Facts, limits: Limits) -> Health:
    """Pure: the pipeline's status, with a reason code and sentence for everything not ok."""
    now = _aware(facts.now)
    assert now is not None
    reasons: list[tuple[Status, str, str]] = []
    if facts.database_error is not None:
        return Health(
            status=FAILING,
            reasons=["database"],
            messages=[f"the database cannot be read: {facts.database_error}"],
            window_s=limits.window_s,
        )
    newest = _aware(facts.newest_check_at)
    started = _aware(facts.started_at)
    age = (now - newest).total_seconds() if newest else None
    uptime = (now - started).total_seconds() if started else None
    starting = uptime is not None and uptime < limits.grace_s
    stopped_since: dt.datetime | None = None
    checks_flowing = age is not None and age <= limits.stopped_intervals * limits.interval_s

    if facts.is_leader:
        leader = "this"
    elif checks_flowing:
        leader = "other"  # someone records checks: another process leads
    elif facts.is_leader is False:
        leader = "none"
    else:
        leader = "unknown"

    if facts.enabled_cameras > 0:
        if not checks_flowing:
            if starting:
                # a note, not a fault: first checks are spread over the first interval after a start
                reasons.append((OK, "starting", "no recent check yet: this process has just started"))
            else:
                stopped_since = newest or started
                since = f" since {_iso(stopped_since)}" if stopped_since else ""
                reasons.append(
                    (FAILING, "checks_stopped", f"checks are not running{since} (none recorded lately)")
                )
                if leader == "none":
                    reasons.append(
                        (FAILING, "no_leader", "this process does not run checks and no other does")
                    )
        elif (
            facts.expected_checks >= 1
            and facts.checks_in_window < limits.degraded_ratio * facts.expected_checks
            and not starting
        ):
            reasons.append(
                (
                    DEGRADED,
                    "checks_behind",
                    f"{facts.checks_in_window} checks recorded in the last {limits.window_s:.0f} s, "
                    f"{facts.expected_checks:.0f} expected",
                )
            )
    if facts.write_errors:
        reasons.append(
            (DEGRADED, "write_errors", f"{facts.write_errors} checks could not be recorded lately")
        )
    if facts.dead_workers:
        # the watchdog is restarting them (with backoff); until then their part of the work is not done
        reasons.append(
            (DEGRADED, "worker_dead", "not running, being restarted: " + "; ".join(facts.dead_workers))
        )
    oldest = _aware(facts.outbox_oldest_at)
    backlog_age = (now - oldest).total_seconds() if oldest else None
    if backlog_age is not None and backlog_age > limits.backlog_age_s:
        reasons.append(
            (DEGRADED, "alert_backlog", f"an alert message has waited {backlog_age:.0f} s to be sent")
        )
    if facts.outbox_pending > limits.backlog_max:
        reasons.append((DEGRADED, "alert_backlog_size", f"{facts.outbox_pending} alert messages wait"))

    status: Status = OK
    for level, _, _ in reasons:
        if _RANK[level] > _RANK[status]:
            status = level
    return Health(
        status=status,
        reasons=[r[1] for r in reasons],
        messages=[r[2] for r in reasons],
        stopped_since=stopped_since,
        newest_check_age_s=age,
        leader=leader,
        checks_in_window=facts.checks_in_window,
        expected_checks=facts.expected_checks,
        window_s=limits.window_s,
        outbox_pending=facts.outbox_pending,
        outbox_oldest_age_s=backlog_age,
        write_errors=facts.write_errors,
        enabled_cameras=facts.enabled_cameras,
        dead_workers=list(facts.dead_workers),
    )


def limits_from(settings: Any) -> Limits:
    p = settings.pipeline
    interval = settings.checks.interval_s
    # (the default grace, 120 s, covers the first checks of a 60 s interval: spread over jitter_fraction of
    # it, each up to the probe budget)
    grace = p.grace_s
    return Limits(
        interval_s=interval,
        window_intervals=p.window_intervals,
        degraded_ratio=p.degraded_ratio,
        stopped_intervals=p.stopped_intervals,
        grace_s=grace,
        backlog_age_s=p.backlog_age_s,
        backlog_max=p.backlog_max,
    )


# ------------------------------------------------------------------------------------------ the facts
class ErrorWindow:
    """Write errors within the window from a cumulative counter: samples (time, total) and the difference
    with the oldest sample inside the window. Thread-safe; bounded (one sample per call, at most *maxlen*)."""

    def __init__(self, maxlen: int = 256):
        self._samples: deque[tuple[float, float]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def observe(self, t: float, total: float, window_s: float) -> int:
        with self._lock:
            self._samples.append((t, total))
            while len(self._samples) > 1 and self._samples[1][0] <= t - window_s:
                self._samples.popleft()
            return max(0, int(total - self._samples[0][1]))


def write_error_total(metrics: Any) -> float | None:
    """The runtime's count of checks it could not record (camsvc_check_processing_errors_total)."""
    if metrics is None:
        return None
    v = metrics.registry.get_sample_value("camsvc_check_processing_errors_total")
    return float(v) if v is not None else 0.0


def gather(
    engine: Engine,
    settings: Any,
    *,
    now: dt.datetime,
    runtime: Any = None,
    started_at: dt.datetime | None = None,
    write_errors: int | None = None,
) -> Facts:
    """The facts from the database and this process's runtime. Never raises: a database that cannot be
    read is itself a fact."""
    from camsvc.alerts.models import PENDING, OutboxMessage

    limits = limits_from(settings)
    since = now - dt.timedelta(seconds=limits.window_s)
    default = settings.checks.interval_s
    is_leader = bool(runtime.is_leader) if runtime is not None else False
    dead = dead_workers(runtime)
    try:
        with Session(engine) as s:
            newest = s.exec(select(func.max(Check.at))).one()
            in_window = s.exec(select(func.count()).select_from(Check).where(col(Check.at) >= since)).one()
            rows = s.exec(
                select(Camera.check_interval_s, func.count())
                .where(Camera.enabled == True)  # noqa: E712
                .group_by(col(Camera.check_interval_s))
            ).all()
            pending, oldest = s.exec(
                select(func.count(), func.min(OutboxMessage.created_at)).where(
                    OutboxMessage.status == PENDING
                )
            ).one()
    except SQLAlchemyError as exc:
        return Facts(now=now, database_error=type(exc).__name__, is_leader=is_leader)
    enabled = sum(int(n) for _, n in rows)
    expected = sum(int(n) * limits.window_s / float(iv or default) for iv, n in rows)
    if isinstance(newest, str):  # SQLite aggregate of a timestamp column comes back as text
        newest = dt.datetime.fromisoformat(newest)
    if isinstance(oldest, str):
        oldest = dt.datetime.fromisoformat(oldest)
    return Facts(
        now=now,
        enabled_cameras=enabled,
        expected_checks=expected,
        checks_in_window=int(in_window or 0),
        newest_check_at=_aware(newest),
        write_errors=write_errors,
        is_leader=is_leader,
        started_at=started_at,
        outbox_pending=int(pending or 0),
        outbox_oldest_at=_aware(oldest),
        dead_workers=dead,
    )


def dead_workers(runtime: Any) -> tuple[str, ...]:
    """The workers *runtime* should run now and that are not alive, as "name (why)"."""
    if runtime is None or not callable(getattr(runtime, "workers", None)):
        return ()
    try:
        infos = runtime.workers()
    except Exception as exc:  # never let the health view fail on it
        return (f"workers unreadable ({type(exc).__name__})",)
    out = []
    for w in infos:
        if w.get("wanted") and not w.get("alive"):
            why = w.get("last_error") or "stopped"
            out.append(f"{w['name']} ({str(why)[:120]}; restarts {w.get('restarts', 0)})")
    return tuple(out)


class PipelineProbe:
    """One per app: evaluates the pipeline now (for /healthz, the metrics and the monitor), tracking the
    runtime's write errors over the window."""

    def __init__(
        self, settings: Any, engine: Engine, metrics: Any = None, runtime: Callable[[], Any] | None = None
    ):
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.runtime = runtime or (lambda: None)
        self.started_at = utcnow()
        self.errors = ErrorWindow()
        self.limits = limits_from(settings)
        self._last: tuple[float, Health] | None = None
        self._lock = threading.Lock()

    def health(self, max_age_s: float = 0.0) -> Health:
        """Evaluate now (or reuse an evaluation younger than *max_age_s*: scrapes and page polls)."""
        with self._lock:
            if self._last is not None and time.monotonic() - self._last[0] <= max_age_s:
                return self._last[1]
        total = write_error_total(self.metrics)
        errors = None
        if total is not None:
            errors = self.errors.observe(time.monotonic(), total, self.limits.window_s)
        rt = self.runtime()
        facts = gather(
            self.engine,
            self.settings,
            now=utcnow(),
            runtime=rt,
            started_at=self.started_at,
            write_errors=errors,
        )
        h = evaluate(facts, self.limits)
        with self._lock:
            self._last = (time.monotonic(), h)
        return h


# ------------------------------------------------------------------------------------------ the monitor
STATE_KEY = "pipeline:alert-state"


def decide(previous: str | None, current: Status, reasons: list[str] | tuple[str, ...] = ()) -> str | None:
    """Pure: which message a change calls for: ``failing`` (checks stopped), ``recovered`` (checks are
    recorded at the expected rate again; an alert backlog or a few write errors do not hold it back), or
    ``None``. Degraded alone is reported by /healthz and the metrics, not messaged."""
    was_failing = previous == FAILING
    if current == FAILING and not was_failing:
        return "failing"
    if was_failing and current != FAILING and not {"checks_behind", "starting"} & set(reasons):
        return "recovered"
    return None


class PipelineMonitor:
    """Evaluates the pipeline every *interval_s* in every API process (not only the leader: when the
    leader dies another process must notice). The last alerted state lives in the database (``AlertKV``),
    and every message's dedup key names the episode (the time checks stopped), so however many processes
    notice, each contact hears once that checks stopped and once that they resumed."""

    def __init__(
        self,
        probe: PipelineProbe,
        interval_s: float = 30.0,
        on_health: Callable[[Health], None] | None = None,
    ):
        self.probe = probe
        self.interval_s = interval_s
        self.on_health = on_health
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: Health | None = None
        self.runs = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="pipeline-monitor", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the monitor must outlive whatever broke the pipeline
                log.exception("pipeline monitor: evaluation failed")
            self._stop.wait(self.interval_s)

    def run_once(self) -> Health:
        h = self.probe.health()
        self.last = h
        self.runs += 1
        if self.on_health is not None:
            try:
                self.on_health(h)
            except Exception:
                log.exception("pipeline monitor: on_health failed")
        if h.reasons == ["database"]:
            return h  # nothing can be read or queued now; the heartbeat's /fail is the path out
        self._alert(h)
        return h

    def _alert(self, h: Health) -> None:
        from camsvc.alerts.system import queue_system_alert

        engine, settings = self.probe.engine, self.probe.settings
        state = _read_state(engine)
        action = decide(state.get("status"), h.status, h.reasons)
        if action is None:
            return
        tz = _zone(settings.timezone)
        if action == "failing":
            since = h.stopped_since or utcnow()
            episode = _iso(since) or ""
            hhmm = since.astimezone(tz).strftime("%H:%M %d/%m")
            text_vi = f"Kiểm tra camera đã ngừng từ {hhmm}: không có kết quả kiểm tra nào được ghi lại."
            text_en = f"Camera checks are not running since {hhmm}: no check results are being recorded."
            new_state = {"status": FAILING, "episode": episode}
            problem = f"pipeline-failing:{episode}"
        else:
            episode = state.get("episode", "")
            text_vi = "Kiểm tra camera đã hoạt động trở lại."
            text_en = "Camera checks are running again."
            new_state = {"status": OK, "episode": episode}
            problem = f"pipeline-recovered:{episode}"
        _write_state(engine, new_state)
        answering = f"pipeline-failing:{state.get('episode', '')}" if action == "recovered" else None
        n = queue_system_alert(
            engine,
            settings,
            problem=problem,
            text_vi=text_vi,
            text_en=text_en,
            once=True,
            answering=answering,
        )
        log.warning("pipeline %s (%s): %d system messages queued", action, ", ".join(h.reasons) or "ok", n)


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(name)
    except Exception:
        return dt.UTC


def _read_state(engine: Engine) -> dict[str, Any]:
    from camsvc.alerts.models import AlertKV

    with Session(engine) as s:
        row = s.get(AlertKV, STATE_KEY)
        if row is None:
            return {}
        try:
            value = json.loads(row.value)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


def _write_state(engine: Engine, value: dict[str, Any]) -> None:
    from camsvc.alerts.models import AlertKV

    with Session(engine) as s:
        row = s.get(AlertKV, STATE_KEY) or AlertKV(key=STATE_KEY, value="")
        row.value = json.dumps(value)
        s.add(row)
        try:
            s.commit()
        except sa.exc.IntegrityError:  # another process wrote it first: same decision
            s.rollback()
