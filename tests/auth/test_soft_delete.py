"""Deleting a camera keeps what happened: it is disabled and hidden, its outages and transitions stay in
/api/outages, and creating the same id again restores it (history included)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from camsvc import cameras as registry
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.enums import HealthState
from camsvc.models import Camera, CameraSecret, CameraStatus, Outage, Transition, utcnow
from camsvc.runtime.scheduler import camera_entries
from tests.utils.auth import signed_in_client

BODY = {
    "id": "cam-7",
    "name": "Cầu Đông",
    "kind": "roadside",
    "hamlet": "Đông Thành",
    "main_url": "rtsp://admin:Pw-Soft-Delete-1@127.0.0.1:554/ch1",
    "latitude": 19.05,
    "longitude": 105.63,
}


@pytest.fixture
def api(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    from camsvc.app import create_app

    with signed_in_client(create_app(settings, start_runtime=False)) as c:
        yield c


def _history(engine: Engine) -> int:
    start = utcnow() - dt.timedelta(hours=3)
    with session_scope(engine) as db:
        o = Outage(
            camera_id="cam-7",
            state=HealthState.DOWN,
            started_at=start,
            confirmed_at=start,
            ended_at=start + dt.timedelta(hours=1),
            cause="offline",
        )
        db.add(o)
        db.flush()
        db.add(Transition(camera_id="cam-7", at=start, old_state=HealthState.UP, new_state=HealthState.DOWN))
        db.add(CameraStatus(camera_id="cam-7", state=HealthState.UP, since=start))
        assert o.id is not None
        return o.id


def test_delete_hides_the_camera_and_keeps_its_history(api: TestClient, engine: Engine) -> None:
    assert api.post("/api/cameras", json=BODY).status_code == 201
    outage_id = _history(engine)
    assert api.delete("/api/cameras/cam-7").status_code == 204
    assert api.get("/api/cameras/cam-7").status_code == 404
    assert api.delete("/api/cameras/cam-7").status_code == 404  # deleted once
    assert api.patch("/api/cameras/cam-7", json={"enabled": True}).status_code == 404
    assert api.get("/api/cameras").json()["total"] == 0
    assert [c["id"] for c in api.get("/api/map").json()["cameras"]] == []
    status = api.get("/api/status").json()
    assert status["total"] == 0 and status["disabled"] == 0
    assert "cam-7" not in api.get("/api/uptime", params={"period": "day"}).json()["cameras"]
    assert "cam-7" not in api.get("/api/cameras/export").text
    outages = api.get("/api/outages", params={"period": "day"}).json()
    items = outages if isinstance(outages, list) else outages.get("items", outages)
    assert outage_id in [o["id"] for o in items]  # the history is still there
    assert len(api.get("/api/cameras/cam-7/transitions").json()) == 1
    with session_scope(engine) as db:
        cam = db.get(Camera, "cam-7")
        assert cam is not None and cam.deleted_at is not None and cam.enabled is False
        assert db.get(CameraSecret, "cam-7") is None  # no password kept for a camera that is gone
        assert "cam-7" not in registry.hamlets(db) and registry.hamlets(db) == []
        assert db.exec(select(Outage).where(Outage.camera_id == "cam-7")).all()
        assert "cam-7" not in camera_entries(db, 60.0)  # its checks stopped


def test_creating_the_same_id_restores_it(api: TestClient, engine: Engine) -> None:
    assert api.post("/api/cameras", json=BODY).status_code == 201
    outage_id = _history(engine)
    assert api.delete("/api/cameras/cam-7").status_code == 204
    again = {**BODY, "name": "Cầu Đông (mới)", "main_url": "rtsp://127.0.0.1:556/ch1"}
    r = api.post("/api/cameras", json=again)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "Cầu Đông (mới)" and body["enabled"] is True
    assert body["has_credentials"] is False  # credentials must be given again
    assert api.post("/api/cameras", json=again).status_code == 409  # live again: a duplicate
    outages = api.get("/api/cameras/cam-7/outages").json()
    assert [o["id"] for o in outages] == [outage_id]
    assert api.get("/api/cameras").json()["total"] == 1


def test_import_restores_a_deleted_camera(engine: Engine) -> None:
    csv_text = "id,name,kind,main_url\ncam-7,Cầu,roadside,rtsp://127.0.0.1:554/ch1\n"
    with session_scope(engine) as db:
        assert registry.import_cameras(db, csv_text, "csv").created == 1
    with session_scope(engine) as db:
        registry.delete_camera(db, "cam-7")
    with session_scope(engine) as db:
        report = registry.import_cameras(db, csv_text, "csv")
        assert report.created == 1
    with session_scope(engine) as db:
        cam = db.get(Camera, "cam-7")
        assert cam is not None and cam.deleted_at is None and cam.enabled


def test_changed_fields_names_credentials_without_values(engine: Engine) -> None:
    with session_scope(engine) as db:
        registry.create_camera(db, registry.CameraCreate.model_validate(BODY))
    with session_scope(engine) as db:
        before = registry.snapshot(db, "cam-7")
        registry.update_camera(db, "cam-7", registry.CameraUpdate(password="New-Pw-2", notes="n"))
        db.flush()
        after = registry.snapshot(db, "cam-7")
    assert registry.changed_fields(before, after) == ["notes", "password"]
    assert "New-Pw-2" not in repr(after) and "Pw-Soft-Delete-1" not in repr(before)
