"""``camsvc bench scale``: probe nodes on PostgreSQL checking 10,000 cheap cameras, 1 / 2 / 4 nodes in one run.

What is measured is everything but decoding: each camera is an HTTP snapshot URL served by a few small
asyncio processes on 127.0.0.1 (one small real JPEG, the same for every path), so a check costs the
scheduler, the probe pool, the HTTP fetch, the judgement and the database write, and almost no decoding.
Per phase (a fresh PostgreSQL database, the cameras imported, N `camsvc serve --role probe` processes and
one `--role api` process started, a warm-up, then a measured window):

- sustained checks per second per node: check rows per node whose ``at`` falls in the window;
- database time per check: ``pg_stat_database.active_time`` (time the server spent executing statements in
  this database, every client included: heartbeats, leases, the API polled below) over the checks written,
  and the writer's own ``scheduler.write_ms_avg`` from /healthz where a process answers it;
- lock waits: pg_stat_activity sampled every second (``wait_event_type = 'Lock'``) and ungranted pg_locks;
- /api/status p50/p95 from the API process while the nodes run;
- CPU per check of the node processes (their whole trees), which with the decode cost per check of real
  streams (``--decode-ms``; measured with ``camsvc bench sweep``) gives cameras per 2-core node at 60 s.

Before the node roles exist (``serve --role``), ``--mode all`` runs one ``camsvc serve`` doing everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import httpx

from camsvc.bench.common import (
    free_port,
    stop_process,
    summary,
    table,
    tree_cpu_seconds,
    wait_http,
    write_json,
)

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Decode cost per check on real streams (OpenCV open + frames + release, CPU ms), FACTS.md / bench sweep
DEFAULT_DECODE_MS = "sub 640x360=15,main 1280x720=29"
CORES = 2
UTILISATION = 0.75  # share of a node's cores the checks may use, the rest for bursts, retries, the OS


# --- the cheap camera tier -------------------------------------------------------------------------------


def snapshot_jpeg(width: int = 320, height: int = 180) -> bytes:
    """A small real street picture as JPEG (the simulator's cached photo when present, else drawn)."""
    import cv2
    import numpy as np

    photo = Path.home() / ".cache" / "camsvc" / "footage" / "leuvenA.jpg"
    img = cv2.imread(str(photo)) if photo.exists() else None
    if img is None:
        img = np.full((height, width, 3), 90, np.uint8)
        cv2.putText(img, "camsvc scale", (10, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 1, (230, 230, 230), 2)
        img = cv2.GaussianBlur(img, (3, 3), 0)
    img = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise RuntimeError("could not encode the snapshot JPEG")
    return bytes(buf)


async def _serve_snapshots(port: int, body: bytes) -> None:
    head_ok = (
        f"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n\r\n"
    ).encode()
    missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for _ in range(1000):  # keep-alive, bounded
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b""
                writer.write(head_ok + body if path.startswith(b"/cam/") else missing)
                await writer.drain()
                if b"connection: close" in head.lower():
                    break
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def snapshot_servers(n: int, tmp: Path) -> Any:
    """*n* snapshot server processes; yields their ports."""
    jpeg = tmp / "snapshot.jpg"
    jpeg.write_bytes(snapshot_jpeg())
    procs, ports = [], []
    try:
        for _ in range(n):
            port = free_port()
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "camsvc.bench.scale", "serve-snapshots", str(port), str(jpeg)],
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            ports.append(port)
        for port, proc in zip(ports, procs, strict=True):
            wait_http(f"http://127.0.0.1:{port}/cam/0.jpg", 30, proc)
        yield ports
    finally:
        for proc in procs:
            stop_process(proc)  # type: ignore[arg-type]


# --- database ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(admin_url: str, name: str) -> Any:
    """A new PostgreSQL database *name* (dropped afterwards); yields its SQLAlchemy URL."""
    import sqlalchemy as sa

    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        raise click.ClickException(f"PostgreSQL at {admin_url} is not reachable: {exc}") from None
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def import_cameras(url: str, n: int, ports: list[int], site: str = "") -> float:
    """*n* enabled snapshot cameras spread over *ports*; returns the seconds it took."""
    from camsvc.db import make_engine, session_scope, upgrade
    from camsvc.enums import CameraKind
    from camsvc.models import Camera

    t0 = time.perf_counter()
    engine = make_engine(url)
    try:
        upgrade(engine)
        for start in range(0, n, 2000):
            with session_scope(engine) as s:
                s.add_all(
                    Camera(
                        id=f"sc-{i:05d}",
                        name=f"Scale camera {i}",
                        kind=CameraKind.HOUSEHOLD,
                        hamlet=f"Xóm {i % 40 + 1}",
                        snapshot_url=f"http://127.0.0.1:{ports[i % len(ports)]}/cam/{i}.jpg",
                        site=site,
                        enabled=True,
                    )
                    for i in range(start, min(n, start + 2000))
                )
    finally:
        engine.dispose()
    return time.perf_counter() - t0


def admin_token(url: str) -> str:
    from camsvc.auth.bootstrap import api_token
    from camsvc.db import make_engine

    engine = make_engine(url)
    try:
        return api_token(engine, "bench-scale", "admin")
    finally:
        engine.dispose()


# --- processes -----------------------------------------------------------------------------------------


def roles_available() -> bool:
    """True once `camsvc serve` has --role (the node roles of issue 12)."""
    out = subprocess.run(
        [sys.executable, "-m", "camsvc", "serve", "--help"], capture_output=True, text=True, timeout=60
    )
    return "--node-name" in out.stdout


@dataclass
class Node:
    name: str
    role: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    cpu0: float = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_node(url: str, tmp: Path, name: str, role: str, interval: float, extra: dict[str, str]) -> Node:
    from camsvc.crypto import generate_key, key_file_path

    data = tmp / name
    data.mkdir(parents=True, exist_ok=True)
    shared = tmp / "secret.key"  # one key for every node: each decrypts what the others encrypted
    if not shared.exists():
        shared.write_text(generate_key() + "\n", encoding="ascii")
        shared.chmod(0o600)
    key_file_path(data).write_bytes(shared.read_bytes())
    key_file_path(data).chmod(0o600)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMSVC_")}
    env.update(
        {
            "CAMSVC_DATABASE_URL": url,  # trust auth on 127.0.0.1: no password in it
            "CAMSVC_DATA_DIR": str(data),
            "CAMSVC_HOST": "127.0.0.1",
            "CAMSVC_PORT": str(port),
            "CAMSVC_CHECKS__INTERVAL_S": str(interval),
            "CAMSVC_LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    args = [sys.executable, "-m", "camsvc", "serve"]
    if role != "legacy":
        args += ["--role", role]
        env["CAMSVC_NODE__NAME"] = name
    if role == "probe":
        args += ["--node-name", name]
    log = data / "node.log"
    with open(log, "ab") as f:
        proc = subprocess.Popen(
            args,
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Node(name, role, port, proc, log)


def wait_nodes(url: str, names: list[str], timeout_s: float, nodes: list[Node]) -> None:
    """Until every probe node has a row in probe_node (bounded)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for n in nodes:
                if n.proc.poll() is not None:
                    raise RuntimeError(f"{n.name} exited ({n.proc.returncode}): {n.log.read_text()[-2000:]}")
            with engine.connect() as c:
                seen = {r[0] for r in c.execute(sa.text("SELECT name FROM probe_node"))}
            if set(names) <= seen:
                return
            time.sleep(1)
        raise TimeoutError(f"probe nodes {sorted(set(names) - seen)} not in probe_node after {timeout_s:g} s")
    finally:
        engine.dispose()


# --- sampling during the window ------------------------------------------------------------------------


@dataclass
class Samples:
    lock_waiting: list[int] = field(default_factory=list)
    locks_ungranted: list[int] = field(default_factory=list)
    status_ms: list[float] = field(default_factory=list)
    status_errors: int = 0


def _sample_locks(url: str, db: str, stop: threading.Event, out: Samples) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url, pool_size=1)
    try:
        with engine.connect() as c:
            for _ in range(100_000):
                if stop.is_set():
                    break
                row = c.execute(
                    sa.text(
                        "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = :db "
                        "AND wait_event_type = 'Lock'), (SELECT count(*) FROM pg_locks l JOIN pg_database d "
                        "ON d.oid = l.database WHERE d.datname = :db AND NOT l.granted)"
                    ),
                    {"db": db},
                ).one()
                c.rollback()
                out.lock_waiting.append(int(row[0]))
                out.locks_ungranted.append(int(row[1]))
                stop.wait(1.0)
    finally:
        engine.dispose()


def _poll_status(base: str, token: str, stop: threading.Event, out: Samples) -> None:
    with httpx.Client(timeout=15, headers={"Authorization": f"Bearer {token}"}) as c:
        for _ in range(100_000):
            if stop.is_set():
                break
            t = time.perf_counter()
            try:
                c.get(f"{base}/api/status").raise_for_status()
                out.status_ms.append((time.perf_counter() - t) * 1000)
            except httpx.HTTPError:
                out.status_errors += 1
            stop.wait(0.5)


@dataclass
class DbStats:
    active_ms: float  # time the bench database's backends spent in statements
    commits: int
    rows_written: int  # tuples inserted + updated + deleted
    wal_bytes: float  # the server's WAL position: cluster-wide (other databases' writes count too)
    at: dt.datetime


def _db_stats(engine: Any, db: str) -> DbStats:
    import sqlalchemy as sa

    with engine.connect() as c:
        row = c.execute(
            sa.text(
                "SELECT active_time, xact_commit, tup_inserted + tup_updated + tup_deleted, "
                "pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0'), now() FROM pg_stat_database "
                "WHERE datname = :db"
            ),
            {"db": db},
        ).one()
    return DbStats(float(row[0] or 0.0), int(row[1]), int(row[2]), float(row[3]), row[4])


def _healthz_write_ms(node: Node) -> float | None:
    try:
        data = httpx.get(f"{node.base}/healthz", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return None
    sched = data.get("scheduler") if isinstance(data, dict) else None
    if isinstance(sched, dict) and sched.get("checks_written"):
        return float(sched.get("write_ms_avg", 0.0))
    return None


# --- one phase -----------------------------------------------------------------------------------------


def run_phase(
    n_nodes: int,
    mode: str,
    cameras: int,
    interval: float,
    warmup: float,
    window: float,
    ports: list[int],
    variant: tuple[str, dict[str, str]] = ("default", {}),
) -> dict[str, Any]:
    """One phase: a fresh database, N nodes; *variant*: a label and settings (environment) for every node."""
    import sqlalchemy as sa

    tmp = Path(tempfile.mkdtemp(prefix=f"camsvc-bench-scale-{n_nodes}-"))
    db = f"camsvc_bench_scale_{os.getpid()}_{n_nodes}"
    with fresh_database(ADMIN_URL, db) as url:
        import_s = import_cameras(url, cameras, ports)
        token = admin_token(url)
        extra = {"CAMSVC_NODE__HEARTBEAT_S": "5", "CAMSVC_NODE__DEAD_AFTER_S": "30"} | variant[1]
        nodes: list[Node] = []
        api: Node
        try:
            if mode == "probe":
                api = start_node(url, tmp, "scale-api", "api", interval, extra)
                wait_http(f"{api.base}/healthz", 90, api.proc)
                nodes = [
                    start_node(url, tmp, f"scale-p{k}", "probe", interval, extra)
                    for k in range(1, n_nodes + 1)
                ]
                wait_nodes(url, [n.name for n in nodes], 120, nodes)
            else:
                api = start_node(url, tmp, "scale-all", "all" if mode == "all" else "legacy", interval, extra)
                wait_http(f"{api.base}/healthz", 90, api.proc)
                nodes = [api]
            time.sleep(warmup)  # steady state: every camera leased and checked once (not a synchronisation)
            for n in nodes + ([] if api in nodes else [api]):
                if n.proc.poll() is not None:
                    raise RuntimeError(f"{n.name} exited ({n.proc.returncode}): {n.log.read_text()[-2000:]}")
            engine = sa.create_engine(url)
            samples = Samples()
            stop = threading.Event()
            threads = [
                threading.Thread(target=_sample_locks, args=(url, db, stop, samples), daemon=True),
                threading.Thread(target=_poll_status, args=(api.base, token, stop, samples), daemon=True),
            ]
            for n in nodes:
                n.cpu0 = tree_cpu_seconds(n.proc.pid)
            s0 = _db_stats(engine, db)
            t0 = s0.at
            m0 = time.monotonic()
            for th in threads:
                th.start()
            time.sleep(window)  # the measured window
            stop.set()
            for th in threads:
                th.join(30)
            wall = time.monotonic() - m0
            cpu = {n.name: tree_cpu_seconds(n.proc.pid) - n.cpu0 for n in nodes}
            time.sleep(1.5)  # backends flush their statistics at most once a second
            s1 = _db_stats(engine, db)
            t1 = s1.at
            with engine.connect() as c:
                rows = c.execute(
                    sa.text(
                        "SELECT coalesce(node, ''), count(*), sum(CASE WHEN ok THEN 1 ELSE 0 END), "
                        "percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM at - due_at)) "
                        'FROM "check" WHERE at >= :t0 AND at < :t1 GROUP BY 1 ORDER BY 1'
                    ),
                    {"t0": t0, "t1": t1},
                ).all()
                leases: dict[str, int] = dict(
                    c.execute(sa.text("SELECT node, count(*) FROM camera_lease GROUP BY node")).all()
                )
                first = c.execute(  # first checks store a picture at the unknown -> up change
                    sa.text(
                        "SELECT count(*) FROM transition WHERE old_state = 'UNKNOWN' AND at >= :t0 AND at < :t1"
                    ),
                    {"t0": t0, "t1": t1},
                ).scalar_one()
                dup = c.execute(
                    sa.text(
                        'SELECT count(*) FROM (SELECT camera_id, due_at FROM "check" WHERE due_at IS NOT NULL '
                        "GROUP BY 1, 2 HAVING count(*) > 1) d"
                    )
                ).scalar_one()
            engine.dispose()
            write_ms = [w for w in (_healthz_write_ms(n) for n in nodes) if w is not None]
        finally:
            for n in nodes:
                stop_process(n.proc)  # type: ignore[arg-type]
            if "api" in locals() and api not in nodes:
                stop_process(api.proc)  # type: ignore[arg-type]
    span = (t1 - t0).total_seconds()
    checks = sum(int(r[1]) for r in rows)
    per_node = {
        str(r[0]) or "(none)": {
            "checks": int(r[1]),
            "ok": int(r[2] or 0),
            "checks_per_s": round(int(r[1]) / span, 2),
            "lag_p95_s": round(float(r[3]), 2) if r[3] is not None else None,
            "leases": int(leases.get(str(r[0]), 0)),
        }
        for r in rows
    }
    cpu_total = sum(cpu.values())
    return {
        "nodes": n_nodes,
        "variant": variant[0],
        "settings": variant[1],
        "mode": mode,
        "cameras": cameras,
        "interval_s": interval,
        "import_s": round(import_s, 1),
        "window_s": round(span, 1),
        "expected_checks_per_s": round(cameras / interval, 2),
        "checks": checks,
        "checks_per_s": round(checks / span, 2),
        "ok_share": round(sum(int(r[2] or 0) for r in rows) / checks, 4) if checks else 0.0,
        "per_node": per_node,
        "duplicate_due_checks": int(dup),
        # a window of mostly first checks (nodes behind their cameras) measures the start, not the steady
        # state: each first check is a state change and stores a picture
        "first_check_share": round(int(first) / checks, 3) if checks else None,
        "db_active_ms_per_check": round((s1.active_ms - s0.active_ms) / checks, 3) if checks else None,
        "db_commits_per_check": round((s1.commits - s0.commits) / checks, 2) if checks else None,
        "db_rows_written_per_check": round((s1.rows_written - s0.rows_written) / checks, 2)
        if checks
        else None,
        "wal_kb_per_check": round((s1.wal_bytes - s0.wal_bytes) / 1024 / checks, 2) if checks else None,
        "writer_write_ms_avg": round(sum(write_ms) / len(write_ms), 3) if write_ms else None,
        "lock_waits": {
            "samples": len(samples.lock_waiting),
            "samples_with_waiters": sum(1 for v in samples.lock_waiting if v),
            "max_waiting": max(samples.lock_waiting, default=0),
            "max_ungranted_locks": max(samples.locks_ungranted, default=0),
        },
        "status_ms": {k: round(v, 1) for k, v in summary(samples.status_ms).items()}
        | {"errors": samples.status_errors},
        "node_cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        "node_cpu_share_of_one_core": round(cpu_total / wall / max(1, n_nodes), 3),
        "cpu_ms_per_check": round(1000 * cpu_total / checks, 2) if checks else None,
    }


# --- capacity table (pure) -----------------------------------------------------------------------------


def parse_compare(spec: str) -> list[tuple[str, dict[str, str]]]:
    """``section.key=v1,v2`` -> one (label, environment) per value; empty -> the defaults. The setting must
    exist (camsvc.config.Settings) and each value must be valid for it."""
    if not spec.strip():
        return [("default", {})]
    from pydantic import ValidationError

    from camsvc.config import Settings

    name, sep, values = spec.partition("=")
    section, dot, key = name.strip().partition(".")
    fields = Settings.model_fields
    if not sep or not dot or section not in fields:
        raise ValueError(
            f"--compare: expected section.key=v1,v2 (e.g. checks.thumbnail_refresh_s=0,300), got {spec!r}"
        )
    model = fields[section].annotation
    if key not in getattr(model, "model_fields", {}):
        raise ValueError(f"--compare: {section} has no setting {key!r}")
    out = []
    for v in (x.strip() for x in values.split(",")):
        if not v:
            continue
        try:
            model.model_validate({key: v})  # type: ignore[union-attr]
        except ValidationError as exc:
            raise ValueError(f"--compare: {name}={v!r} is not valid: {exc.errors()[0]['msg']}") from None
        out.append((f"{name}={v}", {f"CAMSVC_{section.upper()}__{key.upper()}": v}))
    if not out:
        raise ValueError("--compare: no values")
    return out


def parse_decode_ms(spec: str) -> list[tuple[str, float]]:
    """'sub 640x360=15,main 1280x720=29' -> [('sub 640x360', 15.0), ...]; ValueError naming a bad item."""
    out = []
    for item in (p.strip() for p in spec.split(",")):
        if not item:
            continue
        label, sep, value = item.rpartition("=")
        try:
            ms = float(value)
        except ValueError:
            ms = -1.0
        if not sep or not label.strip() or not ms > 0:
            raise ValueError(f"--decode-ms: '{item}' is not LABEL=MS with MS > 0")
        out.append((label.strip(), ms))
    if not out:
        raise ValueError("--decode-ms: give at least one LABEL=MS")
    return out


def cameras_per_node(
    decode_ms: float,
    overhead_ms: float,
    interval_s: float,
    cores: int = CORES,
    utilisation: float = UTILISATION,
) -> int:
    """Cameras one node checks every *interval_s* when each check costs *decode_ms* + *overhead_ms* of CPU
    and the checks may use *utilisation* of *cores*."""
    per_check_s = (decode_ms + overhead_ms) / 1000.0
    if per_check_s <= 0:
        raise ValueError("a check costs some CPU")
    return int(cores * utilisation * interval_s / per_check_s)


def capacity_rows(
    decode: list[tuple[str, float]], overhead_ms: float, interval_s: float
) -> list[dict[str, Any]]:
    return [
        {
            "stream": label,
            "decode_ms": ms,
            "non_decode_ms": round(overhead_ms, 2),
            "cameras_per_2_core_node": cameras_per_node(ms, overhead_ms, interval_s),
        }
        for label, ms in decode
    ]


# --- command -------------------------------------------------------------------------------------------


@click.command()
@click.option("--cameras", default=10_000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--interval", default=60.0, show_default=True, type=click.FloatRange(5, 3600), help="s")
@click.option("--nodes", "nodes_spec", default="1,2,4", show_default=True, help="Probe nodes per phase")
@click.option("--warmup", default=70.0, show_default=True, help="Seconds before each measured window")
@click.option("--window", default=120.0, show_default=True, help="Measured seconds per phase")
@click.option("--quick", is_flag=True, help="Warm-up 40 s, window 45 s")
@click.option(
    "--servers", default=2, show_default=True, type=click.IntRange(1, 16), help="Snapshot processes"
)
@click.option(
    "--mode",
    type=click.Choice(["auto", "probe", "all"]),
    default="auto",
    show_default=True,
    help="probe: N `serve --role probe` + one `--role api`; all: one `serve` doing everything (one phase)",
)
@click.option(
    "--decode-ms", default=DEFAULT_DECODE_MS, show_default=True, help="Real-stream decode CPU/check"
)
@click.option(
    "--compare",
    "compare_spec",
    default="",
    help="Run every node count once per value of one setting, side by side, e.g. "
    "checks.thumbnail_refresh_s=0,300",
)
def scale(
    cameras: int,
    interval: float,
    nodes_spec: str,
    warmup: float,
    window: float,
    quick: bool,
    servers: int,
    mode: str,
    decode_ms: str,
    compare_spec: str,
) -> None:
    """Probe nodes on PostgreSQL checking many cheap snapshot cameras: checks/s per node, DB time per check,
    lock waits, /api/status p95; and cameras per 2-core node at the interval."""
    try:
        decode = parse_decode_ms(decode_ms)
        counts = [int(x) for x in nodes_spec.split(",") if x.strip()]
        variants = parse_compare(compare_spec)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if not counts or any(c < 1 or c > 16 for c in counts):
        raise click.BadParameter("--nodes: comma-separated counts between 1 and 16")
    if quick:
        warmup, window = 40.0, 45.0
    if mode == "auto":
        mode = "probe" if roles_available() else "legacy"
    elif mode == "all" and not roles_available():
        mode = "legacy"  # a `serve` from before the node roles: the same single process
    if mode != "probe":
        counts = [1]
    click.echo(
        f"scale: {cameras} snapshot cameras at {interval:g} s, nodes {counts} ({mode}), "
        f"warm-up {warmup:g} s + window {window:g} s per phase"
    )
    tmp = Path(tempfile.mkdtemp(prefix="camsvc-bench-scale-"))
    phases = []
    with snapshot_servers(servers, tmp) as ports:
        for n in counts:
            for v in variants:
                click.echo(f"phase: {n} node(s), {v[0]}...")
                phases.append(run_phase(n, mode, cameras, interval, warmup, window, ports, v))
    rows = [
        (
            "nodes",
            "settings",
            "checks/s (want)",
            "per node",
            "lag p95 s",
            "first checks",
            "DB ms/check",
            "rows/check",
            "WAL KB/check",
            "write ms",
            "lock waits",
            "/api/status p95",
            "CPU ms/check",
        )
    ]
    for p in phases:
        rows.append(
            (
                str(p["nodes"]),
                p["variant"],
                f"{p['checks_per_s']:.1f} ({p['expected_checks_per_s']:.1f})",
                " ".join(f"{v['checks_per_s']:.1f}" for v in p["per_node"].values()),
                " ".join(str(v["lag_p95_s"]) for v in p["per_node"].values()),
                f"{p['first_check_share']:.0%}" if p["first_check_share"] is not None else "-",
                str(p["db_active_ms_per_check"]),
                str(p["db_rows_written_per_check"]),
                str(p["wal_kb_per_check"]),
                str(p["writer_write_ms_avg"]),
                f"{p['lock_waits']['samples_with_waiters']}/{p['lock_waits']['samples']}",
                f"{p['status_ms'].get('p95', float('nan')):.1f} ms",
                str(p["cpu_ms_per_check"]),
            )
        )
    click.echo(table(rows))
    measured = [float(p["cpu_ms_per_check"]) for p in phases if p["cpu_ms_per_check"]]
    overhead = min(measured, default=0.0)
    cap = capacity_rows(decode, overhead, interval)
    click.echo(
        f"cameras per {CORES}-core node at {interval:g} s ({UTILISATION:.0%} of the cores for checks):"
    )
    click.echo(
        table(
            [("stream", "decode ms", "non-decode ms", "cameras/node")]
            + [
                (
                    c["stream"],
                    f"{c['decode_ms']:g}",
                    f"{c['non_decode_ms']:g}",
                    str(c["cameras_per_2_core_node"]),
                )
                for c in cap
            ]
        )
    )
    result = {
        "cameras": cameras,
        "interval_s": interval,
        "mode": mode,
        "cpu_count": os.cpu_count(),
        "phases": phases,
        "capacity": cap,
        "decode_ms_source": decode_ms,
        "targets": {
            "real_cameras_per_2_core_node": 2000,
            "cameras_across_nodes": 10_000,
            "db_ms_per_check_max": 5.0,
        },
    }
    click.echo(f"wrote {write_json('scale', result)}")


def _main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[0] == "serve-snapshots":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve_snapshots(int(argv[1]), Path(argv[2]).read_bytes()))
        return
    raise SystemExit("usage: python -m camsvc.bench.scale serve-snapshots PORT JPEG")


if __name__ == "__main__":
    _main(sys.argv[1:])
