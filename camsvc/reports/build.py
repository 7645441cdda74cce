# SQLModel types table columns as their Python values, which SQLAlchemy's select()/join() overloads
# reject; the queries here are checked by the report tests on SQLite.
# mypy: disable-error-code="call-overload, arg-type, operator, misc, union-attr, attr-defined"
"""The report from the database: a few bulk queries (cameras, outages overlapping the period, maintenance
windows and maintenance transitions) -> camsvc.reports.availability (pure) -> a :class:`Report`.

Never one query per camera: 1,000 cameras over 30 days is four queries (``camsvc bench web`` measures it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from camsvc.auth import views
from camsvc.auth.roles import Subject
from camsvc.cameras import scope_hamlets
from camsvc.enums import CameraKind, HealthState
from camsvc.health.maintenance import covers
from camsvc.models import Camera, MaintenanceWindow, Outage, Transition
from camsvc.reports.availability import (
    CameraInput,
    Interval,
    OutageRow,
    Stats,
    Summary,
    Window,
    maintenance_from_transitions,
    month_label,
    summarize,
    window_intervals,
)

TZ = "Asia/Ho_Chi_Minh"


def _v(x: Any) -> str:
    """An enum column's value ('down'), whether the driver gave the enum or its stored name."""
    if isinstance(x, HealthState | CameraKind):
        return x.value
    s = str(x)
    return s.lower() if s.isupper() else s


@dataclass
class Report:
    start: dt.datetime
    end: dt.datetime
    generated_at: dt.datetime
    summary: Summary
    hamlet: str | None = None
    kind: str | None = None
    timezone: str = TZ
    disabled_left_out: int = 0
    scoped_to: list[str] | None = None  # the signed-in user's hamlets, when limited
    definitions: dict[str, str] = field(default_factory=dict)

    @property
    def month(self) -> str | None:
        return month_label(self.start, self.end, self.timezone)

    @property
    def total(self) -> Stats:
        return self.summary.total

    def to_dict(self) -> dict[str, Any]:
        s = self.summary
        return {
            "period": {
                "start": self.start.isoformat().replace("+00:00", "Z"),
                "end": self.end.isoformat().replace("+00:00", "Z"),
                "month": self.month,
                "timezone": self.timezone,
                "seconds": (self.end - self.start).total_seconds(),
            },
            "generated_at": self.generated_at.isoformat().replace("+00:00", "Z"),
            "scope": {"hamlet": self.hamlet, "kind": self.kind, "user_hamlets": self.scoped_to},
            "disabled_left_out": self.disabled_left_out,
            "definitions": DEFINITIONS,
            "total": s.total.to_dict(),
            "hamlets": [{"hamlet": h, **st.to_dict()} for h, st in s.hamlets.items()],
            "kinds": [{"kind": k, **st.to_dict()} for k, st in s.kinds.items()],
            "worst": [c.to_dict() for c in s.worst],
            "cameras": [c.to_dict() for c in s.cameras],
        }


DEFINITIONS = {
    "availability": "1 - downtime / monitored time: the stream works (a picture fault counts as available)",
    "good_picture": "1 - (downtime + picture-fault time) / monitored time: stream works and picture is good",
    "monitored": "time in service in the period (after the camera was added, before it was deleted) minus "
    "maintenance",
    "maintenance": "maintenance windows and time in the maintenance state: counted apart, not in the "
    "denominator",
    "downtime": "union of down outages within monitored time (overlaps counted once; open outages until "
    "the period's end)",
    "mttr": "mean duration of the outages that ended in the period",
    "mtta": "mean time from confirmation (the alert) to acknowledgement, outages confirmed in the period",
    "causes": "each cause's outage time within monitored time, share of the sum over causes",
    "disabled": "cameras disabled now are left out (the registry does not record when they were disabled)",
}


def _camera_filter(
    session: Session, subject: Subject | None, hamlet: str | None, kind: str | None
) -> list[Any]:
    conds: list[Any] = []
    scope = views.scope_condition(session, subject)
    if scope is not None:
        conds.append(scope)
    if hamlet:
        conds.append(col(Camera.hamlet).in_(scope_hamlets(session, [hamlet])))
    if kind:
        conds.append(Camera.kind == CameraKind(kind))
    return conds


def build_report(
    session: Session,
    start: dt.datetime,
    end: dt.datetime,
    *,
    now: dt.datetime,
    subject: Subject | None = None,
    hamlet: str | None = None,
    kind: str | None = None,
    tz: str = TZ,
    worst_n: int = 10,
) -> Report:
    """The report for ``[start, end)`` (UTC, aware) for the cameras the subject may see (hamlet scope),
    optionally one hamlet and/or one kind. ``now`` bounds open outages of a period not yet over."""
    if end <= start:
        raise ValueError("the period's end must be after its start")
    conds = _camera_filter(session, subject, hamlet, kind)
    alive = sa.or_(col(Camera.deleted_at).is_(None), Camera.deleted_at > start)
    cams = session.exec(
        select(Camera.id, Camera.name, Camera.hamlet, Camera.kind, Camera.created_at, Camera.deleted_at)
        .where(Camera.enabled == True, Camera.created_at < end, alive, *conds)  # noqa: E712
        .order_by(Camera.id)
    ).all()
    disabled = session.exec(
        select(func.count())
        .select_from(Camera)
        .where(Camera.enabled == False, col(Camera.deleted_at).is_(None), *conds)  # noqa: E712
    ).one()
    # a period not over yet ends now for every open outage and for the camera's time in service
    until = min(end, max(now, start))
    inputs = _inputs(session, cams, start, until, tz, conds)
    summary = summarize(inputs, start, until, worst_n=worst_n)
    return Report(
        start=start,
        end=end,
        generated_at=now,
        summary=summary,
        hamlet=hamlet or None,
        kind=kind or None,
        timezone=tz,
        disabled_left_out=int(disabled),
        scoped_to=views.scope_names(subject),
    )


def _inputs(
    session: Session, cams: Any, start: dt.datetime, end: dt.datetime, tz: str, conds: list[Any]
) -> list[CameraInput]:
    """Camera rows + bulk-selected outages and maintenance -> the pure function's inputs."""
    ids = {c[0] for c in cams}
    outages: dict[str, list[OutageRow]] = {}
    if end > start:
        rows = session.exec(
            select(
                Outage.camera_id,
                Outage.state,
                Outage.started_at,
                Outage.ended_at,
                Outage.cause,
                Outage.confirmed_at,
                Outage.acknowledged_at,
            )
            .join(Camera, Camera.id == Outage.camera_id)
            .where(
                Outage.started_at < end,
                sa.or_(col(Outage.ended_at).is_(None), Outage.ended_at > start),
                *conds,
            )
        ).all()
        for cid, state, a, b, cause, conf, ack in rows:
            if cid in ids:
                outages.setdefault(cid, []).append(OutageRow(_v(state), a, b, cause or "unknown", conf, ack))
    maint = _maintenance(session, cams, start, end, tz, conds) if end > start else {}
    out = []
    for cid, name, hamlet, kind, created, deleted in cams:
        out.append(
            CameraInput(
                id=cid,
                name=name,
                hamlet=hamlet or "",
                kind=_v(kind),
                created_at=created,
                deleted_at=deleted,
                outages=tuple(outages.get(cid, ())),
                maintenance=tuple(maint.get(cid, ())),
            )
        )
    return out


def _maintenance(
    session: Session, cams: Any, start: dt.datetime, end: dt.datetime, tz: str, conds: list[Any]
) -> dict[str, list[Interval]]:
    """Per camera: the windows covering it (expanded within the period) and its time in the maintenance
    state (transitions), together; the pure function takes their union."""
    out: dict[str, list[Interval]] = {}
    windows = session.exec(
        select(MaintenanceWindow).where(
            MaintenanceWindow.starts_at < end,
            sa.or_(col(MaintenanceWindow.ends_at).is_(None), MaintenanceWindow.ends_at > start),
        )
    ).all()
    for w in windows:
        ivs = window_intervals(
            Window(w.starts_at, w.ends_at, w.weekdays, w.daily_start, w.daily_end), start, end, tz
        )
        if not ivs:
            continue
        for cid, _name, hamlet, *_ in cams:
            if covers(w, cid, hamlet):
                out.setdefault(cid, []).extend(ivs)
    is_m = sa.or_(
        Transition.new_state == HealthState.MAINTENANCE, Transition.old_state == HealthState.MAINTENANCE
    )
    inside = session.exec(
        select(Transition.camera_id, Transition.at, Transition.new_state)
        .join(Camera, Camera.id == Transition.camera_id)
        .where(Transition.at >= start, Transition.at < end, is_m, *conds)
    ).all()
    last = (
        select(Transition.camera_id, func.max(Transition.at).label("at"))
        .where(Transition.at < start)
        .group_by(Transition.camera_id)
        .subquery()
    )
    before = session.exec(
        select(Transition.camera_id)
        .join(last, sa.and_(last.c.camera_id == Transition.camera_id, last.c.at == Transition.at))
        .join(Camera, Camera.id == Transition.camera_id)
        .where(Transition.new_state == HealthState.MAINTENANCE, *conds)
    ).all()
    in_m_at_start = set(before)
    per: dict[str, list[tuple[dt.datetime, str]]] = {}
    for cid, at, new in inside:
        per.setdefault(cid, []).append((at, _v(new)))
    for cid in set(per) | in_m_at_start:
        ivs = maintenance_from_transitions(
            per.get(cid, []), "maintenance" if cid in in_m_at_start else None, start, end
        )
        if ivs:
            out.setdefault(cid, []).extend(ivs)
    return out


# ---------------------------------------------------------------------------------------------- public
def public_status(session: Session, now: dt.datetime, tz: str = TZ) -> dict[str, Any]:
    """What the public status page shows: per hamlet, the number of cameras, availability over the last
    24 h and 30 days, and its open incidents (since when, how many cameras). No camera names, owners,
    coordinates or pictures: only hamlet names and counts."""
    day = build_report(session, now - dt.timedelta(days=1), now, now=now, tz=tz, worst_n=0)
    month = build_report(session, now - dt.timedelta(days=30), now, now=now, tz=tz, worst_n=0)
    open_rows = session.exec(
        select(
            Camera.hamlet,
            Outage.state,
            func.count(sa.distinct(Outage.camera_id)),
            func.min(Outage.started_at),
        )
        .join(Camera, Camera.id == Outage.camera_id)
        .where(col(Outage.ended_at).is_(None), Camera.enabled == True, col(Camera.deleted_at).is_(None))  # noqa: E712
        .group_by(Camera.hamlet, Outage.state)
    ).all()
    incidents: dict[str, dict[str, Any]] = {}
    for hamlet, state, n, since in open_rows:
        row = incidents.setdefault(hamlet or "", {"down": 0, "degraded": 0, "since": since})
        row[_v(state)] = int(n)
        row["since"] = min(row["since"], since)
    hamlets = []
    for h, st in month.summary.hamlets.items():
        d = day.summary.hamlets.get(h, Stats())
        inc = incidents.get(h)
        hamlets.append(
            {
                "hamlet": h,
                "cameras": st.cameras,
                "availability_24h": None if d.availability is None else round(d.availability, 6),
                "availability_30d": None if st.availability is None else round(st.availability, 6),
                "open": None
                if inc is None
                else {
                    "cameras_down": inc["down"],
                    "cameras_degraded": inc["degraded"],
                    "since": inc["since"].isoformat().replace("+00:00", "Z"),
                },
            }
        )
    t24, t30 = day.summary.total, month.summary.total
    return {
        "generated_at": now.isoformat().replace("+00:00", "Z"),
        "timezone": tz,
        "cameras": t30.cameras,
        "availability_24h": None if t24.availability is None else round(t24.availability, 6),
        "availability_30d": None if t30.availability is None else round(t30.availability, 6),
        "hamlets": hamlets,
        "open_incidents": sum(1 for h in hamlets if h["open"]),
    }
