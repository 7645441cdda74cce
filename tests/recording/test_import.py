"""The recording columns of the camera import file: parsed, validated, exported, and absent from the fleet."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from camsvc.cameras import ImportFailed, export_cameras, import_cameras
from camsvc.db import session_scope
from camsvc.models import Camera
from camsvc.simulate.fleet import FLEET_COLUMNS

HEAD = "id,kind,main_url,sub_url,recording_mode,recording_stream,retention_days\n"


def test_recording_columns_round_trip(engine: Any) -> None:
    csv = (
        HEAD
        + "h1,household,rtsp://10.0.0.9/main,rtsp://10.0.0.9/sub,Continuous,sub,30\nr1,roadside,rtsp://10.0.0.8/m,,,,\n"
    )
    with session_scope(engine) as s:
        import_cameras(s, csv, "csv")
    with Session(engine) as s:
        h1, r1 = s.get(Camera, "h1"), s.get(Camera, "r1")
        assert h1 is not None and r1 is not None
        assert (h1.recording_mode, h1.recording_stream, h1.retention_days) == ("continuous", "sub", 30.0)
        assert (r1.recording_mode, r1.recording_stream, r1.retention_days) == (None, None, None)
        out = export_cameras(s, "csv")
    assert "recording_mode" in out.splitlines()[0] and ",continuous,sub,30.0" in out
    # re-importing with the columns empty clears them
    with session_scope(engine) as s:
        import_cameras(s, HEAD + "h1,household,rtsp://10.0.0.9/main,rtsp://10.0.0.9/sub,,,\n", "csv")
    with Session(engine) as s:
        h1 = s.get(Camera, "h1")
        assert h1 is not None and h1.recording_mode is None and h1.retention_days is None


@pytest.mark.parametrize(
    "row, column",
    [
        ("x,roadside,rtsp://10.0.0.8/m,,always,,", "recording_mode"),
        ("x,roadside,rtsp://10.0.0.8/m,,,third,", "recording_stream"),
        ("x,roadside,rtsp://10.0.0.8/m,,,,-3", "retention_days"),
        ("x,roadside,rtsp://10.0.0.8/m,,,,many", "retention_days"),
    ],
)
def test_bad_recording_values_name_the_column(engine: Any, row: str, column: str) -> None:
    with session_scope(engine) as s, pytest.raises(ImportFailed) as exc:
        import_cameras(s, HEAD + row + "\n", "csv")
    assert [e.column for e in exc.value.errors] == [column]


def test_fleet_file_has_no_recording_columns() -> None:
    assert not {"recording_mode", "recording_stream", "retention_days"} & set(FLEET_COLUMNS)
