"""``python -m camsvc.bench.web`` (or ``camsvc bench web`` once registered): what one open dashboard costs.

For each fleet size (default 240 and 10,000 cameras) it fills a real database through ``record_check``
(cached under ``<cache dir>/web-bench/``, see camsvc.paths), runs ``camsvc serve`` with the scheduler off, and keeps the
fleet "alive" from this process the way the service would: every second ``N/60`` cameras get a new
``last_check_at`` (a check every 60 s each) and every 10 s one camera really changes state (two failed checks,
or a recovery). Then, for ``--seconds``:

* **server**: one client polls like the page does (``/web/changes?cursor=`` every ``--refresh`` s, then
  ``/api/status`` only when something changed), and, for comparison, like a naive page would
  (``/api/map`` with ``If-None-Match`` every ``--refresh`` s). Reported: bytes received and service CPU per
  minute, request latency, and the first load (page, scripts, styles, ``/api/map``, ``/api/status``).
* **browser** (``--browser``): Debian's chromium opens the dashboard; reported: time until the markers are
  there, main-thread CPU per minute (Chrome's TaskDuration) while the changes above come in, JS heap,
  DOM nodes.

The first load (bytes of the page, its scripts and styles, ``/api/map`` and ``/api/status``; map tiles are
not fetched: the tile URL points nowhere) is checked against its target, 300 KB (``FIRST_LOAD_TARGET``).

* **report** (``--report``, on by default; ``--report-only`` runs nothing else): a database of
  ``--report-cameras`` cameras (default 1,000) with 30 days of realistic outages (a few per camera and month,
  minutes to days long, some overlapping, some open, some degraded, most acknowledged, maintenance windows for
  a hamlet and nightly for another, maintenance transitions) generated straight into the tables; then the
  service report for the last 30 days, timed in process: JSON (queries + computation + serialising) against
  the 2 s target (``REPORT_TARGET_S``), and the PDF and CSV apart.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import random
import re
import threading
import time
from pathlib import Path
from typing import Any

import click
import httpx
import sqlalchemy as sa
from sqlmodel import Session, col, select

from camsvc.bench.common import (
    free_port,
    launch_chromium,
    pct,
    service,
    table,
    tree_cpu_seconds,
    write_json,
)
from camsvc.models import CameraStatus, HealthState
from camsvc.paths import cache_dir

log = logging.getLogger(__name__)

DATA_VERSION = 2  # bump when camsvc.bench.sample changes what it writes
NO_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"
FIRST_LOAD_TARGET = 300_000  # bytes, without tiles (issue 11)
REPORT_TARGET_S = 2.0  # the report for 1,000 cameras over 30 days (issue 11)
REPORT_DATA_VERSION = 1  # bump when report_data changes what it writes


def prepare(cameras: int, seed: int = 1) -> Path:
    """A data dir holding ``cameras`` cameras in realistic states (built once, then reused)."""
    from camsvc.bench.sample import fill
    from camsvc.config import load_settings
    from camsvc.db import make_engine, upgrade

    d = cache_dir() / "web-bench" / f"{cameras}-s{seed}-v{DATA_VERSION}"
    done = d / "ready"
    if done.exists():
        return d
    if d.exists():
        for p in d.iterdir():
            p.unlink()
    d.mkdir(parents=True, exist_ok=True)
    engine = make_engine(load_settings(data_dir=d).db_url)
    upgrade(engine)
    t0 = time.monotonic()
    click.echo(f"filling {cameras} cameras through record_check (once, cached in {d}) ...")
    fill(engine, cameras, now=dt.datetime.now(dt.UTC), seed=seed)
    engine.dispose()
    done.write_text(f"{time.monotonic() - t0:.1f} s\n")
    return d


class Activity:
    """The fleet being checked: last_check_at moves for N/60 cameras a second; a state change every 10 s."""

    def __init__(self, data_dir: Path, seed: int = 1):
        from camsvc.config import load_settings
        from camsvc.db import make_engine

        self.engine = make_engine(load_settings(data_dir=data_dir).db_url)
        self.stop = threading.Event()
        self.rng = random.Random(seed)
        self.changes = 0
        self.thread = threading.Thread(target=self._run, name="bench-activity", daemon=True)

    def __enter__(self) -> Activity:
        with Session(self.engine) as s:
            self.ids = list(s.exec(select(CameraStatus.camera_id)).all())
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        self.engine.dispose()

    def _run(self) -> None:
        from camsvc.bench.sample import write_check

        per_s = max(1, len(self.ids) // 60)
        for tick in range(1, 100001):  # bounded: ~27 h at one tick a second
            if self.stop.wait(1.0):
                return
            now = dt.datetime.now(dt.UTC)
            batch = self.rng.sample(self.ids, min(per_s, len(self.ids)))
            with Session(self.engine) as s:
                s.execute(
                    sa.update(CameraStatus)
                    .where(col(CameraStatus.camera_id).in_(batch))
                    .values(last_check_at=now)
                )
                if tick % 10 == 0:
                    cid = self.rng.choice(self.ids)
                    st = s.get(CameraStatus, cid)
                    if st is not None and st.state is HealthState.DOWN:
                        write_check(s, cid, now)
                    else:
                        write_check(s, cid, now, ok=False, error="timeout")
                        write_check(s, cid, now + dt.timedelta(seconds=1), ok=False, error="timeout")
                    self.changes += 1
                s.commit()


def _size(r: httpx.Response) -> int:
    """Bytes on the wire: headers plus the body as sent (compressed, if the service compresses it)."""
    head = sum(len(k) + len(v) + 4 for k, v in r.headers.items()) + 17
    return head + (r.num_bytes_downloaded or len(r.content))


def first_load(base: str, cookies: dict[str, str]) -> dict[str, Any]:
    """Bytes of everything the page fetches on a cold start (as sent, and what gzip would make of it)."""
    with httpx.Client(base_url=base, timeout=60, cookies=cookies) as c:
        page = c.get("/")
        urls = [u for u in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)]
        parts = {"page": page}
        for u in urls:
            parts[u.split("?")[0].rsplit("/", 1)[-1]] = c.get(u)
        t0 = time.perf_counter()
        parts["/api/map"] = c.get("/api/map")
        map_ms = (time.perf_counter() - t0) * 1000
        parts["/api/status"] = c.get("/api/status")
    total = sum(_size(r) for r in parts.values())
    gz = sum(len(gzip.compress(r.content, 6)) for r in parts.values())
    return {
        "bytes": total,
        "gzip_bytes_if_enabled": gz,
        "api_map_bytes": len(parts["/api/map"].content),
        "api_map_ms": round(map_ms, 1),
        "files": {k: len(r.content) for k, r in parts.items()},
        "files_on_wire": {k: r.num_bytes_downloaded for k, r in parts.items()},
    }


def poll(
    base: str, pid: int, mode: str, refresh_s: float, seconds: float, cookies: dict[str, str]
) -> dict[str, Any]:
    """Poll like the page (mode "changes") or like a naive page ("map-etag"); bytes and service CPU."""
    nbytes = requests = status_reads = 0
    lat: list[float] = []
    cursor: str | None = None
    etag: str | None = None
    with httpx.Client(base_url=base, timeout=60, cookies=cookies) as c:
        if mode == "changes":
            cursor = c.get("/web/changes").json()["cursor"]
        else:
            etag = c.get("/api/map").headers.get("etag")
        cpu0, t0 = tree_cpu_seconds(pid), time.monotonic()
        n = 0
        while time.monotonic() - t0 < seconds and n < 100000:
            n += 1
            start = time.perf_counter()
            if mode == "changes":
                r = c.get("/web/changes", params={"cursor": cursor})
                body = r.json()
                cursor = body["cursor"]
                changed = bool(body["cameras"]) or body["full"]
                if body["full"]:
                    m = c.get("/api/map")
                    nbytes += _size(m)
                    requests += 1
            else:
                r = c.get("/api/map", headers={"If-None-Match": etag} if etag else {})
                etag = r.headers.get("etag", etag)
                changed = r.status_code == 200
            lat.append((time.perf_counter() - start) * 1000)
            nbytes += _size(r)
            requests += 1
            if changed:
                s = c.get("/api/status")
                nbytes += _size(s)
                requests += 1
                status_reads += 1
            wait = refresh_s - (time.perf_counter() - start)
            if wait > 0:
                time.sleep(wait)
        elapsed = time.monotonic() - t0
        cpu = tree_cpu_seconds(pid) - cpu0
    per_min = 60.0 / elapsed
    return {
        "mode": mode,
        "seconds": round(elapsed, 1),
        "polls": n,
        "requests": requests,
        "status_reads": status_reads,
        "bytes_per_min": round(nbytes * per_min),
        "service_cpu_s_per_min": round(cpu * per_min, 3),
        "poll_ms_median": round(pct(lat, 50), 1),
        "poll_ms_p95": round(pct(lat, 95), 1),
    }


def browser(base: str, refresh_s: float, seconds: float, cookies: dict[str, str]) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        try:
            ctx = b.new_context(viewport={"width": 1440, "height": 900})
            ctx.add_cookies([{"name": k, "value": v, "url": base} for k, v in cookies.items()])
            page = ctx.new_page()
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            t0 = time.monotonic()
            page.goto(f"{base}/?refresh={refresh_s}")
            page.wait_for_selector('body[data-ready="1"]', state="attached", timeout=180000)
            ready_s = time.monotonic() - t0
            page.wait_for_timeout(3000)  # chunked marker loading finishes
            markers = page.evaluate("camsvc.markerCount()")

            def metrics() -> dict[str, float]:
                return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}

            m0, w0 = metrics(), time.monotonic()
            polls0 = page.evaluate("camsvc.polls()")
            page.wait_for_timeout(int(seconds * 1000))
            m1, elapsed = metrics(), time.monotonic() - w0
            polls = page.evaluate("camsvc.polls()") - polls0
        finally:
            b.close()
    per_min = 60.0 / elapsed
    return {
        "ready_s": round(ready_s, 2),
        "markers": markers,
        "cpu_s_per_min": round((m1["TaskDuration"] - m0["TaskDuration"]) * per_min, 3),
        "script_s_per_min": round((m1["ScriptDuration"] - m0["ScriptDuration"]) * per_min, 3),
        "js_heap_mb": round(m1["JSHeapUsedSize"] / 1e6, 1),
        "dom_nodes": int(m1["Nodes"]),
        "polls": polls,
    }


def report_data(cameras: int, days: int = 30, seed: int = 3) -> tuple[Path, dt.datetime]:
    """A data dir with ``cameras`` cameras (the simulator's fleet, 1 in 6 roadside) and ``days`` + 10 days of
    generated outage rows, maintenance windows and maintenance transitions (built once, then reused).
    Returns the dir and the "now" the rows were generated against."""
    from camsvc.bench.sample import DOWN_CAUSES, PICTURE_FAULTS, fleet_csv
    from camsvc.cameras import import_cameras
    from camsvc.config import load_settings
    from camsvc.db import make_engine, upgrade
    from camsvc.models import Camera, MaintenanceWindow, Outage, Transition

    d = cache_dir() / "web-bench" / f"report-{cameras}-d{days}-s{seed}-v{REPORT_DATA_VERSION}"
    done = d / "ready"
    if done.exists():
        return d, dt.datetime.fromisoformat(done.read_text().split()[0])
    if d.exists():
        for p in d.iterdir():
            p.unlink()
    d.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    engine = make_engine(load_settings(data_dir=d).db_url, d)
    upgrade(engine)
    rng = random.Random(seed)
    click.echo(f"generating {cameras} cameras with {days} days of outages (once, cached in {d}) ...")
    text, _ = fleet_csv(cameras, seed)
    start = now - dt.timedelta(days=days + 10)
    with Session(engine) as s:
        import_cameras(s, text, "csv")
        s.commit()
        cams = list(s.exec(select(Camera.id, Camera.hamlet, Camera.kind)).all())
        s.execute(sa.update(Camera).values(created_at=start))
        late = rng.sample(cams, max(1, len(cams) // 50))  # 2 % added mid-period
        for cid, *_ in late:
            s.execute(
                sa.update(Camera)
                .where(Camera.id == cid)  # type: ignore[arg-type]
                .values(created_at=now - dt.timedelta(days=rng.uniform(1, days)))
            )
        rows: list[dict[str, Any]] = []
        trans: list[dict[str, Any]] = []
        span_s = (now - start).total_seconds()
        for cid, _hamlet, kind in cams:
            # households fail more often than roadside cameras (power, Wi-Fi); a few cameras are bad all month
            rate = (4.0 if str(kind).lower().endswith("household") else 2.0) * (days + 10) / 30
            if rng.random() < 0.03:
                rate *= 8
            n = min(60, int(rng.expovariate(1 / rate)) + (1 if rng.random() < 0.5 else 0))
            for _ in range(n):
                a = start + dt.timedelta(seconds=rng.uniform(0, span_s))
                length = min(rng.lognormvariate(7.2, 1.5), 5 * 86400)  # median ~22 min, a tail of days
                b: dt.datetime | None = a + dt.timedelta(seconds=length)
                assert b is not None
                if b >= now:
                    b = None
                degraded = rng.random() < 0.2
                confirmed = a + dt.timedelta(seconds=rng.uniform(10, 120))
                ack = None
                if rng.random() < 0.7:
                    ack = confirmed + dt.timedelta(seconds=rng.lognormvariate(6.3, 1.0))
                rows.append(
                    {
                        "camera_id": cid,
                        "state": HealthState.DEGRADED if degraded else HealthState.DOWN,
                        "started_at": a,
                        "confirmed_at": confirmed,
                        "ended_at": None if b is None else b,
                        "cause": rng.choice(PICTURE_FAULTS if degraded else DOWN_CAUSES),
                        "acknowledged_at": None if ack is None else ack,
                        "acknowledged_by": None if ack is None else "bench",
                    }
                )
            if rng.random() < 0.05:  # maintenance done on the camera (state transitions)
                a = start + dt.timedelta(seconds=rng.uniform(0, span_s - 86400))
                b2 = a + dt.timedelta(hours=rng.uniform(1, 8))
                for at, old, new in (
                    (a, HealthState.UP, HealthState.MAINTENANCE),
                    (b2, HealthState.MAINTENANCE, HealthState.UNKNOWN),
                ):
                    trans.append({"camera_id": cid, "at": at, "old_state": old, "new_state": new})
        s.execute(sa.insert(Outage), rows)
        if trans:
            s.execute(sa.insert(Transition), trans)
        hamlets = sorted({h for _, h, _ in cams if h})
        if hamlets:
            s.add(
                MaintenanceWindow(
                    hamlet=hamlets[0],
                    starts_at=now - dt.timedelta(days=12),
                    ends_at=now - dt.timedelta(days=11, hours=18),
                    reason="bench: power line work",
                )
            )
            s.add(
                MaintenanceWindow(
                    hamlet=hamlets[-1],
                    starts_at=start,
                    ends_at=None,
                    daily_start="01:00",
                    daily_end="02:00",
                    reason="bench: nightly router restart",
                )
            )
        s.commit()
        n_out = len(rows)
    engine.dispose()
    done.write_text(f"{now.isoformat()} {n_out} outages\n")
    return d, now


def report_phase(cameras: int, days: int = 30, repeat: int = 3) -> dict[str, Any]:
    """Time the report for the last ``days`` days of ``report_data``: JSON (best and worst of ``repeat``),
    then PDF and CSV once each."""
    import json

    from camsvc.config import load_settings
    from camsvc.db import make_engine
    from camsvc.models import Outage
    from camsvc.reports import render
    from camsvc.reports.build import build_report

    d, now = report_data(cameras, days)
    engine = make_engine(load_settings(data_dir=d).db_url, d)
    a, b = now - dt.timedelta(days=days), now
    json_s: list[float] = []
    with Session(engine) as s:
        outages = s.exec(select(sa.func.count()).select_from(Outage)).one()
        for _ in range(repeat):
            t0 = time.perf_counter()
            rep = build_report(s, a, b, now=now)
            body = json.dumps(rep.to_dict())
            json_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rep = build_report(s, a, b, now=now)
        pdf = render.to_pdf(rep, "vi")
        pdf_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rep = build_report(s, a, b, now=now)
        csv_text = render.to_csv(rep)
        csv_s = time.perf_counter() - t0
    engine.dispose()
    from io import BytesIO

    from pypdf import PdfReader

    pages = len(PdfReader(BytesIO(pdf)).pages)
    t = rep.total
    return {
        "cameras": t.cameras,
        "days": days,
        "outage_rows_in_db": int(outages),
        "outages_in_period": t.outages,
        "availability": t.availability,
        "json_s": round(min(json_s), 3),
        "json_s_max": round(max(json_s), 3),
        "json_bytes": len(body),
        "pdf_s": round(pdf_s, 3),
        "pdf_bytes": len(pdf),
        "pdf_pages": pages,
        "csv_s": round(csv_s, 3),
        "csv_bytes": len(csv_text.encode()),
        "target_s": REPORT_TARGET_S,
        "json_within_target": max(json_s) < REPORT_TARGET_S,
    }


BENCH_USER = "bench-viewer"
BENCH_PASSWORD = "bench-only-Passw0rd"


def sign_in(base: str, data_dir: Path) -> dict[str, str]:
    """A viewer signed in through ``/api/auth/login``, as the page's user is: its session cookie."""
    from camsvc.auth.bootstrap import ensure_user
    from camsvc.config import Settings
    from camsvc.db import make_engine, session_scope

    engine = make_engine(Settings(data_dir=data_dir).db_url)
    with session_scope(engine) as s:
        ensure_user(s, BENCH_USER, "viewer", password=BENCH_PASSWORD)
    engine.dispose()
    r = httpx.post(f"{base}/api/auth/login", json={"username": BENCH_USER, "password": BENCH_PASSWORD})
    r.raise_for_status()
    return dict(r.cookies)


def auth_cost(
    base: str, data_dir: Path, cookies: dict[str, str], headers: dict[str, str], n: int = 200
) -> dict[str, Any]:
    """What signing in costs each request: /api/status with a session cookie, with an API token, and the
    public /healthz, interleaved in one run; plus the session check alone, in process (no HTTP)."""
    from camsvc.auth import sessions
    from camsvc.auth.http import COOKIE_NAME
    from camsvc.config import Settings
    from camsvc.db import make_engine
    from camsvc.models import utcnow

    lat: dict[str, list[float]] = {"status_session": [], "status_token": [], "healthz": []}
    with (
        httpx.Client(base_url=base, timeout=60, cookies=cookies) as by_cookie,
        httpx.Client(base_url=base, timeout=60, headers=headers) as by_token,
    ):
        for _ in range(n):
            for key, client, path in (
                ("status_session", by_cookie, "/api/status"),
                ("status_token", by_token, "/api/status"),
                ("healthz", by_token, "/healthz"),
            ):
                t0 = time.perf_counter()
                client.get(path).raise_for_status()
                lat[key].append((time.perf_counter() - t0) * 1000)
    engine = make_engine(Settings(data_dir=data_dir).db_url)
    raw = cookies[COOKIE_NAME]
    with Session(engine) as s:
        t0 = time.perf_counter()
        for _ in range(n * 5):
            assert sessions.validate(s, raw, utcnow()) is not None
        check_ms = (time.perf_counter() - t0) * 1000 / (n * 5)
    engine.dispose()
    out: dict[str, Any] = {
        k: {"p50": round(pct(v, 50), 2), "p95": round(pct(v, 95), 2)} for k, v in lat.items()
    }
    out["session_check_ms"] = round(check_ms, 3)
    out["session_check_share_of_status_p95"] = round(check_ms / max(out["status_session"]["p95"], 1e-9), 3)
    return out


def run(cameras: int, refresh_s: float, seconds: float, with_browser: bool) -> dict[str, Any]:
    data = prepare(cameras)
    port = free_port()
    env = {"CAMSVC_RUN_SCHEDULER": "false", "CAMSVC_TILE_URL": NO_TILES, "CAMSVC_LOG_LEVEL": "WARNING"}
    out: dict[str, Any] = {"cameras": cameras, "refresh_s": refresh_s}
    with service(data, port, env) as svc, Activity(data) as act:
        base = svc.base
        cookies = sign_in(base, data)
        out["first_load"] = first_load(base, cookies)
        out["first_load"]["target_bytes"] = FIRST_LOAD_TARGET
        out["first_load"]["within_target"] = out["first_load"]["bytes"] < FIRST_LOAD_TARGET
        out["auth"] = auth_cost(base, data, cookies, svc.headers)
        out["poll_changes"] = poll(base, svc.pid, "changes", refresh_s, seconds, cookies)
        out["poll_map_etag"] = poll(base, svc.pid, "map-etag", refresh_s, seconds, cookies)
        if with_browser:
            out["browser"] = browser(base, refresh_s, seconds, cookies)
        out["state_changes_written"] = act.changes
    return out


@click.command("web")
@click.option("--cameras", "sizes", multiple=True, type=int, default=(240, 10000), show_default=True)
@click.option("--refresh", "refresh_s", type=float, default=5.0, show_default=True, help="Poll period (s)")
@click.option("--seconds", type=float, default=60.0, show_default=True, help="Measured window per mode")
@click.option("--browser/--no-browser", "with_browser", default=True, show_default=True)
@click.option("--report/--no-report", "with_report", default=True, show_default=True, help="The report phase")
@click.option(
    "--report-cameras", type=int, default=1000, show_default=True, help="Cameras in the report phase"
)
@click.option("--report-only", is_flag=True, help="Only the report phase (no service, no dashboard)")
def web(
    sizes: tuple[int, ...],
    refresh_s: float,
    seconds: float,
    with_browser: bool,
    with_report: bool,
    report_cameras: int,
    report_only: bool,
) -> None:
    """What one open dashboard costs: bytes and CPU per minute, first load (target < 300 KB), browser CPU and
    memory; and the service report for 1,000 cameras over 30 days (target < 2 s)."""
    results = [] if report_only else [run(n, refresh_s, seconds, with_browser) for n in sizes]
    report = report_phase(report_cameras) if (with_report or report_only) else None
    if results:
        click.echo(table(_rows(results, with_browser)))
        for r in results:
            fl = r["first_load"]
            verdict = "OK" if fl["within_target"] else "OVER"
            click.echo(
                f"first load, {r['cameras']} cameras, without tiles: {fl['bytes']:,} bytes "
                f"(target < {FIRST_LOAD_TARGET:,}): {verdict}"
            )
    if report is not None:
        verdict = "OK" if report["json_within_target"] else "OVER"
        click.echo(
            f"report, {report['cameras']} cameras x {report['days']} days, {report['outages_in_period']:,} outages "
            f"in the period ({report['outage_rows_in_db']:,} rows): JSON {report['json_s']} s "
            f"(worst of 3 {report['json_s_max']} s, target < {REPORT_TARGET_S} s): {verdict}; "
            f"PDF {report['pdf_s']} s ({report['pdf_pages']} pages, {report['pdf_bytes']:,} bytes); "
            f"CSV {report['csv_s']} s"
        )
    path = write_json(
        "web", {"refresh_s": refresh_s, "seconds": seconds, "results": results, "report": report}
    )
    click.echo(f"wrote {path}")


def _rows(results: list[dict[str, Any]], with_browser: bool) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("", *[f"{r['cameras']} cameras" for r in results])]

    def add(label: str, f: Any) -> None:
        rows.append((label, *[str(f(r)) for r in results]))

    add(
        f"first load without tiles: bytes as sent (all gzipped); target < {FIRST_LOAD_TARGET:,}",
        lambda r: f"{r['first_load']['bytes']:,} ({r['first_load']['gzip_bytes_if_enabled']:,})",
    )
    add(
        "/api/map: bytes, ms",
        lambda r: f"{r['first_load']['api_map_bytes']:,}, {r['first_load']['api_map_ms']}",
    )
    add(
        "/api/status ms p50/p95: session / token",
        lambda r: (
            f"{r['auth']['status_session']['p50']}/{r['auth']['status_session']['p95']} / "
            f"{r['auth']['status_token']['p50']}/{r['auth']['status_token']['p95']}"
        ),
    )
    add(
        "/healthz (public) ms p50/p95",
        lambda r: f"{r['auth']['healthz']['p50']}/{r['auth']['healthz']['p95']}",
    )
    add(
        "session check ms (share of /api/status p95)",
        lambda r: f"{r['auth']['session_check_ms']} ({r['auth']['session_check_share_of_status_p95']:.1%})",
    )
    for key, label in (
        ("poll_changes", "page polling /web/changes"),
        ("poll_map_etag", "naive /api/map + ETag"),
    ):
        add(f"{label}: bytes/min", lambda r, k=key: f"{r[k]['bytes_per_min']:,}")
        add(f"{label}: service CPU s/min", lambda r, k=key: r[k]["service_cpu_s_per_min"])
        add(f"{label}: poll ms p50/p95", lambda r, k=key: f"{r[k]['poll_ms_median']}/{r[k]['poll_ms_p95']}")
    if with_browser:
        add("browser: ready s", lambda r: r["browser"]["ready_s"])
        add("browser: markers", lambda r: r["browser"]["markers"])
        add("browser: main-thread CPU s/min", lambda r: r["browser"]["cpu_s_per_min"])
        add(
            "browser: JS heap MB / DOM nodes",
            lambda r: f"{r['browser']['js_heap_mb']} / {r['browser']['dom_nodes']}",
        )
    add("state changes during the run", lambda r: r["state_changes_written"])
    return rows


if __name__ == "__main__":  # pragma: no cover
    web()
