"""Incidents seen from outside: acknowledge, list, delivery history. Shared by the API, the ack page and CLI.

Acknowledging an incident records who and when on the incident and on every open outage in it
(``Outage.acknowledged_by/at``), stops its reminders and escalation, cancels reminders not yet sent, and
closes it to new members (a camera failing later opens a new incident and is alerted).
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlmodel import Session, col, select

from camsvc.alerts import messages as msgs
from camsvc.alerts.models import (
    CANCELLED,
    ESCALATION,
    PENDING,
    REMINDER,
    AckResult,
    AttemptPublic,
    DeliveryAttempt,
    Incident,
    IncidentMember,
    IncidentPublic,
    MemberPublic,
    MessagePublic,
    OutboxMessage,
)
from camsvc.errors import get_or_raise
from camsvc.models import Camera, Outage

log = logging.getLogger(__name__)


def acknowledge_incident(session: Session, incident_id: int, by: str, now: dt.datetime) -> AckResult:
    inc = get_or_raise(session, Incident, incident_id, "incident")
    by = by.strip()[:200] or "?"
    if inc.acknowledged_at is not None:
        return AckResult(
            incident_id=inc.id,
            acknowledged_by=inc.acknowledged_by or "",
            acknowledged_at=inc.acknowledged_at,
            already=True,
        )
    res = session.execute(
        sa.update(Incident)
        .where(col(Incident.id) == incident_id, col(Incident.acknowledged_at).is_(None))
        .values(acknowledged_by=by, acknowledged_at=now, open_key=None)
        .execution_options(synchronize_session=False)
    )
    session.expire(inc)
    if res.rowcount != 1:  # type: ignore[attr-defined]  # acknowledged meanwhile by someone else
        session.refresh(inc)
        return AckResult(
            incident_id=inc.id,
            acknowledged_by=inc.acknowledged_by or "",
            acknowledged_at=inc.acknowledged_at or now,
            already=True,
        )
    outage_ids = _ack_outages(session, incident_id, by, now)
    n = session.execute(
        sa.update(OutboxMessage)
        .where(
            col(OutboxMessage.incident_id) == incident_id,
            col(OutboxMessage.status) == PENDING,
            col(OutboxMessage.kind).in_([REMINDER, ESCALATION]),
        )
        .values(status=CANCELLED, last_error="acknowledged before it was sent")
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    log.info("incident %s acknowledged by %s (%d pending reminders cancelled)", incident_id, by, n)
    return AckResult(incident_id=incident_id, acknowledged_by=by, acknowledged_at=now, outage_ids=outage_ids)


def _ack_outages(session: Session, incident_id: int, by: str, now: dt.datetime) -> list[int]:
    ids = [
        oid
        for oid in session.exec(
            select(IncidentMember.outage_id).where(
                IncidentMember.incident_id == incident_id, col(IncidentMember.outage_id).is_not(None)
            )
        ).all()
        if oid is not None
    ]
    if ids:
        session.execute(
            sa.update(Outage)
            .where(col(Outage.id).in_(ids), col(Outage.acknowledged_at).is_(None))
            .values(acknowledged_by=by, acknowledged_at=now)
            .execution_options(synchronize_session=False)
        )
    return sorted(ids)


def acknowledge_outage(session: Session, outage_id: int, by: str, now: dt.datetime) -> AckResult:
    """Acknowledge the incident holding this outage (or, if none yet, the outage alone)."""
    outage = get_or_raise(session, Outage, outage_id, "outage")
    member = session.exec(
        select(IncidentMember)
        .where(IncidentMember.outage_id == outage_id)
        .order_by(col(IncidentMember.id).desc())
    ).first()
    if member is not None:
        return acknowledge_incident(session, member.incident_id, by, now)
    by = by.strip()[:200] or "?"
    if outage.acknowledged_at is not None:
        return AckResult(
            incident_id=None,
            acknowledged_by=outage.acknowledged_by or "",
            acknowledged_at=outage.acknowledged_at,
            already=True,
            outage_ids=[outage_id],
        )
    outage.acknowledged_by, outage.acknowledged_at = by, now
    session.add(outage)
    return AckResult(incident_id=None, acknowledged_by=by, acknowledged_at=now, outage_ids=[outage_id])


# ---------------------------------------------------------------------------------------------- queries
def incident_public(
    session: Session, inc: Incident, lang: str = "vi", with_members: bool = True
) -> IncidentPublic:
    assert inc.id is not None
    members = session.exec(
        select(IncidentMember).where(IncidentMember.incident_id == inc.id).order_by(col(IncidentMember.id))
    ).all()
    names: dict[str, str] = {}
    hamlets: dict[str, str] = {}
    if with_members and members:
        for cid, name, hamlet in session.exec(
            select(Camera.id, Camera.name, Camera.hamlet).where(
                col(Camera.id).in_({m.camera_id for m in members})
            )
        ).all():
            names[cid] = name
            hamlets[cid] = hamlet or ""
    return IncidentPublic(
        id=inc.id,
        group_key=inc.group_key,
        hamlet=inc.hamlet,
        upstream=inc.upstream,
        status=inc.status,
        opened_at=inc.opened_at,
        started_at=inc.started_at,
        notify_at=inc.notify_at,
        alerted_at=inc.alerted_at,
        escalation_level=inc.escalation_level,
        reminders_sent=inc.reminders_sent,
        acknowledged_by=inc.acknowledged_by,
        acknowledged_at=inc.acknowledged_at,
        resolved_at=inc.resolved_at,
        cameras_open=sum(1 for m in members if m.ended_at is None),
        members=[
            MemberPublic(
                camera_id=m.camera_id,
                camera_name=names.get(m.camera_id, ""),
                camera_hamlet=hamlets.get(m.camera_id, ""),
                outage_id=m.outage_id,
                state=m.state,
                cause=m.cause,
                cause_text=msgs.cause_text(m.cause, lang),
                started_at=m.started_at,
                joined_at=m.joined_at,
                announced=m.announced,
                ended_at=m.ended_at,
                end_reason=m.end_reason,
            )
            for m in members
        ]
        if with_members
        else [],
    )


def list_incidents(
    session: Session, *, status: str | None = None, camera_id: str | None = None, limit: int = 100
) -> list[Incident]:
    q = select(Incident)
    if status:
        q = q.where(Incident.status == status)
    if camera_id:
        q = q.where(
            col(Incident.id).in_(
                select(IncidentMember.incident_id).where(IncidentMember.camera_id == camera_id)
            )
        )
    return list(session.exec(q.order_by(col(Incident.id).desc()).limit(max(1, min(limit, 1000)))).all())


def message_public(m: OutboxMessage, attempts: list[DeliveryAttempt]) -> MessagePublic:
    assert m.id is not None
    return MessagePublic(
        id=m.id,
        incident_id=m.incident_id,
        contact_id=m.contact_id,
        contact_name=m.contact_name,
        channel_id=m.channel_id,
        channel=m.channel_label,
        kind=m.kind,
        language=m.language,
        camera_ids=list(m.camera_ids or []),
        subject=m.subject,
        body=m.body,
        status=m.status,
        attempts=m.attempts,
        created_at=m.created_at,
        next_attempt_at=m.next_attempt_at,
        sent_at=m.sent_at,
        last_error=m.last_error,
        attempt_log=[
            AttemptPublic(at=a.at, duration_ms=a.duration_ms, ok=a.ok, error=a.error, worker=a.worker)
            for a in attempts
        ],
    )


def _with_attempts(session: Session, rows: list[OutboxMessage]) -> list[MessagePublic]:
    ids = [m.id for m in rows if m.id is not None]
    by_msg: dict[int, list[DeliveryAttempt]] = {}
    if ids:
        for a in session.exec(
            select(DeliveryAttempt)
            .where(col(DeliveryAttempt.message_id).in_(ids))
            .order_by(col(DeliveryAttempt.id))
        ).all():
            by_msg.setdefault(a.message_id, []).append(a)
    return [message_public(m, by_msg.get(m.id or 0, [])) for m in rows]


def messages_for_incident(session: Session, incident_id: int) -> list[MessagePublic]:
    rows = session.exec(
        select(OutboxMessage).where(OutboxMessage.incident_id == incident_id).order_by(col(OutboxMessage.id))
    ).all()
    return _with_attempts(session, list(rows))


def messages_for_outage(session: Session, outage_id: int) -> list[MessagePublic]:
    """Every message that told someone about this outage (its camera, in the incidents holding it)."""
    outage = get_or_raise(session, Outage, outage_id, "outage")
    incident_ids = session.exec(
        select(IncidentMember.incident_id).where(IncidentMember.outage_id == outage_id)
    ).all()
    if not incident_ids:
        return []
    rows = session.exec(
        select(OutboxMessage)
        .where(col(OutboxMessage.incident_id).in_(set(incident_ids)))
        .order_by(col(OutboxMessage.id))
    ).all()
    return _with_attempts(session, [m for m in rows if outage.camera_id in (m.camera_ids or [])])


def messages_for_contact(session: Session, contact_id: int, limit: int = 200) -> list[MessagePublic]:
    rows = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.contact_id == contact_id)
        .order_by(col(OutboxMessage.id).desc())
        .limit(max(1, min(limit, 1000)))
    ).all()
    return _with_attempts(session, list(rows))


def list_messages(session: Session, *, status: str | None = None, limit: int = 200) -> list[MessagePublic]:
    q = select(OutboxMessage)
    if status:
        q = q.where(OutboxMessage.status == status)
    rows = session.exec(q.order_by(col(OutboxMessage.id).desc()).limit(max(1, min(limit, 1000)))).all()
    return _with_attempts(session, list(rows))


def retry_message(session: Session, message_id: int, now: dt.datetime) -> OutboxMessage:
    """Put a failed or cancelled message back in the queue (attempts start again)."""
    m = get_or_raise(session, OutboxMessage, message_id, "message")
    if m.status not in ("failed", CANCELLED):
        raise ValueError(f"message {message_id} is {m.status}: only failed or cancelled messages are retried")
    m.status, m.attempts, m.next_attempt_at, m.claim, m.lease_until = PENDING, 0, now, None, None
    session.add(m)
    return m


def outbox_counts(session: Session) -> dict[str, int]:
    rows = session.exec(select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)).all()
    return {status: int(n) for status, n in rows}
