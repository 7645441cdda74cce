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
    head = sum(len(k) + len(v) + 4 for k, v in r.headers.items()) + 17
    return head + len(r.content)


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
def web(sizes: tuple[int, ...], refresh_s: float, seconds: float, with_browser: bool) -> None:
    """What one open dashboard costs: bytes and CPU per minute, first load, browser CPU and memory."""
    results = [run(n, refresh_s, seconds, with_browser) for n in sizes]
    rows: list[tuple[str, ...]] = [("", *[f"{r['cameras']} cameras" for r in results])]

    def add(label: str, f: Any) -> None:
        rows.append((label, *[str(f(r)) for r in results]))

    add(
        "first load: bytes (gzip would be)",
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
    click.echo(table(rows))
    path = write_json("web", {"refresh_s": refresh_s, "seconds": seconds, "results": results})
    click.echo(f"wrote {path}")


if __name__ == "__main__":  # pragma: no cover
    web()
