# SQLModel types table columns as their Python values, which SQLAlchemy's select() overloads reject; the
# queries here are checked by the API tests (tests/api/test_history.py).
# mypy: disable-error-code="call-overload, arg-type, operator, misc"
"""A camera's history for its page (issue 11): availability bars (worst state per hour or day) and the
series of its checks for the charts. Raw checks are kept ``checks.retention_days`` (7); the hours before
that come from the hourly rollups (camsvc/rollup, docs/retention.md): one point per hour.

Both follow the camera rules of ``/api/cameras/{id}/checks``: any signed-in role with ``status.view``, and
a camera outside the caller's hamlets is not found (404). The queries read one camera's rows over one
period through its (camera, time) indexes: ``ix_check_camera_at`` for checks, the camera index of
transitions.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query
from sqlmodel import Session, col, func, select

from camsvc.api.deps import SessionDep, SettingsDep
from camsvc.auth import views
from camsvc.auth.http import CurrentSubject, require
from camsvc.auth.roles import Action
from camsvc.enums import HealthState
from camsvc.health import bars as pure
from camsvc.health.outages import state_changes
from camsvc.models import Camera, Check, Transition, utcnow
from camsvc.rollup.compute import hour_of
from camsvc.rollup.models import CheckRollup

router = APIRouter(prefix="/api/cameras", tags=["cameras"])

MAX_HOURS = 720  # 30 days: raw checks for the last checks.retention_days, hourly rollups before
MAX_POINTS = 2000  # per series: more than a phone or a desk chart can show


def transitions_between(
    session: Session, camera_id: str, start: dt.datetime, end: dt.datetime
) -> tuple[HealthState, list[tuple[dt.datetime, HealthState]]]:
    """The camera's state at ``start`` and its changes in (start, end). A change into down/degraded counts
    from its outage's start (the first failed check), as the outage log and ``/api/uptime`` do."""
    rows = session.execute(
        state_changes()
        .where(Transition.camera_id == camera_id, Transition.at > start, Transition.at < end)
        .order_by(Transition.at, Transition.id)
    ).all()
    before = session.exec(
        select(Transition.new_state)
        .where(Transition.camera_id == camera_id, Transition.at <= start)
        .order_by(col(Transition.at).desc(), col(Transition.id).desc())
        .limit(1)
    ).first()
    initial = HealthState(before) if before is not None else HealthState.UNKNOWN
    changes = [(min(at, os) if os else at, HealthState(st)) for _, at, st, os in rows]
    return initial, changes


def first_observation(session: Session, cam: Camera) -> dt.datetime:
    """When the camera's history begins: its first check or state change; when it has neither, when it
    was added (a camera never checked shows unknown from then on, not "no data")."""
    t = session.exec(select(func.min(Transition.at)).where(Transition.camera_id == cam.id)).one()
    c = session.exec(select(func.min(Check.at)).where(Check.camera_id == cam.id)).one()
    r = session.exec(select(func.min(CheckRollup.hour)).where(CheckRollup.camera_id == cam.id)).one()
    found = [x if x.tzinfo else x.replace(tzinfo=dt.UTC) for x in (t, c, r) if x is not None]
    return min(found) if found else cam.created_at


@router.get("/{camera_id}/bars", dependencies=[require(Action.STATUS_VIEW)])
def camera_bars(
    camera_id: str,
    session: SessionDep,
    subject: CurrentSubject,
    settings: SettingsDep,
    range_: Annotated[
        str, Query(alias="range", pattern="^(24h|7d|30d)$", description="24h (hours), 7d or 30d (days)")
    ] = "24h",
) -> dict[str, Any]:
    """Availability bars: one per hour (24h) or per day in Asia/Ho_Chi_Minh (7d, 30d), each with the worst
    state in it (down > degraded > unknown > maintenance > up; ``none`` = no data) and seconds per state;
    ``totals`` over the range (availability = (up + degraded) / monitored, uptime = up / monitored;
    maintenance, unknown and no data left out)."""
    cam = views.camera_or_404(session, subject, camera_id)
    now = utcnow()
    buckets = pure.range_buckets(range_, now, settings.timezone)
    start, end = buckets[0][0], buckets[-1][1]
    initial, changes = transitions_between(session, camera_id, start, end)
    items = pure.bars(changes, buckets, initial, data_from=first_observation(session, cam), data_until=now)
    return {
        "camera_id": camera_id,
        "range": range_,
        "bucket": pure.RANGES[range_][0],
        "timezone": settings.timezone,
        "start": start,
        "end": end,
        "bars": [b.to_dict() for b in items],
        "totals": pure.totals(items),
    }


def _metric(session: Session, name: str) -> Any:
    """One number out of a check's picture metrics (JSON text), in SQL: only the four numbers leave the
    database, not each check's kilobyte of metrics."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return sa.cast(sa.cast(Check.metrics_json, JSONB)[name].astext, sa.Float)
    return func.json_extract(Check.metrics_json, f"$.{name}")


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


@router.get("/{camera_id}/series", dependencies=[require(Action.STATUS_VIEW)])
def camera_series(
    camera_id: str,
    session: SessionDep,
    subject: CurrentSubject,
    hours: Annotated[float, Query(gt=0, le=MAX_HOURS, description="The last N hours (at most 720)")] = 24,
    max_points: Annotated[int, Query(ge=10, le=MAX_POINTS, description="Downsample above this")] = MAX_POINTS,
) -> dict[str, Any]:
    """The camera's checks over the last *hours* as columnar arrays for charts: ``t`` (epoch seconds),
    ``open_ms``, ``fps``, ``brightness``, ``sharpness`` (null when the check had none) and ``ok`` (1/0).
    Above *max_points* checks, one point per equal time bucket: the worst open time and fps, ok = 0 if any
    check in it failed, the mean brightness and sharpness of an even sample of its checks (about
    *max_points* in all: reading every check's metrics JSON over 30 days costs seconds)
    (``downsampled``: true, ``step_s``). Hours whose raw checks were pruned (older than
    ``checks.retention_days``) are one point each from their rollup, at the middle of the hour: the median
    open time, fps, brightness and sharpness, ok = 0 if any check of the hour failed (``rollup_hours``: how
    many; ``checks`` counts the checks they stand for)."""
    views.camera_or_404(session, subject, camera_id)
    end = utcnow()
    start = end - dt.timedelta(hours=hours)
    where = (Check.camera_id == camera_id, Check.at >= start, Check.at <= end)
    # The plain columns of every check (cheap: they sit before the metrics JSON in the row) ...
    rows = session.exec(
        select(Check.id, Check.at, Check.open_ms, Check.fps, Check.ok).where(*where).order_by(Check.at)
    ).all()
    # ... and the picture metrics (a kilobyte of JSON per check) of every check when they fit, else of an
    # even sample of about max_points checks: a bucket's brightness and sharpness are the mean of its sample
    every = max(1, math.ceil(len(rows) / max_points))
    picked = [r[0] for r in rows[::every]]
    metrics: dict[Any, tuple[float | None, float | None]] = {}
    for i in range(0, len(picked), 500):
        chunk = picked[i : i + 500]
        for cid, br, sh in session.exec(
            select(Check.id, _metric(session, "brightness"), _metric(session, "sharpness")).where(
                col(Check.id).in_(chunk)
            )
        ).all():
            metrics[cid] = (_num(br), _num(sh))
    raw_hours = {hour_of(at if at.tzinfo else at.replace(tzinfo=dt.UTC)) for _, at, *_ in rows}
    hourly = _rollup_points(session, camera_id, start, end, raw_hours)
    data = [
        (
            (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).timestamp(),
            _num(a),
            _num(b),
            *metrics.get(rid, (None, None)),
            bool(ok),
        )
        for rid, at, a, b, ok in rows
    ]
    if hourly:
        data = sorted([p for p, _ in hourly] + data, key=lambda p: p[0])
    s0, s1 = start.timestamp(), end.timestamp()
    series = pure.downsample(data, s0, s1, max_points)
    return {
        "camera_id": camera_id,
        "hours": hours,
        "start": start,
        "end": end,
        "checks": len(rows) + sum(n for _, n in hourly),
        "rollup_hours": len(hourly),
        "points": len(series),
        "downsampled": len(series) < len(data) or bool(hourly),
        "step_s": round((s1 - s0) / max_points, 3)
        if len(series) < len(data)
        else (3600.0 if hourly else None),
        **series.to_dict(),
    }


def _rollup_points(
    session: Session, camera_id: str, start: dt.datetime, end: dt.datetime, raw_hours: set[dt.datetime]
) -> list[tuple[tuple[float, float | None, float | None, float | None, float | None, bool], int]]:
    """One point per rolled-up hour of [start, end] that has no raw checks left (pruned), with the number
    of checks it stands for. An hour that still has its raw checks is shown by them, never twice."""
    rows = session.exec(
        select(
            CheckRollup.hour,
            CheckRollup.checks,
            CheckRollup.failures,
            CheckRollup.open_ms_p50,
            CheckRollup.fps_p50,
            CheckRollup.brightness_p50,
            CheckRollup.sharpness_p50,
        )
        .where(
            CheckRollup.camera_id == camera_id, CheckRollup.hour >= hour_of(start), CheckRollup.hour <= end
        )
        .order_by(CheckRollup.hour)
    ).all()
    out = []
    for h, n, failures, open_ms, fps, br, sh in rows:
        h = h if h.tzinfo else h.replace(tzinfo=dt.UTC)
        if h in raw_hours or not n:
            continue
        mid = min(max(h + dt.timedelta(minutes=30), start), end)
        out.append(((mid.timestamp(), _num(open_ms), _num(fps), _num(br), _num(sh), not failures), int(n)))
    return out
