"""``camsvc recording``: recorder status, the segment index and storage."""

from __future__ import annotations

import click


@click.group()
def recording() -> None:
    """Recorders, segments and storage."""
