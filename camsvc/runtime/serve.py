"""``camsvc serve`` (the default command), ``camsvc demo`` and ``camsvc check-config``."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import click
from pydantic import ValidationError

from camsvc.config import Settings, config_file, load_settings
from camsvc.logs import add_secrets, setup_logging

log = logging.getLogger(__name__)


def _settings_or_exit(**overrides: object) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise click.ClickException(format_errors(exc)) from None


def format_errors(exc: ValidationError) -> str:
    src = config_file()
    lines = [f"invalid configuration ({src or 'environment'}):"]
    for e in exc.errors():
        key = ".".join(str(p) for p in e["loc"])
        lines.append(f"  {key}: {e['msg']}")
    return "\n".join(lines)


def run_server(settings: Settings, workers: int = 1) -> None:
    import uvicorn

    from camsvc.app import create_app
    from camsvc.cameras import all_secrets
    from camsvc.db import make_engine, upgrade

    setup_logging(settings.log_level)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    from sqlmodel import Session

    with Session(engine) as s:
        add_secrets(all_secrets(s))
    engine.dispose()
    app = create_app(settings)
    click.echo(f"camsvc dashboard: {settings.base_url}/   (API docs: {settings.base_url}/docs)")
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, timeout_graceful_shutdown=5)


@click.command()
@click.option("--host", help="Bind address (default 127.0.0.1; CAMSVC_HOST)")
@click.option("--port", type=int, help="HTTP port (default 8080; CAMSVC_PORT)")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Database and files (CAMSVC_DATA_DIR)")
def serve(host: str | None, port: int | None, data_dir: Path | None) -> None:
    """Run the API, the dashboard and the scheduled checks in one process.

    For several API workers run more `camsvc serve` processes (or uvicorn --workers with
    `camsvc.asgi:app`): only the one holding the leader lock runs the checks.
    """
    settings = _settings_or_exit(host=host, port=port, data_dir=data_dir)
    run_server(settings)


@click.command()
@click.option("--roadside", type=int, default=40, show_default=True, help="Simulated roadside cameras")
@click.option("--household", type=int, default=200, show_default=True, help="Simulated household cameras")
@click.option("--port", type=int, help="HTTP port (default 8080)")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where the demo keeps its database")
def demo(roadside: int, household: int, port: int | None, data_dir: Path | None) -> None:
    """The service with a simulated Dien Bich fleet: starts the simulator, registers it, serves."""
    from camsvc.cameras import import_cameras
    from camsvc.db import make_engine, session_scope, upgrade
    from camsvc.simulate.harness import Simulator

    settings = _settings_or_exit(port=port, data_dir=data_dir)
    setup_logging(settings.log_level)
    click.echo(f"starting the camera simulator ({roadside} roadside + {household} household)...")
    sim = Simulator(roadside=roadside, household=household, out_dir=settings.data_dir / "simulator")
    sim.start()

    def _term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    try:
        engine = make_engine(settings.db_url)
        upgrade(engine)
        with session_scope(engine) as s:
            report = import_cameras(s, sim.fleet_csv.read_bytes(), "csv")
        engine.dispose()
        click.echo(
            f"fleet registered from {sim.fleet_csv}: {report.created} new, {report.updated} updated, "
            f"{report.unchanged} unchanged"
        )
        click.echo("switch faults with e.g.: camsvc simulate fault cam-017 frozen")
        run_server(settings)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


@click.command("check-config")
def check_config() -> None:
    """Validate the configuration (environment + YAML file) and print every error with its key path."""
    try:
        settings = load_settings()
    except ValidationError as exc:
        click.echo(format_errors(exc), err=True)
        sys.exit(1)
    click.echo(
        f"configuration OK ({config_file() or 'defaults + environment'}); database {settings.db_url.split('://')[0]}"
    )
