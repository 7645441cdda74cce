"""Signed acknowledge links: ``{base_url}/ack/<token>``, one token per incident and contact.

The token is ``<incident>.<contact>.<HMAC-SHA256 truncated to 128 bits, base64url>``: it names who was asked
(so the acknowledgement records them) and cannot be forged or moved to another incident. The key is
``alerts.signing_key`` from the settings, or one generated once and kept in the database (``AlertKV``), so
links stay valid across restarts and across processes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from camsvc.alerts.models import AlertKV
from camsvc.config import Settings

KEY_NAME = "signing_key"
_TOKEN_RE = re.compile(r"^(\d{1,12})\.(\d{1,12})\.([A-Za-z0-9_-]{22})$")


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


def _sig(key: bytes, incident_id: int, contact_id: int) -> str:
    mac = hmac.new(key, f"ack:{incident_id}:{contact_id}".encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def make_token(key: bytes, incident_id: int, contact_id: int) -> str:
    return f"{incident_id}.{contact_id}.{_sig(key, incident_id, contact_id)}"


def read_token(key: bytes, token: str) -> tuple[int, int] | None:
    """(incident id, contact id) for a genuine token, else None."""
    m = _TOKEN_RE.match(token or "")
    if not m:
        return None
    incident_id, contact_id = int(m.group(1)), int(m.group(2))
    if not hmac.compare_digest(m.group(3), _sig(key, incident_id, contact_id)):
        return None
    return incident_id, contact_id


def ack_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/ack/{token}"
