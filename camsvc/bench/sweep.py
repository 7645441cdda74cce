"""``camsvc bench sweep``: one health sweep of the whole simulated fleet, the camsvc way and the script way.

In one run, against the real simulator (RTSP over GStreamer, HTTP MJPEG cameras):

1. a healthy sweep with :class:`ProbePool` (every camera's main URL, as the scheduler probes it);
2. the same sweep with ``--fault-fraction`` of the cameras ``hang`` or ``stall`` (half each);
3. both sweeps done the way common monitoring scripts do it: one ``ffprobe`` subprocess per camera
   (without ffprobe on PATH: the imageio-ffmpeg binary with ``-frames:v 1 -f null -``, labelled so),
   same concurrency, killed at the probe budget;
4. the CPU floor: open one stream in-process, decode its first (key)frame, close.

Prints a table, checks the targets, writes ``bench-results/sweep.json``. Wall times depend on the machine's
load (the simulator runs on the same cores): compare within one run.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click

from camsvc.bench.common import summary, table, tree_cpu_seconds
from camsvc.config import ProbeSettings
from camsvc.probing.result import ProbeResult, StreamKind

log = logging.getLogger(__name__)

DEFAULT_OUT = Path("bench-results") / "sweep.json"


# --- measuring -----------------------------------------------------------------------------------------------


# Every run is measured the same way: the CPU of this process's tree (its threads, the probe workers, the
# ffprobe subprocesses, live or reaped) without the simulator, which is a child of this process too.
Cpu = Callable[[], float]


def _tree_cpu_without(sim_pid: int | None) -> Cpu:
    exclude = (sim_pid,) if sim_pid else ()
    return lambda: tree_cpu_seconds(os.getpid(), exclude)


def _kind(url: str) -> StreamKind:
    return StreamKind.RTSP if url.startswith("rtsp") else StreamKind.MJPEG


def _strip(r: ProbeResult) -> ProbeResult:
    r.frames, r.frame_times = [], []  # the bench only counts them: do not hold 5 MB per camera
    return r


def _depth(light: bool) -> Any:
    from camsvc.probing.depth import FULL, ProbeDepth

    return ProbeDepth(full=False, reason="bench: light") if light else FULL


def _sweep_pool(
    pool: Any, targets: list[tuple[str, str]], timeout_s: float, keep: bool, cpu: Cpu, light: bool = False
) -> dict[str, Any]:
    t0, c0 = time.monotonic(), cpu()
    d = _depth(light)
    futures = {cam: pool.submit(url, kind=_kind(url), keep_frames=keep, depth=d) for cam, url in targets}
    results: dict[str, ProbeResult] = {}
    for cam, fut in futures.items():
        results[cam] = _strip(fut.result(timeout_s))
    wall, cpu_s = time.monotonic() - t0, cpu() - c0
    rss = [_rss_mb(pid) for pid in pool.worker_pids()]
    return _describe(results, wall, cpu_s) | {"results": results, "worker_rss_mb": rss}


def _sweep_threads(
    settings: ProbeSettings,
    targets: list[tuple[str, str]],
    threads: int,
    keep: bool,
    cpu: Cpu,
    light: bool = False,
) -> dict[str, Any]:
    """Threads only, in this process (no isolation): the comparison for the process-model decision."""
    from camsvc.probing.stream import load_cv2, run_probe
    from camsvc.probing.target import parse_target

    load_cv2(settings)
    t0, c0 = time.monotonic(), cpu()

    def one(url: str) -> ProbeResult:
        return _strip(
            run_probe(parse_target(url), _kind(url), settings, settings.budget_s, keep, depth=_depth(light))
        )

    with ThreadPoolExecutor(threads) as ex:
        futures = {cam: ex.submit(one, url) for cam, url in targets}
        results = {cam: f.result() for cam, f in futures.items()}
    wall, cpu_s = time.monotonic() - t0, cpu() - c0
    return _describe(results, wall, cpu_s) | {"results": results, "process_rss_mb": _rss_mb(os.getpid())}


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return float("nan")


def _describe(results: dict[str, ProbeResult], wall: float, cpu_s: float) -> dict[str, Any]:
    n = len(results)
    return {
        "probes": n,
        "ok": sum(r.ok for r in results.values()),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu_s, 2),
        "cpu_ms_per_probe": round(1000 * cpu_s / max(1, n), 1),
        "probe_total_ms": {
            k: round(v, 1) for k, v in summary([r.total_ms for r in results.values()]).items()
        },
        "errors": dict(Counter(r.error.value if r.error else "ok" for r in results.values())),
    }


def _script_tool() -> tuple[list[str], str]:
    ffprobe = shutil.which("ffprobe")
    if ffprobe:
        return [ffprobe, "-v", "error", "-show_streams", "-select_streams", "v:0"], "ffprobe"
    from camsvc.paths import ffmpeg_exe

    exe = ffmpeg_exe()
    return [exe, "-hide_banner", "-loglevel", "error", "-nostdin"], "ffmpeg -frames:v 1 (no ffprobe on PATH)"


def _sweep_script(
    targets: list[tuple[str, str]], concurrency: int, timeout_s: float, cpu: Cpu
) -> dict[str, Any]:
    """One subprocess per camera, as monitoring scripts do; killed at the budget."""
    base, label = _script_tool()
    is_ffprobe = label == "ffprobe"
    outcomes: dict[str, tuple[bool, float]] = {}
    lock = threading.Lock()

    def one(cam: str, url: str) -> None:
        args = list(base)
        if url.startswith("rtsp"):
            args += ["-rtsp_transport", "tcp"]
        args += ["-i", url] if not is_ffprobe else [url]
        if not is_ffprobe:
            args += ["-frames:v", "1", "-f", "null", "-"]
        t = time.monotonic()
        try:
            proc = subprocess.run(args, capture_output=True, timeout=timeout_s, check=False)
            ok = proc.returncode == 0
        except subprocess.TimeoutExpired:
            ok = False
        with lock:
            outcomes[cam] = (ok, (time.monotonic() - t) * 1000)

    c0, t0 = cpu(), time.monotonic()
    with ThreadPoolExecutor(concurrency) as ex:
        for cam, url in targets:
            ex.submit(one, cam, url)
    wall, cpu_s = time.monotonic() - t0, cpu() - c0
    n = len(targets)
    return {
        "tool": label,
        "probes": n,
        "ok": sum(ok for ok, _ in outcomes.values()),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu_s, 2),
        "cpu_ms_per_probe": round(1000 * cpu_s / max(1, n), 1),
        "probe_total_ms": {k: round(v, 1) for k, v in summary([ms for _, ms in outcomes.values()]).items()},
    }


def _floor(settings: ProbeSettings, targets: list[tuple[str, str]], threads: int, cpu: Cpu) -> dict[str, Any]:
    """CPU to open a stream in-process, decode its first (key)frame and close it: what no probe can beat."""
    from camsvc.probing.stream import load_cv2

    cv2 = load_cv2(settings)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        5000,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        3000,
        cv2.CAP_PROP_N_THREADS,
        1,
    ]
    decoded = 0

    def one(url: str) -> bool:
        cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
        try:
            return bool(cap.isOpened() and cap.read()[0])
        finally:
            cap.release()

    c0, t0 = cpu(), time.monotonic()
    with ThreadPoolExecutor(threads) as ex:
        decoded = sum(ex.map(one, [url for _, url in targets]))
    cpu_s = cpu() - c0
    return {
        "probes": len(targets),
        "ok": decoded,
        "wall_s": round(time.monotonic() - t0, 2),
        "cpu_s": round(cpu_s, 2),
        "cpu_ms_per_probe": round(1000 * cpu_s / max(1, len(targets)), 1),
    }


# --- the command -----------------------------------------------------------------------------------------------


@click.command("sweep")
@click.option("--roadside", type=click.IntRange(0, 1000), default=40, show_default=True)
@click.option("--household", type=click.IntRange(0, 5000), default=200, show_default=True)
@click.option(
    "--fault-fraction",
    type=click.FloatRange(0, 1),
    default=0.10,
    show_default=True,
    help="Share of cameras made to hang or stall (half each) in the faulted sweep.",
)
@click.option("--stream", type=click.Choice(["main", "sub"]), default="main", show_default=True)
@click.option("--workers", type=click.IntRange(1, 32), help="Probe worker processes (default: settings).")
@click.option("--threads", type=click.IntRange(1, 256), help="Threads per worker (default: settings).")
@click.option("--budget", type=click.FloatRange(1, 120), help="Probe budget in s (default: settings).")
@click.option("--max-frames", type=click.IntRange(1, 100), help="Frames per probe (default: settings).")
@click.option(
    "--engine",
    type=click.Choice(["packets", "decode"]),
    help="RTSP probe engine (default: settings probe.engine).",
)
@click.option(
    "--isolation",
    type=click.Choice(["pool", "threads"]),
    default="pool",
    show_default=True,
    help="pool: worker processes x threads (the service); threads: all probes in this process (no isolation).",
)
@click.option(
    "--keep-frames/--no-keep-frames",
    default=True,
    show_default=True,
    help="Ship the decoded frames back to the caller (what picture analysis in the parent needs).",
)
@click.option(
    "--ship-last",
    is_flag=True,
    help="Ship only the last decoded frame back, as the service does (its worker measures the frames "
    "and keeps the last). Needs --isolation pool and --keep-frames.",
)
@click.option("--skip-script", is_flag=True, help="Skip the subprocess-per-camera comparison.")
@click.option("--floor-sample", type=click.IntRange(1, 5000), default=40, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True, help="Which cameras get the faults.")
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT, show_default=True)
def sweep(
    roadside: int,
    household: int,
    fault_fraction: float,
    stream: str,
    workers: int | None,
    threads: int | None,
    budget: float | None,
    max_frames: int | None,
    engine: str | None,
    isolation: str,
    keep_frames: bool,
    ship_last: bool,
    skip_script: bool,
    floor_sample: int,
    seed: int,
    out: Path,
) -> None:
    """Sweep the simulated fleet: wall time and CPU per probe, camsvc vs. a subprocess per camera."""
    from camsvc.config import load_settings
    from camsvc.probing.pool import ProbePool
    from camsvc.simulate.harness import Simulator

    if ship_last and (isolation != "pool" or not keep_frames):
        raise click.UsageError(
            "--ship-last needs --isolation pool and --keep-frames (only a pool ships frames)"
        )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    base = load_settings().probe
    updates: dict[str, Any] = {}
    if workers:
        updates["workers"] = workers
    if threads:
        updates["threads_per_worker"] = threads
    if budget:
        updates["budget_s"] = budget
    if max_frames:
        updates["max_frames"] = max_frames
    if engine:
        updates["engine"] = engine
    settings = base.model_copy(update=updates)
    capacity = settings.workers * settings.threads_per_worker
    timeout_s = settings.budget_s + 30

    click.echo(f"starting the simulator ({roadside} roadside + {household} household cameras)...")
    report: dict[str, Any] = {
        "settings": settings.model_dump(mode="json"),
        "isolation": isolation,
        "stream": stream,
        "keep_frames": keep_frames,
        "ship_last": ship_last,
    }
    with Simulator(roadside=roadside, household=household) as sim:
        cpu = _tree_cpu_without(sim.pid)
        report["simulator_startup_s"] = round(sim.startup_s or 0.0, 1)
        targets = []
        for cam in sim.fleet:
            which = stream if getattr(cam, f"{stream}_url") else "main"
            targets.append((cam.id, sim.url(cam.id, which)))
        rng = random.Random(seed)
        n_faulty = round(fault_fraction * len(targets))
        faulty = rng.sample([cam for cam, _ in targets], n_faulty)
        faults = {cam: ("hang" if i % 2 == 0 else "stall") for i, cam in enumerate(faulty)}
        report["fleet"] = {
            "cameras": len(targets),
            "rtsp": sum(url.startswith("rtsp") for _, url in targets),
            "http": sum(url.startswith("http") for _, url in targets),
            "faulty": dict(Counter(faults.values())),
        }

        def set_faults(on: bool) -> None:
            for cam, fault in faults.items():
                sim.fault(cam, fault if on else "normal")

        runs: dict[str, Any] = {}
        pool_ctx: Any = None
        try:
            if isolation == "pool":
                t = time.monotonic()
                pool_ctx = ProbePool(
                    settings, postprocess="camsvc.picture.measure:keep_last_frame" if ship_last else None
                )
                pool_ctx.start()
                report["pool_startup_s"] = round(time.monotonic() - t, 2)

            def camsvc_sweep(light: bool = False) -> dict[str, Any]:
                if pool_ctx is not None:
                    return _sweep_pool(pool_ctx, targets, timeout_s, keep_frames, cpu, light)
                return _sweep_threads(settings, targets, capacity, keep_frames, cpu, light)

            sim_cpu0 = tree_cpu_seconds(sim.pid) if sim.pid else 0.0
            click.echo("camsvc sweep, healthy fleet...")
            runs["camsvc_healthy"] = camsvc_sweep()
            report["simulator_cpu_s_healthy_sweep"] = round(
                (tree_cpu_seconds(sim.pid) if sim.pid else 0.0) - sim_cpu0, 2
            )
            if settings.engine == "packets":
                click.echo("camsvc sweep, healthy fleet, light checks (liveness + one keyframe)...")
                runs["camsvc_healthy_light"] = camsvc_sweep(light=True)
                runs["camsvc_healthy_light"].pop("results")
            set_faults(True)
            click.echo(f"camsvc sweep, {n_faulty} cameras hang/stall...")
            runs["camsvc_faulted"] = camsvc_sweep()
            if settings.engine == "packets":
                click.echo(f"camsvc sweep, {n_faulty} cameras hang/stall, light checks...")
                runs["camsvc_faulted_light"] = camsvc_sweep(light=True)
        finally:
            if pool_ctx is not None:
                pool_ctx.close()
        faulted_results: dict[str, ProbeResult] = runs["camsvc_faulted"].pop("results")
        light_faulted: dict[str, ProbeResult] = (runs.get("camsvc_faulted_light") or {}).pop("results", {})
        runs["camsvc_healthy"].pop("results")

        def outcome(r: ProbeResult) -> str:
            return r.error.value if r.error is not None else "ok"

        report["fault_classification"] = {
            fault: dict(Counter(outcome(faulted_results[cam]) for cam, f in faults.items() if f == fault))
            for fault in ("hang", "stall")
        }
        if light_faulted:
            report["fault_classification_light"] = {
                fault: dict(Counter(outcome(light_faulted[cam]) for cam, f in faults.items() if f == fault))
                for fault in ("hang", "stall")
            }
        report["healthy_in_faulted_sweep"] = dict(
            Counter(outcome(r) for cam, r in faulted_results.items() if cam not in faults)
        )

        if not skip_script:
            set_faults(False)
            click.echo("script way (one subprocess per camera), healthy fleet...")
            runs["script_healthy"] = _sweep_script(targets, capacity, settings.budget_s, cpu)
            set_faults(True)
            click.echo("script way, faulted fleet...")
            runs["script_faulted"] = _sweep_script(targets, capacity, settings.budget_s, cpu)
        set_faults(False)
        click.echo("CPU floor: open + first frame + close, in-process...")
        sample = random.Random(seed + 1).sample(targets, min(floor_sample, len(targets)))
        runs["floor"] = _floor(settings, sample, min(8, capacity), cpu)
    report["runs"] = runs
    report["targets"] = _targets(settings, runs)
    _print(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    click.echo(f"\nwrote {out}")


def _targets(settings: ProbeSettings, runs: dict[str, Any]) -> dict[str, Any]:
    healthy, faulted, floor = runs["camsvc_healthy"], runs["camsvc_faulted"], runs["floor"]
    limit = settings.budget_s + healthy["wall_s"]
    targets: dict[str, Any] = {
        "faulted_sweep_within_budget_plus_healthy": {
            "value_s": faulted["wall_s"],
            "limit_s": round(limit, 2),
            "met": faulted["wall_s"] <= limit,
        },
        "cpu_within_3x_floor": {
            "value_ms": healthy["cpu_ms_per_probe"],
            "limit_ms": round(3 * floor["cpu_ms_per_probe"], 1),
            "met": healthy["cpu_ms_per_probe"] <= 3 * floor["cpu_ms_per_probe"],
        },
    }
    if "camsvc_healthy_light" in runs:
        # The issue-13 targets are the steady state of adaptive depth: one full check in every
        # probe.full_every, the rest light. A full check alone decodes the whole window: reported, no target.
        n = settings.full_every
        light = runs["camsvc_healthy_light"]["cpu_ms_per_probe"]
        mix = round(((n - 1) * light + healthy["cpu_ms_per_probe"]) / n, 1)
        runs["adaptive_mix"] = {"cpu_ms_per_probe": mix, "full_every": n}
        for name, value in (("adaptive", mix), ("light", light)):
            targets[f"cpu_{name}_within_1.5x_floor"] = {
                "value_ms": value,
                "limit_ms": round(1.5 * floor["cpu_ms_per_probe"], 1),
                "met": value <= 1.5 * floor["cpu_ms_per_probe"],
            }
            if "script_healthy" in runs:
                theirs = runs["script_healthy"]["cpu_ms_per_probe"]
                targets[f"cpu_{name}_at_most_quarter_of_script"] = {
                    "value_ms": value,
                    "limit_ms": round(theirs / 4, 1),
                    "met": value <= theirs / 4,
                }
    elif "script_healthy" in runs:  # every check full (probe.engine decode): the full sweeps are the probe
        for which in ("healthy", "faulted"):
            ours, theirs = runs[f"camsvc_{which}"], runs[f"script_{which}"]
            targets[f"cpu_at_most_quarter_of_script_{which}"] = {
                "value_ms": ours["cpu_ms_per_probe"],
                "limit_ms": round(theirs["cpu_ms_per_probe"] / 4, 1),
                "met": ours["cpu_ms_per_probe"] <= theirs["cpu_ms_per_probe"] / 4,
            }
    return targets


def _print(report: dict[str, Any]) -> None:
    runs = report["runs"]
    rows: list[tuple[str, ...]] = [
        ("run", "probes", "ok", "wall s", "CPU s", "CPU ms/probe", "probe p50 ms", "probe max ms")
    ]
    names = {
        "camsvc_healthy": f"camsvc ({report['isolation']}), healthy",
        "camsvc_healthy_light": f"camsvc ({report['isolation']}), healthy, light",
        "camsvc_faulted": f"camsvc ({report['isolation']}), faulted",
        "camsvc_faulted_light": f"camsvc ({report['isolation']}), faulted, light",
        "script_healthy": f"{runs.get('script_healthy', {}).get('tool', '')}, healthy",
        "script_faulted": f"{runs.get('script_faulted', {}).get('tool', '')}, faulted",
        "floor": "floor: open + 1 keyframe",
    }
    for key, name in names.items():
        if key not in runs:
            continue
        r = runs[key]
        p = r.get("probe_total_ms", {})
        rows.append(
            (
                name,
                str(r["probes"]),
                str(r["ok"]),
                f"{r['wall_s']:.1f}",
                f"{r['cpu_s']:.2f}",
                f"{r['cpu_ms_per_probe']:.1f}",
                f"{p.get('median', float('nan')):.0f}",
                f"{p.get('max', float('nan')):.0f}",
            )
        )
    s = report["settings"]
    click.echo(
        f"\nfleet {report['fleet']}  workers {s['workers']} x threads {s['threads_per_worker']}, "
        f"budget {s['budget_s']} s, max_frames {s['max_frames']}, engine {s['engine']}, stream {report['stream']}, "
        f"keep_frames {report['keep_frames']}{' (last frame only)' if report.get('ship_last') else ''}"
    )
    click.echo(table(rows))
    click.echo(f"faults classified: {report['fault_classification']}")
    if "fault_classification_light" in report:
        click.echo(f"faults classified (light checks): {report['fault_classification_light']}")
    if "adaptive_mix" in runs:
        m = runs["adaptive_mix"]
        click.echo(f"adaptive depth (1 full in {m['full_every']}): {m['cpu_ms_per_probe']} ms CPU/probe")
    click.echo(f"healthy cameras in the faulted sweep: {report['healthy_in_faulted_sweep']}")
    for name, t in report["targets"].items():
        value = t.get("value_s", t.get("value_ms"))
        limit = t.get("limit_s", t.get("limit_ms"))
        click.echo(f"  {'MET ' if t['met'] else 'MISS'} {name}: {value} (limit {limit})")
