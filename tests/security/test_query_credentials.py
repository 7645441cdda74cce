"""Credentials in the query string (``?usr=..&pwd=..``, ``loginuse/loginpas``...) are secrets like userinfo:
split out of the stored URL, never shown by the API, exports or logs, put back only for the probe."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlmodel import Session

from camsvc.models import Camera, CameraSecret
from camsvc.redact import redact_text, redact_url, with_credentials
from camsvc.urls import InvalidURL, split_credentials
from tests.security.conftest import PASSWORD, Serve, probe_camera, query_camera

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("url", "clean", "user", "pw"),
    [
        ("http://h/snap.cgi?usr=admin&pwd=s3cr%26t", "http://h/snap.cgi?usr=&pwd=", "admin", "s3cr&t"),
        (
            "http://h/snapshot.cgi?loginuse=admin&loginpas=x1y2&res=0",
            "http://h/snapshot.cgi?loginuse=&loginpas=&res=0",
            "admin",
            "x1y2",
        ),
        ("http://h/a?User=u1&PassWD=pw-99", "http://h/a?User=&PassWD=", "u1", "pw-99"),
        ("http://h/a?token=abc123&ch=1", "http://h/a?token=&ch=1", None, "abc123"),
        ("http://h/a?auth=YWRtaW4&x=%2F", "http://h/a?auth=&x=%2F", None, "YWRtaW4"),  # others untouched
        ("rtsp://u:p4ss@h/x?pass=p4ss", "rtsp://h/x?pass=", "u", "p4ss"),
        ("http://h/a?ch=1", "http://h/a?ch=1", None, None),
    ],
)
def test_split_and_put_back(url: str, clean: str, user: str | None, pw: str | None) -> None:
    assert split_credentials(url) == (clean, user, pw)
    back = with_credentials(clean, user, pw)
    assert split_credentials(back)[1:] == (user, pw)
    if pw:
        assert pw not in redact_url(back) and pw not in redact_text(f"failed on {back}: refused")


def test_two_different_passwords_are_refused() -> None:
    with pytest.raises(InvalidURL, match="two different passwords"):
        split_credentials("http://a:one@h/x?pwd=two")


def test_api_export_and_logs_never_show_the_value(
    client: Any, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    srv = serve(query_camera("admin", PASSWORD))
    url = srv.url("http", f"/snap.cgi?usr=admin&pwd={PASSWORD}&res=1")
    r = client.post(
        "/api/cameras", json={"id": "cam-q", "name": "Nhà bà Lan", "kind": "household", "snapshot_url": url}
    )
    assert r.status_code == 201, r.text
    assert r.json()["has_credentials"] is True
    assert r.json()["snapshot_url"] == srv.url("http", "/snap.cgi?usr=&pwd=&res=1")
    texts = [
        r.text,
        client.get("/api/cameras").text,
        client.get("/api/cameras/cam-q").text,
        client.get("/api/cameras/export", params={"format": "csv"}).text,
        client.get("/api/cameras/export", params={"format": "yaml"}).text,
    ]
    assert all(PASSWORD not in t for t in texts)
    engine = client.app.state.engine
    with Session(engine) as s:
        cam = s.get(Camera, "cam-q")
        secret = s.get(CameraSecret, "cam-q")
        assert cam is not None and PASSWORD not in cam.snapshot_url
        assert secret is not None and (secret.username, secret.password) == ("admin", PASSWORD)

    # the probe puts it back where the camera expects it, and authenticates against the real server
    with caplog.at_level(logging.DEBUG, logger="camsvc"):
        res = probe_camera(engine, "cam-q")
    assert res.ok, res.detail
    assert PASSWORD not in res.url and PASSWORD not in caplog.text
    assert "pwd=***" in res.url

    # the export re-imports unchanged (the empty parameter does not wipe the stored secret)
    csv_text = client.get("/api/cameras/export", params={"format": "csv"}).text
    r = client.post("/api/cameras/import", files={"file": ("c.csv", csv_text.encode(), "text/csv")})
    assert r.json() == {"created": 0, "updated": 0, "unchanged": 1}
    assert probe_camera(engine, "cam-q").ok


def test_wrong_query_password_fails_with_auth_and_is_not_echoed(client: Any, serve: Serve) -> None:
    srv = serve(query_camera("admin", PASSWORD, "loginuse", "loginpas"))
    url = srv.url("http", "/snapshot.cgi?loginuse=admin&loginpas=WrongPass99")
    client.post("/api/cameras", json={"id": "cam-w", "name": "x", "kind": "household", "snapshot_url": url})
    res = probe_camera(client.app.state.engine, "cam-w")
    assert not res.ok and res.error is not None and res.error.value == "auth"
    assert "WrongPass99" not in str(res.to_dict())
