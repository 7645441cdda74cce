"""``camsvc check-config``: validate the settings the way every command loads them."""

from __future__ import annotations

import sys

import click

from camsvc.cli import common
from camsvc.config import config_file


@click.command("check-config")
def check_config() -> None:
    """Validate the configuration (environment + YAML file) and print every error with its key path."""
    try:
        settings = common.settings()
    except click.ClickException as exc:
        click.echo(exc.message, err=True)
        sys.exit(1)
    click.echo(
        f"configuration OK ({config_file() or 'defaults + environment'}); database {settings.db_url.split('://')[0]}"
    )
