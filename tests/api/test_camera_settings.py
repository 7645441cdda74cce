"""Per-camera settings that would break checks are refused where they come in (API, CSV/YAML import), with
the key path named; a bad value already stored (from before the check) must not stop the camera's checks."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import fields
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from camsvc.config import Settings
from camsvc.models import Camera, CameraCreate, Check
from camsvc.picture.judge import (
    THRESHOLD_RANGES,
    Thresholds,
    per_kind_threshold_errors,
    threshold_errors,
)

BASE = {"name": "Cổng chợ", "kind": "roadside", "main_url": "rtsp://127.0.0.1:554/ch1"}

# (field, value, what the 422 must say). Each breaks checks or the row if accepted.
BAD = [
    (
        "picture_thresholds",
        '{"blurred_ratio": 30}',
        "picture_thresholds.blurred_ratio: must be a number between 0 and 1",
    ),
    (
        "picture_thresholds",
        '{"blurred_ratio": -0.1}',
        "picture_thresholds.blurred_ratio: must be a number between 0 and 1",
    ),
    ("picture_thresholds", '{"blurred_ratio": "0.3"}', "picture_thresholds.blurred_ratio: must be a number"),
    ("picture_thresholds", '{"blurred_ratio": true}', "picture_thresholds.blurred_ratio: must be a number"),
    ("picture_thresholds", '{"blurred_ratio": NaN}', "picture_thresholds.blurred_ratio: must be a number"),
    (
        "picture_thresholds",
        '{"black_p99": Infinity}',
        "picture_thresholds.black_p99: must be a number between 0 and 255",
    ),
    (
        "picture_thresholds",
        '{"blured_ratio": 0.2}',
        "picture_thresholds.blured_ratio: unknown picture threshold",
    ),
    ("picture_thresholds", '{"min_samples": 2.5}', "picture_thresholds.min_samples: must be a whole number"),
    (
        "picture_thresholds",
        '{"min_samples": 0}',
        "picture_thresholds.min_samples: must be a whole number between 1",
    ),
    ("picture_thresholds", '{"blurred_ratio": null}', "picture_thresholds.blurred_ratio: cannot be null"),
    (
        "picture_thresholds",
        '{"expected_width": 0}',
        "picture_thresholds.expected_width: must be a whole number",
    ),
    (
        "picture_thresholds",
        '{"disabled": "blurred"}',
        "picture_thresholds.disabled: must be a list of fault codes",
    ),
    (
        "picture_thresholds",
        '{"disabled": ["blury"]}',
        "picture_thresholds.disabled: unknown fault code(s) 'blury'",
    ),
    ("picture_thresholds", "[0.3]", "picture_thresholds: must be a JSON object"),
    ("picture_thresholds", '"blurred_ratio=0.3"', "picture_thresholds: must be a JSON object"),
    ("picture_thresholds", "{blurred_ratio: 0.3}", "picture_thresholds: not valid JSON"),
    (
        "picture_thresholds",
        {"covered_fraction": 2},
        "picture_thresholds.covered_fraction: must be a number between 0 and 1",
    ),
    ("check_interval_s", 0.5, "check_interval_s: must be between 5 and 86400 seconds"),
    ("check_interval_s", 10_000_000, "check_interval_s: must be between 5 and 86400 seconds"),
    ("check_interval_s", 0, "greater than 0"),
    ("check_interval_s", "soon", "valid number"),
    ("snapshot_url", "rtsp://127.0.0.1:554/snap", "snapshot_url: a snapshot is fetched over HTTP"),
    ("main_url", "file:///etc/passwd", "scheme must be one of"),
    ("sub_url", "rtsp://127.0.0.1:99999/x", "Port out of range"),
    ("retention_days", 0, "greater than 0"),
    ("retention_days", 5000, "less than or equal to 3650"),
    ("recording_stream", "third", "recording_stream: main or sub"),
    ("recording_mode", "sometimes", "continuous"),
    ("latitude", 91, "less than or equal to 90"),
]
# Only at create: the id is also a directory name (recordings, case files).
BAD_IDS_CREATE = ["../etc", "cam 1", "-x", "cam/1", ""]
BAD_IDS = [f"{f}={v!r}"[:60] for f, v, _ in BAD]


def _messages(r: Any) -> str:
    return json.dumps(r.json()["detail"], ensure_ascii=False)


@pytest.mark.parametrize(("field", "value", "says"), BAD, ids=BAD_IDS)
def test_create_refuses_bad_setting_naming_the_key(client: Any, field: str, value: Any, says: str) -> None:
    r = client.post("/api/cameras", json={**BASE, "id": "c-bad", field: value})
    assert r.status_code == 422, r.text
    assert says in _messages(r)
    assert client.get("/api/cameras/c-bad").status_code == 404


@pytest.mark.parametrize("cam_id", BAD_IDS_CREATE)
def test_create_refuses_an_id_that_is_not_a_plain_name(client: Any, cam_id: str) -> None:
    r = client.post("/api/cameras", json={**BASE, "id": cam_id})
    assert r.status_code == 422, r.text
    assert _count(client) == 0


@pytest.mark.parametrize(("field", "value", "says"), BAD, ids=BAD_IDS)
def test_update_refuses_bad_setting_and_keeps_the_old_one(
    client: Any, field: str, value: Any, says: str
) -> None:
    assert client.post("/api/cameras", json={**BASE, "id": "c-ok"}).status_code == 201
    before = client.get("/api/cameras/c-ok").json()
    for method in ("patch", "put"):
        r = getattr(client, method)("/api/cameras/c-ok", json={field: value})
        assert r.status_code == 422, (method, r.text)
        assert says in _messages(r)
    assert client.get("/api/cameras/c-ok").json() == before


@pytest.mark.parametrize(
    "field", ["name", "kind", "main_url", "snapshot_url", "enabled", "hamlet", "owner_consent", "notes"]
)
def test_null_on_a_field_that_cannot_be_empty_is_422_not_500(client: Any, field: str) -> None:
    assert client.post("/api/cameras", json={**BASE, "id": "c-null"}).status_code == 201
    r = client.patch("/api/cameras/c-null", json={field: None})
    assert r.status_code == 422, r.text
    assert f"{field}: cannot be null" in _messages(r)


def test_too_long_text_on_update_is_refused_like_on_create(client: Any) -> None:
    assert client.post("/api/cameras", json={**BASE, "id": "c-long"}).status_code == 201
    r = client.patch("/api/cameras/c-long", json={"name": "x" * 201})
    assert r.status_code == 422 and "name" in r.text


def test_good_thresholds_as_text_or_object_are_stored_canonical(client: Any) -> None:
    r = client.post(
        "/api/cameras",
        json={**BASE, "id": "c-th", "picture_thresholds": '{"min_samples": 3, "blurred_ratio": 0.2}'},
    )
    assert r.status_code == 201, r.text
    assert r.json()["picture_thresholds"] == '{"blurred_ratio": 0.2, "min_samples": 3}'
    r = client.patch(
        "/api/cameras/c-th",
        json={"picture_thresholds": {"disabled": ["turned"], "expected_fps": None}, "check_interval_s": 30},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert json.loads(body["picture_thresholds"]) == {"disabled": ["turned"], "expected_fps": None}
    assert body["check_interval_s"] == 30
    # every stored value is one the check applies
    Thresholds().merge(json.loads(body["picture_thresholds"]))
    r = client.patch("/api/cameras/c-th", json={"picture_thresholds": ""})  # empty: the defaults again
    assert r.status_code == 200 and r.json()["picture_thresholds"] is None


def test_every_threshold_has_a_range_and_the_defaults_are_inside_it() -> None:
    names = {f.name for f in fields(Thresholds)} - {"disabled"}
    assert names == set(THRESHOLD_RANGES)
    assert threshold_errors(Thresholds().to_dict()) == []
    assert threshold_errors({"expected_fps": 12.5, "expected_width": 1920, "disabled": []}) == []


def test_settings_per_kind_thresholds_are_checked_with_their_path() -> None:
    kinds = ("roadside", "household")
    assert per_kind_threshold_errors({"household": {"blurred_ratio": 0.25}}, kinds) == []
    assert per_kind_threshold_errors({"tower": {}, "roadside": {"blurred_ratio": 3, "x": 1}}, kinds) == [
        "tower: unknown camera kind (known: roadside, household)",
        "roadside.blurred_ratio: must be a number between 0 and 1",
        "roadside.x: unknown picture threshold",
    ]


# --- import --------------------------------------------------------------------------------------------

HEADER = "id,name,kind,main_url,check_interval_s,picture_thresholds\n"


def _import(client: Any, text: str, name: str) -> Any:
    return client.post("/api/cameras/import", files={"file": (name, text.encode(), "text/plain")})


def _count(client: Any) -> int:
    return int(client.get("/api/cameras").json()["total"])


def test_csv_import_with_bad_settings_is_refused_whole_naming_each_row_and_key(client: Any) -> None:
    good = HEADER + 'cam-1,A,roadside,rtsp://127.0.0.1:554/a,60,"{""blurred_ratio"": 0.2}"\n'
    r = _import(client, good, "f.csv")
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    before = client.get("/api/cameras/cam-1").json()
    bad = (
        HEADER
        + 'cam-1,A,roadside,rtsp://127.0.0.1:554/a,60,"{""blurred_ratio"": 0.5}"\n'  # a good change
        + 'cam-2,B,roadside,rtsp://127.0.0.1:554/b,,"{""blurred_ratio"": 30, ""nosie_structure"": 0.4}"\n'
        + "cam-3,C,roadside,rtsp://127.0.0.1:554/c,1,\n"
        + "cam-4,D,roadside,rtsp://127.0.0.1:554/d,,not json\n"
    )
    r = _import(client, bad, "f.csv")
    assert r.status_code == 422, r.text
    errors = {(e["row"], e["column"]): e["message"] for e in r.json()["detail"]["errors"]}
    assert errors == {
        (3, "picture_thresholds.blurred_ratio"): "must be a number between 0 and 1",
        (3, "picture_thresholds.nosie_structure"): "unknown picture threshold",
        (4, "check_interval_s"): "must be between 5 and 86400 seconds (empty: the service default): '1'",
        (5, "picture_thresholds"): errors[(5, "picture_thresholds")],
    }
    assert "not valid JSON" in errors[(5, "picture_thresholds")]
    assert _count(client) == 1 and client.get("/api/cameras/cam-1").json() == before  # nothing changed


def test_yaml_import_takes_a_mapping_refuses_a_bad_one_and_round_trips(client: Any) -> None:
    bad = """cameras:
  - {id: y-1, name: A, kind: roadside, main_url: "rtsp://127.0.0.1:554/a", picture_thresholds: {blurred_ratio: 0.2}}
  - {id: y-2, name: B, kind: household, snapshot_url: "rtsp://127.0.0.1:554/s", picture_thresholds: {min_samples: -1}}
"""
    r = _import(client, bad, "f.yaml")
    assert r.status_code == 422, r.text
    errors = {(e["row"], e["column"]) for e in r.json()["detail"]["errors"]}
    assert errors == {(2, "snapshot_url"), (2, "picture_thresholds.min_samples")}
    assert _count(client) == 0
    good = bad.replace("rtsp://127.0.0.1:554/s", "http://127.0.0.1:80/s.jpg").replace("-1", "4")
    r = _import(client, good, "f.yaml")
    assert r.status_code == 200 and r.json()["created"] == 2, r.text
    assert client.get("/api/cameras/y-2").json()["picture_thresholds"] == '{"min_samples": 4}'
    for fmt in ("yaml", "csv"):
        exported = client.get(f"/api/cameras/export?format={fmt}").text
        assert "picture_thresholds" in exported
        r = _import(client, exported, f"again.{fmt}")
        assert r.status_code == 200 and r.json() == {"created": 0, "updated": 0, "unchanged": 2}, r.text


# --- a bad value stored before this check existed ------------------------------------------------------


@pytest.mark.skipif(
    False, strict=True, reason="needs the camsvc/runtime/checks.py change in NOTES.md (Requests to the lead)"
)
def test_a_stored_bad_value_falls_back_to_defaults_and_the_check_is_recorded(
    settings: Settings, engine: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from camsvc import cameras as registry
    from camsvc.enums import ErrorClass
    from camsvc.probing.result import ProbeResult
    from camsvc.runtime.checks import CheckProcessor
    from camsvc.runtime.scheduler import camera_entries

    with Session(engine) as s:
        registry.create_camera(s, CameraCreate.model_validate({**BASE, "id": "old-1"}))
        s.commit()
        # as a row written before validation: any text at all
        s.execute(sa.update(Camera).values(picture_thresholds='{"blurred_ratio": "high", "foo": 1}'))
        s.commit()
        cam = camera_entries(s, 60.0)["old-1"]
    proc = CheckProcessor(settings, engine)
    result = ProbeResult(
        url="rtsp://127.0.0.1:554/ch1", ok=False, error=ErrorClass.REFUSED, started_at=time.time()
    )
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            proc.process(cam, result)
    with Session(engine) as s:
        assert len(s.exec(select(Check).where(Check.camera_id == "old-1")).all()) == 3
    warned = [
        r for r in caplog.records if "old-1" in r.getMessage() and "picture_thresholds" in r.getMessage()
    ]
    assert len(warned) == 1  # one line, not one per check
