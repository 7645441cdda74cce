"""Accounts made by programs rather than people: the demo's admin, the benchmarks' and tests' API clients.

Each goes through the same functions as ``camsvc users add`` / ``camsvc tokens create`` (hashed password,
hashed token, role checks); nothing here bypasses authentication.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from camsvc.auth import passwords, tokens
from camsvc.auth.models import User
from camsvc.auth.roles import normalize_scope, parse_role
from camsvc.db import session_scope
from camsvc.models import utcnow


def ensure_user(
    s: Session,
    username: str,
    role: str = "admin",
    *,
    password: str | None = None,
    hamlets: Iterable[str] = (),
    display_name: str = "",
) -> User:
    """The user *username*, created with *role* (and *password*, if given) when missing."""
    user = s.exec(select(User).where(User.username == username)).first()
    if user is None:
        user = User(
            username=username,
            display_name=display_name or username,
            role=parse_role(role).value,
            hamlets=normalize_scope(hamlets),
        )
        if password is not None:
            passwords.check_password(password, username)
            user.password_hash = passwords.hash_password(password)
        s.add(user)
        s.flush()
    return user


def has_admin(s: Session) -> bool:
    return s.exec(select(User.id).where(User.role == "admin", User.active == True)).first() is not None  # noqa: E712


def api_token(engine: Engine, username: str, role: str = "admin", *, hamlets: Iterable[str] = ()) -> str:
    """A new API token for *username* (created with *role* when missing), e.g. for a benchmark's client."""
    with session_scope(engine) as s:
        user = ensure_user(s, username, role, hamlets=hamlets)
        raw, _row = tokens.create_token(s, user, f"{username}-{secrets.token_hex(3)}", now=utcnow())
    return raw


def new_password() -> str:
    """A random password that passes the policy and can be read out over the phone (no look-alikes)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))
