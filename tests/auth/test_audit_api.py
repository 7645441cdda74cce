"""GET /api/audit (admin only, filters, CSV), the audit middleware on writes, household picture views,
acknowledgements by the real user, and `camsvc audit verify` naming a tampered row."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from camsvc.auth import audit
from camsvc.auth.audit_http import action_name, target_of
from camsvc.cli import cli
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.models import Thumbnail, utcnow
from tests.utils.accounts import authed_client, bearer, user_with_token

CAM = {"id": "cam-1", "name": "Cổng", "kind": "roadside", "main_url": "rtsp://127.0.0.1:554/ch1"}
HOME = {"id": "home-1", "name": "Nhà ông Hùng", "kind": "household", "main_url": "rtsp://127.0.0.1:555/ch1"}


@pytest.fixture
def api(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with authed_client(settings) as c:
        yield c


@pytest.fixture
def admin(engine: Engine) -> dict[str, str]:
    return bearer(user_with_token(engine, "quan", "admin", display_name="Trần Quân")[1])


@pytest.fixture
def viewer(engine: Engine) -> dict[str, str]:
    return bearer(user_with_token(engine, "xem", "viewer")[1])


def _rows(api: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = api.get("/api/audit", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def test_admin_reads_rows_and_csv_viewer_is_refused(
    api: TestClient, engine: Engine, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    with session_scope(engine) as db:
        audit.append(db, utcnow(), "someone", "10.0.0.9", "camera.update", "camera:x", {"n": 1})
        audit.append(db, utcnow(), "other", "10.0.0.8", "=cmd|' /C calc'!A0", "camera:y", {})
    assert api.get("/api/audit", headers=viewer).status_code == 403
    assert api.get("/api/audit").status_code == 401
    rows = _rows(api, admin)
    assert [r["username"] for r in rows] == ["other", "someone"]  # newest first
    assert _rows(api, admin, user="someone")[0]["details"] == {"n": 1}
    assert [r["target"] for r in _rows(api, admin, action="camera.*")] == ["camera:x"]
    assert [r["target"] for r in _rows(api, admin, target="camera:y")] == ["camera:y"]
    assert len(_rows(api, admin, limit=1, offset=1)) == 1
    assert _rows(api, admin, since="2999-01-01T00:00:00Z") == []
    assert api.get("/api/audit", headers=admin, params={"since": "yesterday"}).status_code == 422
    r = api.get("/api/audit", headers=admin, params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(r.text)))
    assert table[0][:3] == ["id", "at", "username"]
    assert table[1][4].startswith("'=")  # formula injection defused
    assert _rows(api, admin, action="audit.export")[0]["username"] == "quan"


def test_writes_are_audited_with_user_action_target_and_field_names(
    api: TestClient, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    assert api.post("/api/cameras", json=CAM, headers=admin).status_code == 201
    r = api.patch(
        "/api/cameras/cam-1", json={"notes": "cáp đứt", "password": "Very-Secret-77"}, headers=admin
    )
    assert r.status_code == 200, r.text
    api.patch("/api/cameras/cam-1", json={"notes": "x"}, headers=viewer)  # refused or not: recorded
    rows = _rows(api, admin, action="camera.update")
    mine = next(r for r in rows if r["username"] == "quan")
    assert mine["target"] == "camera:cam-1"
    assert mine["details"]["status"] == 200
    assert mine["details"]["changed"] == ["notes", "password"]
    assert mine["details"]["fields"] == ["notes", "password"]
    assert mine["details"]["via"] == "token" and mine["details"]["prefix"].startswith("cs_")
    assert mine["client_addr"] == "testclient"
    assert any(r["username"] == "xem" for r in rows)
    whole = api.get("/api/audit", headers=admin, params={"limit": 1000}).text
    assert "Very-Secret-77" not in whole and "cáp đứt" not in whole  # names, never values
    assert _rows(api, admin, action="camera.create")[0]["details"]["status"] == 201
    assert api.delete("/api/cameras/cam-1", headers=admin).status_code == 204
    assert _rows(api, admin, action="camera.delete")[0]["target"] == "camera:cam-1"


def test_anonymous_writes_are_not_recorded_by_the_middleware(api: TestClient, admin: dict[str, str]) -> None:
    api.post("/api/cameras", json=CAM)
    assert _rows(api, admin, action="camera.create") == []


def test_household_picture_views_are_audited(api: TestClient, engine: Engine, admin: dict[str, str]) -> None:
    for body in (CAM, HOME):
        assert api.post("/api/cameras", json=body, headers=admin).status_code == 201
    with session_scope(engine) as db:
        for cid in ("cam-1", "home-1"):
            db.add(Thumbnail(camera_id=cid, at=utcnow(), jpeg=b"\xff\xd8jpeg"))
    assert api.get("/api/cameras/home-1/thumbnail.jpg", headers=admin).status_code == 200
    assert api.get("/api/cameras/cam-1/thumbnail.jpg", headers=admin).status_code == 200
    assert api.get("/web/cameras/home-1/pictures", headers=admin).status_code == 200
    views = _rows(api, admin, action="picture.view")
    assert [(r["username"], r["target"]) for r in views] == [("quan", "camera:home-1")]
    assert _rows(api, admin, action="picture.open")[0]["target"] == "camera:home-1"


def test_ack_records_the_signed_in_user_not_the_typed_name(
    api: TestClient, engine: Engine, admin: dict[str, str]
) -> None:
    from camsvc.alerts.models import Incident, IncidentMember
    from camsvc.enums import HealthState
    from camsvc.models import Outage

    assert api.post("/api/cameras", json=CAM, headers=admin).status_code == 201
    now = utcnow()
    with session_scope(engine) as db:
        o = Outage(
            camera_id="cam-1", state=HealthState.DOWN, started_at=now, confirmed_at=now, cause="offline"
        )
        db.add(o)
        db.flush()
        inc = Incident(group_key="g", open_key="g", opened_at=now, started_at=now, notify_at=now)
        db.add(inc)
        db.flush()
        assert inc.id is not None
        db.add(
            IncidentMember(
                incident_id=inc.id,
                camera_id="cam-1",
                outage_id=o.id,
                state="down",
                cause="offline",
                started_at=now,
                joined_at=now,
            )
        )
        outage_id = o.id
    r = api.post(f"/api/outages/{outage_id}/ack", json={"by": "Somebody Else"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["acknowledged_by"] == "Trần Quân"
    row = _rows(api, admin, action="outage.ack")[0]
    assert row["username"] == "quan" and row["target"] == f"outage:{outage_id}"


def test_action_names_and_targets() -> None:
    assert action_name("PATCH", "/api/cameras/{camera_id}") == "camera.update"
    assert action_name("POST", "/api/new/{thing}") == "POST /api/new/{thing}"  # default: the template
    assert target_of({"camera_id": "cam-1"}) == "camera:cam-1"
    assert target_of({}) == ""


DROP_TRIGGERS = ("DROP TRIGGER auditevent_no_update", "DROP TRIGGER auditevent_no_delete")


def test_tampered_row_makes_verify_fail_naming_it(settings: Settings, engine: Engine) -> None:
    with session_scope(engine) as db:
        for i in range(5):
            audit.append(db, utcnow(), "lan", "10.0.0.1", "camera.update", f"camera:c{i}", {"i": i})
    env = {"CAMSVC_DATA_DIR": str(settings.data_dir)}
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "5 rows, chain intact" in ok.output
    con = sqlite3.connect(settings.data_dir / "camsvc.db")
    for stmt in (*DROP_TRIGGERS, "UPDATE auditevent SET username = 'nobody' WHERE id = 3"):
        con.execute(stmt)
    con.commit()
    con.close()
    bad = runner.invoke(cli, ["audit", "verify"], env=env)
    assert bad.exit_code != 0
    assert "row 3: changed" in bad.output
    assert "row 2" not in bad.output and "row 4" not in bad.output
