"""The command line, the front door: one module per command group. ``camsvc`` alone runs ``serve``.

Each group is imported only when it runs, so ``camsvc --help`` stays fast. Every command opens the
settings and the database the same way: camsvc/cli/common.py.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> "module:attribute" of a click command or group
COMMANDS: dict[str, str] = {
    "serve": "camsvc.cli.serve:serve",
    "demo": "camsvc.cli.serve:demo",
    "simulate": "camsvc.cli.simulate:simulate",
    "probe": "camsvc.cli.probe:probe",
    "cameras": "camsvc.cli.cameras:cameras",
    "contacts": "camsvc.cli.alerts:contacts",
    "alerts": "camsvc.cli.alerts:alerts",
    "bench": "camsvc.cli.bench:bench",
    "check-config": "camsvc.cli.config:check_config",
    "db": "camsvc.cli.db:db",
    "users": "camsvc.cli.users:users",
    "tokens": "camsvc.cli.tokens:tokens",
    "audit": "camsvc.cli.audit:audit",
    "secrets": "camsvc.cli.secrets:secrets",
    "recording": "camsvc.cli.recording:recording",
    "cases": "camsvc.cli.cases:cases",
    "verify": "camsvc.cli.verify:verify",
    "report": "camsvc.cli.report:report",
    "nodes": "camsvc.cli.nodes:nodes",
}


class LazyGroup(click.Group):
    """A group whose commands are ``module:attribute`` strings, imported when one is asked for."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.lazy)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        cmd: click.Command = getattr(importlib.import_module(module), attr)
        return cmd


class RootGroup(LazyGroup):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0].startswith("-") and args[0] not in ("--help", "-h", "--version")):
            args = ["serve", *args]
        return super().parse_args(ctx, args)


@click.group(cls=RootGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="camsvc")
def cli() -> None:
    """camsvc: camera-network monitoring for commune security."""


def main() -> None:
    cli(prog_name="camsvc")
