"""Fixtures for the auth tests: a real SQLite file migrated to head, users, a clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from camsvc.auth.models import User
from camsvc.db import session_scope

T0 = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


@pytest.fixture
def make_user(engine: Engine) -> Callable[..., User]:
    def make(username: str = "lan", role: str = "technician", **kw: object) -> User:
        with session_scope(engine) as db:
            user = User(username=username, role=role, **kw)  # type: ignore[arg-type]
            db.add(user)
            db.flush()
            db.refresh(user)
            return user

    return make


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def session(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)
