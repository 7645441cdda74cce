"""Re-pointing a camera to another host or port drops its stored credentials unless they are given again.

Real servers on 127.0.0.1 (each on its own port); the camera is probed the way the scheduler does it, and
the new server's recorded request heads prove that no Authorization header reached it.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from camsvc.models import CameraSecret
from tests.probing import servers as S
from tests.security.conftest import PASSWORD, Serve, authorizations, probe_camera

pytestmark = pytest.mark.integration


def _engine(client: Any) -> Any:
    return client.app.state.engine


def _secret(client: Any, cam_id: str) -> CameraSecret | None:
    with Session(_engine(client)) as s:
        return s.get(CameraSecret, cam_id)


def _create_snapshot_camera(client: Any, url: str) -> None:
    r = client.post(
        "/api/cameras",
        json={
            "id": "cam-1",
            "name": "Cổng chợ",
            "kind": "roadside",
            "snapshot_url": url,
            "username": "admin",
            "password": PASSWORD,
        },
    )
    assert r.status_code == 201, r.text


def test_repointed_http_camera_sends_nothing_to_the_new_host(client: Any, serve: Serve) -> None:
    first = serve(S.http_camera("snapshot", auth=S.Auth("admin", PASSWORD, "basic")))
    _create_snapshot_camera(client, first.url("http", "/snap.jpg"))
    assert probe_camera(_engine(client), "cam-1").ok  # the stored password works where it belongs

    # the new host asks for Basic credentials: if the old ones followed the URL, it would get them
    other = serve(S.http_camera("snapshot", auth=S.Auth("admin", PASSWORD, "basic")))
    r = client.patch("/api/cameras/cam-1", json={"snapshot_url": other.url("http", "/snap.jpg")})
    assert r.status_code == 200, r.text
    assert r.json()["has_credentials"] is False
    assert _secret(client, "cam-1") is None
    res = probe_camera(_engine(client), "cam-1")
    assert not res.ok and res.error is not None and res.error.value == "auth"
    assert other.requests and authorizations(other) == [None] * len(other.requests)


def test_same_host_other_port_also_drops_them(client: Any, serve: Serve) -> None:
    first = serve(S.http_camera("snapshot", auth=S.Auth("admin", PASSWORD)))
    _create_snapshot_camera(client, first.url("http", "/snap.jpg"))
    other = serve(S.http_camera("snapshot", auth=S.Auth("admin", PASSWORD)))  # 127.0.0.1, another port
    client.patch("/api/cameras/cam-1", json={"snapshot_url": other.url("http", "/snap.jpg")})
    probe_camera(_engine(client), "cam-1")
    assert other.requests and all(a is None for a in authorizations(other))


def test_credentials_given_again_in_the_same_request_are_kept(client: Any, serve: Serve) -> None:
    first = serve(S.http_camera("snapshot", auth=S.Auth("admin", PASSWORD)))
    _create_snapshot_camera(client, first.url("http", "/snap.jpg"))
    other = serve(S.http_camera("snapshot", auth=S.Auth("admin", PASSWORD)))
    r = client.patch(
        "/api/cameras/cam-1",
        json={"snapshot_url": other.url("http", "/snap.jpg"), "username": "admin", "password": PASSWORD},
    )
    assert r.status_code == 200 and r.json()["has_credentials"] is True
    assert probe_camera(_engine(client), "cam-1").ok
    auths = authorizations(other)
    assert auths[0] is None and (auths[-1] or "").startswith("Digest ")  # only after its challenge


def test_credentials_in_the_new_url_count_as_given_again(client: Any, serve: Serve) -> None:
    first = serve(S.http_camera("snapshot", auth=S.Auth("admin", PASSWORD)))
    _create_snapshot_camera(client, first.url("http", "/snap.jpg"))
    other = serve(S.http_camera("snapshot", auth=S.Auth("viewer", "other-pass")))
    r = client.patch(
        "/api/cameras/cam-1", json={"snapshot_url": other.url("http", "/snap.jpg", "viewer:other-pass")}
    )
    assert r.json()["has_credentials"] is True and "other-pass" not in r.text
    secret = _secret(client, "cam-1")
    assert secret is not None and (secret.username, secret.password) == ("viewer", "other-pass")
    assert probe_camera(_engine(client), "cam-1").ok


def test_unrelated_edits_and_same_host_moves_keep_them(client: Any, serve: Serve) -> None:
    first = serve(S.http_camera("snapshot", auth=S.Auth("admin", PASSWORD)))
    _create_snapshot_camera(client, first.url("http", "/snap.jpg"))
    client.patch("/api/cameras/cam-1", json={"notes": "cột điện số 4"})
    client.patch("/api/cameras/cam-1", json={"snapshot_url": first.url("http", "/other-path.jpg")})
    assert _secret(client, "cam-1") is not None


def test_repointed_rtsp_camera_gets_no_authorization(client: Any, serve: Serve) -> None:
    """FFmpeg (RTSP) and the failure check both talk to the new host: neither may send the old secret."""
    old = serve(S.rtsp_responder(auth=S.Auth("admin", PASSWORD)))
    r = client.post(
        "/api/cameras",
        json={
            "id": "cam-2",
            "name": "Ngã ba",
            "kind": "roadside",
            "main_url": old.url("rtsp", "/live", f"admin:{PASSWORD}"),
        },
    )
    assert r.status_code == 201 and r.json()["has_credentials"] is True
    new = serve(S.rtsp_responder(auth=S.Auth("admin", PASSWORD, "basic")))
    client.patch("/api/cameras/cam-2", json={"main_url": new.url("rtsp", "/live")})
    res = probe_camera(_engine(client), "cam-2")
    assert not res.ok and res.error is not None and res.error.value == "auth", res.detail
    assert new.requests and all(a is None for a in authorizations(new))
    assert PASSWORD not in str(res.to_dict())


def test_import_row_repointing_a_camera_drops_credentials(client: Any, serve: Serve) -> None:
    first = serve(S.http_camera("snapshot", auth=S.Auth("admin", PASSWORD)))
    other = serve(S.http_camera("snapshot", auth=S.Auth("admin", PASSWORD)))
    head = "id,name,kind,snapshot_url,username,password\n"

    def imp(text: str) -> Any:
        return client.post("/api/cameras/import", files={"file": ("f.csv", text.encode(), "text/csv")})

    assert (
        imp(head + f"cam-3,X,household,{first.url('http', '/s.jpg')},admin,{PASSWORD}\n").status_code == 200
    )
    assert imp(head + f"cam-3,X,household,{other.url('http', '/s.jpg')},,\n").json()["updated"] == 1
    assert _secret(client, "cam-3") is None
    probe_camera(_engine(client), "cam-3")
    assert other.requests and all(a is None for a in authorizations(other))
    # given again in the row: kept
    assert (
        imp(head + f"cam-3,X,household,{first.url('http', '/s.jpg')},admin,{PASSWORD}\n").status_code == 200
    )
    assert probe_camera(_engine(client), "cam-3").ok
