"""Recording tables: the segment index and each recorded camera's recorder status.

``Segment`` is one closed (or recovered) file of stream-copied video. Its times come from the stream's own
timestamps anchored to the wall clock when its recorder connected (never the file's mtime), stored as UTC.
``RecorderStatus`` is what the recorder supervisor last knew of one camera's recorder: read by the health
check (``not_recording``), the dashboard and the API.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from camsvc.models import UTCDateTime, utcnow


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class Segment(SQLModel, table=True):
    __table_args__ = (
        sa.Index("ix_segment_camera_start", "camera_id", "start"),
        sa.Index("ix_segment_camera_end", "camera_id", "end"),
    )

    id: int | None = Field(default=None, primary_key=True)
    camera_id: str = Field(foreign_key="camera.id", ondelete="CASCADE", max_length=64)
    stream: str = Field(default="main", max_length=10)  # main | sub
    path: str = Field(max_length=500, sa_column_kwargs={"unique": True})  # relative to recording.dir
    start: dt.datetime = _ts()  # UTC of the first packet
    end: dt.datetime = _ts()  # UTC of the last packet + its duration
    duration_s: float = 0.0
    size: int = 0  # bytes
    sha256: str = Field(max_length=64)
    frames: int = 0
    keyframes: int = 0
    codec: str = Field(default="", max_length=20)
    width: int | None = None
    height: int | None = None
    recovered: bool = False  # indexed after a crash from a file its recorder never closed
    created_at: dt.datetime = _ts(default_factory=utcnow)


class RecorderStatus(SQLModel, table=True):
    camera_id: str = Field(primary_key=True, foreign_key="camera.id", ondelete="CASCADE", max_length=64)
    running: bool = False
    since: dt.datetime | None = _ts(default=None)  # the recorder (re)started: no segment is due before
    last_segment_end: dt.datetime | None = _ts(default=None)
    last_packet_at: dt.datetime | None = _ts(default=None)
    restarts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    last_error_at: dt.datetime | None = _ts(default=None)
    bytes_per_hour: float | None = None  # over the last hour of segments
    updated_at: dt.datetime = _ts(default_factory=utcnow)
