"""The command line, the front door. ``camsvc`` alone runs ``serve``.

Subcommands live beside the code they drive and are imported lazily, so ``camsvc --help`` stays fast and
one broken subsystem cannot stop the others from starting.
"""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of a click command or group
_COMMANDS: dict[str, str] = {
    "serve": "camsvc.runtime.serve:serve",
    "demo": "camsvc.runtime.serve:demo",
    "simulate": "camsvc.simulate.cli:simulate",
    "probe": "camsvc.probing.cli:probe",
    "cameras": "camsvc.cameras_cli:cameras",
    "contacts": "camsvc.alerts.cli:contacts",
    "alerts": "camsvc.alerts.cli:alerts",
    "bench": "camsvc.bench:bench",
    "check-config": "camsvc.runtime.serve:check_config",
    "db": "camsvc.db_cli:db",
}


def load_command(name: str, target: str) -> click.Command:
    """Import ``module:attr``; a subsystem that fails to import is listed as unavailable, not fatal."""
    module, attr = target.split(":")
    try:
        cmd: click.Command = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        reason = f"{type(exc).__name__}: {exc}"

        @click.command(
            name=name, help=f"(unavailable: {reason})", context_settings={"ignore_unknown_options": True}
        )
        @click.argument("args", nargs=-1, type=click.UNPROCESSED)
        def unavailable(args: tuple[str, ...]) -> None:
            raise click.ClickException(f"'{name}' is unavailable: {reason}")

        return unavailable
    return cmd


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        return load_command(cmd_name, target)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0].startswith("-") and args[0] not in ("--help", "-h", "--version")):
            args = ["serve", *args]
        return super().parse_args(ctx, args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="camsvc")
def cli() -> None:
    """camsvc: camera-network monitoring for commune security."""


def main() -> None:
    cli(prog_name="camsvc")


if __name__ == "__main__":  # pragma: no cover
    main()
