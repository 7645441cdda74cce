"""``camsvc bench record``: camsvc's recorder against one plain ffmpeg per camera (Frigate's way), side by side.

N simulated roadside cameras (main 1280x720, sub 640x360) are recorded at the same time by

- camsvc: the real :class:`~camsvc.recording.supervisor.RecorderSupervisor` (worker processes, one thread
  per camera, PyAV packet copy into fragmented MP4, indexed in SQLite), and
- the baseline: one ``ffmpeg -rtsp_transport tcp -i URL -c copy -an -f segment -segment_time 10
  -reset_timestamps 1`` process per camera (the imageio-ffmpeg binary). Its command line carries the
  simulator's test credentials, as Frigate's does; camsvc's never does.

Per stream (main, then sub) for ``--seconds``: CPU % of one core per recorded camera (``tree_cpu_seconds``
over the measured window, after a warm-up), PSS per camera (``/proc/PID/smaps_rollup``; camsvc: its
workers' PSS over the cameras they host), segments written vs expected and gaps (camsvc: from the index;
ffmpeg: seconds covered by its files vs the window). Prints a table and writes
``bench-results/record.json``.

Then the phases in :data:`AFTER_RECORDING` run on the last stream's recordings while they still exist,
each returning a dict merged into the JSON under its name: ``export`` (camsvc/bench/evidence.py) exports the
window from 3 cameras as a signed package and verifies it (seconds, projected 10-minute time, MB/s).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from camsvc.bench.common import import_fleet, table, tree_cpu_seconds, wait_until, write_json

SEGMENT_S = 10.0
WARMUP_S = 15.0


@dataclass
class RecordRun:
    """What one stream's round left behind, for later phases (export, verify)."""

    stream: str
    data_dir: Path
    settings: Any
    engine: Any
    cameras: list[str]
    window: tuple[dt.datetime, dt.datetime]
    simulator: Any
    results: dict[str, Any] = field(default_factory=dict)


# Phases after recording: name -> function(run) -> dict of numbers (merged into the JSON).
AFTER_RECORDING: dict[str, Callable[[RecordRun], dict[str, Any]]] = {}


def pss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _covered_s(files: list[Path]) -> float:
    import av

    total = 0.0
    for p in files:
        try:
            with av.open(str(p)) as c:
                v = c.streams.video[0]
                if c.duration:
                    total += c.duration / 1_000_000
                elif v.duration and v.time_base:
                    total += float(v.duration * v.time_base)
        except Exception:
            continue
    return total


def _round(
    sim: Any,
    stream: str,
    n: int,
    seconds: float,
    work: Path,
    baseline: bool = True,
    segment_s: float = SEGMENT_S,
) -> tuple[dict[str, Any], RecordRun]:
    from sqlmodel import Session, col, select

    from camsvc.config import Settings
    from camsvc.db import make_engine
    from camsvc.recording.index import gaps
    from camsvc.recording.models import Segment
    from camsvc.recording.supervisor import RecorderSupervisor

    cams = [c.id for c in sim.fleet if c.kind == "roadside"][:n]
    data = work / f"camsvc-{stream}"
    import_fleet(data, sim.fleet_csv, recording_stream=stream)
    settings = Settings(
        data_dir=data,
        recording={"segment_s": segment_s, "min_free_bytes": 0, "min_free_fraction": 0},
    )
    engine = make_engine(settings.db_url, settings.data_dir)
    sup = RecorderSupervisor(settings, engine)
    ff_dir = work / f"ffmpeg-{stream}"
    ffmpegs: list[subprocess.Popen[bytes]] = []
    exe = _ffmpeg_exe()
    sup.start()
    try:
        for cid in cams if baseline else []:
            d = ff_dir / cid
            d.mkdir(parents=True, exist_ok=True)
            ffmpegs.append(
                subprocess.Popen(
                    [
                        exe,
                        "-hide_banner",
                        "-loglevel",
                        "error",
                        "-rtsp_transport",
                        "tcp",
                        "-i",
                        sim.url(cid, stream),
                        "-c",
                        "copy",
                        "-an",
                        "-f",
                        "segment",
                        "-segment_time",
                        str(int(segment_s)),
                        "-reset_timestamps",
                        "1",
                        str(d / "%05d.mp4"),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        wait_until(lambda: len(sup.worker_pids()) > 0, 30)
        time.sleep(WARMUP_S)  # benchmark warm-up (connections, first keyframes), not synchronisation
        workers = sup.worker_pids()
        t0 = time.monotonic()
        w0 = dt.datetime.now(dt.UTC)
        cpu_c0 = sum(tree_cpu_seconds(p) for p in workers)
        cpu_f0 = [tree_cpu_seconds(p.pid) for p in ffmpegs]
        pss_c: list[float] = []
        pss_f: list[float] = []
        while time.monotonic() - t0 < seconds:
            time.sleep(min(5.0, max(0.0, seconds - (time.monotonic() - t0))))
            pss_c.append(sum(pss_mb(p) for p in workers))
            pss_f.append(sum(pss_mb(p.pid) for p in ffmpegs))
        elapsed = time.monotonic() - t0
        w1 = dt.datetime.now(dt.UTC)
        cpu_c = sum(tree_cpu_seconds(p) for p in workers) - cpu_c0
        cpu_f = sum(tree_cpu_seconds(p.pid) for p in ffmpegs) - sum(cpu_f0)
        restarted = sorted(set(sup.worker_pids()) ^ set(workers))
    finally:
        for p in ffmpegs:
            p.terminate()
        for p in ffmpegs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        sup.stop(15)
    expected = int(elapsed // segment_s)
    with Session(engine) as s:
        rows = list(
            s.exec(
                select(Segment)
                .where(col(Segment.end) > w0, col(Segment.start) < w1)
                .order_by(col(Segment.start))
            )
        )
    per_cam: dict[str, list[Any]] = {c: [] for c in cams}
    for r in rows:
        per_cam.setdefault(r.camera_id, []).append(r)
    camsvc_segments = [sum(1 for r in per_cam[c] if r.start >= w0 and r.end <= w1) for c in cams]
    camsvc_gaps = [gaps([(r.start, r.end) for r in per_cam[c]], w0, w1, 0.5) for c in cams]
    ff_files = {c: sorted((ff_dir / c).glob("*.mp4")) for c in cams}
    ff_covered = [_covered_s(ff_files[c]) for c in cams]
    camsvc_mbh = [
        sum(r.size for r in per_cam[c]) / 1e6 / (sum(r.duration_s for r in per_cam[c]) / 3600)
        for c in cams
        if per_cam[c]
    ]
    res = {
        "stream": stream,
        "cameras": n,
        "seconds": round(elapsed, 1),
        "segment_s": segment_s,
        "camsvc": {
            "cpu_pct_per_camera": round(100 * cpu_c / elapsed / n, 3),
            "pss_mb_per_camera": round(max(pss_c or [0]) / n, 2),
            "workers": len(workers),
            "worker_restarts": len(restarted),
            "segments_per_camera": camsvc_segments,
            "expected_per_camera": max(expected - 1, 0),  # whole segments inside the window
            "gaps": sum(len(g) for g in camsvc_gaps),
            "gap_s": round(sum((b - a).total_seconds() for g in camsvc_gaps for a, b in g), 2),
            "mb_per_hour": round(sum(camsvc_mbh) / len(camsvc_mbh), 1) if camsvc_mbh else None,
        },
        "ffmpeg": {
            "cpu_pct_per_camera": round(100 * cpu_f / elapsed / n, 3),
            "pss_mb_per_camera": round(max(pss_f or [0]) / n, 2),
            "files_per_camera": [len(ff_files[c]) for c in cams],
            "covered_s_per_camera": [round(x, 1) for x in ff_covered],
            "since_start_s": round(elapsed + WARMUP_S, 1),
        },
    }
    run = RecordRun(stream, data, settings, engine, cams, (w0, w1), sim, res)
    return res, run


@click.command()
@click.option("--cameras", "n", default=10, show_default=True, help="Simulated roadside cameras recorded")
@click.option("--seconds", default=120.0, show_default=True, help="Measured window per stream")
@click.option(
    "--stream",
    "streams",
    type=click.Choice(["main", "sub", "both"]),
    default="both",
    show_default=True,
    help="Which stream is recorded (both: main, then sub)",
)
@click.option("--keep", is_flag=True, help="Keep the recordings (printed path) instead of deleting them")
@click.option(
    "--baseline/--no-baseline",
    default=True,
    show_default=True,
    help="Also record every camera with one plain ffmpeg each (off: camsvc alone, e.g. all 240 cameras)",
)
@click.option(
    "--segment-s",
    type=click.FloatRange(2, 600),
    default=SEGMENT_S,
    show_default=True,
    help="Segment length for both recorders (the service's default is 60)",
)
def record(n: int, seconds: float, streams: str, keep: bool, baseline: bool, segment_s: float) -> None:
    """camsvc's recorder vs one plain ffmpeg per camera: CPU and PSS per camera, segments and gaps."""
    from camsvc.simulate.harness import Simulator

    work = Path(tempfile.mkdtemp(prefix="camsvc-bench-record-"))
    out: dict[str, Any] = {"cameras": n, "seconds": seconds, "rounds": [], "after": {}}
    try:
        with Simulator(roadside=n, household=0, out_dir=work / "sim") as sim:
            run: RecordRun | None = None
            runs: list[RecordRun] = []
            for stream in ["main", "sub"] if streams == "both" else [streams]:
                click.echo(f"recording {n} cameras ({stream}) for {seconds:.0f} s with camsvc and ffmpeg ...")
                res, run = _round(sim, stream, n, seconds, work, baseline, segment_s)
                runs.append(run)
                out["rounds"].append(res)
            if run is not None:
                from camsvc.bench import evidence  # noqa: F401  (registers its phase)

                for name, phase in AFTER_RECORDING.items():
                    out["after"][name] = phase(run)
            for r in runs:
                r.engine.dispose()
    finally:
        if keep:
            click.echo(f"recordings kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    rows = [["stream", "recorder", "CPU %/cam", "PSS MB/cam", "segments/cam (expected)", "gaps", "covered s"]]
    for r in out["rounds"]:
        c, f = r["camsvc"], r["ffmpeg"]
        rows.append(
            [
                r["stream"],
                "camsvc",
                f"{c['cpu_pct_per_camera']:.3f}",
                f"{c['pss_mb_per_camera']:.1f}",
                f"{min(c['segments_per_camera'], default=0)}-{max(c['segments_per_camera'], default=0)} "
                f"({c['expected_per_camera']})",
                f"{c['gaps']} ({c['gap_s']} s)",
                "-",
            ]
        )
        rows.append(
            [
                r["stream"],
                "ffmpeg",
                f"{f['cpu_pct_per_camera']:.3f}",
                f"{f['pss_mb_per_camera']:.1f}",
                f"{min(f['files_per_camera'], default=0)}-{max(f['files_per_camera'], default=0)}",
                "-",
                f"{min(f['covered_s_per_camera'], default=0):.0f}-{max(f['covered_s_per_camera'], default=0):.0f}"
                f" of {f['since_start_s']:.0f}",
            ]
        )
    click.echo(table(rows))
    ex = out["after"].get("export")
    if ex and "error" not in ex:
        click.echo(
            f"export {ex['cameras']} cameras x {ex['minutes']:.1f} min ({ex['package_mb']} MB): clips "
            f"{ex['clips_s']} s + package {ex['package_s']} s = {ex['export_s']} s "
            f"(10 min x 3 cameras projected: {ex['projected_10min_3cam_s']} s); verify "
            f"{'ok' if ex['verify_ok'] else 'FAILED'} at {ex['verify_mb_s']} MB/s"
        )
    elif ex:
        click.echo(f"export failed: {ex['error']}")
    path = write_json("record", out)
    click.echo(f"wrote {path}")
