"""``camsvc tokens``: API tokens for scripts and integrations.

``create`` prints the token once, alone on stdout (so ``TOKEN=$(camsvc tokens create ...)`` works) with a
note on stderr; only its SHA-256 is kept, lists show its prefix. Every change is in the audit trail.
"""

from __future__ import annotations

import datetime as dt

import click
from sqlmodel import col, select

from camsvc.auth import tokens as tok
from camsvc.auth.models import ApiToken, User
from camsvc.cli import common
from camsvc.cli.users import ROLE_NAMES, get_user, log_change
from camsvc.models import utcnow


@click.group()
def tokens() -> None:
    """API tokens (Authorization: Bearer cs_...)."""


@tokens.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What uses it (e.g. 'nagios', 'backup script')")
@click.option(
    "--role",
    type=click.Choice(ROLE_NAMES, case_sensitive=False),
    help="At most the owner's role (default: the owner's, following it when it changes)",
)
@click.option("--expires-days", type=float, help="Stop working after this many days (default: never)")
def create(username: str, name: str, role: str | None, expires_days: float | None) -> None:
    """Create a token and print it once."""
    now = utcnow()
    expires = now + dt.timedelta(days=expires_days) if expires_days else None
    with common.session() as db:
        user = get_user(db, username)
        try:
            raw, row = tok.create_token(db, user, name, role, now=now, expires_at=expires)
        except (tok.TokenError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        log_change(
            db,
            "token.create",
            f"user:{username}",
            {"name": row.name, "role": row.role or f"owner ({user.role})", "prefix": row.prefix},
        )
    click.echo(raw)
    click.echo(
        f"token {row.prefix}... for {username} ({row.role or user.role}): shown this once, store it now",
        err=True,
    )


@tokens.command("list")
@click.argument("username", required=False)
@click.option("--all", "include_revoked", is_flag=True, help="Also revoked tokens")
def list_cmd(username: str | None, include_revoked: bool) -> None:
    """Tokens (prefix, name, role, last use): never the token itself."""
    with common.session() as db:
        user_id = get_user(db, username).id if username else None
        rows = tok.list_tokens(db, user_id, include_revoked=include_revoked)
        owners = {u.id: u for u in db.exec(select(User).where(col(User.id).in_({r.user_id for r in rows})))}
        for r in rows:
            owner = owners.get(r.user_id)
            role = r.role or (f"({owner.role})" if owner else "?")
            used = r.last_used_at.strftime("%Y-%m-%d %H:%M") if r.last_used_at else "never"
            state = (
                "revoked"
                if r.revoked_at
                else ("expired" if r.expires_at and r.expires_at <= utcnow() else "")
            )
            click.echo(
                f"{r.id:5} {r.prefix:12} {owner.username if owner else '?':20} {r.name:24} {role:12} "
                f"last used {used:16} {state}"
            )
    click.echo(f"{len(rows)} token(s)", err=True)


@tokens.command("revoke")
@click.argument("ref", metavar="ID_OR_PREFIX")
def revoke(ref: str) -> None:
    """Revoke a token (by id or shown prefix): it stops working at once."""
    now = utcnow()
    with common.session() as db:
        row: ApiToken | None = tok.find(db, ref)
        if row is None or row.id is None:
            raise click.ClickException(f"no token {ref!r} (or the prefix is ambiguous: use the id)")
        if not tok.revoke(db, row.id, now):
            raise click.ClickException(f"token {row.prefix} is already revoked")
        log_change(db, "token.revoke", f"token:{row.id}", {"prefix": row.prefix, "name": row.name})
    click.echo(f"token {row.prefix} ({row.name}) revoked")
