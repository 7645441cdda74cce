# SQLModel types table columns as their Python values, which SQLAlchemy's select()/join() overloads
# reject; the queries here are checked by tests/nodes/test_view_api.py on SQLite and PostgreSQL.
# mypy: disable-error-code="call-overload, arg-type, operator, misc"
"""/api/nodes: the probe nodes (issue 12), what each holds and its load, and which sites no node covers.

Technicians and above (``nodes.view``). A node's host name and version are shown; never a camera URL or a
secret (a node's ``detail`` is redacted). Cameras are counted and listed within the caller's hamlets.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException
from sqlmodel import Session, col, func, select

from camsvc.api.deps import SessionDep, SettingsDep
from camsvc.auth import views
from camsvc.auth.http import CurrentSubject, require
from camsvc.auth.roles import Action
from camsvc.enums import HealthState
from camsvc.models import Camera, CameraStatus
from camsvc.nodes.coverage import PROBING_ROLES, delayed_cameras, node_state
from camsvc.nodes.models import CameraLease, ProbeNode
from camsvc.nodes.pools import LiveNode, pool_for
from camsvc.redact import redact_text

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://\S+")

router = APIRouter(prefix="/api/nodes", tags=["nodes"], dependencies=[require(Action.NODES_VIEW)])


def iso_z(t: dt.datetime | None) -> str | None:
    """UTC ISO 8601 with a ``Z`` (what every client parses the same way)."""
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def node_dict(n: ProbeNode, held: int, now: dt.datetime, dead_after_s: float) -> dict[str, Any]:
    state = node_state(n.stopped_at, n.last_seen, now, dead_after_s)
    return {
        "name": n.name,
        "site": n.site or "",
        "role": n.role,
        "host": n.host,
        "pid": n.pid,
        "version": n.version,
        "state": state,  # live | lost | stopped
        "probes": n.role in PROBING_ROLES,  # an api node checks nothing
        "started_at": iso_z(n.started_at),
        "last_seen": iso_z(n.last_seen),
        "seen_ago_s": round(max(0.0, (now - n.last_seen).total_seconds()), 1),
        "stopped_at": iso_z(n.stopped_at),
        "cameras": held,  # leases held now (camera_lease)
        "capacity": n.capacity,
        "in_flight": n.in_flight,
        "probes_per_min": round(float(n.probes_per_min or 0.0), 1),
        "saturation": round(float(n.saturation or 0.0), 3),
        "spooled": n.spooled,
        "oldest_spooled_at": iso_z(n.oldest_spooled_at),
        "delayed": (n.spooled or 0) > 0,  # results queued on its disk: its cameras' states may be behind
        "detail": _URL.sub("<url>", redact_text(n.detail)) if n.detail else None,  # no URL, no secret
    }


def _held(session: Session) -> dict[str, int]:
    rows = session.exec(select(CameraLease.node, func.count()).group_by(CameraLease.node)).all()
    return {node: int(k) for node, k in rows}


def _nodes(session: Session) -> list[ProbeNode]:
    return list(session.exec(select(ProbeNode).order_by(col(ProbeNode.site), col(ProbeNode.name))).all())


@router.get("")
def list_nodes(session: SessionDep, subject: CurrentSubject, settings: SettingsDep) -> dict[str, Any]:
    """Every node (live, lost or stopped) with its load, and per site: the cameras (enabled, in the
    caller's hamlets), the live nodes that may check them, and how many no node covers."""
    now = dt.datetime.now(dt.UTC)
    dead = float(settings.node.dead_after_s)
    held = _held(session)
    nodes = _nodes(session)
    items = [node_dict(n, held.get(n.name, 0), now, dead) for n in nodes]
    live = [LiveNode(d["name"], d["site"]) for d in items if d["state"] == "live" and d["probes"]]
    scope = views.scope_condition(session, subject)
    stmt = (
        sa.select(col(Camera.site), func.count())
        .where(col(Camera.enabled) == True, col(Camera.deleted_at).is_(None))  # noqa: E712
        .group_by(col(Camera.site))
    )
    if scope is not None:
        stmt = stmt.where(scope)
    per_site: dict[str, int] = {}
    for site, k in session.execute(stmt).all():
        per_site[site or ""] = per_site.get(site or "", 0) + int(k)
    for d in items:
        per_site.setdefault(d["site"], 0)
    sites = []
    for site in sorted(per_site):
        pool = pool_for(site, live)
        sites.append(
            {
                "site": site,
                "cameras": per_site[site],
                "covered_by": list(pool),
                "uncovered": 0 if pool else per_site[site],
            }
        )
    return {
        "at": iso_z(now),
        "dead_after_s": dead,
        "heartbeat_s": float(settings.node.heartbeat_s),
        "nodes": items,
        "sites": sites,
        "counts": {
            "live": sum(d["state"] == "live" for d in items),
            "lost": sum(d["state"] == "lost" for d in items),
            "stopped": sum(d["state"] == "stopped" for d in items),
            "delayed": sum(bool(d["delayed"]) for d in items),
            "uncovered_cameras": sum(s["uncovered"] for s in sites),
            "uncovered_sites": sum(1 for s in sites if s["uncovered"]),
        },
    }


@router.get("/{name}")
def get_node(
    name: str, session: SessionDep, subject: CurrentSubject, settings: SettingsDep
) -> dict[str, Any]:
    """One node and the cameras it holds (id, name, hamlet, site, state, delayed), within the caller's
    hamlets."""
    n = session.get(ProbeNode, name)
    if n is None:
        raise HTTPException(404, f"no node {name!r}")
    now = dt.datetime.now(dt.UTC)
    dead = float(settings.node.dead_after_s)
    held = int(
        session.exec(select(func.count()).select_from(CameraLease).where(CameraLease.node == name)).one()
    )
    out = node_dict(n, held, now, dead)
    scope = views.scope_condition(session, subject)
    stmt = (
        sa.select(
            col(Camera.id),
            col(Camera.name),
            col(Camera.hamlet),
            col(Camera.site),
            col(CameraStatus.state),
            col(CameraStatus.cause),
            col(CameraLease.claimed_at),
        )
        .select_from(CameraLease)
        .join(Camera, col(Camera.id) == col(CameraLease.camera_id))
        .join(CameraStatus, col(CameraStatus.camera_id) == col(Camera.id), isouter=True)
        .where(col(CameraLease.node) == name, col(Camera.deleted_at).is_(None))
        .order_by(col(Camera.id))
    )
    if scope is not None:
        stmt = stmt.where(scope)
    late = delayed_cameras(session, now, dead, scope)
    out["camera_list"] = [
        {
            "id": cid,
            "name": cname,
            "hamlet": hamlet,
            "site": site or "",
            "state": HealthState(state).value if state else HealthState.UNKNOWN.value,
            "cause": cause,
            "claimed_at": iso_z(claimed),
            "delayed": cid in late,
        }
        for cid, cname, hamlet, site, state, cause, claimed in session.execute(stmt).all()
    ]
    out["cameras_in_scope"] = len(out["camera_list"])
    return out
