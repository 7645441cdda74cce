"""Cases: create, add clips (by cameras or "within R metres of a point"), close, release the hold; and the
JSON shapes the API and the CLI show (CONTRACTS "HTTP API").

Domain errors: ``CaseInputError`` (bad input; the message starts with the field's name: 422),
``CaseConflict`` (the case's state forbids it, or the number is taken: 409), ``camsvc.errors.NotFound`` (404).
Camera scope is the caller's: pass ``scope`` (a SQL condition on Camera, ``camsvc.auth.views.scope_condition``)
and ``camera_check`` (raises for a camera the caller may not see); the CLI passes neither.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from camsvc.cases.models import Case, CaseClip, ExportJob
from camsvc.config import Settings
from camsvc.errors import NotFound
from camsvc.models import Camera, utcnow

FUTURE_SLACK_S = 5.0  # an end this far past "now" is still accepted (clocks differ a little)
EARTH_RADIUS_M = 6_371_008.8


class CaseInputError(ValueError):
    """Bad input; the message names the field (``end: ...``)."""


class CaseConflict(RuntimeError):
    """The case's state forbids it (closed, not closed, already released) or the number is taken."""


def iso(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------- pure checks
def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def parse_time(value: Any, name: str) -> dt.datetime:
    """ISO-8601 (``Z`` or an offset; naive is UTC) or an aware datetime -> aware UTC."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    if not isinstance(value, str) or not value.strip():
        raise CaseInputError(f"{name}: required (an ISO-8601 time, e.g. 2026-12-01T14:10:00Z)")
    try:
        t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CaseInputError(f"{name}: not an ISO-8601 time: {value!r}") from None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def check_range(start: dt.datetime, end: dt.datetime, settings: Settings, now: dt.datetime) -> None:
    if not start < end:
        raise CaseInputError("end: must be after start")
    if end > now + dt.timedelta(seconds=FUTURE_SLACK_S):
        raise CaseInputError("end: is in the future")
    length = (end - start).total_seconds()
    if length > settings.cases.max_range_s:
        raise CaseInputError(
            f"end: the range is {length:.0f} s, longer than the {settings.cases.max_range_s:.0f} s allowed "
            "(cases.max_range_s)"
        )


# ---------------------------------------------------------------------------------------------- cases
def get_case(s: Session, case_id: int) -> Case:
    case = s.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def create_case(s: Session, *, number: str, title: str, reason: str, user: str) -> Case:
    number = (number or "").strip()
    if not number:
        raise CaseInputError("number: required (e.g. 2026/117)")
    if len(number) > 100:
        raise CaseInputError("number: at most 100 characters")
    if len(title or "") > 300:
        raise CaseInputError("title: at most 300 characters")
    if len(reason or "") > 2000:
        raise CaseInputError("reason: at most 2000 characters")
    if s.exec(select(Case.id).where(Case.number == number)).first() is not None:
        raise CaseConflict(f"number: a case {number!r} exists already")
    case = Case(number=number, title=(title or "").strip(), reason=(reason or "").strip(), created_by=user)
    s.add(case)
    try:
        s.flush()
    except IntegrityError:  # two callers racing for the same number: the loser gets 409, not 500
        s.rollback()
        raise CaseConflict(f"number: a case {number!r} exists already") from None
    return case


def cameras_near(
    s: Session, lat: float, lon: float, radius_m: float, scope: Any = None
) -> list[tuple[Camera, float]]:
    """Cameras within *radius_m* of (lat, lon), nearest first, with their distance."""
    q = select(Camera).where(
        col(Camera.deleted_at).is_(None),
        col(Camera.latitude).is_not(None),
        col(Camera.longitude).is_not(None),
    )
    if scope is not None:
        q = q.where(scope)
    # a bounding box first (cheap), then the exact distance
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(0.01, math.cos(math.radians(lat)))
    q = q.where(
        col(Camera.latitude).between(lat - dlat, lat + dlat),
        col(Camera.longitude).between(lon - dlon, lon + dlon),
    )
    out = []
    for cam in s.exec(q).all():
        d = haversine_m(lat, lon, float(cam.latitude or 0), float(cam.longitude or 0))
        if d <= radius_m:
            out.append((cam, d))
    return sorted(out, key=lambda cd: (cd[1], cd[0].id))


def add_clips(
    s: Session,
    settings: Settings,
    case: Case,
    *,
    start: Any,
    end: Any,
    user: str,
    camera_ids: Sequence[str] | None = None,
    near: dict[str, Any] | None = None,
    scope: Any = None,
    camera_check: Callable[[str], Camera] | None = None,
    may_view: Callable[[Camera], bool] | None = None,
    skipped: list[dict[str, str]] | None = None,
    now: dt.datetime | None = None,
) -> list[CaseClip]:
    """One pending clip per camera (materialised in the background by the job runner).

    *camera_check* vets a camera named by id (raising refuses the request); *may_view* filters the cameras
    found near a point, each one left out is appended to *skipped* with the reason."""
    if case.status != "open":
        raise CaseConflict(f"case {case.number} is {case.status}: no clips can be added")
    t_start, t_end = parse_time(start, "start"), parse_time(end, "end")
    check_range(t_start, t_end, settings, now or utcnow())
    if bool(camera_ids) == bool(near):
        raise CaseInputError("camera_ids: give either camera_ids or near {lat, lon, radius_m}")
    cams: list[Camera] = []
    if camera_ids:
        seen: set[str] = set()
        for cid in camera_ids:
            if not isinstance(cid, str) or not cid:
                raise CaseInputError("camera_ids: each must be a camera id")
            if cid in seen:
                continue
            seen.add(cid)
            cam = camera_check(cid) if camera_check else s.get(Camera, cid)
            if cam is None or cam.deleted_at is not None:
                raise NotFound(f"no camera {cid!r}")
            cams.append(cam)
    else:
        assert near is not None
        try:
            lat, lon, radius = float(near["lat"]), float(near["lon"]), float(near["radius_m"])
        except (KeyError, TypeError, ValueError):
            raise CaseInputError("near: needs numbers lat, lon and radius_m") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise CaseInputError("near: lat/lon out of range")
        if not 0 < radius <= 50_000:
            raise CaseInputError("near.radius_m: must be above 0 and at most 50000")
        cams = []
        for c, _ in cameras_near(s, lat, lon, radius, scope):
            if may_view is None or may_view(c):
                cams.append(c)
            elif skipped is not None:
                skipped.append(
                    {
                        "camera_id": c.id,
                        "reason": "your role may not see this camera's pictures (owner consent)",
                    }
                )
        if not cams:
            raise CaseInputError(f"near: no camera within {radius:.0f} m of {lat:.5f}, {lon:.5f}")
    if len(cams) > settings.cases.max_cameras:
        raise CaseInputError(
            f"camera_ids: {len(cams)} cameras, more than the {settings.cases.max_cameras} allowed (cases.max_cameras)"
        )
    clips = [
        CaseClip(case_id=int(case.id or 0), camera_id=c.id, start=t_start, end=t_end, added_by=user)
        for c in cams
    ]
    s.add_all(clips)
    s.flush()
    return clips


def close_case(s: Session, case: Case, user: str) -> Case:
    if case.status == "closed":
        raise CaseConflict(f"case {case.number} is closed already")
    case.status = "closed"
    case.closed_at = utcnow()
    case.closed_by = user
    s.add(case)
    s.flush()
    return case


def release_hold(s: Session, case: Case, user: str) -> Case:
    if case.status != "closed":
        raise CaseConflict(f"case {case.number} is open: close it before releasing its hold")
    if not case.held:
        raise CaseConflict(f"case {case.number}: its hold was released already")
    case.held = False
    case.released_at = utcnow()
    case.released_by = user
    s.add(case)
    s.flush()
    return case


def new_export(s: Session, case: Case, user: str) -> ExportJob:
    n = s.exec(select(func.count()).select_from(CaseClip).where(CaseClip.case_id == case.id)).one()
    if not n:
        raise CaseConflict(f"case {case.number} has no clips to export")
    job = ExportJob(case_id=int(case.id or 0), requested_by=user, step="queued")
    s.add(job)
    s.flush()
    return job


def get_export(s: Session, case_id: int, job_id: int) -> ExportJob:
    job = s.get(ExportJob, job_id)
    if job is None or job.case_id != case_id:
        raise NotFound(f"export {job_id} of case {case_id} not found")
    return job


# ---------------------------------------------------------------------------------------------- shapes
def clip_sources(clip: CaseClip) -> tuple[list[dict[str, Any]], str | None]:
    """(source segments, playback URL without credentials) stored on the clip."""
    data = json.loads(clip.segments_json) if clip.segments_json else []
    if isinstance(data, dict):
        return [], data.get("playback_url")
    return list(data), None


def clip_json(clip: CaseClip, camera_name: str | None) -> dict[str, Any]:
    segments, url = clip_sources(clip)
    return {
        "id": clip.id,
        "camera_id": clip.camera_id,
        "camera_name": camera_name,
        "start": iso(clip.start),
        "end": iso(clip.end),
        "source": clip.source,
        "status": clip.status,
        "detail": clip.detail,
        "actual_start": iso(clip.actual_start),
        "actual_end": iso(clip.actual_end),
        "gaps": json.loads(clip.gaps_json) if clip.gaps_json else [],
        "size": clip.size,
        "sha256": clip.sha256,
        "segments": segments,
        "playback_url": url,
        "added_by": clip.added_by,
    }


def export_json(job: ExportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "job_id": job.id,
        "case_id": job.case_id,
        "status": job.status,
        "progress": job.progress,
        "step": job.step,
        "requested_by": job.requested_by,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "size": job.size,
        "sha256": job.sha256,
        "error": job.error,
        "package_url": f"/api/cases/{job.case_id}/exports/{job.id}/package" if job.status == "done" else None,
    }


def case_summary(case: Case, clips: int) -> dict[str, Any]:
    return {
        "id": case.id,
        "number": case.number,
        "title": case.title,
        "reason": case.reason,
        "status": case.status,
        "held": case.held,
        "created_by": case.created_by,
        "created_at": iso(case.created_at),
        "clips": clips,
        "closed_at": iso(case.closed_at),
        "closed_by": case.closed_by,
        "released_at": iso(case.released_at),
        "released_by": case.released_by,
    }


def case_in_scope(s: Session, case: Case, hamlets: Sequence[str] | None, username: str) -> bool:
    """A user limited to *hamlets* sees a case only when every clip's camera is in them (footage of another
    hamlet is not theirs to see), or when it is their own case with no clip yet. None: every hamlet."""
    if not hamlets:
        return True
    from camsvc.auth.roles import in_scope

    clips = case_clips(s, int(case.id or 0))
    if not clips:
        return case.created_by == username
    return all(cam is not None and in_scope(hamlets, cam.hamlet) for _, cam in clips)


def list_cases(s: Session, hamlets: Sequence[str] | None = None, username: str = "") -> list[dict[str, Any]]:
    counts = dict(
        s.exec(select(CaseClip.case_id, func.count()).group_by(col(CaseClip.case_id))).all()  # type: ignore[arg-type]
    )
    cases = s.exec(select(Case).order_by(col(Case.created_at).desc(), col(Case.id).desc())).all()
    return [
        case_summary(c, int(counts.get(c.id or 0, 0)))
        for c in cases
        if case_in_scope(s, c, hamlets, username)
    ]


def case_clips(s: Session, case_id: int) -> list[tuple[CaseClip, Camera | None]]:
    rows = s.exec(
        select(CaseClip, Camera)
        .join(Camera, col(Camera.id) == col(CaseClip.camera_id), isouter=True)
        .where(CaseClip.case_id == case_id)
        .order_by(col(CaseClip.id))
    ).all()
    return [(c, cam) for c, cam in rows]


def case_detail(s: Session, case: Case) -> dict[str, Any]:
    clips = case_clips(s, int(case.id or 0))
    exports = s.exec(select(ExportJob).where(ExportJob.case_id == case.id).order_by(col(ExportJob.id))).all()
    return {
        **case_summary(case, len(clips)),
        "clips": [clip_json(c, cam.name if cam else None) for c, cam in clips],
        "exports": [export_json(j) for j in exports],
    }


def update_row(engine: Any, model: Any, row_id: int, **values: Any) -> None:
    """Set *values* on one row in its own short transaction (background jobs report progress this way);
    a row deleted meanwhile is skipped."""
    with Session(engine) as s:
        row = s.get(model, row_id)
        if row is None:
            return
        for k, v in values.items():
            setattr(row, k, v)
        s.add(row)
        s.commit()
