"""``camsvc bench ...``: benchmarks that print numbers (a table) and write JSON. Never timed unit tests."""

from __future__ import annotations

import click

_BENCHES = {
    "sweep": "camsvc.bench.sweep:sweep",
    "vqd": "camsvc.bench.vqd:vqd",
    "fleet": "camsvc.bench.fleet:fleet",
    "alerts": "camsvc.bench.alerts:alerts",
    "simulator": "camsvc.simulate.cli:bench_cmd",
    "web": "camsvc.bench.web:web",
}


class _LazyBench(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_BENCHES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _BENCHES.get(cmd_name)
        if target is None:
            return None
        from camsvc.cli import load_command

        return load_command(cmd_name, target)


@click.group(cls=_LazyBench)
def bench() -> None:
    """Benchmarks against the real simulator; print a table and write JSON under bench-results/."""
