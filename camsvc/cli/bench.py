"""``camsvc bench ...``: benchmarks that print numbers (a table) and write JSON. Never timed unit tests."""

from __future__ import annotations

import click

from camsvc.cli import LazyGroup

_BENCHES = {
    "sweep": "camsvc.bench.sweep:sweep",
    "vqd": "camsvc.bench.vqd:vqd",
    "fleet": "camsvc.bench.fleet:fleet",
    "alerts": "camsvc.bench.alerts:alerts",
    "simulator": "camsvc.cli.simulate:bench_cmd",
    "web": "camsvc.bench.web:web",
    "record": "camsvc.bench.record:record",
    "growth": "camsvc.bench.growth:growth",
    "scale": "camsvc.bench.scale:scale",
}


@click.group(cls=LazyGroup, lazy=_BENCHES)
def bench() -> None:
    """Benchmarks against the real simulator; print a table and write JSON under bench-results/."""
