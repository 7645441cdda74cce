# SQLModel types table columns as their Python values, which SQLAlchemy's select() overloads reject; the
# queries here are checked by tests/rollup/test_worker.py on SQLite and PostgreSQL.
# mypy: disable-error-code="call-overload, arg-type, operator, misc, union-attr, attr-defined"
"""Bounded growth (issue 12): a thread that, at start and every ``interval_s`` (5 min), runs one pass:

1. rolls up every complete UTC hour of each camera's checks not yet rolled up (an upsert: a pass that dies
   half-way, or two leaders for a moment, write the same row again);
2. deletes raw checks older than ``checks.retention_days``, one whole camera-hour at a time and only in the
   transaction that (re)writes that hour's rollup, so no check is deleted before it is counted (checks that
   arrived late, after their hour was rolled up or even pruned, are added then);
3. deletes delivered, finally failed and cancelled outbox messages, and their delivery attempts, older than
   ``alerts.outbox_retention_days`` (pending and sending messages are never touched);
4. deletes rollups older than ``checks.rollup_retention_days``.

Transitions, outages and incidents are never deleted: they are the record. Each pass is bounded (camera-hours
and seconds); a pass that stopped on its bound runs again within seconds. A pass that fails is logged and
the thread lives on. Counts are logged at INFO once per pass when something was deleted.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from camsvc.alerts.models import CANCELLED, FAILED, SENT, DeliveryAttempt, OutboxMessage
from camsvc.config import Settings
from camsvc.health.outages import prune_checks
from camsvc.models import Camera, Check, utcnow
from camsvc.rollup.compute import (
    HOUR,
    ROLLUP_VALUES,
    CheckSample,
    hour_of,
    merge,
    rollup_hour,
    values_of,
)
from camsvc.rollup.models import CheckRollup

log = logging.getLogger(__name__)

FINAL_STATUSES = (SENT, FAILED, CANCELLED)  # an outbox message in these is never sent again


@dataclass
class PassCounts:
    rolled_hours: int = 0  # camera-hours rolled up (written) in step 1
    pruned_hours: int = 0  # camera-hours whose raw checks were deleted
    checks_deleted: int = 0
    messages_deleted: int = 0
    attempts_deleted: int = 0
    rollups_deleted: int = 0
    complete: bool = True  # False: the pass stopped on its bound, work is left for the next one

    @property
    def deleted(self) -> int:
        return self.checks_deleted + self.messages_deleted + self.attempts_deleted + self.rollups_deleted


def upsert_rollup(session: Session, r: CheckRollup) -> None:
    """Insert or replace the row of (camera, hour), on SQLite and PostgreSQL."""
    from sqlalchemy.dialects import postgresql, sqlite

    table = CheckRollup.__table__  # type: ignore[attr-defined]
    values = values_of(r)
    set_cols = {k: values[k] for k in ROLLUP_VALUES}
    stmt: Any
    if session.get_bind().dialect.name == "postgresql":
        stmt = postgresql.insert(table).values(**values)
    else:
        stmt = sqlite.insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=["camera_id", "hour"], set_=set_cols)
    session.execute(stmt)


def hour_samples(session: Session, camera_id: str, hour: dt.datetime) -> list[CheckSample]:
    rows = session.exec(
        select(Check.at, Check.ok, Check.error, Check.open_ms, Check.fps, Check.metrics_json, Check.faults)
        .where(Check.camera_id == camera_id, Check.at >= hour, Check.at < hour + HOUR)
        .order_by(Check.at)
    ).all()
    return [CheckSample(*r) for r in rows]


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    return None if t is None else (t if t.tzinfo else t.replace(tzinfo=dt.UTC))


def _first_check(
    session: Session, camera_id: str, since: dt.datetime | None, before: dt.datetime
) -> dt.datetime | None:
    q = select(func.min(Check.at)).where(Check.camera_id == camera_id, Check.at < before)
    if since is not None:
        q = q.where(Check.at >= since)
    return _aware(session.exec(q).one())


class RollupWorker:
    """Roll up and prune in a thread: ``start()``, ``stop(timeout_s)``, ``alive()``; ``run_pass(now)`` runs
    one pass in the caller's thread (tests, benchmarks). Run it on the leader only (one writer of rollups
    is enough; two are harmless)."""

    name = "rollup"

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        interval_s: float = 300.0,
        max_hours_per_pass: int = 20_000,
        pass_budget_s: float = 120.0,
        batch: int = 1000,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        if interval_s <= 0 or max_hours_per_pass < 1 or pass_budget_s <= 0 or batch < 1:
            raise ValueError(
                "RollupWorker needs interval_s > 0, max_hours_per_pass >= 1, pass_budget_s > 0, batch >= 1"
            )
        self.settings, self.engine = settings, engine
        self.interval_s = interval_s
        self.max_hours_per_pass = max_hours_per_pass
        self.pass_budget_s = pass_budget_s
        self.batch = batch
        self.clock = clock
        self.passes = 0  # passes finished (with or without an error)
        self.errors = 0  # passes that failed
        self.last: PassCounts | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ thread
    def start(self) -> None:
        if self.alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rollup", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the thread to stop and wait up to *timeout_s* (a pass stops between two camera-hours)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        wait = 0.0  # the first pass at start
        while not self._stop.wait(wait):
            wait = self.interval_s
            try:
                counts = self.run_pass()
                if not counts.complete:
                    wait = min(self.interval_s, 5.0)  # a backlog: carry on soon
            except Exception:
                self.errors += 1
                log.exception("rollup pass failed; the next one runs in %.0f s", self.interval_s)
            finally:
                self.passes += 1

    # ------------------------------------------------------------------ one pass
    def run_pass(self, now: dt.datetime | None = None) -> PassCounts:
        now = now or self.clock()
        deadline = time.monotonic() + self.pass_budget_s
        counts = PassCounts()
        with Session(self.engine, expire_on_commit=False) as session:
            cameras = list(session.exec(select(Camera.id).order_by(Camera.id)).all())
            self._roll_up(session, cameras, hour_of(now), counts, deadline)
            self._prune_checks(session, cameras, now, counts, deadline)
            self._prune_outbox(session, now, counts)
            self._prune_rollups(session, now, counts)
        self.last = counts
        if counts.deleted:
            log.info(
                "retention: rolled up %d camera-hours; deleted %d checks (%d camera-hours), %d alert messages "
                "with %d delivery attempts, %d rollups%s",
                counts.rolled_hours,
                counts.checks_deleted,
                counts.pruned_hours,
                counts.messages_deleted,
                counts.attempts_deleted,
                counts.rollups_deleted,
                "" if counts.complete else "; more next pass",
            )
        else:
            log.debug("rollup pass: %s", asdict(counts))
        return counts

    def _bounded(self, counts: PassCounts, deadline: float) -> bool:
        """Whether this pass must stop now (the stop flag, its time or its camera-hours)."""
        if (
            self._stop.is_set()
            or time.monotonic() > deadline
            or counts.rolled_hours + counts.pruned_hours >= self.max_hours_per_pass
        ):
            counts.complete = False
            return True
        return False

    def _roll_up(
        self, session: Session, cameras: list[str], end: dt.datetime, counts: PassCounts, deadline: float
    ) -> None:
        """Every camera-hour with checks after the camera's newest rollup and before *end* (complete)."""
        newest = {
            cid: _aware(h)
            for cid, h in session.exec(
                select(CheckRollup.camera_id, func.max(CheckRollup.hour)).group_by(CheckRollup.camera_id)
            ).all()
        }
        for cid in cameras:
            mark = newest.get(cid)
            since = mark + HOUR if mark is not None else None
            while since is None or since < end:
                if self._bounded(counts, deadline):
                    return
                first = _first_check(session, cid, since, end)
                if first is None:
                    break
                h = hour_of(first)
                upsert_rollup(session, rollup_hour(cid, h, hour_samples(session, cid, h)))
                session.commit()
                counts.rolled_hours += 1
                since = h + HOUR

    def _prune_checks(
        self, session: Session, cameras: list[str], now: dt.datetime, counts: PassCounts, deadline: float
    ) -> None:
        """Raw checks in whole hours ending at or before now - retention, each hour's rollup (re)written in
        the same transaction: from the raw rows when they hold at least what the rollup counted (late
        checks included), else (an hour pruned before, then a late check) the late ones merged in."""
        cutoff = now - dt.timedelta(days=self.settings.checks.retention_days)
        oldest = _aware(session.exec(select(func.min(Check.at))).one())
        if oldest is None or hour_of(oldest) + HOUR > cutoff:
            return
        for cid in cameras:
            while True:
                if self._bounded(counts, deadline):
                    return
                first = _first_check(session, cid, None, cutoff)
                if first is None or hour_of(first) + HOUR > cutoff:
                    break
                h = hour_of(first)
                fresh = rollup_hour(cid, h, hour_samples(session, cid, h))
                old = session.get(CheckRollup, (cid, h))
                row = fresh if old is None or fresh.checks >= old.checks else merge(old, fresh)
                if old is not None:
                    session.expunge(old)
                upsert_rollup(session, row)
                # prune_checks commits: the rollup and the first (only, at one hour's size) batch together
                counts.checks_deleted += prune_checks(
                    session, h + HOUR, batch=10 * self.batch, camera_id=cid, newer_than=h
                )
                session.commit()
                counts.pruned_hours += 1

    def _prune_outbox(self, session: Session, now: dt.datetime, counts: PassCounts) -> None:
        cutoff = now - dt.timedelta(days=self.settings.alerts.outbox_retention_days)
        when = func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at)
        for _ in range(1000):  # bounded: 1000 batches a pass
            ids = session.exec(
                select(OutboxMessage.id)
                .where(col(OutboxMessage.status).in_(FINAL_STATUSES), when < cutoff)
                .limit(self.batch)
            ).all()
            if not ids:
                break
            a = session.execute(sa.delete(DeliveryAttempt).where(col(DeliveryAttempt.message_id).in_(ids)))
            m = session.execute(
                sa.delete(OutboxMessage).where(
                    col(OutboxMessage.id).in_(ids), col(OutboxMessage.status).in_(FINAL_STATUSES)
                )
            )
            session.commit()
            counts.attempts_deleted += a.rowcount
            counts.messages_deleted += m.rowcount

    def _prune_rollups(self, session: Session, now: dt.datetime, counts: PassCounts) -> None:
        cutoff = now - dt.timedelta(days=self.settings.checks.rollup_retention_days)
        for _ in range(1000):  # bounded: one day of hours per statement, 1000 a pass
            oldest = _aware(session.exec(select(func.min(CheckRollup.hour))).one())
            if oldest is None or oldest >= cutoff:
                break
            upto = min(oldest + dt.timedelta(days=1), cutoff)
            r = session.execute(sa.delete(CheckRollup).where(CheckRollup.hour < upto))
            session.commit()
            counts.rollups_deleted += r.rowcount
