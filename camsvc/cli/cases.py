"""``camsvc cases``: create a case, add clips, export its signed package, list, close, release."""

from __future__ import annotations

import click


@click.group()
def cases() -> None:
    """Cases and their evidence packages."""
