"""Replacing a maintenance window (PUT) follows the same rules as creating one: a reason and an end, each
refused with the field named; the dashboard's "end now" (a PUT with ends_at = now) works on an active window.
And the incident delivery history: viewers see who was told and how it went, never the message texts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.models import MaintenanceWindow
from tests.alerts.conftest import add_cameras
from tests.utils.auth import headers, signed_in_client


@pytest.fixture
def client(alert_settings: Settings, alert_engine) -> Iterator[TestClient]:
    from camsvc.app import create_app

    app = create_app(alert_settings, start_runtime=False)
    with signed_in_client(app, role="technician") as c:
        yield c


def _window(client: TestClient) -> dict:
    r = client.post(
        "/api/maintenance",
        json={"hamlet": "Đông Hải", "reason": "thay nguồn", "ends_at": "2030-01-01T00:00:00"},
    )
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"ends_at": None}, "ends_at"),
    ],
)
def test_put_rechecks_reason_and_end_like_create(
    client: TestClient, alert_engine, change: dict, field: str
) -> None:
    add_cameras(alert_engine, 2, "Đông Hải", prefix="dh")
    w = _window(client)
    body = {"hamlet": "Đông Hải", "reason": "thay nguồn", "ends_at": "2030-01-01T00:00:00", **change}
    r = client.put(f"/api/maintenance/{w['id']}", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(f"{field}:")
    # nothing changed
    same = client.get(f"/api/maintenance/{w['id']}").json()
    assert same["reason"] == "thay nguồn" and same["ends_at"] is not None


def test_create_names_the_missing_field(client: TestClient, alert_engine) -> None:
    add_cameras(alert_engine, 1, "Đông Hải", prefix="dh")
    no_end = client.post("/api/maintenance", json={"reason": "x"})
    no_reason = client.post("/api/maintenance", json={"ends_at": "2030-01-01T00:00:00"})
    assert no_end.status_code == no_reason.status_code == 422
    assert no_end.json()["detail"].startswith("ends_at:")
    assert no_reason.json()["detail"].startswith("reason:")


def test_end_now_and_valid_put(client: TestClient, alert_engine) -> None:
    add_cameras(alert_engine, 2, "Đông Hải", prefix="dh")
    w = _window(client)
    assert w["active_now"] is True
    assert w["created_by"] == "technician-api"  # the signed-in caller, when the body names nobody
    now = dt.datetime.now(dt.UTC)
    body = {
        "hamlet": w["hamlet"],
        "starts_at": w["starts_at"],
        "ends_at": now.isoformat(),
        "reason": w["reason"],
        "created_by": w["created_by"],
    }
    r = client.put(f"/api/maintenance/{w['id']}", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["active_now"] is False
    with session_scope(alert_engine) as s:
        row = s.get(MaintenanceWindow, w["id"])
        assert row is not None and row.ends_at is not None and row.ends_at <= now + dt.timedelta(seconds=1)
    # an end before the start is refused, naming it
    bad = client.put(f"/api/maintenance/{w['id']}", json={**body, "ends_at": "2000-01-01T00:00:00Z"})
    assert bad.status_code == 422 and "ends_at" in bad.text


def test_end_now_ends_an_active_window_and_refuses_an_upcoming_one(client: TestClient, alert_engine) -> None:
    add_cameras(alert_engine, 1, "Đông Hải", prefix="dh")
    w = _window(client)
    ended = client.post(f"/api/maintenance/{w['id']}/end")
    assert ended.status_code == 200 and ended.json()["active_now"] is False
    assert client.get("/api/maintenance", params={"active": "true"}).json() == []
    later = client.post(
        "/api/maintenance",
        json={"reason": "x", "starts_at": "2030-01-01T00:00:00", "ends_at": "2030-01-02T00:00:00"},
    ).json()
    r = client.post(f"/api/maintenance/{later['id']}/end")
    assert r.status_code == 409 and "delete" in r.text
    viewer = client.post(f"/api/maintenance/{w['id']}/end", headers=headers(alert_engine, "viewer"))
    assert viewer.status_code == 403


def test_viewer_sees_deliveries_without_texts(client: TestClient, alert_engine) -> None:
    from camsvc.alerts.models import Incident, OutboxMessage

    now = dt.datetime.now(dt.UTC)
    with session_scope(alert_engine) as s:
        inc = Incident(group_key="h:x", hamlet="x", opened_at=now, started_at=now, notify_at=now)
        s.add(inc)
        s.flush()
        s.add(
            OutboxMessage(
                dedup_key="k1",
                incident_id=inc.id,
                contact_name="Kỹ thuật",
                channel_label="json://127.0.0.1/...",
                kind="alert",
                subject="[Camera] MẤT TÍN HIỆU",
                body="Xác nhận: http://x/ack/SECRET-TOKEN",
            )
        )
        s.flush()
        iid = inc.id
    tech = client.get(f"/api/incidents/{iid}/deliveries").json()
    assert tech[0]["body"].endswith("SECRET-TOKEN") and tech[0]["body_hidden"] is False
    viewer = client.get(f"/api/incidents/{iid}/deliveries", headers=headers(alert_engine, "viewer"))
    assert viewer.status_code == 200
    row = viewer.json()[0]
    assert row["body_hidden"] is True and row["body"] == "" and row["subject"] == ""
    assert row["contact_name"] == "Kỹ thuật" and row["status"] == "pending"
    assert "SECRET-TOKEN" not in viewer.text


def _scoped_headers(alert_engine) -> dict[str, str]:
    from camsvc.auth.bootstrap import api_token

    return {
        "Authorization": f"Bearer {api_token(alert_engine, 'tech-dh', 'technician', hamlets=['Đông Hải'])}"
    }


def test_a_hamlet_scoped_technician_sees_and_acknowledges_only_their_incidents(
    client: TestClient, alert_engine
) -> None:
    from camsvc.alerts.models import Incident, IncidentMember

    add_cameras(alert_engine, 1, "Đông Hải", prefix="dh")
    add_cameras(alert_engine, 1, "Bắc Chiến Thắng", prefix="bct")
    now = dt.datetime.now(dt.UTC)
    ids = {}
    with session_scope(alert_engine) as s:
        for hamlet, cam in (("Đông Hải", "dh-001"), ("Bắc Chiến Thắng", "bct-001")):
            inc = Incident(
                group_key=f"h:{hamlet}", hamlet=hamlet, opened_at=now, started_at=now, notify_at=now
            )
            s.add(inc)
            s.flush()
            s.add(
                IncidentMember(incident_id=inc.id, camera_id=cam, state="down", started_at=now, joined_at=now)
            )
            ids[hamlet] = inc.id
    scoped = _scoped_headers(alert_engine)
    mine = client.get("/api/incidents", headers=scoped).json()
    assert [i["id"] for i in mine] == [ids["Đông Hải"]]
    assert mine[0]["members"][0]["camera_hamlet"] == "Đông Hải"
    other = ids["Bắc Chiến Thắng"]
    assert client.get(f"/api/incidents/{other}", headers=scoped).status_code == 404
    assert client.get(f"/api/incidents/{other}/deliveries", headers=scoped).status_code == 404
    assert client.post(f"/api/incidents/{other}/ack", headers=scoped).status_code == 404
    assert client.post(f"/api/incidents/{ids['Đông Hải']}/ack", headers=scoped).status_code == 200
    assert len(client.get("/api/incidents").json()) == 2  # an unrestricted technician sees both


def test_a_hamlet_scoped_technician_sets_maintenance_only_in_their_hamlets(
    client: TestClient, alert_engine
) -> None:
    add_cameras(alert_engine, 1, "Đông Hải", prefix="dh")
    add_cameras(alert_engine, 1, "Bắc Chiến Thắng", prefix="bct")
    scoped = _scoped_headers(alert_engine)
    base = {"reason": "x", "ends_at": "2030-01-01T00:00:00"}
    assert (
        client.post("/api/maintenance", json={**base, "camera_id": "dh-001"}, headers=scoped).status_code
        == 201
    )
    assert (
        client.post("/api/maintenance", json={**base, "hamlet": "Đông Hải"}, headers=scoped).status_code
        == 201
    )
    for refused in ({"camera_id": "bct-001"}, {"hamlet": "Bắc Chiến Thắng"}, {}):
        r = client.post("/api/maintenance", json={**base, **refused}, headers=scoped)
        assert r.status_code == 403 and r.json()["detail"].startswith("scope:"), refused
    theirs = client.post("/api/maintenance", json={**base, "hamlet": "Bắc Chiến Thắng"}).json()
    assert client.post(f"/api/maintenance/{theirs['id']}/end", headers=scoped).status_code == 403
    assert client.delete(f"/api/maintenance/{theirs['id']}", headers=scoped).status_code == 403
