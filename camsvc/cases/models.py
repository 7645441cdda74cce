"""Case tables: a case, its clips (one camera and a time range each) and its export jobs.

A clip of an open or unreleased case holds the recorded segments of its camera that overlap its range (the
evidence lock): retention and disk-pressure cleanup never delete a held segment. ``Case.held`` turns false
only when an admin releases the hold (after the case is closed).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from camsvc.models import UTCDateTime, utcnow


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class Case(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=100, sa_column_kwargs={"unique": True})  # e.g. 2026/117
    title: str = Field(default="", max_length=300)
    reason: str = Field(default="", max_length=2000)
    status: str = Field(default="open", max_length=20, index=True)  # open | closed
    held: bool = True  # the evidence lock; released by an admin after the case is closed
    created_by: str = Field(max_length=200)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    closed_at: dt.datetime | None = _ts(default=None)
    closed_by: str | None = Field(default=None, max_length=200)
    released_at: dt.datetime | None = _ts(default=None)
    released_by: str | None = Field(default=None, max_length=200)


class CaseClip(SQLModel, table=True):
    __table_args__ = (sa.Index("ix_caseclip_camera_range", "camera_id", "start", "end"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", ondelete="CASCADE", index=True)
    camera_id: str = Field(foreign_key="camera.id", max_length=64)
    start: dt.datetime = _ts()  # requested range, UTC
    end: dt.datetime = _ts()
    source: str = Field(default="recorded", max_length=20)  # recorded | device (camsvc.enums.ClipSource)
    status: str = Field(default="pending", max_length=20)  # pending | fetching | ready | no_source | failed
    detail: str | None = Field(default=None, max_length=2000)  # plain words: why there is no footage
    path: str | None = Field(default=None, max_length=500)  # the materialised MP4, relative to cases dir
    actual_start: dt.datetime | None = _ts(default=None)
    actual_end: dt.datetime | None = _ts(default=None)
    size: int | None = None
    sha256: str | None = Field(default=None, max_length=64)
    segments_json: str | None = Field(default=None, sa_type=sa.Text)  # [{path, start, end, sha256, size}]
    gaps_json: str | None = Field(default=None, sa_type=sa.Text)  # [{start, end}] inside the range
    added_by: str = Field(max_length=200)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    ready_at: dt.datetime | None = _ts(default=None)


class ExportJob(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", ondelete="CASCADE", index=True)
    status: str = Field(default="queued", max_length=20)  # queued | running | done | failed
    progress: float = 0.0  # 0..1
    step: str = Field(default="", max_length=200)
    requested_by: str = Field(max_length=200)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    started_at: dt.datetime | None = _ts(default=None)
    finished_at: dt.datetime | None = _ts(default=None)
    path: str | None = Field(default=None, max_length=500)  # the package (zip), relative to cases dir
    size: int | None = None
    sha256: str | None = Field(default=None, max_length=64)
    error: str | None = Field(default=None, max_length=2000)
