"""The registry over the API: CRUD, filters, all-or-nothing import, idempotent re-import, no secrets out."""

from __future__ import annotations

from typing import Any

GOOD_CSV = """id,name,kind,hamlet,address,latitude,longitude,owner_name,owner_phone,vendor,model,main_url,sub_url,snapshot_url,username,password,check_interval_s,enabled,notes,installed_on
cam-001,Ngã tư chợ,roadside,Bắc Chiến Thắng,QL1A,19.051,105.631,,,Hikvision,DS-2CD,rtsp://127.0.0.1:20001/main,rtsp://127.0.0.1:20001/sub,,admin,S3cret-pass,,true,,2025-03-01
cam-002,Nhà ông Hùng,household,Nam Chiến Thắng,Xóm 2,19.047,105.628,Nguyễn Văn Hùng,0912345678,Imou,IPC,,,http://127.0.0.1:20002/snapshot.jpg,,,30,yes,,
"""


def _post_import(client: Any, text: str, name: str = "fleet.csv") -> Any:
    return client.post("/api/cameras/import", files={"file": (name, text.encode(), "text/csv")})


def test_create_get_update_delete(client: Any) -> None:
    r = client.post(
        "/api/cameras",
        json={
            "id": "cam-9",
            "name": "Cổng UBND",
            "kind": "roadside",
            "hamlet": "Bắc Thành",
            "main_url": "rtsp://admin:Top-Secret-9@127.0.0.1:554/ch1",
            "latitude": 19.05,
            "longitude": 105.63,
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["main_url"] == "rtsp://127.0.0.1:554/ch1"  # credentials split out of the URL
    assert body["has_credentials"] is True and "Top-Secret-9" not in r.text
    assert body["state"] == "unknown"
    assert (
        client.post(
            "/api/cameras", json={"id": "cam-9", "name": "x", "kind": "roadside", "main_url": "rtsp://h/x"}
        ).status_code
        == 409
    )
    r = client.patch("/api/cameras/cam-9", json={"enabled": False, "notes": "cáp bị đứt"})
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert client.get("/api/cameras/cam-9").json()["notes"] == "cáp bị đứt"
    assert client.delete("/api/cameras/cam-9").status_code == 204
    assert client.get("/api/cameras/cam-9").status_code == 404


def test_bad_url_and_kind_are_refused_with_reason(client: Any) -> None:
    r = client.post(
        "/api/cameras", json={"id": "c1", "name": "x", "kind": "roadside", "main_url": "ftp://h/x"}
    )
    assert r.status_code == 422 and "scheme" in r.text
    r = client.post("/api/cameras", json={"id": "c1", "name": "x", "kind": "tower", "main_url": "rtsp://h/x"})
    assert r.status_code == 422 and "kind" in r.text


def test_import_good_file_twice_is_idempotent(client: Any) -> None:
    r = _post_import(client, GOOD_CSV)
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 2, "updated": 0, "unchanged": 0}
    r = _post_import(client, GOOD_CSV)
    assert r.json() == {"created": 0, "updated": 0, "unchanged": 2}
    page = client.get("/api/cameras").json()
    assert page["total"] == 2
    assert "S3cret-pass" not in client.get("/api/cameras").text
    # filters: accent-insensitive hamlet, kind, text search
    assert [
        c["id"] for c in client.get("/api/cameras", params={"hamlet": "bac chien thang"}).json()["items"]
    ] == ["cam-001"]
    assert client.get("/api/cameras", params={"kind": "household"}).json()["total"] == 1
    assert client.get("/api/cameras", params={"q": "Hùng"}).json()["total"] == 1
    assert client.get("/api/cameras", params={"state": "unknown"}).json()["total"] == 2
    assert client.get("/api/cameras", params={"limit": 1, "offset": 1}).json()["items"][0]["id"] == "cam-002"


def test_bad_import_changes_nothing_and_names_every_bad_row(client: Any) -> None:
    assert _post_import(client, GOOD_CSV).status_code == 200
    bad = GOOD_CSV.replace("Ngã tư chợ", "CHANGED") + (
        "cam-003,X,tower,H,,19.0,105.6,,,,,rtsp://127.0.0.1/a,,,,,,,,\n"
        "cam-004,Y,household,H,,119.0,105.6,,,,,rtsp://127.0.0.1/a,,,,,,,,\n"
        "cam-001,Z,household,H,,19.0,105.6,,,,,rtsp://127.0.0.1/a,,,,,,,,\n"
        "cam-005,W,household,H,,19.0,105.6,,,,,ftp://127.0.0.1/a,,,,,,,,\n"
        ",V,household,H,,19.0,105.6,,,,,rtsp://127.0.0.1/a,,,,,,,,\n"
    )
    r = _post_import(client, bad)
    assert r.status_code == 422
    errors = {(e["row"], e["column"]) for e in r.json()["detail"]["errors"]}
    assert errors == {(4, "kind"), (5, "latitude"), (6, "id"), (7, "main_url"), (8, "id")}
    # nothing changed: the good row's edit in the same file was not applied either
    assert client.get("/api/cameras/cam-001").json()["name"] == "Ngã tư chợ"
    assert client.get("/api/cameras").json()["total"] == 2


def test_export_roundtrip_without_secrets(client: Any) -> None:
    _post_import(client, GOOD_CSV)
    csv_text = client.get("/api/cameras/export", params={"format": "csv"}).text
    assert "S3cret-pass" not in csv_text and "password" not in csv_text.splitlines()[0]
    assert "cam-001" in csv_text
    yaml_text = client.get("/api/cameras/export", params={"format": "yaml"}).text
    assert "Bắc Chiến Thắng" in yaml_text and "S3cret-pass" not in yaml_text
    r = client.post("/api/cameras/import", files={"file": ("c.yaml", yaml_text.encode(), "application/yaml")})
    assert r.json() == {"created": 0, "updated": 0, "unchanged": 2}


def test_status_map_and_openapi(client: Any) -> None:
    _post_import(client, GOOD_CSV)
    st = client.get("/api/status").json()
    assert st["total"] == 2 and st["by_state"]["unknown"] == 2
    assert st["by_hamlet"]["Bắc Chiến Thắng"]["unknown"] == 1
    r = client.get("/api/map")
    assert r.status_code == 200 and len(r.json()["cameras"]) == 2
    etag = r.headers["etag"]
    assert client.get("/api/map", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/healthz").json()["status"] == "ok"
    assert "camsvc_cameras" in client.get("/metrics").text
