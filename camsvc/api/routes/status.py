# SQLModel types table columns as their Python values, which SQLAlchemy's select()/join() overloads
# reject; the queries here are checked by the API tests on SQLite and PostgreSQL instead.
# mypy: disable-error-code="call-overload, arg-type, operator, misc"
"""The state of the network: /api/status, /api/map, /api/outages (+CSV), /api/uptime, /api/hamlets."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query, Request, Response
from sqlmodel import Session, col, func, select

from camsvc import csvsafe
from camsvc.api.deps import SessionDep, SettingsDep
from camsvc.auth import views
from camsvc.auth.http import CurrentSubject
from camsvc.auth.roles import Subject
from camsvc.cameras import fold, hamlets
from camsvc.enums import CameraKind, HealthState
from camsvc.health.outages import state_changes
from camsvc.health.stale import rule_of
from camsvc.health.stale_set import delayed_set, mark_stale, stale_cameras
from camsvc.health.uptime import PERIODS, StateTimes, state_times
from camsvc.models import Camera, CameraStatus, Outage, Transition, utcnow
from camsvc.schemas import map_rows, outage_dict
from camsvc.timefmt import local_str, parse_utc

router = APIRouter(prefix="/api", tags=["status"])


def _state_value(raw: Any) -> str:
    """A camera never checked has no status row: it is unknown."""
    if raw is None:
        return HealthState.UNKNOWN.value
    if isinstance(raw, HealthState):
        return raw.value
    return HealthState[raw].value if raw in HealthState.__members__ else str(raw)


@router.get("/status")
def status(session: SessionDep, subject: CurrentSubject, settings: SettingsDep) -> dict[str, Any]:
    """Counts by state, by kind and by hamlet (enabled cameras), and the cameras down longest first.

    ``by_state`` counts each camera under its last recorded state. ``stale`` is how many of them have not
    been checked for ``dashboard.stale_after_intervals`` check intervals (their state may no longer be
    true); ``shown`` is what the dashboard shows: the same counts with those taken out of their state and
    counted as ``stale`` (it sums to ``total``); ``by_hamlet[h]["stale"]`` is the same per hamlet."""
    scope = views.scope_condition(session, subject)
    inscope = scope if scope is not None else sa.true()
    rows = session.execute(
        sa.select(Camera.kind, Camera.hamlet, CameraStatus.state, func.count())
        .select_from(Camera)
        .join(CameraStatus, CameraStatus.camera_id == Camera.id, isouter=True)
        .where(Camera.enabled == True, inscope)  # noqa: E712
        .group_by(Camera.kind, Camera.hamlet, CameraStatus.state)
    ).all()
    by_state = {s.value: 0 for s in HealthState}
    by_kind: dict[str, dict[str, int]] = {}
    by_hamlet: dict[str, dict[str, int]] = {}
    total = 0
    for kind, hamlet, state, n in rows:
        st = _state_value(state)
        k = kind.value if isinstance(kind, CameraKind) else CameraKind[kind].value
        by_state[st] += n
        total += n
        by_kind.setdefault(k, {s.value: 0 for s in HealthState})[st] += n
        by_hamlet.setdefault(hamlet or "", {s.value: 0 for s in HealthState})[st] += n
    down = session.exec(
        select(
            Camera.id, Camera.name, Camera.hamlet, CameraStatus.state, CameraStatus.since, CameraStatus.cause
        )
        .join(CameraStatus, CameraStatus.camera_id == Camera.id)
        .where(
            col(CameraStatus.state).in_([HealthState.DOWN, HealthState.DEGRADED]),
            Camera.enabled == True,  # noqa: E712
            inscope,
        )
        .order_by(col(CameraStatus.since).asc())
        .limit(50)
    ).all()
    disabled = session.exec(
        select(func.count())
        .select_from(Camera)
        .where(Camera.enabled == False, col(Camera.deleted_at).is_(None), inscope)  # noqa: E712
    ).one()
    stale = stale_cameras(session, rule_of(settings), scope)
    delayed = delayed_set(session, settings, scope)  # issue 12: a node's results queued on its disk
    shown = {**by_state, "stale": 0}
    for h in by_hamlet.values():
        h["stale"] = 0
    for v in stale.values():
        shown[_state_value(v["state"])] -= 1
        shown["stale"] += 1
        if (v["hamlet"] or "") in by_hamlet:
            by_hamlet[v["hamlet"] or ""]["stale"] += 1
    return {
        "at": utcnow(),
        "total": total,
        "disabled": disabled,
        "stale": len(stale),
        "delayed": len(delayed),
        "shown": shown,
        "by_state": by_state,
        "by_kind": by_kind,
        "by_hamlet": dict(sorted(by_hamlet.items())),
        "longest_down": [
            {"id": i, "name": n, "hamlet": h, "state": HealthState(s).value, "since": since, "cause": c}
            for i, n, h, s, since, c in down
        ],
    }


def _map_version(session: Session) -> str:
    """Changes whenever a state, an acknowledgement or the registry changes (not at every check): an ETag
    for cheap polling."""
    a = session.exec(select(func.max(Transition.id))).one()
    b = session.exec(select(func.max(Camera.updated_at), func.count()).select_from(Camera)).one()
    c = session.exec(select(func.max(Outage.acknowledged_at), func.count(col(Outage.acknowledged_at)))).one()
    return hashlib.sha1(f"{a}|{b}|{c}".encode()).hexdigest()[:16]


@router.get("/map")
def map_data(
    session: SessionDep, request: Request, response: Response, subject: CurrentSubject, settings: SettingsDep
) -> Any:
    """Every camera, compact, for the map and list. Poll it with If-None-Match: 304 when nothing changed.
    ``stale``: not checked for ``dashboard.stale_after_intervals`` check intervals (part of the version);
    ``delayed``: its node has results queued on its disk or is lost (issue 12; part of the version)."""
    scope = views.scope_names(subject)  # one user's map is not another's: the scope is part of the version
    where = views.scope_condition(session, subject)
    stale = stale_cameras(session, rule_of(settings), where)
    delayed = delayed_set(session, settings, where)
    tag = _map_version(session) + (hashlib.sha1(repr(scope).encode()).hexdigest()[:6] if scope else "")
    if stale:
        tag += hashlib.sha1("|".join(sorted(stale)).encode()).hexdigest()[:6]
    if delayed:
        tag += "d" + hashlib.sha1("|".join(sorted(delayed)).encode()).hexdigest()[:6]
    etag = f'"{tag}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "no-cache"
    return {"version": tag, "cameras": mark_stale(map_rows(session, None, where), stale, delayed)}


@router.get("/hamlets")
def list_hamlets(session: SessionDep) -> list[str]:
    return hamlets(session)


def _when(name: str, text: str) -> dt.datetime:
    try:
        return parse_utc(text)
    except ValueError:
        raise HTTPException(
            422, f"{name} must be an ISO 8601 time (e.g. 2026-11-01T00:00:00Z), not {text!r}"
        ) from None


def _period(period: str | None, since: str | None, until: str | None) -> tuple[dt.datetime, dt.datetime]:
    end = _when("until", until) if until else utcnow()
    if since:
        start = _when("since", since)
    elif period:
        if period not in PERIODS:
            raise HTTPException(422, f"period must be one of {', '.join(PERIODS)}")
        start = end - PERIODS[period]
    else:
        start = end - PERIODS["day"]
    if start >= end:
        raise HTTPException(422, "since must be before until")
    return start, end


def _where_cameras(
    stmt: Any, session: Session, hamlet: str | None, kind: CameraKind | None, subject: Subject | None = None
) -> Any:
    """Restrict a query over Camera to a hamlet (spelled in any case, with or without accents), a kind, and
    the caller's hamlet scope."""
    scope = views.scope_condition(session, subject)
    if scope is not None:
        stmt = stmt.where(scope)
    if hamlet:
        names = [h for h in hamlets(session) if fold(h) == fold(hamlet)] or [hamlet]
        stmt = stmt.where(col(Camera.hamlet).in_(names))
    if kind:
        stmt = stmt.where(Camera.kind == kind)
    return stmt


@router.get("/outages")
def outages(
    session: SessionDep,
    subject: CurrentSubject,
    settings: SettingsDep,
    open: bool | None = None,
    camera: str | None = None,
    hamlet: str | None = None,
    kind: CameraKind | None = None,
    cause: str | None = None,
    period: Annotated[str | None, Query(description="day, week or month (ending now)")] = None,
    since: Annotated[str | None, Query(description="ISO 8601 UTC start")] = None,
    until: Annotated[str | None, Query(description="ISO 8601 UTC end")] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    limit: Annotated[int, Query(ge=1, le=100000)] = 1000,
) -> Any:
    """Outages overlapping the period (or all open ones with open=true). format=csv downloads a file."""
    stmt = select(Outage, Camera).join(Camera, Camera.id == Outage.camera_id)
    if open is not None:
        stmt = stmt.where(col(Outage.ended_at).is_(None) if open else col(Outage.ended_at).is_not(None))
    if period or since or until or open is not True:
        start, end = _period(period, since, until)
        stmt = stmt.where(
            Outage.started_at < end, sa.or_(col(Outage.ended_at).is_(None), Outage.ended_at > start)
        )
    if camera:
        stmt = stmt.where(Outage.camera_id == camera)
    stmt = _where_cameras(stmt, session, hamlet, kind, subject)
    if cause:
        stmt = stmt.where(Outage.cause == cause)
    rows = session.exec(stmt.order_by(col(Outage.started_at).desc()).limit(limit)).all()
    items = [outage_dict(o, c) for o, c in rows]
    if format == "json":
        return items
    tz = settings.timezone
    buf = io.StringIO()
    cols = [
        "id",
        "camera_id",
        "camera_name",
        "hamlet",
        "kind",
        "state",
        "cause",
        "started_at_utc",
        "started_at_local",
        "ended_at_utc",
        "ended_at_local",
        "duration_s",
        "open",
        "last_error",
        "acknowledged_by",
    ]
    w = csvsafe.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for d in items:
        w.writerow(
            [
                d["id"],
                d["camera_id"],
                d["camera_name"],
                d["hamlet"],
                d["kind"],
                d["state"],
                d["cause"],
                d["started_at"].isoformat(),
                local_str(d["started_at"], tz),
                d["ended_at"].isoformat() if d["ended_at"] else "",
                local_str(d["ended_at"], tz),
                d["duration_s"],
                d["open"],
                d["last_error"] or "",
                d["acknowledged_by"] or "",
            ]
        )
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="outages.csv"'},
    )


def camera_state_times(
    session: Session, camera_ids: list[str] | None, start: dt.datetime, end: dt.datetime
) -> dict[str, StateTimes]:
    """Time in each state per camera over [start, end), from the transition log.

    A change into down/degraded counts from its outage's start (the first failed check), as the outage
    log does, not from the check that confirmed it.
    """
    stmt = state_changes().where(Transition.at < end)
    if camera_ids is not None:
        stmt = stmt.where(col(Transition.camera_id).in_(camera_ids))
    per: dict[str, list[tuple[dt.datetime, HealthState]]] = {}
    for cid, at, st, outage_start in session.exec(stmt.order_by(Transition.at)).all():
        per.setdefault(cid, []).append((min(at, outage_start) if outage_start else at, HealthState(st)))
    out: dict[str, StateTimes] = {}
    for cid in camera_ids if camera_ids is not None else list(per):
        # only transitions up to the start matter for the initial state: state_times handles it
        out[cid] = state_times(per.get(cid, []), start, end)
    return out


@router.get("/uptime")
def uptime(
    session: SessionDep,
    subject: CurrentSubject,
    period: Annotated[str | None, Query(description="day, week or month")] = "day",
    since: str | None = None,
    until: str | None = None,
    camera: str | None = None,
    hamlet: str | None = None,
    kind: CameraKind | None = None,
) -> dict[str, Any]:
    """Uptime per camera, hamlet and kind; maintenance and unknown time counted apart (see docs)."""
    start, end = _period(period, since, until)
    stmt = select(Camera.id, Camera.hamlet, Camera.kind).where(col(Camera.deleted_at).is_(None))
    if camera:
        stmt = stmt.where(Camera.id == camera)
    cams = session.exec(_where_cameras(stmt, session, hamlet, kind, subject)).all()
    times = camera_state_times(session, [c[0] for c in cams], start, end)
    by_hamlet: dict[str, StateTimes] = {}
    by_kind: dict[str, StateTimes] = {}
    overall = StateTimes()
    for cid, h, k in cams:
        st = times[cid]
        by_hamlet.setdefault(h, StateTimes()).add(st)
        by_kind.setdefault(CameraKind(k).value, StateTimes()).add(st)
        overall.add(st)
    return {
        "since": start,
        "until": end,
        "overall": overall.to_dict(),
        "by_kind": {k: v.to_dict() for k, v in sorted(by_kind.items())},
        "by_hamlet": {k: v.to_dict() for k, v in sorted(by_hamlet.items())},
        "cameras": {cid: times[cid].to_dict() for cid, _, _ in cams},
    }
