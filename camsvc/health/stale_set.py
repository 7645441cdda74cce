"""Which cameras are stale now (issue 11): one query, then the pure rule of camsvc.health.stale per camera.
Used by /api/map, /api/status and the dashboard's change feed, so every client agrees.

Which cameras are *delayed* (issue 12): leased by a probe node that has results queued on its own disk
(``spooled > 0``: the database was away) or by a node that is lost. Their shown state may be behind what the
node knows; the dashboard marks them until the node's results are replayed (or another node takes over)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from camsvc.health.stale import StaleRule
from camsvc.models import Camera, CameraStatus


def stale_cameras(
    session: Session, rule: StaleRule | None, where: Any = None, now: dt.datetime | None = None
) -> dict[str, dict[str, Any]]:
    """The stale cameras (enabled, not deleted, in ``where``): ``{id: {last_check_at, state, hamlet}}``.

    One query with a pre-filter (no camera checked within ``factor`` x the shortest interval in use can be
    stale), then the rule per camera with its own interval."""
    if rule is None:
        return {}
    at = now or dt.datetime.now(dt.UTC)
    own = session.exec(select(func.min(Camera.check_interval_s))).one()
    shortest = min(rule.default_interval_s, float(own)) if own else rule.default_interval_s
    cut = rule.cutoff(at, shortest)
    stmt = (
        sa.select(
            col(CameraStatus.camera_id),
            col(CameraStatus.last_check_at),
            col(CameraStatus.state),
            col(Camera.hamlet),
            col(Camera.check_interval_s),
        )
        .join(Camera, col(Camera.id) == col(CameraStatus.camera_id))
        .where(
            col(Camera.enabled) == True,  # noqa: E712
            col(Camera.deleted_at).is_(None),
            col(CameraStatus.last_check_at).is_not(None),
            col(CameraStatus.last_check_at) < cut,
        )
    )
    if where is not None:
        stmt = stmt.where(where)
    out: dict[str, dict[str, Any]] = {}
    for cid, last, state, hamlet, interval in session.execute(stmt).all():
        if rule.is_stale(last, at, interval):
            out[cid] = {"last_check_at": last, "state": state, "hamlet": hamlet}
    return out


def delayed_set(
    session: Session, settings: Any, where: Any = None, now: dt.datetime | None = None
) -> dict[str, str]:
    """The delayed cameras (in ``where``): ``{id: node}``; empty without settings or without nodes."""
    if settings is None or getattr(settings, "node", None) is None:
        return {}
    from camsvc.nodes.coverage import delayed_cameras

    at = now or dt.datetime.now(dt.UTC)
    return delayed_cameras(session, at, float(settings.node.dead_after_s), where)


def mark_stale(
    rows: list[dict[str, Any]], stale: dict[str, Any], delayed: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Map rows (``schemas.map_rows``) with ``stale`` (and ``delayed``, issue 12) set."""
    late = delayed or {}
    for r in rows:
        r["stale"] = r["id"] in stale
        r["delayed"] = r["id"] in late
    return rows
