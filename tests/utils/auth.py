"""Signed-in callers for tests: one user per role (the same password), their API tokens and headers.

Users are made through camsvc's own functions (hashed passwords and tokens), never by bypassing auth.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from camsvc.auth.bootstrap import api_token, ensure_user
from camsvc.db import session_scope

PASSWORD = "test-Passw0rd-long"
ROLES = ("viewer", "technician", "officer", "admin")


def add_users(engine: Engine, hamlets: dict[str, list[str]] | None = None) -> None:
    """Users named after their role (``viewer`` ... ``admin``), password ``PASSWORD``; optional scopes."""
    with session_scope(engine) as s:
        for role in ROLES:
            ensure_user(s, role, role, password=PASSWORD, hamlets=(hamlets or {}).get(role, ()))


def token(engine: Engine, role: str = "admin", username: str | None = None) -> str:
    return api_token(engine, username or f"{role}-api", role)


def headers(engine: Engine, role: str = "admin", username: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(engine, role, username)}"}


def add_users_in(data_dir: Path) -> None:
    """``add_users`` on the database of a service's data directory (e.g. a ``ServiceProcess``)."""
    from camsvc.config import Settings
    from camsvc.db import make_engine, upgrade

    engine = make_engine(Settings(data_dir=data_dir).db_url)
    try:
        upgrade(engine)
        add_users(engine)
    finally:
        engine.dispose()


@contextlib.contextmanager
def signed_in_client(app: Any, role: str = "admin") -> Iterator[Any]:
    """A TestClient on *app* (started, so the schema is upgraded) carrying a *role* API token; users of
    every role exist (``add_users``)."""
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://127.0.0.1") as c:
        engine = c.app.state.engine
        add_users(engine)
        c.headers.update(headers(engine, role))
        yield c
