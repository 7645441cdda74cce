"""``camsvc audit``: check the hash chain of the audit trail and read it.

``verify`` exits 0 with "N rows, chain intact", else 1 with one line per bad row (its id and what is
wrong). Keep the head (``camsvc audit head``) somewhere else from time to time, and pass it to
``verify --head``: it is what catches someone with full database rights who rewrote the chain.
"""

from __future__ import annotations

import datetime as dt
import sys

import click
import sqlalchemy as sa

from camsvc.auth import audit as trail
from camsvc.auth.models import AuditEvent
from camsvc.cli import common


@click.group()
def audit() -> None:
    """The append-only, hash-chained audit trail."""


def _head(value: str | None) -> tuple[int, str] | None:
    if not value:
        return None
    rid, _, digest = value.partition(":")
    if not rid.isdigit() or len(digest) != 64:
        raise click.BadParameter("ID:HASH as printed by `camsvc audit head`", param_hint="--head")
    return int(rid), digest


@audit.command("verify")
@click.option("--head", "head", metavar="ID:HASH", help="The head recorded earlier (camsvc audit head)")
def verify(head: str | None) -> None:
    """Check every row's hash and link; name each changed, removed or reordered row."""
    expected = _head(head)
    with common.session() as db:
        problems = trail.verify(db, expected_head=expected)
        n = db.execute(sa.select(sa.func.count()).select_from(AuditEvent.__table__)).scalar_one()  # type: ignore[attr-defined]
    if not problems:
        click.echo(f"{n} rows, chain intact")
        return
    for p in problems:
        click.echo(str(p), err=True)
    click.echo(f"{n} rows, {len(problems)} problem(s): the audit trail was tampered with", err=True)
    sys.exit(1)


@audit.command("head")
def head_cmd() -> None:
    """Print ID:HASH of the newest row: keep it outside the database to detect a rewritten chain."""
    with common.session() as db:
        h = trail.head(db)
    click.echo(f"{h[0]}:{h[1]}" if h else "empty")


def _time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        at = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


@audit.command("list")
@click.option("--since", help="ISO 8601 (UTC if no offset)")
@click.option("--until", help="ISO 8601, exclusive")
@click.option("--user", help="Username (cli:NAME for command-line changes)")
@click.option("--action", help="Exact, or a prefix ending in .* (camera.*)")
@click.option("--target", help="e.g. camera:cam-017")
@click.option("--limit", type=int, default=100, show_default=True)
def list_cmd(
    since: str | None, until: str | None, user: str | None, action: str | None, target: str | None, limit: int
) -> None:
    """Newest first."""
    with common.session() as db:
        rows = trail.list_events(
            db,
            since=_time(since),
            until=_time(until),
            username=user,
            action=action,
            target=target,
            limit=limit,
        )
        for r in rows:
            at = r.at.strftime("%Y-%m-%d %H:%M:%S")
            click.echo(
                f"{r.id:6} {at} {r.username:20} {r.client_addr:15} {r.action:20} {r.target:24} {r.details}"
            )
    click.echo(f"{len(rows)} row(s)", err=True)
