"""Recording: a camera's segment timeline (kept, gaps, held) and the recording storage (issue 10)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException
from sqlmodel import col, select

from camsvc.api.deps import SessionDep, SettingsDep
from camsvc.auth import views
from camsvc.auth.http import require
from camsvc.auth.roles import Action, Subject
from camsvc.models import Camera
from camsvc.recording.report import camera_timeline, storage

router = APIRouter(prefix="/api", tags=["recording"])

MAX_RANGE = dt.timedelta(days=31)


def _utc(v: dt.datetime | None, default: dt.datetime) -> dt.datetime:
    if v is None:
        return default
    return v.replace(tzinfo=dt.UTC) if v.tzinfo is None else v.astimezone(dt.UTC)


@router.get("/cameras/{camera_id}/recording")
def camera_recording(
    camera_id: str,
    session: SessionDep,
    settings: SettingsDep,
    subject: Subject = require(Action.RECORDING_VIEW),
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> dict[str, Any]:
    """The camera's recording over [start, end) (default: the last 24 h): kept runs, gaps, held ranges."""
    cam = views.camera_or_404(session, subject, camera_id)
    now = dt.datetime.now(dt.UTC)
    e = _utc(end, now)
    s = _utc(start, e - dt.timedelta(hours=24))
    if e <= s:
        raise HTTPException(422, "end must be after start")
    if e - s > MAX_RANGE:
        raise HTTPException(422, "at most 31 days at once")
    return camera_timeline(session, settings, cam, s, e)


@router.get("/recording/storage")
def recording_storage(
    session: SessionDep, settings: SettingsDep, subject: Subject = require(Action.RECORDING_VIEW)
) -> dict[str, Any]:
    """The recording disk (free space, floor, write errors) and per-camera MB/hour and days kept."""
    ids = None
    cond = views.scope_condition(session, subject)
    if cond is not None:
        ids = list(session.exec(select(Camera.id).where(cond, col(Camera.deleted_at).is_(None))))
    return storage(session, settings, ids)
