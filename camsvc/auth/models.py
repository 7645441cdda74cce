"""Accounts, credentials of scripts, sign-in sessions, login throttling and the audit trail (issue 9).

- ``User``: a person (table ``appuser``: ``user`` is a reserved word in PostgreSQL and psql). ``role`` is a
  ``camsvc.auth.roles.Role`` name, ``hamlets`` the scope (empty = every hamlet). ``password_hash`` empty =
  no password sign-in (tokens only).
- ``ApiToken``: a bearer token for scripts; only its SHA-256 is stored, ``prefix`` is what lists show.
  ``role`` NULL = the owner's role; the role in effect is never above the owner's current one.
- ``UserSession``: a browser session (cookie); only the SHA-256 of the cookie value is stored. Idle expiry
  slides (``last_seen_at + idle_s``), ``expires_at`` is absolute. The CSRF token lives here.
- ``LoginThrottle``: failed sign-ins per key (``user:NAME`` / ``ip:ADDR``), in the database so a restart
  does not reset the limit.
- ``AuditEvent``: append-only, hash-chained (``camsvc.auth.audit``); ``details`` is canonical JSON text.

Every time column is ``UTCDateTime``; role-like columns are plain strings (validated in code).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from camsvc.models import UTCDateTime, utcnow


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class User(SQLModel, table=True):
    __tablename__ = "appuser"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    display_name: str = Field(default="", max_length=200)
    role: str = Field(default="viewer", max_length=20)
    hamlets: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    active: bool = True
    password_hash: str = Field(default="", max_length=500)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    updated_at: dt.datetime = _ts(default_factory=utcnow)
    last_login_at: dt.datetime | None = _ts(default=None)


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="appuser.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=100)
    role: str | None = Field(default=None, max_length=20)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    prefix: str = Field(max_length=20)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    expires_at: dt.datetime | None = _ts(default=None)
    last_used_at: dt.datetime | None = _ts(default=None)
    revoked_at: dt.datetime | None = _ts(default=None)


class UserSession(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: int = Field(foreign_key="appuser.id", ondelete="CASCADE", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: dt.datetime = _ts()
    last_seen_at: dt.datetime = _ts()
    idle_s: int
    expires_at: dt.datetime = _ts(index=True)
    revoked_at: dt.datetime | None = _ts(default=None)
    client_addr: str = Field(default="", max_length=100)
    user_agent: str = Field(default="", max_length=300)


class LoginThrottle(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=300)
    failures: int = 0
    first_failure_at: dt.datetime | None = _ts(default=None)
    last_failure_at: dt.datetime | None = _ts(default=None)
    locked_until: dt.datetime | None = _ts(default=None)


class AuditEvent(SQLModel, table=True):
    # AUTOINCREMENT on SQLite: an id is never reused, so removing the newest rows leaves a trace
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = _ts(index=True)
    username: str = Field(default="", max_length=100, index=True)
    client_addr: str = Field(default="", max_length=100)
    action: str = Field(max_length=100, index=True)
    target: str = Field(default="", max_length=300)
    details: str = Field(default="{}", sa_type=sa.Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
