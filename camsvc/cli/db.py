"""``camsvc db``: schema upgrades and new migrations."""

from __future__ import annotations

import click

from camsvc.cli import common
from camsvc.db import alembic_config


@click.group()
def db() -> None:
    """Database schema (Alembic)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Upgrade the database to the newest schema (the service also does this at start)."""
    with common.database():
        click.echo("schema up to date")


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the migration changes")
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models (developers)."""
    from alembic import command

    command.revision(alembic_config(common.settings().db_url), message=message, autogenerate=True)
