"""``camsvc simulate``: serve the simulated fleet (default), switch faults, show status."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import click

from camsvc.cli import common
from camsvc.redact import redact_url, with_credentials
from camsvc.simulate.faults import DESCRIPTIONS, FAULTS

log = logging.getLogger(__name__)


def _parse_extra(values: tuple[str, ...]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not sep or not path or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
            raise click.BadParameter(
                f"{v!r}: expected NAME=PATH, NAME made of letters, digits, '.', '_', '-'",
                param_hint="--extra",
            )
        out[name] = Path(path)
    return out


@click.group(invoke_without_command=True)
@click.option("--roadside", type=click.IntRange(0, 2000), default=None, help="Roadside RTSP cameras [40]")
@click.option("--household", type=click.IntRange(0, 5000), default=None, help="Household cameras [200]")
@click.option("--seed", type=int, default=1, show_default=True, help="Fleet seed (same seed, same fleet)")
@click.option("--host", default=None, help="Address to serve on [simulator.host]")
@click.option(
    "--base-port", type=click.IntRange(0, 65535), default=None, help="First camera port; 0: any free range"
)
@click.option(
    "--rtsp-port", type=click.IntRange(0, 65535), default=None, help="Internal GStreamer RTSP port; 0: any"
)
@click.option("--control-port", type=click.IntRange(0, 65535), default=None, help="Control API port; 0: any")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None, help="Encoded footage cache")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("data/simulator"),
    show_default=True,
    help="Where fleet.csv and fleet.yaml are written",
)
@click.option("--extra", multiple=True, metavar="NAME=PATH", help="Also serve an H.264 file at rtsp://…/NAME")
@click.option(
    "--ready-file", type=click.Path(path_type=Path), default=None, help="Write ports/paths here (JSON)"
)
@click.option("--prebuild-faults", is_flag=True, help="Encode every picture-fault variant before serving")
@click.option(
    "--clock-cameras",
    type=click.IntRange(0, 2000),
    default=0,
    show_default=True,
    help="The first N roadside cameras show the wall clock as blocks (live-encoded; tests read it back)",
)
@click.option(
    "--playback-minutes",
    type=click.FloatRange(0, 24 * 60, min_open=True),
    default=None,
    help="Minutes each camera keeps for vendor playback [simulator.playback_minutes]",
)
@click.option("--quiet", is_flag=True, help="Do not print the camera list")
@click.option("--log-level", default="INFO", show_default=True, help="Logging level")
@click.pass_context
def simulate(ctx: click.Context, **opts: Any) -> None:
    """Serve a simulated commune fleet (real RTSP/HTTP streams, switchable faults) on 127.0.0.1.

    Without a subcommand it serves until Ctrl-C / SIGTERM. Faults: see `camsvc simulate faults`.
    """
    ctx.ensure_object(dict)
    ctx.obj.update(opts)
    if ctx.invoked_subcommand is None:
        _serve(opts)


def _serve(opts: dict[str, Any]) -> None:
    from camsvc.simulate.server import SimConfig, serve

    logging.basicConfig(
        level=str(opts["log_level"]).upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    st = common.settings().simulator

    def pick(key: str, default: Any) -> Any:
        return default if opts[key] is None else opts[key]

    config = SimConfig(
        roadside=pick("roadside", st.roadside),
        household=pick("household", st.household),
        seed=opts["seed"],
        host=pick("host", st.host),
        base_port=pick("base_port", st.base_port),
        rtsp_port=pick("rtsp_port", st.rtsp_port),
        control_port=pick("control_port", st.control_port),
        cache_dir=Path(pick("cache_dir", st.cache_dir)).expanduser(),
        out_dir=opts["out_dir"],
        extra_streams=_parse_extra(opts["extra"]),
        ready_file=opts["ready_file"] or opts["out_dir"] / "ready.json",
        prebuild_faults=opts["prebuild_faults"],
        clock_cameras=opts["clock_cameras"],
        playback_minutes=pick("playback_minutes", st.playback_minutes),
    )

    def on_ready(sim: Any) -> None:
        if not opts["quiet"]:
            for spec in sim.specs:
                cam = spec.camera
                url = redact_url(with_credentials(cam.main_url, cam.username, cam.password))
                click.echo(f"{cam.id}  {cam.kind:9s}  {spec.protocol:4s}  {url}  [{cam.hamlet}]")
            for name, url in sim.extra_urls.items():
                click.echo(f"extra  {name}  {url}")
        info = sim.ready_info()
        click.echo(f"fleet files: {info['fleet_csv']}  {info['fleet_yaml']}")
        click.echo(
            f"{info['cameras']} cameras on ports {info['base_port']}-{info['base_port'] + info['cameras'] - 1}; "
            f"control API http://{config.host}:{info['control_port']}; ready in {info['startup_s']:.1f} s; "
            "Ctrl-C to stop"
        )
        sys.stdout.flush()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(config, stop, on_ready)

    try:
        asyncio.run(main())
    except OSError as exc:
        raise click.ClickException(f"cannot serve: {exc}") from None
    click.echo("simulator stopped")


@simulate.command("serve")
@click.pass_context
def serve_cmd(ctx: click.Context) -> None:
    """Serve the fleet (same as `camsvc simulate` with no subcommand)."""
    _serve(ctx.obj)


def _control_url(ctx: click.Context, control_port: int | None, host: str | None) -> str:
    """--control-port, else the running simulator's ready file in --out (the demo's too), else settings."""
    st = common.settings().simulator
    h = host or ctx.obj.get("host") or st.host
    port = control_port or ctx.obj.get("control_port")
    if not port:
        port = _running_control_port(Path(ctx.obj.get("out_dir") or "data/simulator") / "ready.json")
    return f"http://{h}:{port or st.control_port}"


def _running_control_port(ready: Path) -> int | None:
    try:
        info = json.loads(ready.read_text())
        os.kill(int(info["pid"]), 0)  # still running?
        return int(info["control_port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _call(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    import httpx

    try:
        with httpx.Client(timeout=120, trust_env=False) as client:
            resp = client.request(method, url + path, json=body)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"simulator control API at {url} not reachable: {exc}") from None
    try:
        data = resp.json()
    except ValueError:
        raise click.ClickException(f"{url}{path}: HTTP {resp.status_code}, not JSON") from None
    if resp.status_code >= 400:
        raise click.ClickException(str(data.get("error", data)))
    return data


_control_opts = [
    click.option("--control-port", type=int, default=None, help="Control API port [simulator.control_port]"),
    click.option("--host", default=None, help="Simulator address [simulator.host]"),
]


def _with_control(f: Any) -> Any:
    for opt in reversed(_control_opts):
        f = opt(f)
    return f


@simulate.command("fault")
@click.argument("args", nargs=-1, required=True, metavar="[CAMERA] FAULT")
@click.option("--hamlet", default=None, help="Apply to every camera of this hamlet (accents/case ignored)")
@_with_control
@click.pass_context
def fault_cmd(
    ctx: click.Context, args: tuple[str, ...], hamlet: str | None, control_port: int | None, host: str | None
) -> None:
    """Switch a camera (or a whole hamlet: --hamlet) to FAULT while it runs.

    \b
    Examples:
      camsvc simulate fault cam-017 frozen
      camsvc simulate fault --hamlet "Bac Chien Thang" down
    """
    if hamlet is None and len(args) != 2:
        raise click.UsageError("expected CAMERA FAULT (or --hamlet HAMLET FAULT)")
    if hamlet is not None and len(args) != 1:
        raise click.UsageError("with --hamlet give only FAULT")
    fault = args[-1]
    if fault not in FAULTS:
        raise click.ClickException(f"unknown fault {fault!r}; valid faults: {', '.join(FAULTS)}")
    url = _control_url(ctx, control_port, host)
    body: dict[str, Any] = {
        "fault": fault,
        **({"hamlet": hamlet} if hamlet is not None else {"camera": args[0]}),
    }
    data = _call(url, "POST", "/faults", body)
    where = f"hamlet {data['hamlet']}: " if "hamlet" in data else ""
    click.echo(f"{where}{fault} on {', '.join(data['cameras'])}")


@simulate.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON")
@click.option("--all", "show_all", is_flag=True, help="List every camera, not only faulted ones")
@_with_control
@click.pass_context
def status_cmd(
    ctx: click.Context, as_json: bool, show_all: bool, control_port: int | None, host: str | None
) -> None:
    """Show the running simulator's cameras and their current faults."""
    url = _control_url(ctx, control_port, host)
    data = _call(url, "GET", "/cameras")
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=1))
        return
    cams = data["cameras"]
    faulted = [c for c in cams if c["fault"] != "normal"]
    for c in cams if show_all else faulted:
        click.echo(
            f"{c['id']}  {c['fault']:8s}  {c['protocol']:4s}  port {c['port']}  {c['hamlet']}  {c['name']}"
        )
    click.echo(f"{len(cams)} cameras, {len(faulted)} with a fault")


@simulate.command("faults")
def faults_cmd() -> None:
    """List the faults a camera can be switched to."""
    for name in FAULTS:
        click.echo(f"{name:8s}  {DESCRIPTIONS[name]}")


@simulate.command("bench")
@click.option("--roadside", type=int, default=40, show_default=True)
@click.option("--household", type=int, default=200, show_default=True)
@click.option(
    "--pull-seconds", type=float, default=5.0, show_default=True, help="Each client pulls this long"
)
@click.option("--threads", type=int, default=64, show_default=True, help="Concurrent probes in the sweep")
@click.option("--no-cold", is_flag=True, help="Skip the cold-cache encoding measurement")
def bench_cmd(roadside: int, household: int, pull_seconds: float, threads: int, no_cold: bool) -> None:
    """Measure start-up, idle CPU and CPU with every camera pulled at once (OpenCV clients)."""
    from camsvc.bench import simulator as bench

    res = bench.run(roadside, household, pull_seconds, threads, cold=not no_cold)
    for key, value in res.items():
        if isinstance(value, dict):
            for k, v in value.items():
                click.echo(f"{key}.{k:28s} {v}")
        else:
            click.echo(f"{key:37s} {value}")
    click.echo(f"written to {bench.write(res)}")
