"""``camsvc bench fleet``: the real service checking the simulated fleet, and the API at 10,000 cameras.

Part 1 runs `camsvc serve` as a subprocess against the simulator (default 240 cameras, 60 s interval, 5 min)
and reports the CPU of the service's whole process tree (probe workers included) as a share of one core,
the detection delay from a fault switched in the simulator to `down` in the API, and /api/status latency.
Part 2 inflates a registry to 10,000 cameras (most disabled) and measures /api/status and /api/cameras
p50/p95 through a real HTTP server.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import click
import httpx

from camsvc.bench.common import (
    admin_token,
    free_port,
    import_fleet,
    pct,
    service,
    summary,
    table,
    tree_cpu_seconds,
    wait_http,
    write_json,
)


def _status_latency(base: str, n: int, headers: dict[str, str]) -> list[float]:
    out = []
    with httpx.Client(timeout=10, headers=headers) as c:
        for _ in range(n):
            t0 = time.perf_counter()
            c.get(f"{base}/api/status").raise_for_status()
            out.append((time.perf_counter() - t0) * 1000)
    return out


def run_fleet(
    roadside: int,
    household: int,
    interval: float,
    duration: float,
    faults: int,
    probe_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    from camsvc.simulate.harness import Simulator

    tmp = Path(tempfile.mkdtemp(prefix="camsvc-bench-fleet-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"CAMSVC_CHECKS__INTERVAL_S": str(interval), **(probe_env or {})}
    with Simulator(roadside=roadside, household=household, out_dir=tmp / "sim") as sim:
        import_fleet(tmp / "data", sim.fleet_csv)  # the service's default interval applies
        with service(tmp / "data", port, env) as proc:
            # warm-up: one full interval so every camera has been checked once
            t_start = time.monotonic()
            deadline = t_start + interval * 1.5 + 30
            while time.monotonic() < deadline:
                st = httpx.get(f"{base}/api/status", headers=proc.headers, timeout=10).json()
                if st["by_state"]["unknown"] == 0:
                    break
                time.sleep(2)
            warm = time.monotonic() - t_start
            cpu0, t0 = tree_cpu_seconds(proc.pid), time.monotonic()
            # faults switched during the measured window
            rng = random.Random(7)
            victims = rng.sample([c.id for c in sim.fleet], min(faults, len(sim.fleet)))
            switched: dict[str, float] = {}
            detected: dict[str, float] = {}
            latencies: list[float] = []
            half = t0 + duration / 3
            end = t0 + duration
            while time.monotonic() < end:
                now = time.monotonic()
                if now >= half and not switched:
                    for cid in victims:
                        sim.fault(cid, "down")
                        switched[cid] = time.monotonic()
                latencies.extend(_status_latency(base, 1, proc.headers))
                if switched:
                    for cid in victims:
                        if cid in detected:
                            continue
                        r = httpx.get(f"{base}/api/cameras/{cid}", headers=proc.headers, timeout=10).json()
                        if r["state"] == "down":
                            detected[cid] = time.monotonic() - switched[cid]
                time.sleep(1.0)
            cpu = tree_cpu_seconds(proc.pid) - cpu0
            wall = time.monotonic() - t0
            for cid in victims:
                sim.fault(cid, "normal")
    delays = list(detected.values())
    return {
        "cameras": roadside + household,
        "interval_s": interval,
        "measured_s": round(wall, 1),
        "warmup_s": round(warm, 1),
        "cpu_s": round(cpu, 2),
        "cpu_share_of_one_core": round(cpu / wall, 4),
        # the service's whole CPU scales with the cameras checked per interval: 2 cores, fully used
        "projected_cameras_per_2_core_node": int((roadside + household) * 2 / max(cpu / wall, 1e-9)),
        "probe_env": dict(probe_env or {}),
        "detection_delay_s": summary(delays),
        "detected": f"{len(detected)}/{len(victims)}",
        "status_latency_ms": summary(latencies),
    }


def _inflate(settings: Any, n: int, enabled: int) -> None:
    from camsvc.db import make_engine, session_scope, upgrade
    from camsvc.health.outages import record_check
    from camsvc.health.state import Observation, Thresholds
    from camsvc.models import Camera, CameraKind, Check

    engine = make_engine(settings.db_url)
    upgrade(engine)
    rng = random.Random(3)
    hamlets = [f"Xóm {i}" for i in range(1, 41)]
    now = dt.datetime.now(dt.UTC)
    with session_scope(engine) as s:
        for i in range(n):
            s.add(
                Camera(
                    id=f"cam-{i:05d}",
                    name=f"Camera {i}",
                    kind=CameraKind.HOUSEHOLD if i % 6 else CameraKind.ROADSIDE,
                    hamlet=rng.choice(hamlets),
                    latitude=19 + rng.random() / 10,
                    longitude=105.6 + rng.random() / 10,
                    main_url=f"rtsp://127.0.0.1:9/{i}",
                    enabled=i < enabled,
                )
            )
    th = Thresholds()
    with session_scope(engine) as s:
        for i in range(enabled):
            cid = f"cam-{i:05d}"
            for k in range(3):
                ok = not (i % 17 == 0 and k > 0)
                at = now - dt.timedelta(minutes=3 - k)
                record_check(
                    s,
                    Check(camera_id=cid, at=at, ok=ok, error=None if ok else "refused"),
                    Observation(at=at, ok=ok, error=None if ok else "refused"),
                    th,
                )
    engine.dispose()


def run_api(n: int, enabled: int, requests: int) -> dict[str, Any]:
    import uvicorn

    from camsvc.app import create_app
    from camsvc.config import Settings

    tmp = Path(tempfile.mkdtemp(prefix="camsvc-bench-api-"))
    settings = Settings(data_dir=tmp)
    t0 = time.perf_counter()
    _inflate(settings, n, enabled)
    fill_s = time.perf_counter() - t0
    token = admin_token(tmp)  # every request is signed in, as a script's would be
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, start_runtime=False), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz", 30)
        out: dict[str, Any] = {"cameras": n, "enabled": enabled, "fill_s": round(fill_s, 1)}
        with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"}) as c:
            for name, path in (
                ("status", "/api/status"),
                ("cameras_page", "/api/cameras?limit=100"),
                ("cameras_filtered", "/api/cameras?state=down&limit=100"),
                ("map_full", "/api/map"),
            ):
                c.get(base + path).raise_for_status()  # warm
                lat = []
                for _ in range(requests if name != "map_full" else max(10, requests // 10)):
                    t = time.perf_counter()
                    c.get(base + path).raise_for_status()
                    lat.append((time.perf_counter() - t) * 1000)
                out[name] = {
                    "p50_ms": round(pct(lat, 50), 2),
                    "p95_ms": round(pct(lat, 95), 2),
                    "n": len(lat),
                }
        return out
    finally:
        server.should_exit = True
        th.join(10)


@click.command()
@click.option("--roadside", default=40, show_default=True)
@click.option("--household", default=200, show_default=True)
@click.option("--interval", default=60.0, show_default=True, help="Check interval (s)")
@click.option("--duration", default=300.0, show_default=True, help="Measured window (s)")
@click.option("--faults", default=10, show_default=True, help="Cameras switched down during the window")
@click.option("--api-cameras", default=10000, show_default=True)
@click.option("--requests", default=200, show_default=True, help="Requests per API endpoint")
@click.option("--skip-fleet", is_flag=True, help="Only the 10,000-camera API part")
@click.option("--skip-api", is_flag=True, help="Only the fleet part")
@click.option("--engine", type=click.Choice(["packets", "decode"]), help="probe.engine (default: settings)")
@click.option(
    "--light-after",
    type=click.IntRange(1, 1000),
    help="probe.light_after_healthy for the service (default: settings; 1 reaches the steady state of "
    "adaptive depth right after the warm-up check)",
)
def fleet(
    roadside: int,
    household: int,
    interval: float,
    duration: float,
    faults: int,
    api_cameras: int,
    requests: int,
    skip_fleet: bool,
    skip_api: bool,
    engine: str | None,
    light_after: int | None,
) -> None:
    """The service checking the simulated fleet (CPU, detection delay, /api/status) and the API at 10k cameras."""
    result: dict[str, Any] = {}
    if not skip_fleet:
        click.echo(
            f"fleet: {roadside + household} cameras, interval {interval:g} s, {duration:g} s measured..."
        )
        probe_env = {}
        if engine:
            probe_env["CAMSVC_PROBE__ENGINE"] = engine
        if light_after:
            probe_env["CAMSVC_PROBE__LIGHT_AFTER_HEALTHY"] = str(light_after)
        f = run_fleet(roadside, household, interval, duration, faults, probe_env)
        result["fleet"] = f
        d = f["detection_delay_s"]
        click.echo(
            table(
                [
                    ("metric", "value", "target"),
                    ("CPU, share of one core", f"{f['cpu_share_of_one_core'] * 100:.1f} %", "< 15 %"),
                    (
                        "detection delay median/max",
                        f"{d.get('median', float('nan')):.1f} / {d.get('max', float('nan')):.1f} s  ({f['detected']})",
                        f"<= interval + retry + budget = {interval + 10 + 10:g} s",
                    ),
                    (
                        f"projected cameras per 2-core node at {interval:g} s",
                        str(f["projected_cameras_per_2_core_node"]),
                        ">= 2000",
                    ),
                    (
                        "/api/status median/p95",
                        f"{f['status_latency_ms'].get('median', 0):.1f} / {f['status_latency_ms'].get('p95', 0):.1f} ms",
                        "",
                    ),
                ]
            )
        )
    if skip_api:
        click.echo(f"wrote {write_json('fleet', result)}")
        return
    click.echo(f"api: {api_cameras} cameras ({api_cameras // 20} enabled)...")
    a = run_api(api_cameras, api_cameras // 20, requests)
    result["api"] = a
    click.echo(
        table(
            [("endpoint", "p50 ms", "p95 ms", "target")]
            + [
                (k, f"{v['p50_ms']:.1f}", f"{v['p95_ms']:.1f}", "p95 < 50 ms" if k == "status" else "")
                for k, v in a.items()
                if isinstance(v, dict)
            ]
        )
    )
    click.echo(f"wrote {write_json('fleet', result)}")
