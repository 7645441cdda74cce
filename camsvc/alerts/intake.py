"""Intake: pending state changes into incident membership.

Each pending ``Transition`` is claimed with a conditional update (``processed_at`` from NULL to now: two
processes never both take one) and, in the SAME transaction, turned into incident membership: a camera going
down joins the open incident of its hamlet/upstream or opens one; a camera coming back (or entering
maintenance) ends its membership, and an incident whose cameras are all back is resolved (:func:`resolve`)
and queues its recovery messages. A transition whose processing keeps failing is skipped, loudly, after
``MAX_TRANSITION_FAILURES`` passes so it cannot block the queue.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from camsvc.alerts.grouping import group_key
from camsvc.alerts.models import (
    ALERT,
    CANCELLED,
    ESCALATION,
    PENDING,
    RECOVERY,
    REMINDER,
    UPDATE,
    Incident,
    IncidentMember,
    OutboxMessage,
)
from camsvc.alerts.notify import World, notify
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.models import Camera, HealthState, Outage, Transition
from camsvc.redact import redact_text

log = logging.getLogger(__name__)

TRANSITION_BATCH = 500
MAX_TRANSITION_FAILURES = 5


class Intake:
    def __init__(self, settings: Settings, engine: Engine, world: Callable[[Session], World]):
        self.cfg = settings.alerts
        self.engine = engine
        self.world = world
        self._failures: dict[int, int] = {}  # transition id -> failed processing attempts

    def run(self, now: dt.datetime) -> int:
        """Process up to ``TRANSITION_BATCH`` pending transitions, oldest first. Returns those this pass took."""
        with Session(self.engine) as s:
            ids = list(
                s.exec(
                    select(Transition.id)
                    .where(col(Transition.processed_at).is_(None))
                    .order_by(col(Transition.id))
                    .limit(TRANSITION_BATCH)
                ).all()
            )
        done = 0
        for tid in ids:
            if tid is None:
                continue
            try:
                if self._process(tid, now):
                    done += 1
                self._failures.pop(tid, None)
            except Exception:
                n = self._failures.get(tid, 0) + 1
                self._failures[tid] = n
                log.exception("transition %s: processing failed (%d/%d)", tid, n, MAX_TRANSITION_FAILURES)
                if n >= MAX_TRANSITION_FAILURES:
                    self._give_up(tid, now)
        return done

    def _give_up(self, tid: int, now: dt.datetime) -> None:
        """A transition that keeps failing must not block or spin: mark it processed, loudly."""
        with session_scope(self.engine) as s:
            _claim(s, tid, now)
        log.error("transition %s skipped after %d failures: no alert for it", tid, MAX_TRANSITION_FAILURES)
        self._failures.pop(tid, None)

    def _process(self, tid: int, now: dt.datetime) -> bool:
        with session_scope(self.engine) as s:
            if not _claim(s, tid, now):  # another dispatcher took it
                return False
            tr = s.get(Transition, tid)
            assert tr is not None
            self._apply(s, tr, now)
            return True

    def _apply(self, s: Session, tr: Transition, now: dt.datetime) -> None:
        new, old = HealthState(tr.new_state), HealthState(tr.old_state)
        if new in (HealthState.DOWN, HealthState.DEGRADED):
            self._end_members(s, tr.camera_id, tr.at, "changed", new.value, now)
            cam = s.get(Camera, tr.camera_id)
            if cam is None:
                return
            self._join(s, tr, cam, new)
        else:
            reason = {HealthState.UP: "recovered", HealthState.MAINTENANCE: "maintenance"}.get(new, "removed")
            if old in (HealthState.DOWN, HealthState.DEGRADED) or new is HealthState.MAINTENANCE:
                self._end_members(s, tr.camera_id, tr.at, reason, new.value, now)

    def _join(self, s: Session, tr: Transition, cam: Camera, new: HealthState) -> None:
        """The camera joins the open incident of its group, or opens one."""
        g = group_key(cam.id, cam.hamlet, cam.upstream, new.value)
        outage = s.get(Outage, tr.outage_id) if tr.outage_id else None
        started = outage.started_at if outage is not None else tr.at
        inc = s.exec(select(Incident).where(Incident.open_key == g.key)).first()
        if inc is None:
            inc = Incident(
                group_key=g.key,
                open_key=g.key,
                hamlet=g.hamlet or cam.hamlet,
                upstream=g.upstream,
                opened_at=tr.at,
                started_at=started,
                notify_at=tr.at + dt.timedelta(seconds=self.cfg.group_wait_s),
            )
            s.add(inc)
            s.flush()
            log.info("incident %s opened (%s) by camera %s %s", inc.id, g.key, cam.id, new.value)
        else:
            inc.started_at = min(inc.started_at, started)
            if inc.alerted_at is not None and inc.pending_since is None:
                inc.pending_since = tr.at
            s.add(inc)
            log.info("camera %s (%s) joins incident %s (%s)", cam.id, new.value, inc.id, g.key)
        assert inc.id is not None
        s.add(
            IncidentMember(
                incident_id=inc.id,
                camera_id=cam.id,
                outage_id=tr.outage_id,
                state=new.value,
                cause=(tr.cause or "unknown")[:100],
                detail=redact_text(tr.detail)[:1000] if tr.detail else None,
                started_at=min(started, tr.at),
                joined_at=tr.at,
            )
        )

    def _end_members(
        self, s: Session, camera_id: str, at: dt.datetime, reason: str, end_state: str, now: dt.datetime
    ) -> None:
        members = s.exec(
            select(IncidentMember).where(
                IncidentMember.camera_id == camera_id, col(IncidentMember.ended_at).is_(None)
            )
        ).all()
        touched: set[int] = set()
        for m in members:
            m.ended_at, m.end_reason, m.end_state = max(at, m.joined_at), reason, end_state
            s.add(m)
            touched.add(m.incident_id)
        s.flush()
        for iid in sorted(touched):
            if not open_count(s, iid):
                inc = s.get(Incident, iid)
                if inc is not None and inc.status == "open":
                    resolve(s, inc, at, now, self.world(s))


def _claim(s: Session, tid: int, now: dt.datetime) -> bool:
    """Mark one transition processed if nobody has: True when this call did."""
    res = s.execute(
        sa.update(Transition)
        .where(col(Transition.id) == tid, col(Transition.processed_at).is_(None))
        .values(processed_at=now)
        .execution_options(synchronize_session=False)
    )
    return res.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def open_count(s: Session, incident_id: int) -> int:
    """Members of the incident whose camera is still failing."""
    n: int = s.exec(
        select(sa.func.count())
        .select_from(IncidentMember)
        .where(IncidentMember.incident_id == incident_id, col(IncidentMember.ended_at).is_(None))
    ).one()
    return n


def resolve(s: Session, inc: Incident, at: dt.datetime, now: dt.datetime, world: World) -> int:
    """Resolve an incident whose cameras are all back (or in maintenance): pending reminders are cancelled
    and everyone told about it hears the recovery. Returns messages queued."""
    inc.status, inc.open_key, inc.resolved_at = "resolved", None, at
    s.add(inc)
    assert inc.id is not None
    if inc.alerted_at is None:
        log.info("incident %s resolved within its group wait: nothing was sent, nothing to recover", inc.id)
        return 0
    # reminders not yet sent are moot now
    s.execute(
        sa.update(OutboxMessage)
        .where(
            col(OutboxMessage.incident_id) == inc.id,
            col(OutboxMessage.status) == PENDING,
            col(OutboxMessage.kind) == REMINDER,
        )
        .values(status=CANCELLED, last_error="resolved before it was sent")
        .execution_options(synchronize_session=False)
    )
    told = set(
        s.exec(
            select(OutboxMessage.contact_id).where(
                OutboxMessage.incident_id == inc.id,
                col(OutboxMessage.kind).in_([ALERT, UPDATE, ESCALATION]),
                col(OutboxMessage.status) != CANCELLED,
            )
        ).all()
    )
    members = [
        m
        for m in s.exec(select(IncidentMember).where(IncidentMember.incident_id == inc.id)).all()
        if m.announced
    ]
    if not members or not told:
        log.info("incident %s resolved; nobody was told about it, so no recovery message", inc.id)
        return 0
    queued = notify(
        s,
        inc,
        world,
        members,
        RECOVERY,
        "0",
        now,
        levels=range(0, 100),
        hour=None,
        purpose="recovery",
        only=told,
    ).queued
    log.info("incident %s resolved: %d recovery messages queued", inc.id, queued)
    return queued
