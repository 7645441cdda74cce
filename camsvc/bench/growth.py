"""``camsvc bench growth``: database size per camera per month, before and after rollups and pruning.

K cameras are checked every ``--interval`` seconds over ``--days`` simulated days, straight into a fresh
temporary database through the real write path (:class:`camsvc.runtime.checks.CheckProcessor`: picture
analysis with real metrics, the state machine, transitions, outages, thumbnails), with realistic outages
(about one a day per camera, 5 to 120 minutes, a few picture faults). Then the real
:class:`camsvc.rollup.worker.RollupWorker` runs one pass at a time after the retention, so every hour is
rolled up and every raw check pruned. Sizes: SQLite's file after VACUUM; PostgreSQL's
``pg_total_relation_size`` of every table after VACUUM FULL (when a server answers on 127.0.0.1:5432).
Each size is less the size of the same empty, migrated database. Split into: bytes per raw check (before,
less what stays), bytes per rollup row (measured on the real rows copied over shifted days, since a few
dozen rows fill only a page or two), and the record kept per camera (transitions, outages, the bounded
thumbnails, status).

Printed per database: bytes per camera per month with raw checks (before) and with rollups only (after),
and the projected steady state per camera (``--retention-days`` of raw checks + ``--years`` of rollups +
the record), and for 1,000 cameras with and without pruning. Default run: under 2 minutes.
Writes ``bench-results/growth.json``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from camsvc.bench.common import table, write_json

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
MONTH_DAYS = 30.0
REPLICATE_TO = 5000  # rollup rows measured


def _picture() -> tuple[dict[str, float], bytes]:
    """Real picture metrics and a real thumbnail of a synthetic 640x360 street-like frame."""
    import cv2
    import numpy as np

    from camsvc.picture.measure import measure

    rng = np.random.default_rng(1)
    frame = np.full((360, 640, 3), 90, np.uint8)
    cv2.rectangle(frame, (0, 220), (640, 360), (70, 70, 70), -1)
    for x in range(0, 640, 80):
        cv2.rectangle(frame, (x + 10, 60), (x + 60, 200), (120, 140, 160), -1)
    noise = rng.integers(0, 20, frame.shape, dtype=np.uint8)
    frame = cv2.add(frame, noise)  # type: ignore[assignment]
    metrics = measure([frame, frame]).to_dict()
    ok, jpeg = cv2.imencode(".jpg", cv2.resize(frame, (320, 180)), [cv2.IMWRITE_JPEG_QUALITY, 70])
    return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}, bytes(jpeg)


def _outages(rng: random.Random, start: float, end: float) -> list[tuple[float, float, str]]:
    out: list[tuple[float, float, str]] = []
    t = start
    while True:
        t += rng.expovariate(1 / 86400)  # about one a day
        if t >= end:
            return out
        out.append((t, t + rng.uniform(300, 7200), rng.choice(["refused", "timeout", "timeout", "auth"])))


def generate(
    engine: Any, settings: Any, cameras: int, days: float, interval_s: float, end: dt.datetime
) -> int:
    """Checks through the real write path; returns how many were recorded."""
    from sqlmodel import Session

    from camsvc.enums import CameraKind, ErrorClass, StreamKind
    from camsvc.models import Camera
    from camsvc.probing.result import ProbeResult
    from camsvc.runtime.checks import CameraEntry, CheckProcessor

    metrics, jpeg = _picture()
    with Session(engine) as s:
        for i in range(cameras):
            s.add(
                Camera(
                    id=f"g{i:04d}",
                    name=f"g{i:04d}",
                    kind=CameraKind.ROADSIDE,
                    main_url=f"rtsp://127.0.0.1:9/{i}",
                )
            )
        s.commit()
    proc = CheckProcessor(settings, engine)
    rng = random.Random(12)
    t_end = end.timestamp()
    t_start = t_end - days * 86400
    n = 0
    plans = {i: _outages(rng, t_start, t_end) for i in range(cameras)}
    entries = [
        CameraEntry(
            id=f"g{i:04d}",
            url=f"rtsp://127.0.0.1:9/{i}",
            url_kind="main",
            stream_kind="rtsp",
            interval_s=interval_s,
            hamlet="",
            kind="roadside",
            version="1",
        )
        for i in range(cameras)
    ]
    t = t_start
    while t < t_end:
        for i, cam in enumerate(entries):
            at = t + i * interval_s / max(cameras, 1)
            down = next((e for a, b, e in plans[i] if a <= at < b), None)
            if down is None:
                m = dict(metrics)
                m["brightness"] = m.get("brightness", 100.0) * rng.uniform(0.8, 1.2)
                r = ProbeResult(
                    url=cam.url,
                    ok=True,
                    reachable=True,
                    opened=True,
                    frames_decoded=5,
                    width=1920,
                    height=1080,
                    fps=rng.uniform(24, 25.5),
                    open_ms=rng.uniform(60, 450),
                    first_frame_ms=rng.uniform(100, 600),
                    total_ms=rng.uniform(900, 2500),
                    stream_kind=StreamKind.RTSP,
                    started_at=at,
                    metrics=m,
                    thumbnail_jpeg=jpeg,
                )
            else:
                r = ProbeResult(
                    url=cam.url,
                    ok=False,
                    reachable=down != "refused",
                    error=ErrorClass(down),
                    detail=f"{down} (simulated)",
                    total_ms=rng.uniform(5, 10000),
                    stream_kind=StreamKind.RTSP,
                    started_at=at,
                )
            proc.process(cam, r, due_at=at)
            n += 1
        t += interval_s
    return n


def _sqlite_size(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("VACUUM")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return path.stat().st_size


def _pg_size(url: str) -> int:
    import sqlalchemy as sa

    eng = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with eng.connect() as c:
            c.execute(sa.text("VACUUM FULL"))
            v = c.execute(
                sa.text("SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM pg_stat_user_tables")
            ).scalar()
            return int(v or 0)
    finally:
        eng.dispose()


@contextlib.contextmanager
def _pg_database() -> Iterator[str | None]:
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception:
        yield None
        return
    name = f"camsvc_growth_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


def run_one(
    kind: str, url: str, data_dir: Path, cameras: int, days: float, interval_s: float, retention_days: int
) -> dict[str, Any]:
    from sqlmodel import Session, func, select

    from camsvc.config import Settings
    from camsvc.db import make_engine, upgrade
    from camsvc.models import Check, Outage, Transition
    from camsvc.rollup.models import CheckRollup
    from camsvc.rollup.worker import RollupWorker

    settings = Settings(data_dir=data_dir, database_url=url, checks={"retention_days": retention_days})
    engine = make_engine(url, data_dir)
    upgrade(engine)

    def size() -> int:
        engine.dispose()
        return _sqlite_size(Path(url.split("///", 1)[1])) if kind == "sqlite" else _pg_size(url)

    def rows(model: Any) -> int:
        with Session(engine) as s:
            return int(s.exec(select(func.count()).select_from(model)).one())

    empty = size()
    end = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    t0 = time.monotonic()
    n = generate(engine, settings, cameras, days, interval_s, end)
    write_s = time.monotonic() - t0
    before = size() - empty
    outages, transitions = rows(Outage), rows(Transition)
    # every hour complete and older than the retention: all rolled up, every raw check pruned
    t1 = time.monotonic()
    worker = RollupWorker(settings, engine, max_hours_per_pass=1_000_000, pass_budget_s=600)
    c = worker.run_pass(end + dt.timedelta(days=retention_days, hours=1))
    rollup_s = time.monotonic() - t1
    left, rollups = rows(Check), rows(CheckRollup)
    after = size() - empty
    # A rollup row's size is the same whatever its hour's checks; a few dozen rows sit in one or two pages,
    # so the real rows are copied over shifted days (same values) until enough to measure per row.
    import math

    from camsvc.rollup.compute import values_of

    span = dt.timedelta(days=math.ceil(days) + 1)  # shifted copies never meet the real hours
    with Session(engine) as s:
        real = [values_of(r) for r in s.exec(select(CheckRollup)).all()]
        k = 0
        while real and rollups + k * len(real) < REPLICATE_TO:
            k += 1
            batch = [{**v, "hour": v["hour"] - k * span} for v in real]
            s.execute(CheckRollup.__table__.insert(), batch)  # type: ignore[attr-defined]
        s.commit()
        copies = k * len(real)
    replicated = size() - empty
    engine.dispose()
    per_rollup = (replicated - after) / copies if copies else 0.0
    rollup_bytes = per_rollup * rollups
    record = max(after - rollup_bytes, 0.0)  # transitions, outages, bounded thumbnails, status
    per_check = (before - record) / n if n else 0.0
    checks_month = MONTH_DAYS * 86400 / interval_s  # per camera
    return {
        "database": kind,
        "cameras": cameras,
        "days": days,
        "interval_s": interval_s,
        "checks": n,
        "write_s": round(write_s, 2),
        "checks_per_s": round(n / write_s, 1) if write_s else None,
        "outages": outages,
        "transitions": transitions,
        "rollup_rows": rollups,
        "checks_deleted": c.checks_deleted,
        "checks_left": left,
        "rollup_pass_s": round(rollup_s, 2),
        "empty_bytes": empty,
        "before_bytes": before,
        "after_bytes": after,
        "rollup_rows_measured": copies,
        "bytes_per_check": round(per_check, 1),
        "bytes_per_rollup_row": round(per_rollup, 1),
        "record_bytes_per_camera": round(record / cameras),
        "bytes_per_camera_month_raw": round(per_check * checks_month),
        "bytes_per_camera_month_rollup": round(per_rollup * 24 * MONTH_DAYS),
        "bytes_per_camera_day_raw": round(per_check * checks_month / MONTH_DAYS),
    }


def _mb(b: float) -> str:
    return f"{b / 1e6:.2f}"


@click.command()
@click.option("--cameras", default=2, show_default=True, help="Simulated cameras")
@click.option("--days", default=0.5, show_default=True, help="Simulated days of checks")
@click.option("--interval", "interval_s", default=60.0, show_default=True, help="Check interval (s)")
@click.option("--retention-days", default=7, show_default=True, help="Raw check retention for the projection")
@click.option("--years", default=5.0, show_default=True, help="Years of rollups for the projection")
@click.option("--postgres/--no-postgres", default=True, show_default=True, help="Also on 127.0.0.1:5432")
def growth(
    cameras: int, days: float, interval_s: float, retention_days: int, years: float, postgres: bool
) -> None:
    """Database size per camera per month, raw checks vs hourly rollups, projected to years of operation."""
    if cameras < 1 or days <= 0 or interval_s <= 0:
        raise click.BadParameter("--cameras >= 1, --days > 0 and --interval > 0 are needed")
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="camsvc-growth-") as tmp:
        d = Path(tmp)
        click.echo(f"sqlite: {cameras} cameras x {days:g} days at {interval_s:g} s ...", err=True)
        results.append(
            run_one("sqlite", f"sqlite:///{d / 'growth.db'}", d, cameras, days, interval_s, retention_days)
        )
        if postgres:
            with _pg_database() as url:
                if url is None:
                    click.echo("postgresql: no server on 127.0.0.1:5432, skipped", err=True)
                else:
                    click.echo("postgresql ...", err=True)
                    results.append(run_one("postgresql", url, d, cameras, days, interval_s, retention_days))
    for r in results:
        steady = (
            r["bytes_per_camera_day_raw"] * retention_days + r["bytes_per_camera_month_rollup"] * 12 * years
        )
        r["projected_bytes_per_camera"] = round(steady)
        r["projected_gb_per_1000_cameras"] = round(steady * 1000 / 1e9, 3)
        r["without_rollups_gb_per_1000_cameras"] = round(
            r["bytes_per_camera_month_raw"] * 12 * years * 1000 / 1e9, 2
        )
    rows = [
        [
            "database",
            "checks",
            "checks/s",
            "rollups",
            "B/check",
            "B/rollup",
            "KB/cam/month raw",
            "KB/cam/month rollup",
            f"MB/cam {retention_days}d raw+{years:g}y",
            "GB/1000 cams",
            "GB/1000 cams no pruning",
        ]
    ]
    for r in results:
        rows.append(
            [
                r["database"],
                str(r["checks"]),
                str(r["checks_per_s"]),
                str(r["rollup_rows"]),
                str(r["bytes_per_check"]),
                str(r["bytes_per_rollup_row"]),
                f"{r['bytes_per_camera_month_raw'] / 1e3:.0f}",
                f"{r['bytes_per_camera_month_rollup'] / 1e3:.1f}",
                _mb(r["projected_bytes_per_camera"]),
                str(r["projected_gb_per_1000_cameras"]),
                str(r["without_rollups_gb_per_1000_cameras"]),
            ]
        )
    click.echo(table(rows))
    out = {
        "params": {
            "cameras": cameras,
            "days": days,
            "interval_s": interval_s,
            "retention_days": retention_days,
            "years": years,
        },
        "results": results,
    }
    click.echo(f"written {write_json('growth', json.loads(json.dumps(out, default=str)))}")
