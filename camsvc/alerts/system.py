"""System alerts: problems of camsvc itself (the recording disk full or failing writes), not of a camera.

Queued straight into the outbox as kind ``system`` (no incident): delivery sends outbox rows whatever their
kind. Who hears: every enabled contact whose role is ``technician`` (they keep the cameras and the server
running) or ``duty`` (the officer on duty, who must know evidence is no longer being recorded); household
``owner`` contacts and ``other`` do not. One message per problem, contact, channel and UTC day (the dedup
key), so a problem that lasts does not flood anyone.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from camsvc.alerts import channels as chans
from camsvc.alerts.models import PENDING, Contact, ContactChannel, OutboxMessage
from camsvc.models import utcnow

log = logging.getLogger(__name__)

SYSTEM = "system"
SYSTEM_ROLES = ("technician", "duty")


def queue_system_alert(
    engine: Engine,
    settings: Any,
    *,
    problem: str,
    text_vi: str,
    text_en: str,
    now: dt.datetime | None = None,
) -> int:
    """Queue one ``system`` message per enabled channel of every technician/duty contact; returns how many
    were new (0 when today's message for *problem* was already queued)."""
    now = now or utcnow()
    day = now.astimezone(dt.UTC).strftime("%Y-%m-%d")
    queued = 0
    with Session(engine) as s:
        contacts = s.exec(
            select(Contact).where(Contact.enabled == True, col(Contact.role).in_(SYSTEM_ROLES))  # noqa: E712
        ).all()
        existing = set(
            s.exec(
                select(OutboxMessage.dedup_key).where(
                    col(OutboxMessage.dedup_key).like(f"sys:{problem}:{day}:%")
                )
            ).all()
        )
        for contact in contacts:
            channels = s.exec(
                select(ContactChannel).where(
                    ContactChannel.contact_id == contact.id,
                    ContactChannel.enabled == True,  # noqa: E712
                )
            ).all()
            lang = contact.language if contact.language in ("vi", "en") else "vi"
            text = text_vi if lang == "vi" else text_en
            subject = ("[camsvc] Sự cố hệ thống: " if lang == "vi" else "[camsvc] System problem: ") + text
            for ch in channels:
                key = f"sys:{problem}:{day}:c{contact.id}:ch{ch.id}"
                if key in existing:
                    continue
                s.add(
                    OutboxMessage(
                        dedup_key=key,
                        incident_id=None,
                        contact_id=contact.id,
                        channel_id=ch.id,
                        contact_name=contact.name,
                        channel_label=ch.label or chans.redacted(ch.url),
                        kind=SYSTEM,
                        language=lang,
                        camera_ids=[],
                        subject=subject[:500],
                        body=text,
                        status=PENDING,
                        created_at=now,
                        next_attempt_at=now,
                    )
                )
                queued += 1
        s.commit()
    if queued:
        log.warning("system alert %s queued to %d channels", problem, queued)
    return queued
