"""The cases API end to end on real recorded segments: permissions, input checks, background clips, the export
job, the package download (verified, audited), close and release."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from camsvc.auth.models import AuditEvent
from camsvc.cases import signing
from camsvc.cases.verify import verify_package
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.models import Camera
from tests.cases.conftest import Recorded
from tests.utils import auth
from tests.utils.waiting import wait_for


@pytest.fixture
def api(settings: Settings, engine: Engine) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from camsvc.app import create_app

    app = create_app(settings, start_runtime=False)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        auth.add_users(c.app.state.engine, hamlets={"technician": []})
        c.h = {r: auth.headers(c.app.state.engine, r) for r in auth.ROLES}  # type: ignore[attr-defined]
        yield c
        r = getattr(c.app.state, "case_jobs", None)
        if r is not None:
            r.stop()


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _case(api: Any, number: str = "2026/117", role: str = "officer") -> dict:
    r = api.post(
        "/api/cases", json={"number": number, "title": "Trộm xe", "reason": "tố giác"}, headers=api.h[role]
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.mark.parametrize("role", ["viewer", "technician"])
def test_lower_roles_are_refused(api: Any, role: str) -> None:
    h = api.h[role]
    assert api.get("/api/cases", headers=h).status_code == 403
    assert api.post("/api/cases", json={"number": "x"}, headers=h).status_code == 403
    case = _case(api)
    assert api.get(f"/api/cases/{case['id']}", headers=h).status_code == 403
    assert api.post(f"/api/cases/{case['id']}/export", headers=h).status_code == 403
    assert api.post(f"/api/cases/{case['id']}/close", headers=h).status_code == 403
    assert api.get("/api/evidence/key", headers=h).status_code == 200  # public key: any signed-in user


def test_anonymous_refused(api: Any) -> None:
    assert api.get("/api/cases").status_code == 401


def test_create_and_inputs(api: Any, recorded: Recorded) -> None:
    h = api.h["officer"]
    case = _case(api)
    assert case["status"] == "open" and case["held"] is True and case["created_by"] == "officer-api"
    assert api.post("/api/cases", json={"number": "2026/117"}, headers=h).status_code == 409
    r = api.post("/api/cases", json={"title": "no number"}, headers=h)
    assert r.status_code == 422 and "number" in r.text
    cid = case["id"]
    t0 = recorded.t0
    url = f"/api/cases/{cid}/clips"
    cams = [recorded.camera_id]
    bad = [
        (
            {"camera_ids": cams, "start": _iso(t0), "end": _iso(t0 - dt.timedelta(seconds=1))},
            "end: must be after",
        ),
        ({"camera_ids": cams, "start": _iso(t0), "end": "yesterday"}, "end: not an ISO"),
        (
            {
                "camera_ids": cams,
                "start": _iso(t0),
                "end": _iso(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)),
            },
            "end: is in the future",
        ),
        ({"camera_ids": cams, "start": _iso(t0 - dt.timedelta(days=2)), "end": _iso(t0)}, "max_range_s"),
        ({"start": _iso(t0), "end": _iso(t0 + dt.timedelta(seconds=5))}, "camera_ids"),
        (
            {"near": {"lat": 21.0, "lon": 105.8, "radius_m": -1}, "start": _iso(t0), "end": _iso(t0)},
            "radius_m",
        ),
        (
            {
                "near": {"lat": 10.0, "lon": 100.0, "radius_m": 100},
                "start": _iso(t0),
                "end": _iso(t0 + dt.timedelta(seconds=5)),
            },
            "near: no camera",
        ),
    ]
    for body, words in bad:
        r = api.post(url, json=body, headers=h)
        assert r.status_code == 422 and words in r.text, (body, r.text)
    r = api.post(
        url,
        json={"camera_ids": ["nope"], "start": _iso(t0), "end": _iso(t0 + dt.timedelta(seconds=5))},
        headers=h,
    )
    assert r.status_code == 404


def test_clips_export_download_close_release(api: Any, settings: Settings, recorded: Recorded) -> None:
    h = api.h["officer"]
    case = _case(api)
    cid = case["id"]
    t0 = recorded.t0
    with session_scope(
        api.app.state.engine
    ) as s:  # a second camera near the first, not recorded, no template
        s.add(
            Camera(
                id="hh-near",
                name="nhà bà B",
                kind="household",
                vendor="Imou",
                latitude=21.0005,
                longitude=105.8,
                main_url="rtsp://127.0.0.1:9/x",
                owner_consent=True,
            )
        )
        s.add(  # its neighbour did not consent: its footage is not the officer's to pull
            Camera(
                id="hh-private",
                name="nhà ông C",
                kind="household",
                vendor="Imou",
                latitude=21.0006,
                longitude=105.8,
                main_url="rtsp://127.0.0.1:9/y",
            )
        )
    body = {
        "near": {"lat": 21.0, "lon": 105.8, "radius_m": 100},
        "start": _iso(t0 + dt.timedelta(seconds=3)),
        "end": _iso(t0 + dt.timedelta(seconds=33)),
    }
    r = api.post(f"/api/cases/{cid}/clips", json=body, headers=h)
    assert r.status_code == 202, r.text
    assert [c["camera_id"] for c in r.json()["clips"]] == [recorded.camera_id, "hh-near"]
    assert [x["camera_id"] for x in r.json()["skipped"]] == ["hh-private"]
    named = {**body, "near": None, "camera_ids": ["hh-private"]}
    del named["near"]
    assert api.post(f"/api/cases/{cid}/clips", json=named, headers=h).status_code == 403

    def clips() -> list[dict]:
        return list(api.get(f"/api/cases/{cid}", headers=h).json()["clips"])

    wait_for(
        lambda: all(c["status"] not in ("pending", "fetching") for c in clips()), 60, "clips done", clips
    )
    got = {c["camera_id"]: c for c in clips()}
    rec = got[recorded.camera_id]
    assert rec["status"] == "ready" and rec["source"] == "recorded" and rec["sha256"]
    assert rec["actual_start"] <= _iso(t0 + dt.timedelta(seconds=3)) and rec["gaps"] and rec["camera_name"]
    assert got["hh-near"]["status"] == "no_source" and "no playback template" in got["hh-near"]["detail"]

    r = api.post(f"/api/cases/{cid}/export", headers=h)
    assert r.status_code == 202, r.text
    job = r.json()["job_id"]

    def export() -> dict:
        return dict(api.get(f"/api/cases/{cid}/exports/{job}", headers=h).json())

    wait_for(lambda: export()["status"] in ("done", "failed"), 60, "export done", export)
    ex = export()
    assert ex["status"] == "done" and ex["progress"] == 1.0, ex
    assert api.get(f"/api/cases/{cid}/exports/{job}/package", headers=api.h["viewer"]).status_code == 403
    r = api.get(ex["package_url"], headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    pkg = settings.data_dir / "downloaded.zip"
    pkg.write_bytes(r.content)
    key = api.get("/api/evidence/key", headers=h).json()
    rep = verify_package(pkg, signing.load_public_pem(key["public_key_pem"]), "service key")
    assert rep.ok, rep.failures
    assert signing.grouped(rep.fingerprint or "") == key["fingerprint"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert sum(1 for n in zf.namelist() if n.startswith("clips/")) == 1
    with Session(api.app.state.engine) as s:
        rows = s.exec(select(AuditEvent).where(AuditEvent.action == "case.package_download")).all()
        assert [(e.username, e.target) for e in rows] == [("officer-api", f"case:{cid} export:{job}")]
        posts = [
            e.action for e in s.exec(select(AuditEvent).where(AuditEvent.username == "officer-api")).all()
        ]
        assert "POST /api/cases/{case_id}/export" in posts or "case.export" in posts

    assert api.post(f"/api/cases/{cid}/release", headers=api.h["admin"]).status_code == 409  # still open
    assert api.post(f"/api/cases/{cid}/close", headers=h).status_code == 200
    r = api.post(f"/api/cases/{cid}/clips", json=body, headers=h)
    assert r.status_code == 409  # closed: no more clips
    assert api.post(f"/api/cases/{cid}/release", headers=h).status_code == 403  # officer may not release
    r = api.post(f"/api/cases/{cid}/release", headers=api.h["admin"])
    assert r.status_code == 200 and r.json()["held"] is False and r.json()["released_by"] == "admin-api"
    listed = api.get("/api/cases", headers=h).json()
    assert listed[0]["number"] == "2026/117" and listed[0]["clips"] == 2 and listed[0]["status"] == "closed"


def test_scope_limits_cameras(settings: Settings, engine: Engine, recorded: Recorded) -> None:
    from fastapi.testclient import TestClient

    from camsvc.app import create_app

    with TestClient(create_app(settings, start_runtime=False), base_url="http://127.0.0.1") as c:
        auth.add_users(c.app.state.engine, hamlets={"officer": ["Thôn Khác"]})
        h = auth.headers(c.app.state.engine, "officer", username="officer")
        r = c.post("/api/cases", json={"number": "S/1"}, headers=h)
        t0 = recorded.t0
        body = {
            "camera_ids": [recorded.camera_id],
            "start": _iso(t0),
            "end": _iso(t0 + dt.timedelta(seconds=5)),
        }
        assert c.post(f"/api/cases/{r.json()['id']}/clips", json=body, headers=h).status_code == 404
        near = {
            "near": {"lat": 21.0, "lon": 105.8, "radius_m": 100},
            "start": body["start"],
            "end": body["end"],
        }
        r2 = c.post(f"/api/cases/{r.json()['id']}/clips", json=near, headers=h)
        assert r2.status_code == 422 and "no camera" in r2.text

        # a case holding footage of another hamlet is not shown to the scoped officer at all
        admin = auth.headers(c.app.state.engine, "admin")
        other = c.post("/api/cases", json={"number": "S/2"}, headers=admin).json()
        assert c.post(f"/api/cases/{other['id']}/clips", json=body, headers=admin).status_code == 202
        listed = [x["number"] for x in c.get("/api/cases", headers=h).json()]
        assert "S/2" not in listed and "S/1" in listed  # their own (empty) case is theirs
        assert "S/2" in [x["number"] for x in c.get("/api/cases", headers=admin).json()]
        for path in (f"/api/cases/{other['id']}", f"/api/cases/{other['id']}/exports/1"):
            assert c.get(path, headers=h).status_code == 404, path
        assert c.post(f"/api/cases/{other['id']}/export", headers=h).status_code == 404
        r = getattr(c.app.state, "case_jobs", None)
        if r is not None:
            r.stop()


def test_interrupted_export_is_marked_failed(api: Any, settings: Settings) -> None:
    from camsvc.cases.jobs import JobRunner
    from camsvc.cases.models import Case, ExportJob

    with session_scope(api.app.state.engine) as s:
        case = Case(number="I/1", created_by="x")
        s.add(case)
        s.flush()
        s.add(ExportJob(case_id=case.id or 0, status="running", requested_by="x"))
    r = JobRunner(api.app.state.engine, settings).start()
    r.stop()
    with Session(api.app.state.engine) as s:
        job = s.exec(select(ExportJob)).one()
        assert job.status == "failed" and job.error == "interrupted"
