"""The same registry, state and status paths on PostgreSQL (skipped when no server on 127.0.0.1:5432)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from camsvc.config import Settings
from tests.utils.auth import signed_in_client
from tests.utils.postgres import fresh_database

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest.fixture
def pg_client(pg_url: str, tmp_path: Path) -> Iterator[Any]:

    from camsvc.app import create_app

    app = create_app(Settings(data_dir=tmp_path, database_url=pg_url), start_runtime=False)
    with signed_in_client(app) as c:
        yield c


def test_registry_state_outages_on_postgres(pg_client: Any, pg_url: str) -> None:
    from tests.api.test_cameras import GOOD_CSV

    r = pg_client.post("/api/cameras/import", files={"file": ("f.csv", GOOD_CSV.encode(), "text/csv")})
    assert r.json() == {"created": 2, "updated": 0, "unchanged": 0}
    # drive one camera down and back through the real recording path
    from camsvc.db import make_engine, session_scope
    from camsvc.health.outages import record_check
    from camsvc.health.state import Observation, Thresholds
    from camsvc.models import Check

    engine = make_engine(pg_url)
    t0 = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    for i, ok in enumerate([True, False, False, True]):
        at = t0 + dt.timedelta(seconds=10 * i)
        with session_scope(engine) as s:
            record_check(
                s,
                Check(camera_id="cam-001", at=at, ok=ok, error=None if ok else "timeout"),
                Observation(at=at, ok=ok, error=None if ok else "timeout"),
                Thresholds(),
            )
    engine.dispose()
    st = pg_client.get("/api/status").json()
    assert st["by_state"]["up"] == 1 and st["by_state"]["unknown"] == 1
    outs = pg_client.get("/api/cameras/cam-001/outages").json()
    assert len(outs) == 1 and outs[0]["duration_s"] == 20.0 and outs[0]["cause"] == "timeout"
    up = pg_client.get(
        "/api/uptime", params={"since": "2026-05-01T12:00:00Z", "until": "2026-05-01T12:01:00Z"}
    ).json()
    assert up["cameras"]["cam-001"]["seconds"]["down"] == 20.0
    assert pg_client.get("/api/cameras", params={"hamlet": "bac chien thang"}).json()["total"] == 1
