"""``camsvc verify PACKAGE.zip [--key PUBLIC_KEY]``: check an evidence package's hashes and signature."""

from __future__ import annotations

import click


@click.command()
@click.argument("package", type=click.Path(exists=True, dir_okay=False))
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False), help="Trusted public key")
def verify(package: str, key_file: str | None) -> None:
    """Check every hash and the signature of an evidence package (exit 0 when all hold)."""
    raise click.ClickException("not built yet")
