"""What one steady check costs the database, counted on the real engine (SQLite): the status read, the
check insert and one versioned status update carrying the picture baseline too; the recorder's row only
for a camera that should be recorded; the registry row once per version; no thumbnail write within the
refresh period. At 10,000 cameras every statement per check is ~170 a second (docs/scale.md)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import cv2
import numpy as np
import sqlalchemy as sa
from sqlmodel import Session

from camsvc.bench.scale import snapshot_jpeg
from camsvc.config import Settings
from camsvc.models import Camera, CameraStatus
from camsvc.probing.result import ProbeResult
from camsvc.runtime.checks import CheckProcessor
from camsvc.runtime.scheduler import camera_entries


def _result(at: float) -> ProbeResult:
    jpg = snapshot_jpeg()
    img = cv2.imdecode(np.frombuffer(jpg, "uint8"), cv2.IMREAD_COLOR)
    return ProbeResult(
        url="http://127.0.0.1:9/a.jpg",
        ok=True,
        started_at=at,
        width=img.shape[1],
        height=img.shape[0],
        frames=[img],
        frame_times=[0.0],
        frames_decoded=1,
        thumbnail_jpeg=jpg,
    )


def _statements(engine: Any, fn: Any) -> tuple[list[str], list[str]]:
    """The data statements *fn* ran, each as "VERB table", and the columns each UPDATE set."""
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        text = " ".join(statement.replace('"', "").split())
        m = re.match(
            r"(SELECT) .*? FROM (\w+)|(INSERT) INTO (\w+)|(UPDATE) (\w+) SET (.*?) WHERE|(DELETE) FROM (\w+)",
            text,
        )
        if m:
            verb, table = next((g, m.groups()[k + 1]) for k, g in enumerate(m.groups()) if g in VERBS)
            seen.append(f"{verb} {table}")
            if verb == "UPDATE":
                columns.append(m.group(7))

    columns: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        fn()
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)
    return seen, columns


VERBS = ("SELECT", "INSERT", "UPDATE", "DELETE")


def test_a_steady_check_is_one_read_one_insert_one_update(settings: Settings, engine: Any) -> None:
    settings.recording.enabled = True
    with Session(engine) as s:
        s.add(Camera(id="road", name="road", kind="roadside", hamlet="X", main_url="rtsp://127.0.0.1:9/r"))
        s.add(
            Camera(id="home", name="home", kind="household", hamlet="X", snapshot_url="http://127.0.0.1:9/h")
        )
        s.commit()
        cams = camera_entries(s, 60.0)
    proc = CheckProcessor(settings, engine)
    t0 = time.time()
    for i in range(3):  # the first checks: the state change (unknown -> up), the picture, the baseline
        for cam in cams.values():
            proc.process(cam, _result(t0 + 60 * i))
    with Session(engine) as s:
        before = json.loads(s.get(CameraStatus, "home").baseline_json or "{}")  # type: ignore[union-attr]

    home, home_set = _statements(engine, lambda: proc.process(cams["home"], _result(t0 + 180)))
    road, _ = _statements(engine, lambda: proc.process(cams["road"], _result(t0 + 180)))

    assert home == ["SELECT camerastatus", "INSERT check", "UPDATE camerastatus"], home
    # a roadside camera is recorded: its recorder's row is read too (did it write a segment lately?)
    assert road == ["SELECT camerastatus", "SELECT recorderstatus", "INSERT check", "UPDATE camerastatus"], (
        road
    )
    assert "baseline_json" in home_set[0] and "version" in home_set[0], home_set
    with Session(engine) as s:
        after = json.loads(s.get(CameraStatus, "home").baseline_json or "{}")  # type: ignore[union-attr]
    assert after != before, "the baseline learnt from the check was written by the one UPDATE"
