"""`camsvc users` and `camsvc tokens` from the command line: accounts, passwords from stdin, tokens shown
once, disable revoking at once, and every change in the audit trail as cli:<os user>."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine
from sqlmodel import select

from camsvc.auth import audit, sessions, tokens
from camsvc.auth.models import ApiToken, User
from camsvc.auth.passwords import verify_password
from camsvc.cli import cli
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.models import utcnow
from tests.utils.accounts import authed_client, bearer

PASSWORD = "correct horse battery"

Run = Callable[..., Result]


@pytest.fixture
def run(settings: Settings, engine: Engine) -> Run:
    runner = CliRunner()
    env = {"CAMSVC_DATA_DIR": str(settings.data_dir)}

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, list(args), env=env, input=input)

    return invoke


def _user(engine: Engine, name: str) -> User:
    with session_scope(engine) as db:
        user = db.exec(select(User).where(User.username == name)).one()
        db.expunge(user)
        return user


def test_add_list_and_password_policy(run: Run, engine: Engine) -> None:
    r = run("users", "add", "lan", "--role", "technician", "--password-stdin", input="short\n")
    assert r.exit_code != 0 and "password refused" in r.output and "at least 10" in r.output
    r = run("users", "add", "lan", "--role", "technician", "--password-stdin", input="lan\n")
    assert r.exit_code != 0
    r = run(
        "users", "add", "lan", "--role", "Technician", "--hamlet", "Bắc Thành", "--hamlet", " bắc thành ",
        "--display-name", "Lê Lan", "--password-stdin", input=PASSWORD + "\n",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    user = _user(engine, "lan")
    assert user.role == "technician" and user.hamlets == ["Bắc Thành"] and user.display_name == "Lê Lan"
    assert verify_password(PASSWORD, user.password_hash)
    assert run("users", "add", "lan", "--role", "viewer", "--password-stdin", input=PASSWORD).exit_code != 0
    assert (
        run("users", "add", "bad name", "--role", "viewer", "--password-stdin", input=PASSWORD).exit_code != 0
    )
    assert run("users", "add", "x", "--role", "boss", "--password-stdin", input=PASSWORD).exit_code != 0
    r = run("users", "list")
    assert r.exit_code == 0 and "lan" in r.output and "technician" in r.output
    assert "argon2" not in r.output and user.password_hash not in r.output


def test_prompt_asks_twice(run: Run, engine: Engine) -> None:
    r = run("users", "add", "hoa", "--role", "viewer", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert r.exit_code == 0, r.output
    assert verify_password(PASSWORD, _user(engine, "hoa").password_hash)


def test_tokens_shown_once_and_disable_stops_them(run: Run, settings: Settings, engine: Engine) -> None:
    assert run("users", "add", "lan", "--role", "officer", "--password-stdin", input=PASSWORD).exit_code == 0
    r = run("tokens", "create", "lan", "--name", "nagios", "--role", "admin")
    assert r.exit_code != 0 and "cannot have the role" in r.output  # never above the owner
    r = run("tokens", "create", "lan", "--name", "nagios", "--role", "viewer")
    assert r.exit_code == 0, r.output
    raw = r.stdout.strip()
    assert raw.startswith("cs_") and "\n" not in raw  # only the token on stdout
    assert "shown this once" in r.stderr
    listing = run("tokens", "list", "lan")
    assert raw[:11] in listing.output and raw not in listing.output and "nagios" in listing.output
    with session_scope(engine) as db:
        assert tokens.authenticate(db, raw, utcnow()) is not None
        user = db.exec(select(User).where(User.username == "lan")).one()
        assert user.id is not None
        cookie = sessions.create_session(db, user, "10.0.0.1", "ua", utcnow(), 3600, 7200)
    with authed_client(settings) as api:
        assert api.get("/api/cameras", headers=bearer(raw)).status_code == 200
        r = run("users", "disable", "lan")
        assert r.exit_code == 0 and "1 session(s) ended, 1 token(s) revoked" in r.output
        assert api.get("/api/audit", headers=bearer(raw)).status_code == 401
    with session_scope(engine) as db:
        assert tokens.authenticate(db, raw, utcnow()) is None
        assert sessions.validate(db, cookie, utcnow()) is None
    assert run("users", "enable", "lan").exit_code == 0
    with session_scope(engine) as db:
        assert tokens.authenticate(db, raw, utcnow()) is None  # revoked tokens stay revoked
    with session_scope(engine) as db:
        actions = [(e.username.startswith("cli:"), e.action) for e in audit.list_events(db)]
    assert actions == [
        (True, "user.enable"),
        (True, "user.disable"),
        (True, "token.create"),
        (True, "user.create"),
    ]
    with session_scope(engine) as db:
        assert audit.verify(db) == []


def test_revoke_by_prefix_or_id(run: Run, engine: Engine) -> None:
    assert run("users", "add", "lan", "--role", "admin", "--password-stdin", input=PASSWORD).exit_code == 0
    one = run("tokens", "create", "lan", "--name", "a").stdout.strip()
    two = run("tokens", "create", "lan", "--name", "b").stdout.strip()
    r = run("tokens", "revoke", one[:11])
    assert r.exit_code == 0, r.output
    with session_scope(engine) as db:
        assert tokens.authenticate(db, one, utcnow()) is None
        assert tokens.authenticate(db, two, utcnow()) is not None
        tid = db.exec(select(ApiToken.id).where(ApiToken.name == "b")).one()
    assert run("tokens", "revoke", str(tid)).exit_code == 0
    assert run("tokens", "revoke", str(tid)).exit_code != 0  # already revoked: said so
    assert run("tokens", "revoke", "cs_nothere").exit_code != 0
    with session_scope(engine) as db:
        assert tokens.authenticate(db, two, utcnow()) is None
        assert [e.action for e in audit.list_events(db, action="token.*")].count("token.revoke") == 2


def test_passwd_ends_sessions(run: Run, engine: Engine) -> None:
    assert run("users", "add", "lan", "--role", "viewer", "--password-stdin", input=PASSWORD).exit_code == 0
    with session_scope(engine) as db:
        user = db.exec(select(User).where(User.username == "lan")).one()
        cookie = sessions.create_session(db, user, "10.0.0.1", "ua", utcnow(), 3600, 7200)
    assert run("users", "passwd", "lan", "--password-stdin", input="tiny").exit_code != 0
    r = run("users", "passwd", "lan", "--password-stdin", input="another long passphrase\n")
    assert r.exit_code == 0 and "1 session(s) ended" in r.output
    assert verify_password("another long passphrase", _user(engine, "lan").password_hash)
    with session_scope(engine) as db:
        assert sessions.validate(db, cookie, utcnow()) is None
    assert run("users", "passwd", "nobody", "--password-stdin", input=PASSWORD).exit_code != 0
