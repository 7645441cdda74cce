"""Camera leases: which node checks which camera, claimed through the database and nothing else.

One round (:func:`claim_round`, every ``node.heartbeat_s`` per node, in one transaction):

1. the live nodes are read from ``probe_node`` (seen within ``node.dead_after_s``, not stopped, role
   ``all`` or ``probe``);
2. for each site this node serves (:func:`camsvc.nodes.pools.quotas`), it keeps up to its fair share of the
   leases it holds, releases the rest (a node that joined gets them on its next round), and claims free
   cameras up to its share: cameras with no lease (``INSERT .. ON CONFLICT DO NOTHING``) and cameras whose
   holder is no longer live (``SELECT .. FOR UPDATE SKIP LOCKED``, then an UPDATE that still requires the
   dead holder, so two nodes racing for one camera never both get it);
3. leases of cameras it may no longer check (disabled, moved to another site, a site whose own node came
   back) are released.

A lost node's cameras are therefore taken over ``dead_after_s`` + at most one heartbeat after its last
heartbeat; a node that stops cleanly releases its leases at once (:func:`release_all`). On SQLite (one
machine) ``FOR UPDATE`` is ignored and the database's single writer serialises the rounds.

The round decides from the node's own clock (UTC); nodes' clocks are expected to agree within a few
seconds (NTP), far below ``dead_after_s``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from camsvc.models import Camera
from camsvc.nodes.models import CameraLease, ProbeNode
from camsvc.nodes.pools import LiveNode, quotas

PROBING_ROLES = ("all", "probe")


@dataclass(frozen=True)
class Round:
    owned: frozenset[str]
    claimed: int
    released: int
    live_nodes: int


def live_nodes(session: Session, now: dt.datetime, dead_after_s: float) -> list[LiveNode]:
    cutoff = now - dt.timedelta(seconds=dead_after_s)
    rows = session.exec(
        select(ProbeNode.name, ProbeNode.site).where(
            col(ProbeNode.stopped_at).is_(None),
            col(ProbeNode.last_seen) > cutoff,
            col(ProbeNode.role).in_(PROBING_ROLES),
        )
    ).all()
    return [LiveNode(name=n, site=s or "") for n, s in rows]


def plan(
    me: str,
    cameras: dict[str, str],
    leases: dict[str, str],
    live: list[LiveNode],
) -> tuple[list[str], list[str], list[str]]:
    """Pure: (keep, release, claim candidates in order of preference) for node *me*, given the enabled
    cameras (id -> site), every lease (camera -> node) and the live nodes."""
    by_site: dict[str, list[str]] = defaultdict(list)
    for cid in sorted(cameras):
        by_site[cameras[cid]].append(cid)
    q = quotas({s: len(ids) for s, ids in by_site.items()}, live, me)
    live_names = {n.name for n in live}
    keep: list[str] = []
    release = [cid for cid, node in leases.items() if node == me and cid not in cameras]
    claim: list[str] = []
    for site, ids in by_site.items():
        held = [c for c in ids if leases.get(c) == me]
        share = q.get(site, 0)
        keep += held[:share]
        release += held[share:]
        if len(held) < share:
            free = [c for c in ids if leases.get(c) is None or leases[c] not in live_names]
            claim += free[: share - len(held)]
    return keep, release, claim


def claim_round(session: Session, me: str, now: dt.datetime, dead_after_s: float) -> Round:
    """One round for node *me* (whose own ``probe_node`` row is already fresh); commits."""
    live = live_nodes(session, now, dead_after_s)
    cameras = {
        cid: site or ""
        for cid, site in session.exec(
            select(Camera.id, Camera.site).where(
                Camera.enabled == True,  # noqa: E712
                col(Camera.deleted_at).is_(None),
            )
        ).all()
    }
    leases = dict(session.exec(select(CameraLease.camera_id, CameraLease.node)).all())
    keep, release, claim = plan(me, cameras, leases, live)
    if release:
        session.execute(
            sa.delete(CameraLease).where(col(CameraLease.node) == me, col(CameraLease.camera_id).in_(release))
        )
    claimed = 0
    live_names = [n.name for n in live]
    unleased = [c for c in claim if c not in leases]
    if unleased:
        ins = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(
            CameraLease
        )
        stmt = ins.values([{"camera_id": c, "node": me, "claimed_at": now} for c in unleased])
        res = session.execute(stmt.on_conflict_do_nothing(index_elements=["camera_id"]))
        claimed += max(res.rowcount or 0, 0)  # type: ignore[attr-defined]
    orphans = [c for c in claim if c in leases]
    if orphans:
        locked = session.exec(
            select(CameraLease.camera_id)
            .where(col(CameraLease.camera_id).in_(orphans), col(CameraLease.node).not_in(live_names))
            .with_for_update(skip_locked=True)
        ).all()
        if locked:
            res = session.execute(
                sa.update(CameraLease)
                .where(col(CameraLease.camera_id).in_(locked), col(CameraLease.node).not_in(live_names))
                .values(node=me, claimed_at=now)
            )
            claimed += max(res.rowcount or 0, 0)  # type: ignore[attr-defined]
    session.commit()
    owned = frozenset(session.exec(select(CameraLease.camera_id).where(CameraLease.node == me)).all())
    session.commit()
    return Round(owned=owned, claimed=claimed, released=len(release), live_nodes=len(live))


def release_all(session: Session, me: str) -> int:
    res = session.execute(sa.delete(CameraLease).where(col(CameraLease.node) == me))
    session.commit()
    return max(res.rowcount or 0, 0)  # type: ignore[attr-defined]
