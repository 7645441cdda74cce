"""GET /api/cameras/{id}/recording and GET /api/recording/storage on a real database (no recorder)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from camsvc.cameras import create_camera
from camsvc.cases.models import Case, CaseClip
from camsvc.db import session_scope
from camsvc.models import CameraCreate
from camsvc.recording.models import RecorderStatus, Segment

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def seed(client: Any) -> None:
    engine = client.app.state.engine
    with session_scope(engine) as s:
        create_camera(
            s, CameraCreate(id="r1", name="Road 1", kind="roadside", main_url="rtsp://10.0.0.5/main")
        )
        t0 = NOW - dt.timedelta(minutes=10)
        for i in range(6):  # 6 x 60 s, a 60 s hole after the third
            start = t0 + dt.timedelta(seconds=60 * i + (60 if i >= 3 else 0))
            s.add(
                Segment(
                    camera_id="r1",
                    path=f"r1/{i}.mp4",
                    start=start,
                    end=start + dt.timedelta(seconds=60),
                    duration_s=60,
                    size=1_000_000,
                    sha256="0" * 64,
                )
            )
        s.add(RecorderStatus(camera_id="r1", running=True, since=t0, last_segment_end=t0, restarts=2))
        case = Case(number="2026/1", created_by="officer")
        s.add(case)
        s.flush()
        assert case.id is not None
        s.add(
            CaseClip(
                case_id=case.id,
                camera_id="r1",
                start=t0 + dt.timedelta(seconds=10),
                end=t0 + dt.timedelta(seconds=20),
                added_by="officer",
            )
        )


def z(t: dt.datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_camera_recording_timeline(client: Any) -> None:
    seed(client)
    t0 = NOW - dt.timedelta(minutes=10)
    r = client.get(
        "/api/cameras/r1/recording", params={"start": z(t0), "end": z(t0 + dt.timedelta(minutes=7))}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["camera_id"] == "r1" and body["mode"] == "continuous" and body["stream"] == "main"
    assert body["status"]["running"] is True and body["status"]["restarts"] == 2
    assert body["segments"] == [
        {"start": z(t0), "end": z(t0 + dt.timedelta(seconds=60)), "size": 1_000_000, "held": True},
        {
            "start": z(t0 + dt.timedelta(seconds=60)),
            "end": z(t0 + dt.timedelta(seconds=180)),
            "size": 2_000_000,
            "held": False,
        },
        {
            "start": z(t0 + dt.timedelta(seconds=240)),
            "end": z(t0 + dt.timedelta(seconds=420)),
            "size": 3_000_000,
            "held": False,
        },
    ]
    assert body["gaps"] == [
        {"start": z(t0 + dt.timedelta(seconds=180)), "end": z(t0 + dt.timedelta(seconds=240))}
    ]
    assert body["held"][0]["start"] == z(t0 + dt.timedelta(seconds=10)) and body["held"][0]["case_id"]
    assert body["bytes"] == 6_000_000 and body["mb_per_hour"] == 60.0
    assert client.get("/api/cameras/nope/recording").status_code == 404
    assert client.get("/api/cameras/r1/recording", params={"start": z(NOW), "end": z(t0)}).status_code == 422


def test_storage(client: Any) -> None:
    seed(client)
    r = client.get("/api/recording/storage")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total_bytes"] > 0 and body["free_bytes"] > 0 and body["used_bytes"] == 6_000_000
    assert body["floor_bytes"] >= 5 * 1024**3 and body["floor_ok"] in (True, False)
    assert body["write_errors"] == 0
    assert body["cameras"][0]["camera_id"] == "r1" and body["cameras"][0]["name"] == "Road 1"
    assert body["cameras"][0]["days_kept"] is not None


def test_hamlet_scope_applies(client: Any) -> None:
    from camsvc.auth.bootstrap import ensure_user
    from tests.utils.auth import PASSWORD, headers

    seed(client)
    engine = client.app.state.engine
    with session_scope(engine) as s:
        ensure_user(s, "scoped", "viewer", password=PASSWORD, hamlets=("Đông Hải",))
    h = headers(engine, "viewer", "scoped")
    assert client.get("/api/cameras/r1/recording", headers=h).status_code == 404
    body = client.get("/api/recording/storage", headers=h).json()
    assert body["cameras"] == []
    assert client.get("/api/recording/storage", headers=headers(engine, "viewer")).json()["cameras"]
