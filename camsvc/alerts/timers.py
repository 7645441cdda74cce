"""Timers: what each open incident is due, decided once.

Per open incident, in its own transaction and each step guarded by a conditional update (two processes never
both take one): the first alert once the group wait is over, an update when more cameras joined after it,
escalation to the next routing level when nobody acknowledged in time, reminders while it stays
unacknowledged. Every one of them goes through :func:`camsvc.alerts.notify.notify`, so messages are rendered
and written to the outbox in the transaction that decides them. Cameras inside a maintenance window are
dropped from the incident (ended as maintenance); when that leaves it empty it is resolved.

A group's message is held (at most ``hold_max_s``) while more cameras of the group have failed a check and
await confirmation: in a power cut they arrive a retry later, and one message then names them all.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from camsvc.alerts.intake import open_count, resolve
from camsvc.alerts.models import ALERT, ESCALATION, REMINDER, UPDATE, Incident, IncidentMember, RoutingRule
from camsvc.alerts.notify import World, load_cameras, local_hour, notify, subjects
from camsvc.alerts.routing import max_level, route
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.health.maintenance import active_for
from camsvc.models import Camera, CameraStatus, HealthState

log = logging.getLogger(__name__)


class Timers:
    def __init__(self, settings: Settings, engine: Engine, world: Callable[[Session], World]):
        self.cfg = settings.alerts
        self.engine = engine
        self.world = world
        self.tz = settings.timezone
        # updates (cameras joining after the first alert) wait long enough for the rest of a power cut to be
        # confirmed: checks are spread over one interval, so one update usually carries all the latecomers
        self.update_wait_s = max(self.cfg.group_wait_s, settings.checks.interval_s)
        # a group's message waits at most this much longer for cameras failing but not yet confirmed
        c = settings.checks
        self.hold_max_s = c.retry_interval_s * c.fail_threshold + settings.probe.budget_s

    def run(self, now: dt.datetime) -> int:
        """Run every open incident's due steps. Returns messages queued."""
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
                    queued += self._steps(s, inc.id, now)
            except Exception:
                log.exception("incident %s: timer step failed (retried next pass)", inc.id)
        return queued

    def _update_due(self, inc: Incident, now: dt.datetime) -> bool:
        return (
            inc.pending_since is not None
            and inc.pending_since + dt.timedelta(seconds=self.update_wait_s) <= now
        )

    def _escalation_due(self, inc: Incident, level: int) -> dt.datetime:
        assert inc.alerted_at is not None
        return inc.alerted_at + dt.timedelta(seconds=self.cfg.escalate_after_s * (level + 1))

    def _has_work(self, inc: Incident, now: dt.datetime, top_level: int) -> bool:
        if inc.alerted_at is None:
            return inc.notify_at <= now
        if self._update_due(inc, now):
            return True
        if inc.acknowledged_at is not None:
            return False
        if inc.next_reminder_at is not None and inc.next_reminder_at <= now:
            return True
        return inc.escalation_level < top_level and self._escalation_due(inc, inc.escalation_level) <= now

    def _steps(self, s: Session, iid: int, now: dt.datetime) -> int:
        inc = s.get(Incident, iid)
        if inc is None or inc.status != "open":
            return 0
        world = self.world(s)
        if inc.alerted_at is None:
            return self._first_alert(s, inc, world, now) if inc.notify_at <= now else 0
        queued = 0
        if self._update_due(inc, now):
            queued += self._update(s, inc, world, now)
        if inc.acknowledged_at is None:
            queued += self._escalate(s, inc, world, now)
            queued += self._remind(s, inc, world, now)
        s.flush()
        if not open_count(s, iid):  # every camera went into a maintenance window meanwhile
            s.refresh(inc)
            queued += resolve(s, inc, now, now, world)
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
        self, s: Session, inc: Incident, world: World, now: dt.datetime
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
        load_cameras(s, world, [m.camera_id for m in members])
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

    def _first_alert(self, s: Session, inc: Incident, world: World, now: dt.datetime) -> int:
        assert inc.id is not None
        members = self._open_members(s, inc, world, now)
        if not members:
            s.flush()
            resolve(s, inc, now, now, world)
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
        sent = notify(
            s,
            inc,
            world,
            members,
            ALERT,
            "0",
            now,
            levels={0},
            hour=local_hour(now, self.tz),
            purpose="alert",
        )
        _announce(s, members)
        if not sent.routed:
            log.warning(
                "incident %s (%s, %d cameras): no routing rule matches at level 0, nobody alerted yet",
                inc.id,
                inc.group_key,
                len(members),
            )
        log.info("incident %s: alert queued (%d cameras, %d messages)", inc.id, len(members), sent.queued)
        return sent.queued

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

    def _update(self, s: Session, inc: Incident, world: World, now: dt.datetime) -> int:
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
        queued = self._notify_reached(
            s, inc, world, new, UPDATE, str(inc.updates_sent), now, len(open_members)
        )
        _announce(s, new)
        log.info("incident %s: %d more cameras announced (%d messages)", inc.id, len(new), queued)
        return queued

    def _escalate(self, s: Session, inc: Incident, world: World, now: dt.datetime) -> int:
        assert inc.id is not None and inc.alerted_at is not None
        level = inc.escalation_level
        if level >= max_level(world.rules) or now < self._escalation_due(inc, level):
            return 0
        members = [m for m in self._open_members(s, inc, world, now) if m.announced]
        if not members:
            return 0
        hour = local_hour(now, self.tz)
        subj = subjects(s, members, world)
        if not route(world.rules, subj, levels={level + 1}, hour=hour, purpose="alert") and route(
            world.rules, subj, levels={level + 1}, hour=None, purpose="alert"
        ):
            return 0  # the next level is off duty at this hour: escalate when its hours begin
        if not self._guard(s, inc.id, Incident.escalation_level, level, escalation_level=level + 1):
            return 0
        s.refresh(inc)
        waited = (now - inc.alerted_at).total_seconds()
        queued = notify(
            s,
            inc,
            world,
            members,
            ESCALATION,
            str(level + 1),
            now,
            levels={level + 1},
            hour=hour,
            purpose="alert",
            waited_s=waited,
        ).queued
        log.info("incident %s escalated to level %d (%d messages)", inc.id, level + 1, queued)
        return queued

    def _remind(self, s: Session, inc: Incident, world: World, now: dt.datetime) -> int:
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
        key = str(inc.reminders_sent)
        queued = self._notify_reached(s, inc, world, members, REMINDER, key, now, len(open_members))
        log.info("incident %s: reminder %d queued (%d messages)", inc.id, inc.reminders_sent, queued)
        return queued

    def _notify_reached(
        self,
        s: Session,
        inc: Incident,
        world: World,
        members: list[IncidentMember],
        kind: str,
        key: str,
        now: dt.datetime,
        total_open: int,
    ) -> int:
        """Updates and reminders go to every routing level the incident has reached so far (reminders only
        to rules that take them)."""
        return notify(
            s,
            inc,
            world,
            members,
            kind,
            key,
            now,
            levels=range(0, inc.escalation_level + 1),
            hour=local_hour(now, self.tz),
            purpose="reminder" if kind == REMINDER else "alert",
            total_open=total_open,
        ).queued


def _announce(s: Session, members: list[IncidentMember]) -> None:
    for m in members:
        m.announced = True
        s.add(m)
