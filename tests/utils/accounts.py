"""The real app with an anonymous client, and users with API tokens of their own, for the audit, CLI and
soft-delete tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from camsvc.app import create_app
from camsvc.auth import tokens
from camsvc.auth.models import User
from camsvc.config import Settings
from camsvc.db import session_scope


@contextmanager
def authed_client(settings: Settings) -> Iterator[TestClient]:
    """The real app (sign-in enforced by ``create_app``) with an anonymous client; callers add tokens."""
    with TestClient(create_app(settings, start_runtime=False), base_url="http://127.0.0.1") as c:
        yield c


def user_with_token(engine: Engine, username: str, role: str, **kw: Any) -> tuple[User, str]:
    """A user and a fresh API token of theirs (the raw token, for ``Authorization: Bearer``)."""
    with session_scope(engine) as db:
        user = User(username=username, role=role, **kw)
        db.add(user)
        db.flush()
        raw, _ = tokens.create_token(db, user, "tests")
        db.refresh(user)
        return user, raw


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}
