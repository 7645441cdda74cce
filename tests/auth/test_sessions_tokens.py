"""Sessions and API tokens on a real SQLite file: hashed at rest, expiry, revocation, disabled users."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from camsvc.auth import sessions, tokens
from camsvc.auth.models import ApiToken, User, UserSession
from camsvc.auth.roles import Role
from camsvc.config import Settings
from camsvc.db import session_scope
from tests.auth.conftest import at

IDLE, ABSOLUTE = 1800, 12 * 3600


def _db_bytes(settings: Settings) -> bytes:
    path = settings.data_dir / "camsvc.db"
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _open(engine: Engine, user: User, now_s: float = 0) -> str:
    with session_scope(engine) as db:
        return sessions.create_session(db, user, "10.0.0.5", "Firefox", at(now_s), IDLE, ABSOLUTE)


def _check(engine: Engine, raw: str, now_s: float) -> tuple[User, UserSession] | None:
    with session_scope(engine) as db:
        return sessions.validate(db, raw, at(now_s))


# ---------------------------------------------------------------------------------------------- sessions
def test_session_stored_hashed_and_valid(
    engine: Engine, make_user: Callable[..., User], settings: Settings
) -> None:
    user = make_user("lan")
    raw = _open(engine, user)
    got = _check(engine, raw, 10)
    assert got is not None and got[0].username == "lan" and got[1].csrf_token
    with session_scope(engine) as db:
        row = db.exec(select(UserSession)).one()
    assert row.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert row.client_addr == "10.0.0.5" and row.user_agent == "Firefox"
    assert raw.encode() not in _db_bytes(settings)


@pytest.mark.parametrize("raw", [None, "", "nope", "x" * 500])
def test_unknown_cookie(engine: Engine, raw: str | None) -> None:
    with session_scope(engine) as db:
        assert sessions.validate(db, raw, at(0)) is None


def test_idle_expiry_slides(engine: Engine, make_user: Callable[..., User]) -> None:
    raw = _open(engine, make_user())
    t = 0.0
    for _ in range(5):  # a request every 20 minutes keeps it alive past the 30-minute idle limit
        t += 1200
        assert _check(engine, raw, t) is not None
    assert _check(engine, raw, t + IDLE + 1) is None


def test_last_seen_written_at_most_every_minute(engine: Engine, make_user: Callable[..., User]) -> None:
    raw = _open(engine, make_user())
    got = _check(engine, raw, 30)
    assert got is not None and got[1].last_seen_at == at(0)  # not written: under a minute
    got = _check(engine, raw, 61)
    assert got is not None and got[1].last_seen_at == at(61)


def test_absolute_expiry(engine: Engine, make_user: Callable[..., User]) -> None:
    raw = _open(engine, make_user())
    t = 0.0
    while t + 1200 < ABSOLUTE:
        t += 1200
        assert _check(engine, raw, t) is not None
    assert _check(engine, raw, ABSOLUTE) is None


def test_revoke_and_revoke_all(engine: Engine, make_user: Callable[..., User]) -> None:
    user = make_user()
    a, b, c = _open(engine, user), _open(engine, user), _open(engine, user)
    with session_scope(engine) as db:
        assert sessions.revoke(db, a, at(5))
        assert not sessions.revoke(db, a, at(6))
    assert _check(engine, a, 7) is None and _check(engine, b, 7) is not None
    with session_scope(engine) as db:
        assert len(sessions.list_sessions(db, user.id or 0, at(8))) == 2
        assert sessions.revoke_all_for_user(db, user.id or 0, at(8)) == 2
    assert _check(engine, b, 9) is None and _check(engine, c, 9) is None


def test_disabled_user_is_signed_out_at_once(engine: Engine, make_user: Callable[..., User]) -> None:
    user = make_user()
    raw = _open(engine, user)
    with session_scope(engine) as db:
        u = db.get(User, user.id)
        assert u is not None
        u.active = False
        db.add(u)
    assert _check(engine, raw, 1) is None
    with session_scope(engine) as db, pytest.raises(ValueError, match="disabled"):
        sessions.create_session(db, u, "", "", at(2), IDLE, ABSOLUTE)


def test_purge_old_sessions(engine: Engine, make_user: Callable[..., User]) -> None:
    user = make_user()
    _open(engine, user)
    live = _open(engine, user, now_s=ABSOLUTE)
    with session_scope(engine) as db:
        assert sessions.purge(db, at(ABSOLUTE + 7 * 86400 + 60), keep_s=7 * 86400) == 1
    with session_scope(engine) as db:
        assert len(db.exec(select(UserSession)).all()) == 1
    assert live


# ---------------------------------------------------------------------------------------------- tokens
def test_token_shown_once_stored_hashed(
    engine: Engine, make_user: Callable[..., User], settings: Settings
) -> None:
    user = make_user("bot", role="admin")
    with session_scope(engine) as db:
        raw, row = tokens.create_token(db, user, "nagios", now=at(0))
    assert raw.startswith("cs_") and len(raw) >= 40
    assert row.prefix == raw[:11] and row.role is None
    with session_scope(engine) as db:
        got = tokens.authenticate(db, raw, at(1))
    assert got is not None and got[0].username == "bot" and got[1] is Role.ADMIN
    with session_scope(engine) as db:
        stored = db.exec(select(ApiToken)).one()
        assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
        assert tokens.find(db, row.prefix) is not None and tokens.find(db, str(row.id)) is not None
    assert raw.encode() not in _db_bytes(settings)


@pytest.mark.parametrize("raw", [None, "", "cs_short", "xx_" + "a" * 43, "cs_" + "a" * 43])
def test_unknown_token(engine: Engine, raw: str | None) -> None:
    with session_scope(engine) as db:
        assert tokens.authenticate(db, raw, at(0)) is None


@pytest.mark.parametrize(
    "owner,asked,ok",
    [
        ("technician", "viewer", True),
        ("technician", "technician", True),
        ("technician", "officer", False),
        ("technician", "admin", False),
        ("admin", "officer", True),
        ("viewer", None, True),
    ],
)
def test_token_role_never_above_owner(engine: Engine, make_user: Callable[..., User], owner: str,
                                      asked: str | None, ok: bool) -> None:  # fmt: skip
    user = make_user(role=owner)
    with session_scope(engine) as db:
        if ok:
            raw, _ = tokens.create_token(db, user, "script", asked)
            got = tokens.authenticate(db, raw, at(0))
            assert got is not None and got[1] == Role(asked or owner)
        else:
            with pytest.raises(tokens.TokenError, match="cannot have the role"):
                tokens.create_token(db, user, "script", asked)


def test_token_follows_owner_demotion_and_disabling(engine: Engine, make_user: Callable[..., User]) -> None:
    user = make_user(role="admin")
    with session_scope(engine) as db:
        raw, _ = tokens.create_token(db, user, "ci", "officer")
    with session_scope(engine) as db:
        u = db.get(User, user.id)
        assert u is not None
        u.role = "viewer"
        db.add(u)
    with session_scope(engine) as db:
        got = tokens.authenticate(db, raw, at(1))
        assert got is not None and got[1] is Role.VIEWER
        got[0].active = False
        db.add(got[0])
    with session_scope(engine) as db:
        assert tokens.authenticate(db, raw, at(2)) is None


def test_token_revoke_works_at_once(engine: Engine, make_user: Callable[..., User]) -> None:
    user = make_user()
    with session_scope(engine) as db:
        raw, row = tokens.create_token(db, user, "a")
        raw2, _ = tokens.create_token(db, user, "b")
    with session_scope(engine) as db:
        assert tokens.revoke(db, row.id or 0, at(1))
        assert not tokens.revoke(db, row.id or 0, at(2))
    with session_scope(engine) as db:
        assert tokens.authenticate(db, raw, at(3)) is None
        assert tokens.authenticate(db, raw2, at(3)) is not None
        assert [t.name for t in tokens.list_tokens(db, user.id)] == ["b"]
        assert tokens.revoke_all_for_user(db, user.id or 0, at(4)) == 1
        assert tokens.authenticate(db, raw2, at(5)) is None


def test_token_expiry_and_last_used_rate_limit(engine: Engine, make_user: Callable[..., User]) -> None:
    user = make_user()
    with session_scope(engine) as db:
        raw, row = tokens.create_token(db, user, "x", expires_at=at(3600))
    for t, seen in [(10, 10), (40, 10), (80, 80)]:
        with session_scope(engine) as db:
            assert tokens.authenticate(db, raw, at(t)) is not None
            tok = db.get(ApiToken, row.id)
            assert tok is not None and tok.last_used_at == at(seen)
    with session_scope(engine) as db:
        assert tokens.authenticate(db, raw, at(3600)) is None


def test_token_needs_a_name(engine: Engine, make_user: Callable[..., User]) -> None:
    user = make_user()
    with session_scope(engine) as db, pytest.raises(tokens.TokenError, match="name"):
        tokens.create_token(db, user, "  ")


def test_deleting_a_user_drops_their_sessions_and_tokens(engine: Engine, make_user: Callable[..., User],
                                                          settings: Settings) -> None:  # fmt: skip
    user = make_user()
    raw = _open(engine, user)
    with session_scope(engine) as db:
        tokens.create_token(db, user, "a")
    con = sqlite3.connect(settings.data_dir / "camsvc.db")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("DELETE FROM appuser")
    con.commit()
    con.close()
    assert _check(engine, raw, 1) is None
    with session_scope(engine) as db:
        assert db.exec(select(ApiToken)).all() == []
