"""``camsvc cameras``: import, export and list the registry from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from camsvc.cameras import ImportFailed, export_cameras, import_cameras, list_cameras
from camsvc.cli import common


@click.group()
def cameras() -> None:
    """The camera registry."""


@cameras.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "yaml"]), help="Default: from the file name")
def import_cmd(path: Path, fmt: str | None) -> None:
    """Import (create or update by id) cameras from a CSV or YAML file. All-or-nothing."""
    fmt = fmt or path.suffix.lstrip(".").lower()
    try:
        with common.session() as s:
            report = import_cameras(s, path.read_bytes(), fmt)
    except ImportFailed as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"{path}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged")


@cameras.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "yaml"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File (default stdout)")
@click.option("--include-secrets", is_flag=True, help="Also write usernames and passwords (handle with care)")
def export_cmd(fmt: str, output: Path | None, include_secrets: bool) -> None:
    """Export the registry; credentials only with --include-secrets."""
    with common.session() as s:
        text = export_cameras(s, fmt, include_secrets=include_secrets)
    if output:
        output.write_text(text, encoding="utf-8")
        if include_secrets:
            output.chmod(0o600)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@cameras.command("list")
@click.option("--hamlet")
@click.option("--state")
@click.option("--limit", type=int, default=1000, show_default=True)
def list_cmd(hamlet: str | None, state: str | None, limit: int) -> None:
    """List cameras with their state."""
    from camsvc.models import HealthState

    with common.session() as s:
        total, items = list_cameras(
            s, hamlet=hamlet, state=HealthState(state) if state else None, limit=limit
        )
    for c in items:
        click.echo(f"{c.id:12} {c.state.value:12} {c.kind.value:9} {c.hamlet:20} {c.name}")
    click.echo(f"{total} camera(s)", err=True)
