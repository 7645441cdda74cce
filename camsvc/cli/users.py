"""``camsvc users``: accounts from the command line (the first admin of a fresh database is made here).

Every change is written to the audit trail as ``cli:<operating-system user>``, in the same transaction as
the change. Passwords come from a hidden prompt (asked twice) or, for scripts, one line on stdin
(``--password-stdin``); never from an option, which would sit in the shell history and the process list.
"""

from __future__ import annotations

import getpass
import re
import sys
from typing import Any

import click
from sqlmodel import Session, col, select

from camsvc.auth import audit, sessions, tokens
from camsvc.auth.models import User
from camsvc.auth.passwords import PasswordPolicyError, check_password, hash_password
from camsvc.auth.roles import ROLES, normalize_scope, parse_role
from camsvc.cli import common
from camsvc.models import utcnow

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
ROLE_NAMES = [r.value for r in ROLES]


def actor() -> str:
    """Who made a change from the command line, for the audit trail."""
    try:
        who = getpass.getuser()
    except Exception:  # no user name in the environment (some containers)
        who = "?"
    return f"cli:{who}"


def log_change(db: Session, action: str, target: str, details: dict[str, Any] | None = None) -> None:
    audit.append(db, utcnow(), actor(), "local", action, target, details)


def get_user(db: Session, username: str) -> User:
    user = db.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise click.ClickException(f"no user {username!r} (see: camsvc users list)")
    return user


def read_password(username: str, from_stdin: bool) -> str:
    """A new password, checked against the policy (the error says what is wrong)."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
    else:
        password = click.prompt(
            f"password for {username}", hide_input=True, confirmation_prompt=True, prompt_suffix=": "
        )
    try:
        check_password(password, username)
    except PasswordPolicyError as exc:
        raise click.ClickException(f"password refused: {exc}") from None
    return password


def active_admins(db: Session) -> int:
    return len(db.exec(select(User.id).where(User.role == "admin", col(User.active).is_(True))).all())


@click.group()
def users() -> None:
    """Accounts: who may sign in, with which role and hamlet scope."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLE_NAMES, case_sensitive=False))
@click.option("--hamlet", "hamlets", multiple=True, help="Limit to this hamlet (repeat; none: every hamlet)")
@click.option("--display-name", default="", help="Name shown to others (acknowledgements)")
@click.option("--password-stdin", is_flag=True, help="Read the password as one line from stdin")
def add(username: str, role: str, hamlets: tuple[str, ...], display_name: str, password_stdin: bool) -> None:
    """Create an account."""
    if not USERNAME_RE.match(username):
        raise click.ClickException(
            "a username is 1-100 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    with common.session() as db:
        if db.exec(select(User.id).where(User.username == username)).first() is not None:
            raise click.ClickException(f"user {username!r} already exists")
    password = read_password(username, password_stdin)
    scope = normalize_scope(hamlets)
    now = utcnow()
    with common.session() as db:
        user = User(
            username=username,
            display_name=display_name.strip()[:200],
            role=parse_role(role).value,
            hamlets=scope,
            password_hash=hash_password(password),
            created_at=now,
            updated_at=now,
        )
        db.add(user)
        db.flush()
        log_change(db, "user.create", f"user:{username}", {"role": user.role, "hamlets": scope})
    where = ", ".join(scope) if scope else "every hamlet"
    click.echo(f"user {username} created: {user.role}, {where}")


@users.command("list")
def list_cmd() -> None:
    """Every account (no password hashes)."""
    with common.session() as db:
        rows = db.exec(select(User).order_by(col(User.username))).all()
        for u in rows:
            state = "active" if u.active else "disabled"
            last = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never"
            scope = ",".join(u.hamlets or []) or "*"
            click.echo(
                f"{u.username:20} {u.role:10} {state:8} last sign-in {last:16} {scope}  {u.display_name}"
            )
    click.echo(f"{len(rows)} user(s)", err=True)


def _set_active(username: str, active: bool) -> tuple[int, int]:
    now = utcnow()
    with common.session() as db:
        user = get_user(db, username)
        assert user.id is not None
        if not active and user.role == "admin" and user.active and active_admins(db) == 1:
            click.echo("note: this was the last active admin", err=True)
        user.active = active
        user.updated_at = now
        db.add(user)
        ended = revoked = 0
        if not active:
            ended = sessions.revoke_all_for_user(db, user.id, now)
            revoked = tokens.revoke_all_for_user(db, user.id, now)
        log_change(
            db,
            "user.enable" if active else "user.disable",
            f"user:{username}",
            {"signed_out": ended, "revoked": revoked} if not active else {},
        )
    return ended, revoked


@users.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Stop an account at once: its sessions end and its tokens are revoked."""
    ended, revoked = _set_active(username, False)
    click.echo(f"user {username} disabled: {ended} session(s) ended, {revoked} token(s) revoked")


@users.command("enable")
@click.argument("username")
def enable(username: str) -> None:
    """Let a disabled account sign in again (its old tokens stay revoked)."""
    _set_active(username, True)
    click.echo(f"user {username} enabled")


@users.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password as one line from stdin")
def passwd(username: str, password_stdin: bool) -> None:
    """Set a new password; every session of the user ends (tokens stay)."""
    with common.session() as db:
        get_user(db, username)
    password = read_password(username, password_stdin)
    now = utcnow()
    with common.session() as db:
        user = get_user(db, username)
        assert user.id is not None
        user.password_hash = hash_password(password)
        user.updated_at = now
        db.add(user)
        ended = sessions.revoke_all_for_user(db, user.id, now)
        log_change(db, "user.password", f"user:{username}", {"signed_out": ended})
    click.echo(f"password of {username} changed: {ended} session(s) ended")
