"""One row per camera and UTC hour: what that hour's checks said, kept after the raw checks are pruned."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from camsvc.models import _ts


class CheckRollup(SQLModel, table=True):
    __tablename__ = "check_rollup"

    camera_id: str = Field(primary_key=True, foreign_key="camera.id", ondelete="CASCADE")
    hour: dt.datetime = _ts(primary_key=True)  # start of the UTC hour
    checks: int = 0
    failures: int = 0  # checks that did not get a picture
    faults: int = 0  # checks with a picture fault
    availability: float | None = None  # share of checks that got a picture
    open_ms_p50: float | None = None
    fps_p50: float | None = None
    brightness_p50: float | None = None
    sharpness_p50: float | None = None
    errors_json: str | None = None  # error class -> count
    faults_json: str | None = None  # picture fault -> count
