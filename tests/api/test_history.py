"""The camera page's API: /api/cameras/{id}/bars and /series over checks recorded through the real recording
path (record_check), hamlet scope (404), range and hours validation (422), downsampling; on SQLite and, when
a server runs on 127.0.0.1, PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from camsvc.auth.bootstrap import api_token
from camsvc.config import Settings
from tests.api.test_cameras import GOOD_CSV
from tests.api.test_postgres import pg_url  # noqa: F401  (the PostgreSQL fixture)
from tests.utils.auth import signed_in_client


def drive(engine: Any, camera_id: str, plan: list[tuple[dt.datetime, bool]]) -> None:
    """Checks through the real recording path (state machine, outages, transitions)."""
    from camsvc.db import session_scope
    from camsvc.health.outages import record_check
    from camsvc.health.state import Observation, Thresholds
    from camsvc.models import Check

    for i, (at, ok) in enumerate(plan):
        metrics = json.dumps({"brightness": 100.0 + i, "sharpness": 20.0, "grid_00": 1.0}) if ok else None
        with session_scope(engine) as s:
            record_check(
                s,
                Check(
                    camera_id=camera_id,
                    at=at,
                    ok=ok,
                    error=None if ok else "refused",
                    open_ms=40.0 + i if ok else None,
                    fps=25.0 if ok else None,
                    metrics_json=metrics,
                ),
                Observation(at=at, ok=ok, error=None if ok else "refused"),
                Thresholds(),
            )


def fleet(c: Any) -> tuple[dt.datetime, dt.datetime]:
    """cam-001 (Bắc Chiến Thắng): up for 3 h, down for 10 minutes from the start of the hour 2-3 h before
    now (3 failed checks: down from the first one), up again; cam-002 (Nam Chiến Thắng) never checked.
    The outage starts on an hour so it lies in one hour bar (and one Vietnam day) whatever the time of day.
    Returns (now, the outage's start)."""
    r = c.post("/api/cameras/import", files={"file": ("f.csv", GOOD_CSV.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    down = now.replace(minute=0, second=0) - dt.timedelta(hours=2)
    t0 = down - dt.timedelta(hours=3)
    plan = [(t0 + dt.timedelta(minutes=10 * i), True) for i in range(18)]  # 3 h .. 10 min before the outage
    plan += [(down + dt.timedelta(seconds=30 * i), False) for i in range(3)]
    plan += [(down + dt.timedelta(minutes=10), True), (now - dt.timedelta(minutes=1), True)]
    drive(c.app.state.engine, "cam-001", plan)
    return now, down


def bar_at(body: dict[str, Any], t: dt.datetime) -> dict[str, Any]:
    for b in body["bars"]:
        if dt.datetime.fromisoformat(b["start"]) <= t < dt.datetime.fromisoformat(b["end"]):
            return b
    raise AssertionError(f"no bar holds {t}")


def check_history_api(c: Any) -> None:
    now, outage = fleet(c)
    body = c.get("/api/cameras/cam-001/bars", params={"range": "24h"}).json()
    assert body["bucket"] == "hour" and len(body["bars"]) == 24
    states = [b["state"] for b in body["bars"]]
    # before the first check: no data; the hour of the outage: down; the others up
    down = bar_at(body, outage)
    assert down["state"] == "down" and down["seconds"]["down"] == pytest.approx(600, abs=1)
    assert bar_at(body, now - dt.timedelta(hours=10))["state"] == "none"
    assert bar_at(body, outage - dt.timedelta(hours=1))["state"] == "up"
    assert bar_at(body, now - dt.timedelta(seconds=1))["state"] == "up"
    assert states.count("down") == 1
    t = body["totals"]
    assert t["seconds"]["down"] == pytest.approx(600, abs=1)
    assert 0.9 < t["availability"] < 1
    # day bars: the Vietnam day holding the outage is down
    week = c.get("/api/cameras/cam-001/bars", params={"range": "7d"}).json()
    assert week["bucket"] == "day" and len(week["bars"]) == 7
    assert bar_at(week, outage)["state"] == "down"
    assert len(c.get("/api/cameras/cam-001/bars", params={"range": "30d"}).json()["bars"]) == 30
    # a camera never checked: unknown since it was added
    never = c.get("/api/cameras/cam-002/bars").json()
    assert never["bars"][-1]["state"] == "unknown" and never["bars"][0]["state"] == "none"

    s = c.get("/api/cameras/cam-001/series", params={"hours": 24}).json()
    assert s["checks"] == s["points"] == 23 and s["downsampled"] is False
    assert len(s["t"]) == len(s["open_ms"]) == len(s["fps"]) == len(s["brightness"]) == len(s["ok"]) == 23
    assert s["ok"].count(0) == 3 and s["brightness"][0] == 100.0 and s["sharpness"][0] == 20.0
    assert s["open_ms"][18] is None and s["fps"][0] == 25.0
    assert s["t"] == sorted(s["t"]) and abs(s["t"][-1] - (now.timestamp() - 60)) < 1
    few = c.get("/api/cameras/cam-001/series", params={"hours": 1}).json()
    assert few["checks"] == 1
    small = c.get("/api/cameras/cam-001/series", params={"hours": 24, "max_points": 10}).json()
    assert small["downsampled"] is True and small["points"] <= 10 and 0 in small["ok"]

    for bad in ({"range": "1y"}, {"range": ""}):
        assert c.get("/api/cameras/cam-001/bars", params=bad).status_code == 422
    for hours in (0, -1, 721, "x"):
        assert c.get("/api/cameras/cam-001/series", params={"hours": hours}).status_code == 422
    assert c.get("/api/cameras/cam-001/series", params={"max_points": 100000}).status_code == 422
    for path in ("bars", "series"):
        assert c.get(f"/api/cameras/nope/{path}").status_code == 404


def test_bars_and_series(client: Any) -> None:
    check_history_api(client)


def test_scope_and_roles(client: Any) -> None:
    fleet(client)
    engine = client.app.state.engine
    scoped = {
        "Authorization": f"Bearer {api_token(engine, 'nam-viewer', 'viewer', hamlets=['Nam Chiến Thắng'])}"
    }
    for path in ("bars", "series"):
        # outside the caller's hamlets: not found, like the camera itself
        r = client.get(f"/api/cameras/cam-001/{path}", headers=scoped)
        assert r.status_code == 404, r.text
        assert client.get(f"/api/cameras/cam-002/{path}", headers=scoped).status_code == 200
        assert client.get("/api/cameras/cam-001", headers=scoped).status_code == 404
    # a plain viewer (status.view) sees the history of every camera
    viewer = {"Authorization": f"Bearer {api_token(engine, 'any-viewer', 'viewer')}"}
    assert client.get("/api/cameras/cam-001/bars", headers=viewer).status_code == 200
    # signed out: 401
    anon = {"Authorization": "Bearer cs_not-a-token"}
    assert client.get("/api/cameras/cam-001/bars", headers=anon).status_code == 401


@pytest.mark.postgres
@pytest.mark.integration
def test_bars_and_series_on_postgres(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    from camsvc.app import create_app

    app = create_app(Settings(data_dir=tmp_path, database_url=pg_url), start_runtime=False)
    with signed_in_client(app) as c:
        check_history_api(c)


def check_series_over_rollups(c: Any) -> None:
    """A 30-day chart after the rollup worker pruned the raw checks older than checks.retention_days: the
    old hours come back as one point each from their rollups, the recent ones as checks, none twice."""
    from sqlmodel import Session, func, select

    from camsvc.models import Check
    from camsvc.rollup.worker import RollupWorker

    r = c.post("/api/cameras/import", files={"file": ("f.csv", GOOD_CSV.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    t0 = now - dt.timedelta(days=29)
    old = [(t0 + dt.timedelta(hours=2 * i), i not in (50, 51)) for i in range(12 * 21)]  # to ~8 days ago
    recent = [(now - dt.timedelta(minutes=10 * i), True) for i in range(18, 0, -1)]
    engine = c.app.state.engine
    drive(engine, "cam-001", old + recent)
    before = c.get("/api/cameras/cam-001/series", params={"hours": 720}).json()
    assert before["checks"] == before["points"] == len(old) + len(recent) and before["rollup_hours"] == 0

    counts = RollupWorker(c.app.state.settings, engine).run_pass()
    assert counts.checks_deleted == len(old)
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Check)).one() == len(recent)

    s30 = c.get("/api/cameras/cam-001/series", params={"hours": 720}).json()
    assert s30["rollup_hours"] == len(old) and s30["checks"] == len(old) + len(recent)
    assert s30["points"] == len(old) + len(recent) and s30["downsampled"] is True
    assert min(s30["t"]) < (now - dt.timedelta(days=28)).timestamp() and s30["t"] == sorted(s30["t"])
    # the rollup points: the hour's medians, ok = 0 in the two hours that failed
    assert s30["ok"][: len(old)].count(0) == 2 and s30["ok"][50] == s30["ok"][51] == 0
    assert s30["brightness"][0] == 100.0 and s30["fps"][0] == 25.0 and s30["open_ms"][1] == 41.0
    assert s30["brightness"][50] is None
    # within the raw retention: checks only
    day = c.get("/api/cameras/cam-001/series", params={"hours": 24}).json()
    assert day["rollup_hours"] == 0 and day["checks"] == len(recent)
    # the day bars (from transitions, which are never pruned) still cover the whole month
    bars = c.get("/api/cameras/cam-001/bars", params={"range": "30d"}).json()
    assert all(b["state"] != "none" for b in bars["bars"][1:])
    # downsampled below the number of points: still one point per bucket
    small = c.get("/api/cameras/cam-001/series", params={"hours": 720, "max_points": 100}).json()
    assert small["points"] <= 100 and 0 in small["ok"]


def test_series_over_rollups(client: Any) -> None:
    check_series_over_rollups(client)


@pytest.mark.postgres
@pytest.mark.integration
def test_series_over_rollups_on_postgres(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    from camsvc.app import create_app

    app = create_app(Settings(data_dir=tmp_path, database_url=pg_url), start_runtime=False)
    with signed_in_client(app) as c:
        check_series_over_rollups(c)
