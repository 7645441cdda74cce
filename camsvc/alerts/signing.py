"""Signed acknowledge links: ``{base_url}/ack/<token>``, one token per incident and contact.

The token is ``<incident>.<contact>.<issued, unix seconds>.<HMAC-SHA256 truncated to 128 bits, base64url>``:
it names who was asked (so the acknowledgement records them), when it was made (a link works for
``auth.ack_link_days`` after that, checked when it is used, so shortening the setting ends older links too),
and it cannot be forged or moved to another incident, contact or time. Links of the earlier form
``<incident>.<contact>.<mac>`` (no time) read as expired. The key is ``alerts.signing_key`` from the
settings, or one generated once and kept in the database (``AlertKV``, encrypted at rest), so links stay
valid across restarts and across processes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from camsvc.alerts.models import AlertKV
from camsvc.config import Settings

KEY_NAME = "signing_key"
_TOKEN_RE = re.compile(r"^(\d{1,12})\.(\d{1,12})\.(\d{1,12})\.([A-Za-z0-9_-]{22})$")
_OLD_TOKEN_RE = re.compile(r"^(\d{1,12})\.(\d{1,12})\.([A-Za-z0-9_-]{22})$")  # before links expired


def signing_key(settings: Settings, engine: Engine) -> bytes:
    """The configured key, else the stored one (created on first use, race-safe across processes)."""
    if settings.alerts.signing_key:
        return settings.alerts.signing_key.encode()
    with Session(engine) as s:
        row = s.get(AlertKV, KEY_NAME)
        if row is not None:
            return row.value.encode()
    try:
        with Session(engine) as s:
            s.add(AlertKV(key=KEY_NAME, value=secrets.token_urlsafe(32)))
            s.commit()
    except IntegrityError:  # another process created it first: use theirs
        pass
    with Session(engine) as s:
        row = s.get(AlertKV, KEY_NAME)
        assert row is not None
        return row.value.encode()


def _mac(key: bytes, message: str) -> str:
    mac = hmac.new(key, message.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _sig(key: bytes, incident_id: int, contact_id: int, issued: int) -> str:
    return _mac(key, f"ack2:{incident_id}:{contact_id}:{issued}")


@dataclass(frozen=True)
class AckLink:
    """What a genuine token says: the incident, the contact it was sent to, and when it was made."""

    incident_id: int
    contact_id: int
    issued_at: dt.datetime

    def expired(self, now: dt.datetime, days: float) -> bool:
        return now >= self.issued_at + dt.timedelta(days=days)


def make_token(key: bytes, incident_id: int, contact_id: int, issued_at: dt.datetime | None = None) -> str:
    """A token for *contact_id* about *incident_id*, made now (wall clock) or at *issued_at*."""
    issued = int(issued_at.timestamp()) if issued_at is not None else int(time.time())
    return f"{incident_id}.{contact_id}.{issued}.{_sig(key, incident_id, contact_id, issued)}"


def parse_token(key: bytes, token: str) -> AckLink | None:
    """The link a genuine token stands for (expired or not: see ``AckLink.expired``), else None."""
    m = _TOKEN_RE.match(token or "")
    if m:
        incident_id, contact_id, issued = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if hmac.compare_digest(m.group(4), _sig(key, incident_id, contact_id, issued)):
            return AckLink(incident_id, contact_id, dt.datetime.fromtimestamp(issued, dt.UTC))
        return None
    m = _OLD_TOKEN_RE.match(token or "")
    if m:  # genuine links from before expiry existed: made at the epoch, so always expired
        incident_id, contact_id = int(m.group(1)), int(m.group(2))
        if hmac.compare_digest(m.group(3), _mac(key, f"ack:{incident_id}:{contact_id}")):
            return AckLink(incident_id, contact_id, dt.datetime.fromtimestamp(0, dt.UTC))
    return None


def read_token(key: bytes, token: str) -> tuple[int, int] | None:
    """(incident id, contact id) for a genuine token (whatever its age), else None."""
    link = parse_token(key, token)
    return None if link is None else (link.incident_id, link.contact_id)


def ack_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/ack/{token}"
