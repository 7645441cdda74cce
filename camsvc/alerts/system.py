"""System alerts: problems of camsvc itself (the recording disk full or failing writes), not of a camera.

Queued straight into the outbox as kind ``system`` (no incident): delivery sends outbox rows whatever their
kind. Who hears: every enabled contact whose role is ``technician`` (they keep the cameras and the server
running) or ``duty`` (the officer on duty, who must know evidence is no longer being recorded); household
``owner`` contacts and ``other`` do not. One message per problem, contact, channel and UTC day (the dedup
key), so a problem that lasts does not flood anyone. With ``once=True`` the key has no day: the caller names
an episode in *problem* (the pipeline monitor: the time checks stopped), so several processes that notice the
same episode queue one message between them (the unique dedup key decides a race); ``answering`` sends a
follow-up (checks running again) only to the channels that got the first message.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
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
    once: bool = False,
    answering: str | None = None,
) -> int:
    """Queue one ``system`` message per enabled channel of every technician/duty contact; returns how many
    were new (0 when today's message for *problem* was already queued)."""
    now = now or utcnow()
    day = now.astimezone(dt.UTC).strftime("%Y-%m-%d")
    prefix = f"sys:{problem}:" if once else f"sys:{problem}:{day}:"
    queued = 0
    with Session(engine) as s:
        contacts = s.exec(
            select(Contact).where(Contact.enabled == True, col(Contact.role).in_(SYSTEM_ROLES))  # noqa: E712
        ).all()
        existing = set(
            s.exec(
                select(OutboxMessage.dedup_key).where(col(OutboxMessage.dedup_key).like(f"{prefix}%"))
            ).all()
        )
        heard: set[str] | None = None
        if answering is not None:  # a follow-up (recovered): only to the channels that got *answering*
            heard = {
                k.removeprefix(f"sys:{answering}:")
                for k in s.exec(
                    select(OutboxMessage.dedup_key).where(
                        col(OutboxMessage.dedup_key).like(f"sys:{answering}:%")
                    )
                ).all()
            }
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
                key = f"{prefix}c{contact.id}:ch{ch.id}"
                if key in existing:
                    continue
                if heard is not None and f"c{contact.id}:ch{ch.id}" not in heard:
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
        try:
            s.commit()
        except IntegrityError:  # another process queued the same messages first
            s.rollback()
            return 0
    if queued:
        log.warning("system alert %s queued to %d channels", problem, queued)
    return queued
