"""The public shapes of the health records: one definition each, used by the API and the dashboard.

``/api/map`` and the dashboard's change feed (``/web/changes``) send the same camera row; ``/api/outages``
and ``/api/cameras/{id}/outages`` the same outage; checks and transitions leave the API in one shape.
Row-to-dict functions (not response models), so the JSON is exactly what FastAPI makes of these dicts.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from camsvc.enums import HealthState
from camsvc.models import Camera, CameraStatus, Check, Outage, Transition, utcnow


def outage_dict(o: Outage, cam: Camera | None = None) -> dict[str, Any]:
    """An outage as /api/outages and /api/cameras/{id}/outages send it (``cam``: with the camera's name,
    hamlet and kind); an open outage's duration runs to now."""
    end = o.ended_at
    dur = ((end or utcnow()) - o.started_at).total_seconds()
    d: dict[str, Any] = {
        "id": o.id,
        "camera_id": o.camera_id,
        "state": o.state.value,
        "started_at": o.started_at,
        "confirmed_at": o.confirmed_at,
        "ended_at": end,
        "open": end is None,
        "duration_s": round(dur, 1),
        "cause": o.cause,
        "last_error": o.last_error,
        "acknowledged_by": o.acknowledged_by,
        "acknowledged_at": o.acknowledged_at,
    }
    if cam is not None:
        d.update(camera_name=cam.name, hamlet=cam.hamlet, kind=cam.kind.value)
    return d


def check_dict(c: Check) -> dict[str, Any]:
    """A check with its picture metrics as an object and its faults as a list."""
    d = c.model_dump(exclude={"metrics_json", "faults"})
    d["metrics"] = json.loads(c.metrics_json) if c.metrics_json else {}
    d["faults"] = c.faults.split(",") if c.faults else []
    return d


def transition_dict(t: Transition) -> dict[str, Any]:
    """A state change, every column (the audit trail)."""
    return t.model_dump()


def map_rows(session: Session, ids: list[str] | None, where: Any = None) -> list[dict[str, Any]]:
    """Cameras as ``/api/map`` and the change feed (``/web/changes``) send them: compact, with the state, its
    start and cause, and whether the open outage was acknowledged (all cameras when ``ids`` is None)."""
    columns: list[Any] = [
        Camera.id,
        Camera.name,
        Camera.kind,
        Camera.hamlet,
        Camera.address,
        Camera.latitude,
        Camera.longitude,
        Camera.enabled,
        CameraStatus.state,
        CameraStatus.since,
        CameraStatus.cause,
        CameraStatus.last_check_at,
        CameraStatus.open_outage_id,
        Outage.acknowledged_at,
    ]
    stmt = sa.select(*columns).join(CameraStatus, col(CameraStatus.camera_id) == col(Camera.id), isouter=True)
    stmt = stmt.join(Outage, col(Outage.id) == col(CameraStatus.open_outage_id), isouter=True)
    stmt = stmt.where(col(Camera.deleted_at).is_(None))  # soft-deleted cameras are off the map
    if where is not None:  # the caller's hamlet scope
        stmt = stmt.where(where)
    wanted: set[str] | None = None
    if ids is not None:
        if not ids:
            return []
        if len(ids) <= 500:
            stmt = stmt.where(col(Camera.id).in_(ids))
        else:  # a mass outage: one scan beats a huge IN list
            wanted = set(ids)
    rows = [r for r in session.execute(stmt.order_by(Camera.id)).all() if wanted is None or r[0] in wanted]
    return [
        {
            "id": r[0],
            "name": r[1],
            "kind": r[2].value,
            "hamlet": r[3],
            "address": r[4],
            "lat": r[5],
            "lon": r[6],
            "enabled": r[7],
            "state": (r[8] or HealthState.UNKNOWN).value,
            "since": r[9],
            "cause": r[10],
            "last_check_at": r[11],
            "acknowledged": bool(r[12] and r[13] is not None),
        }
        for r in rows
    ]
