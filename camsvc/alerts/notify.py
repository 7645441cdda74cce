"""Routed notify: the one step by which every phase tells people about an incident.

:func:`notify` routes some of an incident's cameras to contacts (``routing.route``) and, for each contact
chosen, renders one message naming the cameras routed to it and writes it to the outbox, one row per
enabled channel, in the caller's transaction. The first alert, updates, escalations, reminders and
recoveries differ only in the kind, the routing levels, the hour, the purpose and the dedup key.

:class:`World` is what a step needs to route and render, read once per step from the database.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from camsvc.alerts import channels as chans
from camsvc.alerts import messages as msgs
from camsvc.alerts.models import (
    ALERT,
    ESCALATION,
    PENDING,
    RECOVERY,
    REMINDER,
    UPDATE,
    Contact,
    ContactChannel,
    Incident,
    IncidentMember,
    OutboxMessage,
    RoutingRule,
)
from camsvc.alerts.routing import Subject, route
from camsvc.alerts.signing import ack_url, make_token
from camsvc.config import Settings
from camsvc.models import Camera, MaintenanceWindow, Thumbnail

log = logging.getLogger(__name__)


@dataclass
class World:
    """What one timer/transition step needs to route and render (read once per step)."""

    settings: Settings
    rules: list[RoutingRule]
    contacts: dict[int, Contact]
    channels: dict[int, list[ContactChannel]]
    windows: list[MaintenanceWindow]
    key: bytes
    cameras: dict[str, Camera] = field(default_factory=dict)


def load_world(s: Session, settings: Settings, key: bytes) -> World:
    rules = list(s.exec(select(RoutingRule).where(RoutingRule.enabled == True)).all())  # noqa: E712
    contacts = {c.id: c for c in s.exec(select(Contact)).all() if c.id is not None}
    channels: dict[int, list[ContactChannel]] = {}
    for ch in s.exec(select(ContactChannel).order_by(col(ContactChannel.id))).all():
        channels.setdefault(ch.contact_id, []).append(ch)
    windows = list(s.exec(select(MaintenanceWindow)).all())
    return World(settings, rules, contacts, channels, windows, key)


def local_hour(now: dt.datetime, tz: str) -> int:
    return now.astimezone(ZoneInfo(tz)).hour


class Notified(NamedTuple):
    routed: int  # contacts the rules chose
    queued: int  # outbox rows written


def notify(
    s: Session,
    inc: Incident,
    world: World,
    members: Sequence[IncidentMember],
    kind: str,
    key: str,
    now: dt.datetime,
    *,
    levels: Collection[int],
    hour: int | None,
    purpose: str,
    only: Collection[int | None] | None = None,
    total_open: int = 0,
    waited_s: float = 0.0,
) -> Notified:
    """Route ``members`` to contacts and queue one message per routed contact (of ``only``, when given),
    naming the members routed to it. ``key`` tells this message apart from the incident's other ones of the
    same kind (the outbox's dedup key)."""
    routes = route(world.rules, subjects(s, members, world), levels=levels, hour=hour, purpose=purpose)
    queued = sum(
        queue_message(
            s,
            inc,
            world,
            contact_id,
            kind,
            [members[i] for i in idx],
            key,
            now,
            total_open=total_open,
            waited_s=waited_s,
        )
        for contact_id, idx in routes.items()
        if only is None or contact_id in only
    )
    return Notified(len(routes), queued)


def load_cameras(s: Session, world: World, ids: Iterable[str]) -> None:
    missing = {i for i in ids if i not in world.cameras}
    if missing:
        for cam in s.exec(select(Camera).where(col(Camera.id).in_(missing))).all():
            world.cameras[cam.id] = cam


def subjects(s: Session, members: Sequence[IncidentMember], world: World) -> list[Subject]:
    load_cameras(s, world, [m.camera_id for m in members])
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


def _line(m: IncidentMember, world: World) -> msgs.CameraLine:
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


def _thumbnail_id(s: Session, camera_id: str) -> int | None:
    return s.exec(
        select(Thumbnail.id)
        .where(Thumbnail.camera_id == camera_id)
        .order_by(col(Thumbnail.at).desc())
        .limit(1)
    ).first()


def queue_message(
    s: Session,
    inc: Incident,
    world: World,
    contact_id: int,
    kind: str,
    members: list[IncidentMember],
    key: str,
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
    settings = world.settings
    load_cameras(s, world, [m.camera_id for m in members])
    thumb = None
    if len(members) == 1 and kind in (ALERT, UPDATE, ESCALATION, REMINDER):
        thumb = _thumbnail_id(s, members[0].camera_id)
    lang = contact.language if contact.language in ("vi", "en") else settings.default_language
    ctx = msgs.MessageContext(
        kind=kind,
        lang=lang,
        tz=settings.timezone,
        base_url=settings.base_url,
        now=now,
        group_key=inc.group_key,
        hamlet=inc.hamlet,
        upstream=inc.upstream,
        cameras=tuple(_line(m, world) for m in members),
        total_open=total_open,
        ack_url=ack_url(settings.base_url, make_token(world.key, inc.id, contact.id))
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
                dedup_key=f"i{inc.id}:{kind}:{key}:c{contact.id}:ch{ch.id}",
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
