"""``camsvc serve`` (the default command) and ``camsvc demo``."""

from __future__ import annotations

import signal
from pathlib import Path

import click

from camsvc.cli import common
from camsvc.logs import setup_logging
from camsvc.runtime.serve import BindRefused, ensure_demo_admin, run_node, run_server


@click.command()
@click.option("--host", help="Bind address (default 127.0.0.1; CAMSVC_HOST)")
@click.option("--port", type=int, help="HTTP port (default 8080; CAMSVC_PORT)")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Database and files (CAMSVC_DATA_DIR)")
@click.option(
    "--role",
    type=click.Choice(["all", "probe", "api"]),
    help="all (default): API, dashboard, checks and alerts; probe: checks of this node's site, no API; "
    "api: API, dashboard and alerts, no checks (node.role)",
)
@click.option("--site", help="The site (network) this node reaches; empty: any site (node.site)")
@click.option("--node-name", help="This node's name in the nodes table (node.name; default host-role-site)")
def serve(
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    role: str | None,
    site: str | None,
    node_name: str | None,
) -> None:
    """Run the service: by default the API, the dashboard and the scheduled checks in one process.

    For several API workers run more `camsvc serve` processes: only the one holding the leader lock runs
    the checks and alerts, and another takes over when it dies. For a district, run `--role api` once
    and `--role probe --site NAME` on a machine in each commune's network, all on one PostgreSQL
    (docs/nodes.md).

    A non-loopback --host is refused while no active admin exists (make one: camsvc users add NAME --role
    admin).
    """
    node = {k: v for k, v in (("role", role), ("site", site), ("name", node_name)) if v is not None}
    settings = common.settings(host=host, port=port, data_dir=data_dir, node=node or None)
    try:
        if settings.node.role == "probe":
            run_node(settings)
        else:
            run_server(settings)
    except BindRefused as exc:
        raise click.ClickException(str(exc)) from None


def _demo_recording() -> dict[str, object] | None:
    """The demo records like the service (roadside continuous) but keeps 2 hours of sub streams, about 7 GB
    for 40 cameras, rather than 14 days of main streams (~16 GB an hour): unless recording is configured."""
    import os

    from camsvc.config import config_file

    if config_file() is not None or any(k.startswith("CAMSVC_RECORDING__") for k in os.environ):
        return None
    return {"stream": "sub", "retention_days": {"roadside": 2 / 24, "household": 2 / 24}}


@click.command()
@click.option("--roadside", type=int, default=40, show_default=True, help="Simulated roadside cameras")
@click.option("--household", type=int, default=200, show_default=True, help="Simulated household cameras")
@click.option("--port", type=int, help="HTTP port (default 8080)")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where the demo keeps its database")
def demo(roadside: int, household: int, port: int | None, data_dir: Path | None) -> None:
    """The service with a simulated Dien Bich fleet: starts the simulator, registers it, serves."""
    from camsvc.cameras import import_cameras
    from camsvc.simulate.harness import Simulator

    settings = common.settings(port=port, data_dir=data_dir, recording=_demo_recording())
    setup_logging(settings.log_level)
    if settings.recording.enabled and roadside:
        days = settings.recording.retention_days.get("roadside", 0)
        click.echo(
            f"recording the {roadside} roadside cameras' {settings.recording.stream} streams to "
            f"{settings.recording_dir} (kept {days * 24:.0f} h; set recording.* to change)"
        )
    click.echo(f"starting the camera simulator ({roadside} roadside + {household} household)...")
    sim = Simulator(roadside=roadside, household=household, out_dir=settings.data_dir / "simulator")
    sim.start()

    def _term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    try:
        with common.session(settings) as s:
            report = import_cameras(s, sim.fleet_csv.read_bytes(), "csv")
        click.echo(
            f"fleet registered from {sim.fleet_csv}: {report.created} new, {report.updated} updated, "
            f"{report.unchanged} unchanged"
        )
        click.echo("switch faults with e.g.: camsvc simulate fault cam-017 frozen")
        with common.database(settings) as engine:
            made = ensure_demo_admin(engine)
        if made is not None:  # printed once, on stdout only: never through the log
            click.echo(f"demo admin: sign in at {settings.base_url}/login as {made[0]} / password {made[1]}")
        else:
            click.echo(f"sign in at {settings.base_url}/login with your admin account")
        run_server(settings)
    except KeyboardInterrupt:
        pass
    except BindRefused as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        sim.stop()
