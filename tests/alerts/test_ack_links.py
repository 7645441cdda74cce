"""Acknowledge links expire (``auth.ack_link_days``) and die with their contact; a valid one still works.

The real app on a real SQLite file; links made with the stored signing key, as the dispatcher makes them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from camsvc.alerts.models import Contact, Incident
from camsvc.alerts.signing import make_token, parse_token, read_token, signing_key
from camsvc.app import create_app
from camsvc.config import Settings
from camsvc.db import session_scope

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def ack_client(settings: Settings) -> Iterator[TestClient]:
    """The app with links that last 2 days."""
    two_days = settings.model_copy(update={"auth": settings.auth.model_copy(update={"ack_link_days": 2})})
    with TestClient(create_app(two_days, start_runtime=False), base_url="http://127.0.0.1") as c:
        yield c


def _world(client: TestClient, language: str = "en") -> tuple[bytes, int, int]:
    """(signing key, incident id, contact id): one open incident, one contact."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with session_scope(engine) as s:
        contact = Contact(name="Anh Tuấn", language=language)
        inc = Incident(
            group_key="hamlet:Bích Trung", hamlet="Bích Trung", opened_at=NOW, started_at=NOW, notify_at=NOW
        )
        s.add(contact)
        s.add(inc)
        s.flush()
        assert contact.id is not None and inc.id is not None
        ids = inc.id, contact.id
    return signing_key(client.app.state.settings, engine), *ids  # type: ignore[attr-defined]


def _acked_by(client: TestClient, incident_id: int) -> str | None:
    with Session(client.app.state.engine) as s:  # type: ignore[attr-defined]
        inc = s.get(Incident, incident_id)
        assert inc is not None
        return inc.acknowledged_by


def test_token_carries_incident_contact_and_time() -> None:
    key = b"k" * 32
    issued = dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC)
    tok = make_token(key, 12, 3, issued)
    link = parse_token(key, tok)
    assert link is not None and (link.incident_id, link.contact_id, link.issued_at) == (12, 3, issued)
    assert read_token(key, tok) == (12, 3)
    assert not link.expired(issued + dt.timedelta(days=6, hours=23), 7)
    assert link.expired(issued + dt.timedelta(days=7), 7)
    incident, contact, when, sig = tok.split(".")
    for forged in (
        f"{incident}.4.{when}.{sig}",  # moved to another contact
        f"{incident}.{contact}.{int(when) + 86400 * 30}.{sig}",  # made younger
        f"13.{contact}.{when}.{sig}",
    ):
        assert parse_token(key, forged) is None


def test_valid_link_acknowledges(ack_client: TestClient) -> None:
    key, inc, contact = _world(ack_client)
    token = make_token(key, inc, contact, NOW - dt.timedelta(hours=36))  # within the 2 days
    page = ack_client.get(f"/ack/{token}")
    assert page.status_code == 200 and "<form" in page.text and "Anh Tuấn" in page.text
    done = ack_client.post(f"/ack/{token}", data={"by": "Anh Tuấn"})
    assert done.status_code == 200 and "Acknowledged by" in done.text
    assert _acked_by(ack_client, inc)


@pytest.mark.parametrize(
    ("language", "text"), [("en", "This link has expired"), ("vi", "Liên kết này đã hết hạn")]
)
def test_expired_link_is_refused_and_says_so(ack_client: TestClient, language: str, text: str) -> None:
    key, inc, contact = _world(ack_client, language)
    token = make_token(key, inc, contact, NOW - dt.timedelta(days=2, minutes=1))
    page = ack_client.get(f"/ack/{token}")
    assert page.status_code == 410 and text in page.text and "2" in page.text and "<form" not in page.text
    done = ack_client.post(f"/ack/{token}", data={"by": "someone"})
    assert done.status_code == 410 and text in done.text
    assert _acked_by(ack_client, inc) is None


def test_link_from_before_expiry_existed_reads_as_expired(ack_client: TestClient) -> None:
    key, inc, contact = _world(ack_client)
    mac = hmac.new(key, f"ack:{inc}:{contact}".encode(), hashlib.sha256).digest()[:16]
    old = f"{inc}.{contact}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
    page = ack_client.get(f"/ack/{old}")
    assert page.status_code == 410 and "expired" in page.text
    assert ack_client.post(f"/ack/{old}", data={"by": "x"}).status_code == 410
    assert _acked_by(ack_client, inc) is None


@pytest.mark.parametrize("how", ["deleted", "disabled"])
def test_link_of_a_removed_contact_is_dead(ack_client: TestClient, how: str) -> None:
    key, inc, contact = _world(ack_client)
    token = make_token(key, inc, contact)  # fresh
    assert ack_client.get(f"/ack/{token}").status_code == 200
    with session_scope(ack_client.app.state.engine) as s:  # type: ignore[attr-defined]
        row = s.get(Contact, contact)
        assert row is not None
        if how == "deleted":
            s.delete(row)
        else:
            row.enabled = False
    page = ack_client.get(f"/ack/{token}")
    gone = "bị xoá hoặc bị tắt" if how == "deleted" else "removed or disabled"  # deleted: its language too
    assert page.status_code == 410 and gone in page.text and "<form" not in page.text
    done = ack_client.post(f"/ack/{token}", data={"by": "Anh Tuấn"})
    assert done.status_code == 410
    assert _acked_by(ack_client, inc) is None


def test_forged_and_foreign_links_are_not_found(ack_client: TestClient) -> None:
    key, inc, contact = _world(ack_client)
    assert ack_client.get(f"/ack/{make_token(b'another key', inc, contact)}").status_code == 404
    assert ack_client.get(f"/ack/{make_token(key, inc + 99, contact)}").status_code == 404  # no such incident
    assert ack_client.get("/ack/nonsense").status_code == 404
