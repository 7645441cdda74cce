"""The dispatcher: state changes in, messages out, nothing lost.

One pass (:meth:`Dispatcher.run_once`, the time passed in) does three things:

1. **Transitions.** Each pending ``Transition`` is claimed with a conditional update (``processed_at`` from
   NULL to now: two processes never both take one) and, in the SAME transaction, turned into incident
   membership: a camera going down joins the open incident of its hamlet/upstream or opens one; a camera
   coming back (or entering maintenance) ends its membership, and an incident whose cameras are all back is
   resolved and queues its recovery messages.
2. **Timers.** Per open incident, in its own transaction and each step guarded by a conditional update: the
   first alert once the group wait is over, an update when more cameras joined after it, escalation to the
   next routing level when nobody acknowledged in time, reminders while it stays unacknowledged. Messages
   are rendered and written to the outbox (one row per channel) in the transaction that decides them.
3. **Delivery.** Per channel, the oldest unfinished message (FIFO per channel: a recovery never overtakes its
   alert) is claimed with a lease and sent in a bounded thread pool with a per-attempt timeout; at most one
   message per channel is in flight, so a slow or broken channel holds up only itself. Every attempt is a
   ``DeliveryAttempt`` row; failures retry with exponential backoff (capped at ``backoff_max_s``) until
   ``max_attempts``.

Crash safety: everything decided is in the database before anything is sent. A restart re-reads pending
transitions, open incidents and unfinished messages. The one duplicate possible is a message that was
delivered but whose result was not yet recorded when the process died: its lease expires
(``attempt_timeout_s + LEASE_MARGIN_S``) and it is sent again. That window is the few milliseconds between
the channel accepting the message and the commit that marks it sent.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from camsvc.alerts import channels as chans
from camsvc.alerts import messages as msgs
from camsvc.alerts.grouping import group_key
from camsvc.alerts.models import (
    ALERT,
    CANCELLED,
    ESCALATION,
    FAILED,
    PENDING,
    RECOVERY,
    REMINDER,
    SENDING,
    SENT,
    UPDATE,
    Contact,
    ContactChannel,
    DeliveryAttempt,
    Incident,
    IncidentMember,
    OutboxMessage,
    RoutingRule,
)
from camsvc.alerts.routing import Subject, max_level, route
from camsvc.alerts.signing import ack_url, make_token, signing_key
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.health.maintenance import active_for
from camsvc.models import (
    Camera,
    CameraStatus,
    HealthState,
    MaintenanceWindow,
    Outage,
    Thumbnail,
    Transition,
)
from camsvc.redact import redact_text

log = logging.getLogger(__name__)

LEASE_MARGIN_S = 30.0
BACKOFF_BASE_S = 2.0
TRANSITION_BATCH = 500
MAX_TRANSITION_FAILURES = 5

Sender = Callable[..., chans.SendOutcome]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def backoff_s(attempts: int, max_s: float) -> float:
    """Wait before the next attempt after ``attempts`` failed ones: 2, 4, 8 ... seconds, capped."""
    return float(min(max_s, BACKOFF_BASE_S * 2 ** max(0, min(attempts - 1, 20))))


@dataclass
class PassStats:
    transitions: int = 0
    queued: int = 0
    claimed: int = 0

    def __bool__(self) -> bool:
        return bool(self.transitions or self.queued or self.claimed)


@dataclass
class _World:
    """What one timer/transition step needs to route and render (read once per pass)."""

    rules: list[RoutingRule]
    contacts: dict[int, Contact]
    channels: dict[int, list[ContactChannel]]
    windows: list[MaintenanceWindow]
    key: bytes
    cameras: dict[str, Camera] = field(default_factory=dict)


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        pool_size: int = 4,
        attempt_timeout_s: float = 20.0,
        sender: Sender | None = None,
        worker: str | None = None,
    ):
        self.settings = settings
        self.cfg = settings.alerts
        self.engine = engine
        self.clock = clock
        self.tz = settings.timezone
        self.pool_size = max(1, pool_size)
        self.attempt_timeout_s = attempt_timeout_s
        self.lease_s = attempt_timeout_s + LEASE_MARGIN_S
        # updates (cameras joining after the first alert) wait long enough for the rest of a power cut to be
        # confirmed: checks are spread over one interval, so one update usually carries all the latecomers
        self.update_wait_s = max(self.cfg.group_wait_s, settings.checks.interval_s)
        # a group's message waits at most this much longer for cameras failing but not yet confirmed
        c = settings.checks
        self.hold_max_s = c.retry_interval_s * c.fail_threshold + settings.probe.budget_s
        self.sender: Sender = sender or chans.send
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.wake = threading.Event()  # set when an attempt finishes: the next message of its channel is due
        self._pool = ThreadPoolExecutor(self.pool_size, thread_name_prefix="camsvc-alert-send")
        self._inflight: dict[
            int, tuple[int, str, Future[None]]
        ] = {}  # channel id -> (message id, claim, future)
        self._started: set[str] = set()  # claims whose attempt has begun
        self._lock = threading.Lock()
        self._failures: dict[int, int] = {}  # transition id -> failed processing attempts
        self._key: bytes | None = None
        self._closed = False

    # ------------------------------------------------------------------------------------------ the pass
    def run_once(self, now: dt.datetime | None = None) -> PassStats:
        now = now or self.clock()
        # Resolve the signing key before any transaction: creating it opens its own write transaction,
        # which would wait forever (SQLite) on the one a transition's processing holds in this thread.
        self.signing_key()
        stats = PassStats()
        stats.transitions = self.process_transitions(now)
        stats.queued = self.run_timers(now)
        stats.claimed = self.deliver_due(now)
        return stats

    def signing_key(self) -> bytes:
        if self._key is None:
            self._key = signing_key(self.settings, self.engine)
        return self._key

    def _world(self, session: Session) -> _World:
        rules = list(session.exec(select(RoutingRule).where(RoutingRule.enabled == True)).all())  # noqa: E712
        contacts = {c.id: c for c in session.exec(select(Contact)).all() if c.id is not None}
        channels: dict[int, list[ContactChannel]] = {}
        for ch in session.exec(select(ContactChannel).order_by(col(ContactChannel.id))).all():
            channels.setdefault(ch.contact_id, []).append(ch)
        windows = list(session.exec(select(MaintenanceWindow)).all())
        return _World(rules, contacts, channels, windows, self.signing_key())

    # ------------------------------------------------------------------------------------------ transitions
    def process_transitions(self, now: dt.datetime) -> int:
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
                if self._process_transition(tid, now):
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
            s.execute(
                sa.update(Transition)
                .where(col(Transition.id) == tid, col(Transition.processed_at).is_(None))
                .values(processed_at=now)
            )
        log.error("transition %s skipped after %d failures: no alert for it", tid, MAX_TRANSITION_FAILURES)
        self._failures.pop(tid, None)

    def _process_transition(self, tid: int, now: dt.datetime) -> bool:
        with session_scope(self.engine) as s:
            res = s.execute(
                sa.update(Transition)
                .where(col(Transition.id) == tid, col(Transition.processed_at).is_(None))
                .values(processed_at=now)
                .execution_options(synchronize_session=False)
            )
            if res.rowcount != 1:  # type: ignore[attr-defined]  # another dispatcher took it
                return False
            tr = s.get(Transition, tid)
            assert tr is not None
            self._apply(s, tr, now)
            return True

    def _apply(self, s: Session, tr: Transition, now: dt.datetime) -> None:
        new, old = HealthState(tr.new_state), HealthState(tr.old_state)
        if new in (HealthState.DOWN, HealthState.DEGRADED):
            self._end_members(s, tr.camera_id, tr.at, "changed", new.value, now, world=None)
            cam = s.get(Camera, tr.camera_id)
            if cam is None:
                return
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
        else:
            reason = {HealthState.UP: "recovered", HealthState.MAINTENANCE: "maintenance"}.get(new, "removed")
            if old in (HealthState.DOWN, HealthState.DEGRADED) or new is HealthState.MAINTENANCE:
                self._end_members(s, tr.camera_id, tr.at, reason, new.value, now, world=None)

    def _end_members(
        self,
        s: Session,
        camera_id: str,
        at: dt.datetime,
        reason: str,
        end_state: str,
        now: dt.datetime,
        world: _World | None,
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
            still = s.exec(
                select(sa.func.count())
                .select_from(IncidentMember)
                .where(IncidentMember.incident_id == iid, col(IncidentMember.ended_at).is_(None))
            ).one()
            if not still:
                inc = s.get(Incident, iid)
                if inc is not None and inc.status == "open":
                    self._resolve(s, inc, at, now, world or self._world(s))

    def _resolve(self, s: Session, inc: Incident, at: dt.datetime, now: dt.datetime, world: _World) -> int:
        inc.status, inc.open_key, inc.resolved_at = "resolved", None, at
        s.add(inc)
        assert inc.id is not None
        if inc.alerted_at is None:
            log.info(
                "incident %s resolved within its group wait: nothing was sent, nothing to recover", inc.id
            )
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
        subjects = self._subjects(s, members, world)
        routes = route(world.rules, subjects, levels=range(0, 100), hour=None, purpose="recovery")
        queued = 0
        for contact_id, idx in routes.items():
            if contact_id not in told:
                continue
            queued += self._queue(s, inc, world, contact_id, RECOVERY, [members[i] for i in idx], "0", now)
        log.info("incident %s resolved: %d recovery messages queued", inc.id, queued)
        return queued

    # ------------------------------------------------------------------------------------------ timers
    def run_timers(self, now: dt.datetime) -> int:
        with Session(self.engine) as s:
            incs = list(
                s.exec(select(Incident).where(Incident.status == "open").order_by(col(Incident.id))).all()
            )
            if not incs:
                return 0
            top = max_level(s.exec(select(RoutingRule).where(RoutingRule.enabled == True)).all())  # noqa: E712
        queued = 0
        for inc in incs:
            if inc.id is None or not self._has_work(inc, now, top):
                continue
            try:
                with session_scope(self.engine) as s:
                    queued += self._timers_for(s, inc.id, now)
            except Exception:
                log.exception("incident %s: timer step failed (retried next pass)", inc.id)
        return queued

    def _has_work(self, inc: Incident, now: dt.datetime, top_level: int) -> bool:
        if inc.alerted_at is None:
            return inc.notify_at <= now
        if (
            inc.pending_since is not None
            and inc.pending_since + dt.timedelta(seconds=self.update_wait_s) <= now
        ):
            return True
        if inc.acknowledged_at is not None:
            return False
        if inc.next_reminder_at is not None and inc.next_reminder_at <= now:
            return True
        due = inc.alerted_at + dt.timedelta(seconds=self.cfg.escalate_after_s * (inc.escalation_level + 1))
        return inc.escalation_level < top_level and due <= now

    def _timers_for(self, s: Session, iid: int, now: dt.datetime) -> int:
        inc = s.get(Incident, iid)
        if inc is None or inc.status != "open":
            return 0
        world = self._world(s)
        if inc.alerted_at is None:
            return self._first_alert(s, inc, world, now) if inc.notify_at <= now else 0
        queued = 0
        if (
            inc.pending_since is not None
            and inc.pending_since + dt.timedelta(seconds=self.update_wait_s) <= now
        ):
            queued += self._update(s, inc, world, now)
        if inc.acknowledged_at is None:
            queued += self._escalate(s, inc, world, now)
            queued += self._remind(s, inc, world, now)
        s.flush()
        still = s.exec(
            select(sa.func.count())
            .select_from(IncidentMember)
            .where(IncidentMember.incident_id == iid, col(IncidentMember.ended_at).is_(None))
        ).one()
        if not still:  # every camera went into a maintenance window meanwhile
            s.refresh(inc)
            queued += self._resolve(s, inc, now, now, world)
        return queued

    def _guard(self, s: Session, iid: int, column: Any, old: Any, **values: Any) -> bool:
        """Conditional update of one incident: True if this pass won the step (no other process did it)."""
        cond = column.is_(None) if old is None else column == old
        res = s.execute(
            sa.update(Incident)
            .where(col(Incident.id) == iid, cond)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return res.rowcount == 1  # type: ignore[attr-defined, no-any-return]

    def _open_members(
        self, s: Session, inc: Incident, world: _World, now: dt.datetime
    ) -> list[IncidentMember]:
        """Open members, minus cameras inside a maintenance window right now (ended as maintenance)."""
        members = list(
            s.exec(
                select(IncidentMember)
                .where(IncidentMember.incident_id == inc.id, col(IncidentMember.ended_at).is_(None))
                .order_by(col(IncidentMember.id))
            ).all()
        )
        if not world.windows:
            return members
        self._load_cameras(s, world, [m.camera_id for m in members])
        keep = []
        for m in members:
            cam = world.cameras.get(m.camera_id)
            if cam is not None and active_for(world.windows, cam.id, cam.hamlet, now, self.tz) is not None:
                m.ended_at, m.end_reason, m.end_state = now, "maintenance", "maintenance"
                s.add(m)
                log.info("camera %s is inside a maintenance window: not alerted", cam.id)
            else:
                keep.append(m)
        return keep

    def _first_alert(self, s: Session, inc: Incident, world: _World, now: dt.datetime) -> int:
        assert inc.id is not None
        members = self._open_members(s, inc, world, now)
        if not members:
            s.flush()
            self._resolve(s, inc, now, now, world)
            return 0
        if self._confirming(s, inc, now, inc.notify_at):
            return 0
        if not self._guard(
            s,
            inc.id,
            Incident.alerted_at,
            None,
            alerted_at=now,
            pending_since=None,
            next_reminder_at=now + dt.timedelta(seconds=self.cfg.reminder_interval_s),
        ):
            return 0
        s.refresh(inc)
        subjects = self._subjects(s, members, world)
        routes = route(world.rules, subjects, levels={0}, hour=self._hour(now), purpose="alert")
        queued = 0
        for contact_id, idx in routes.items():
            queued += self._queue(s, inc, world, contact_id, ALERT, [members[i] for i in idx], "0", now)
        for m in members:
            m.announced = True
            s.add(m)
        if not routes:
            log.warning(
                "incident %s (%s, %d cameras): no routing rule matches at level 0, nobody alerted yet",
                inc.id,
                inc.group_key,
                len(members),
            )
        log.info("incident %s: alert queued (%d cameras, %d messages)", inc.id, len(members), queued)
        return queued

    def _confirming(self, s: Session, inc: Incident, now: dt.datetime, due: dt.datetime) -> bool:
        """Hold a group's message (at most ``hold_max_s`` past its due time) while more cameras of the group
        have failed a check and await confirmation: in a power cut they arrive a retry later."""
        if not (inc.upstream or inc.hamlet) or inc.group_key.startswith("camera:"):
            return False
        if now >= due + dt.timedelta(seconds=self.hold_max_s):
            return False
        in_group = col(Camera.upstream) == inc.upstream if inc.upstream else col(Camera.hamlet) == inc.hamlet
        members = select(IncidentMember.camera_id).where(
            IncidentMember.incident_id == inc.id, col(IncidentMember.ended_at).is_(None)
        )
        pending = s.exec(
            select(sa.func.count())
            .select_from(CameraStatus)
            .join(Camera, col(Camera.id) == col(CameraStatus.camera_id))
            .where(
                in_group,
                col(Camera.enabled) == True,  # noqa: E712
                col(CameraStatus.fail_streak) > 0,
                col(CameraStatus.state).in_([HealthState.UP, HealthState.UNKNOWN]),
                col(CameraStatus.camera_id).not_in(members),
            )
        ).one()
        if pending:
            log.debug(
                "incident %s: %d more cameras of %s being confirmed; holding", inc.id, pending, inc.group_key
            )
        return bool(pending)

    def _update(self, s: Session, inc: Incident, world: _World, now: dt.datetime) -> int:
        assert inc.id is not None
        assert inc.pending_since is not None
        if self._confirming(s, inc, now, inc.pending_since + dt.timedelta(seconds=self.update_wait_s)):
            return 0
        if not self._guard(
            s,
            inc.id,
            Incident.pending_since,
            inc.pending_since,
            pending_since=None,
            updates_sent=inc.updates_sent + 1,
        ):
            return 0
        s.refresh(inc)
        open_members = self._open_members(s, inc, world, now)
        new = [m for m in open_members if not m.announced]
        if not new:
            return 0
        routes = route(
            world.rules,
            self._subjects(s, new, world),
            levels=range(0, inc.escalation_level + 1),
            hour=self._hour(now),
            purpose="alert",
        )
        queued = self._queue_routes(
            s, inc, world, routes, new, UPDATE, str(inc.updates_sent), now, total_open=len(open_members)
        )
        for m in new:
            m.announced = True
            s.add(m)
        log.info("incident %s: %d more cameras announced (%d messages)", inc.id, len(new), queued)
        return queued

    def _escalate(self, s: Session, inc: Incident, world: _World, now: dt.datetime) -> int:
        assert inc.id is not None and inc.alerted_at is not None
        level = inc.escalation_level
        if level >= max_level(world.rules):
            return 0
        due = inc.alerted_at + dt.timedelta(seconds=self.cfg.escalate_after_s * (level + 1))
        if now < due:
            return 0
        members = [m for m in self._open_members(s, inc, world, now) if m.announced]
        if not members:
            return 0
        subjects = self._subjects(s, members, world)
        routes = route(world.rules, subjects, levels={level + 1}, hour=self._hour(now), purpose="alert")
        if not routes and route(world.rules, subjects, levels={level + 1}, hour=None, purpose="alert"):
            return 0  # the next level is off duty at this hour: escalate when its hours begin
        if not self._guard(s, inc.id, Incident.escalation_level, level, escalation_level=level + 1):
            return 0
        s.refresh(inc)
        waited = (now - inc.alerted_at).total_seconds()
        queued = self._queue_routes(
            s, inc, world, routes, members, ESCALATION, str(level + 1), now, waited_s=waited
        )
        log.info("incident %s escalated to level %d (%d messages)", inc.id, level + 1, queued)
        return queued

    def _remind(self, s: Session, inc: Incident, world: _World, now: dt.datetime) -> int:
        assert inc.id is not None
        if inc.next_reminder_at is None or inc.next_reminder_at > now:
            return 0
        if not self._guard(
            s,
            inc.id,
            Incident.next_reminder_at,
            inc.next_reminder_at,
            next_reminder_at=now + dt.timedelta(seconds=self.cfg.reminder_interval_s),
            reminders_sent=inc.reminders_sent + 1,
        ):
            return 0
        s.refresh(inc)
        open_members = self._open_members(s, inc, world, now)
        members = [m for m in open_members if m.announced]
        if not members:
            return 0
        routes = route(
            world.rules,
            self._subjects(s, members, world),
            levels=range(0, inc.escalation_level + 1),
            hour=self._hour(now),
            purpose="reminder",
        )
        queued = self._queue_routes(
            s,
            inc,
            world,
            routes,
            members,
            REMINDER,
            str(inc.reminders_sent),
            now,
            total_open=len(open_members),
        )
        log.info("incident %s: reminder %d queued (%d messages)", inc.id, inc.reminders_sent, queued)
        return queued

    def _queue_routes(
        self,
        s: Session,
        inc: Incident,
        world: _World,
        routes: dict[int, list[int]],
        members: Sequence[IncidentMember],
        kind: str,
        key: str,
        now: dt.datetime,
        **extra: Any,
    ) -> int:
        """Queue one message per routed contact, naming the members routed to it. Returns messages queued."""
        return sum(
            self._queue(s, inc, world, contact_id, kind, [members[i] for i in idx], key, now, **extra)
            for contact_id, idx in routes.items()
        )

    # ------------------------------------------------------------------------------------------ rendering
    def _hour(self, now: dt.datetime) -> int:
        return now.astimezone(ZoneInfo(self.tz)).hour

    def _load_cameras(self, s: Session, world: _World, ids: Iterable[str]) -> None:
        missing = {i for i in ids if i not in world.cameras}
        if missing:
            for cam in s.exec(select(Camera).where(col(Camera.id).in_(missing))).all():
                world.cameras[cam.id] = cam

    def _subjects(self, s: Session, members: Sequence[IncidentMember], world: _World) -> list[Subject]:
        self._load_cameras(s, world, [m.camera_id for m in members])
        out = []
        for m in members:
            cam = world.cameras.get(m.camera_id)
            out.append(
                Subject(
                    camera_id=m.camera_id,
                    hamlet=cam.hamlet if cam else "",
                    kind=cam.kind.value if cam else "",
                    state=m.state,
                    cause=m.cause,
                )
            )
        return out

    def _line(self, m: IncidentMember, world: _World) -> msgs.CameraLine:
        cam = world.cameras.get(m.camera_id)
        return msgs.CameraLine(
            camera_id=m.camera_id,
            name=cam.name if cam else m.camera_id,
            hamlet=cam.hamlet if cam else "",
            address=cam.address if cam else "",
            kind=cam.kind.value if cam else "",
            latitude=cam.latitude if cam else None,
            longitude=cam.longitude if cam else None,
            owner_name=cam.owner_name if cam else "",
            owner_phone=cam.owner_phone if cam else "",
            state=m.state,
            cause=m.cause,
            detail=m.detail,
            started_at=m.started_at,
            ended_at=m.ended_at,
            end_reason=m.end_reason,
            end_state=m.end_state,
        )

    def _thumbnail_id(self, s: Session, camera_id: str) -> int | None:
        tid = s.exec(
            select(Thumbnail.id)
            .where(Thumbnail.camera_id == camera_id)
            .order_by(col(Thumbnail.at).desc())
            .limit(1)
        ).first()
        return tid

    def _queue(
        self,
        s: Session,
        inc: Incident,
        world: _World,
        contact_id: int,
        kind: str,
        members: list[IncidentMember],
        seq: str,
        now: dt.datetime,
        *,
        total_open: int = 0,
        waited_s: float = 0.0,
    ) -> int:
        """Render one message for one contact and write it to the outbox, one row per enabled channel."""
        contact = world.contacts.get(contact_id)
        if contact is None or not contact.enabled or not members:
            return 0
        channels = [c for c in world.channels.get(contact_id, []) if c.enabled]
        if not channels:
            log.warning(
                "contact %s has no enabled channel: %s for incident %s not sent", contact.name, kind, inc.id
            )
            return 0
        assert inc.id is not None and contact.id is not None
        self._load_cameras(s, world, [m.camera_id for m in members])
        thumb = None
        if len(members) == 1 and kind in (ALERT, UPDATE, ESCALATION, REMINDER):
            thumb = self._thumbnail_id(s, members[0].camera_id)
        lang = contact.language if contact.language in ("vi", "en") else self.settings.default_language
        ctx = msgs.MessageContext(
            kind=kind,
            lang=lang,
            tz=self.tz,
            base_url=self.settings.base_url,
            now=now,
            group_key=inc.group_key,
            hamlet=inc.hamlet,
            upstream=inc.upstream,
            cameras=tuple(self._line(m, world) for m in members),
            total_open=total_open,
            ack_url=ack_url(self.settings.base_url, make_token(world.key, inc.id, contact.id))
            if kind != RECOVERY
            else None,
            acknowledged_by=inc.acknowledged_by,
            acknowledged_at=inc.acknowledged_at,
            waited_s=waited_s,
            has_thumbnail=thumb is not None,
        )
        rendered = msgs.render(ctx)
        for ch in channels:
            assert ch.id is not None
            s.add(
                OutboxMessage(
                    dedup_key=f"i{inc.id}:{kind}:{seq}:c{contact.id}:ch{ch.id}",
                    incident_id=inc.id,
                    contact_id=contact.id,
                    channel_id=ch.id,
                    contact_name=contact.name,
                    channel_label=ch.label or chans.redacted(ch.url),
                    kind=kind,
                    language=lang,
                    camera_ids=[m.camera_id for m in members],
                    subject=rendered.subject[:500],
                    body=rendered.body,
                    thumbnail_id=thumb,
                    status=PENDING,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
        s.flush()
        return len(channels)

    # ------------------------------------------------------------------------------------------ delivery
    def deliver_due(self, now: dt.datetime) -> int:
        """Claim the due head message of each idle channel and start sending it. Returns claims made."""
        if self._closed:
            return 0
        with session_scope(self.engine) as s:
            s.execute(
                sa.update(OutboxMessage)
                .where(col(OutboxMessage.channel_id).is_(None), col(OutboxMessage.status) == PENDING)
                .values(status=CANCELLED, last_error="channel removed")
                .execution_options(synchronize_session=False)
            )
            heads = s.exec(
                select(OutboxMessage.channel_id, sa.func.min(OutboxMessage.id))
                .where(
                    col(OutboxMessage.status).in_([PENDING, SENDING]),
                    col(OutboxMessage.channel_id).is_not(None),
                )
                .group_by(col(OutboxMessage.channel_id))
            ).all()
        claimed = 0
        for channel_id, mid in sorted(
            ((c, m) for c, m in heads if c is not None and m is not None), key=lambda r: r[1]
        ):
            with self._lock:
                if len(self._inflight) >= self.pool_size:
                    break
                if channel_id in self._inflight:
                    continue
            claim = self._claim(mid, now)
            if claim is None:
                continue
            with self._lock:
                fut = self._pool.submit(self._attempt, mid, claim, channel_id)
                self._inflight[channel_id] = (mid, claim, fut)
            claimed += 1
        return claimed

    def _claim(self, mid: int, now: dt.datetime) -> str | None:
        claim = uuid.uuid4().hex
        with session_scope(self.engine) as s:
            msg = s.get(OutboxMessage, mid)
            if msg is None:
                return None
            was_leased = msg.status == SENDING
            due = (msg.status == PENDING and msg.next_attempt_at <= now) or (
                msg.status == SENDING and msg.lease_until is not None and msg.lease_until < now
            )
            if not due:
                return None
            cond = (
                sa.and_(col(OutboxMessage.status) == PENDING, col(OutboxMessage.next_attempt_at) <= now)
                if not was_leased
                else sa.and_(col(OutboxMessage.status) == SENDING, col(OutboxMessage.lease_until) < now)
            )
            res = s.execute(
                sa.update(OutboxMessage)
                .where(col(OutboxMessage.id) == mid, cond)
                .values(
                    status=SENDING,
                    claim=claim,
                    lease_until=now + dt.timedelta(seconds=self.lease_s),
                    attempts=col(OutboxMessage.attempts) + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if res.rowcount != 1:  # type: ignore[attr-defined]
                return None
            if was_leased:
                # the process that held it stopped before recording a result: it may or may not have gone out
                s.add(
                    DeliveryAttempt(
                        message_id=mid,
                        at=now,
                        ok=False,
                        error="interrupted: no result recorded (process stopped while sending?)",
                        worker=self.worker[:100],
                    )
                )
                log.warning("message %s: previous attempt never finished (lease expired); sending again", mid)
        return claim

    def _attempt(self, mid: int, claim: str, channel_id: int) -> None:
        with self._lock:
            self._started.add(claim)
        try:
            with Session(self.engine) as s:
                msg = s.get(OutboxMessage, mid)
                ch = s.get(ContactChannel, channel_id)
                contact = s.get(Contact, msg.contact_id) if msg is not None and msg.contact_id else None
                thumb = s.get(Thumbnail, msg.thumbnail_id) if msg is not None and msg.thumbnail_id else None
                if msg is None:
                    return
                subject, body = msg.subject, msg.body
                camera = (msg.camera_ids or ["camera"])[0]
                url = ch.url if ch is not None else None
                usable = ch is not None and ch.enabled and (contact is None or contact.enabled)
                jpeg = thumb.jpeg if thumb is not None else None
            if not usable or url is None:
                self._finish(mid, claim, None, cancel="channel or contact disabled or removed")
                return
            _register_secrets(url)
            attachments = [chans.Attachment(f"{camera}.jpg", jpeg)] if jpeg else []
            outcome = self.sender(
                url, subject, body, attachments=attachments, timeout_s=self.attempt_timeout_s
            )
            self._finish(mid, claim, outcome)
        except Exception as exc:
            log.exception("message %s: attempt crashed", mid)
            try:
                self._finish(mid, claim, chans.SendOutcome(False, f"internal error: {type(exc).__name__}"))
            except Exception:
                log.exception("message %s: could not record the failed attempt (lease will expire)", mid)
        finally:
            with self._lock:
                self._inflight.pop(channel_id, None)
                self._started.discard(claim)
            self.wake.set()

    def _finish(
        self, mid: int, claim: str, outcome: chans.SendOutcome | None, *, cancel: str | None = None
    ) -> None:
        now = self.clock()
        with session_scope(self.engine) as s:
            msg = s.get(OutboxMessage, mid)
            if msg is None:
                return
            if outcome is not None:
                s.add(
                    DeliveryAttempt(
                        message_id=mid,
                        at=now,
                        duration_ms=round(outcome.duration_ms, 1),
                        ok=outcome.ok,
                        error=outcome.error,
                        worker=self.worker[:100],
                    )
                )
            if cancel is not None:
                values: dict[str, Any] = {"status": CANCELLED, "last_error": cancel}
            elif outcome is not None and outcome.ok:
                values = {"status": SENT, "sent_at": now, "last_error": None}
            elif msg.attempts >= self.cfg.max_attempts:
                values = {"status": FAILED, "last_error": outcome.error if outcome else "failed"}
                log.error(
                    "message %s to %s: giving up after %d attempts", mid, msg.contact_name, msg.attempts
                )
            else:
                wait = backoff_s(msg.attempts, self.cfg.backoff_max_s)
                values = {
                    "status": PENDING,
                    "next_attempt_at": now + dt.timedelta(seconds=wait),
                    "last_error": outcome.error if outcome else "failed",
                }
                log.warning(
                    "message %s to %s (%s): attempt %d failed (%s); next in %.0f s",
                    mid,
                    msg.contact_name,
                    msg.channel_label,
                    msg.attempts,
                    outcome.error if outcome else "?",
                    wait,
                )
            values.update(claim=None, lease_until=None)
            res = s.execute(
                sa.update(OutboxMessage)
                .where(col(OutboxMessage.id) == mid, col(OutboxMessage.claim) == claim)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if res.rowcount != 1:  # type: ignore[attr-defined]
                log.warning(
                    "message %s: lease lost while sending; attempt recorded, status left to its new owner",
                    mid,
                )
            elif outcome is not None and outcome.ok:
                log.info(
                    "message %s (%s) sent to %s via %s", mid, msg.kind, msg.contact_name, msg.channel_label
                )

    # ------------------------------------------------------------------------------------------ lifecycle
    def in_flight(self) -> int:
        with self._lock:
            return len(self._inflight)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait (bounded) until no attempt is in flight. True when idle."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.in_flight() == 0:
                return True
            time.sleep(0.02)
        return self.in_flight() == 0

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop sending: attempts not begun are released at once (sent by the next start), running ones get
        ``timeout_s`` to finish; an attempt still running after that keeps its lease until it expires."""
        self._closed = True
        with self._lock:
            queued = [(cid, mid, claim, fut) for cid, (mid, claim, fut) in self._inflight.items()]
        for _cid, mid, claim, fut in queued:
            if fut.cancel():
                self._release(mid, claim)
                with self._lock:
                    self._inflight.pop(_cid, None)
        self.wait_idle(timeout_s)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _release(self, mid: int, claim: str) -> None:
        with session_scope(self.engine) as s:
            s.execute(
                sa.update(OutboxMessage)
                .where(col(OutboxMessage.id) == mid, col(OutboxMessage.claim) == claim)
                .values(
                    status=PENDING, claim=None, lease_until=None, attempts=col(OutboxMessage.attempts) - 1
                )
                .execution_options(synchronize_session=False)
            )


def _register_secrets(url: str) -> None:
    """Teach the process-wide log filter this channel's secrets, so no log line can carry them."""
    try:
        from camsvc.logs import add_secrets
    except ImportError:  # pragma: no cover
        return
    add_secrets(chans.secrets_of(url))
