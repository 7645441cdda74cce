"""Role by route, against the real app with one real user (and API token) per role: below the route's
role 403, at or above it past authorisation; what a viewer's camera JSON and pictures hold back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from camsvc.app import create_app
from camsvc.config import Settings
from tests.utils.auth import add_users, headers

ROLES = ["viewer", "technician", "officer", "admin"]
CSV = """id,name,kind,hamlet,address,latitude,longitude,main_url,enabled,owner_name,owner_phone
cam-r,Ngã tư chợ,roadside,Bắc Chiến Thắng,QL1A,18.98,105.61,rtsp://10.0.0.1/s,true,,
cam-h,Nhà bà Mai,household,Nam Chiến Thắng,xóm 2,18.97,105.60,rtsp://10.0.0.2/s,true,Bùi Ngọc Mai,0912345678
"""

# (method, path, body, lowest role that may call it)
TABLE: list[tuple[str, str, Any, str]] = [
    ("GET", "/api/status", None, "viewer"),
    ("GET", "/api/map", None, "viewer"),
    ("GET", "/api/outages", None, "viewer"),
    ("GET", "/api/uptime", None, "viewer"),
    ("GET", "/api/cameras", None, "viewer"),
    ("GET", "/api/incidents", None, "viewer"),
    ("GET", "/web/changes", None, "viewer"),
    ("POST", "/api/outages/999/ack", {}, "technician"),
    ("POST", "/api/incidents/999/ack", {}, "technician"),
    ("POST", "/api/cameras/cam-r/reference/reset", None, "technician"),
    ("POST", "/api/maintenance", {}, "technician"),
    ("DELETE", "/api/maintenance/999", None, "technician"),
    ("GET", "/api/alerts/messages", None, "technician"),
    ("GET", "/api/outages/999/deliveries", None, "technician"),
    ("GET", "/api/cameras/cam-r/thumbnail.jpg", None, "technician"),
    ("GET", "/api/cameras/cam-r/reference.jpg", None, "technician"),
    ("GET", "/api/cameras/cam-h/thumbnail.jpg", None, "admin"),  # household, no consent: admin only
    ("POST", "/api/cameras", {"id": "cam-x"}, "admin"),
    ("PATCH", "/api/cameras/cam-r", {"name": "Ngã tư chợ Bích"}, "admin"),
    ("DELETE", "/api/cameras/cam-zz", None, "admin"),
    ("GET", "/api/cameras/export", None, "admin"),
    ("GET", "/api/contacts", None, "admin"),
    ("POST", "/api/contacts", {}, "admin"),
    ("GET", "/api/routing-rules", None, "admin"),
    ("POST", "/api/channels/999/test", None, "admin"),
    ("POST", "/api/alerts/messages/999/retry", None, "admin"),
    ("GET", "/api/audit", None, "admin"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    app = create_app(Settings(data_dir=Path(tmp_path_factory.mktemp("roles")) / "data"), start_runtime=False)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        engine = app.state.engine
        add_users(engine)
        tok = {r: headers(engine, r) for r in ROLES}
        r = c.post(
            "/api/cameras/import", files={"file": ("f.csv", CSV.encode(), "text/csv")}, headers=tok["admin"]
        )
        assert r.status_code == 200, r.text
        yield c, tok


@pytest.mark.parametrize(
    ("method", "path", "body", "lowest"), TABLE, ids=[f"{m} {p}" for m, p, _, _ in TABLE]
)
def test_role_by_route(world: Any, method: str, path: str, body: Any, lowest: str) -> None:
    c, tok = world
    kw = {"json": body} if body is not None else {}
    assert c.request(method, path, **kw).status_code == 401  # anonymous
    for role in ROLES:
        code = c.request(method, path, headers=tok[role], **kw).status_code
        if ROLES.index(role) < ROLES.index(lowest):
            assert code == 403, f"{role} {method} {path}: {code}"
        else:
            assert code not in (401, 403), f"{role} {method} {path}: {code}"


def test_a_viewer_sees_no_owner_contact_and_no_household_picture(world: Any) -> None:
    c, tok = world
    for role, sees in (("viewer", False), ("technician", True), ("admin", True)):
        listed = {x["id"]: x for x in c.get("/api/cameras", headers=tok[role]).json()["items"]}
        one = c.get("/api/cameras/cam-h", headers=tok[role]).json()
        for cam in (listed["cam-h"], one):
            assert (cam["owner_phone"] == "0912345678") is sees, role
            assert (cam["owner_name"] == "Bùi Ngọc Mai") is sees, role
    for role in ("viewer", "technician", "officer"):
        assert c.get("/api/cameras/cam-h/thumbnails", headers=tok[role]).status_code == 403
        assert c.get("/web/cameras/cam-h/pictures", headers=tok[role]).status_code == 403
    assert c.get("/web/cameras/cam-h/pictures", headers=tok["admin"]).status_code == 200


def test_a_user_limited_to_a_hamlet_sees_only_its_cameras(world: Any) -> None:
    from camsvc.auth.bootstrap import api_token

    c, _tok = world
    raw = api_token(c.app.state.engine, "tech-bac", "technician", hamlets=["bắc chiến thắng"])
    h = {"Authorization": f"Bearer {raw}"}
    assert [x["id"] for x in c.get("/api/cameras", headers=h).json()["items"]] == ["cam-r"]
    assert c.get("/api/cameras/cam-r", headers=h).status_code == 200
    assert c.get("/api/cameras/cam-h", headers=h).status_code == 404  # out of scope: as if it did not exist
    assert c.get("/api/cameras/cam-h/outages", headers=h).status_code == 404


def test_household_pictures_with_the_owners_consent(world: Any) -> None:
    c, tok = world
    r = c.patch("/api/cameras/cam-h", json={"owner_consent": True}, headers=tok["admin"])
    assert r.status_code == 200 and r.json()["owner_consent"] is True
    try:
        codes = {role: c.get("/web/cameras/cam-h/pictures", headers=tok[role]).status_code for role in ROLES}
        assert codes == {"viewer": 403, "technician": 403, "officer": 200, "admin": 200}
    finally:
        c.patch("/api/cameras/cam-h", json={"owner_consent": False}, headers=tok["admin"])


def test_the_scope_holds_for_status_map_changes_outages_and_uptime(world: Any) -> None:
    from camsvc.auth.bootstrap import api_token

    c, _tok = world
    raw = api_token(c.app.state.engine, "viewer-nam", "viewer", hamlets=["Nam Chiến Thắng"])
    h = {"Authorization": f"Bearer {raw}"}
    assert c.get("/api/status", headers=h).json()["total"] == 1
    assert [x["id"] for x in c.get("/api/map", headers=h).json()["cameras"]] == ["cam-h"]
    assert {x["id"] for x in c.get("/web/changes", headers=h).json()["cameras"]} <= {"cam-h"}
    assert all(o["camera_id"] == "cam-h" for o in c.get("/api/outages", headers=h).json())
    uptime = c.get("/api/uptime", headers=h).json()
    assert "Bắc Chiến Thắng" not in str(uptime)
