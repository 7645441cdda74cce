"""What changed on the map since a cursor: the dashboard's cheap poll.

``/api/map`` sends every camera and its ETag changes on every check (``last_check_at``), so polling it costs
the whole fleet each time while checks run. The map and list only show the state, its start, its cause and
whether the outage was acknowledged: these change only through a ``Transition`` row (written in the same
transaction as the state), a registry edit, or an acknowledgement. The cursor captures those three:

* ``t``: the highest Transition id seen; cameras with newer transitions are returned. Ids are taken at
  insert, so with concurrent writers (PostgreSQL) a lower id can become visible after a higher one: ids
  below ``t`` not seen yet ("holes", at most ``MAX_HOLES``) ride along in the cursor and are looked for again;
  with SQLite there are none;
* ``r``: a hash of the registry (row count, newest ``updated_at``); when it differs the client reloads the
  full ``/api/map`` (``full: true``);
* ``a``: a hash of the acknowledgements; when it differs, every camera with an open outage is returned;
* ``s`` (after the ``a`` hash, as ``<a>s<s>``): a hash of the set of stale cameras (``camsvc.health.stale``: enabled, last check older than N check
  intervals). Going stale changes no row (it is the absence of a check), so the feed computes the set at each
  poll; when it differs from the cursor's, the answer carries ``stale``: every stale camera the caller may
  see with its last check time (``{id: last_check_at}``, the whole set: cameras missing from it are fresh).
  Without a settings object (callers from before issue 11) nothing is stale.
* the delayed set (issue 12: cameras whose node has results queued on its disk, or is lost) rides in the
  same ``s`` digest (a hash of both sets); when it changes the answer also carries ``delayed``: every
  delayed camera the caller may see (a list of ids: cameras missing from it are not delayed).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from camsvc.health.stale import rule_of
from camsvc.health.stale_set import delayed_set, mark_stale, stale_cameras
from camsvc.models import Camera, CameraStatus, Outage, Transition
from camsvc.schemas import map_rows

MAX_HOLES = 16  # unseen transition ids remembered in the cursor (a rolled-back id stays a hole for good)
HOLE_WINDOW = 1000  # holes are looked for among the newest ids only
MAX_CAMERAS = 20000  # bound on one answer; beyond it the client is told to reload everything


@dataclass(frozen=True)
class Cursor:
    transition: int
    registry: str
    acks: str
    stale: str = ""  # empty: nothing stale
    holes: tuple[int, ...] = ()

    def __str__(self) -> str:
        # the stale digest rides in the acknowledgements' part ("<acks>s<stale>"; hex has no "s")
        base = f"{self.transition}.{self.registry}.{self.acks}" + (f"s{self.stale}" if self.stale else "")
        return base + ("." + "-".join(map(str, self.holes)) if self.holes else "")

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """``None`` for a missing or malformed cursor (the client then reloads everything)."""
        if not text or len(text) > 400:
            return None
        parts = text.split(".")
        if len(parts) not in (3, 4) or not parts[0].isdigit() or len(parts[0]) > 18:
            return None
        holes: tuple[int, ...] = ()
        if len(parts) == 4:
            raw = parts[3].split("-")
            if not all(h.isdigit() and len(h) <= 18 for h in raw):
                return None
            holes = tuple(sorted({int(h) for h in raw}))[-MAX_HOLES:]
        acks, _, stale = parts[2].partition("s")
        return cls(int(parts[0]), parts[1][:32], acks[:32], stale[:32], holes)


def _digest(*values: object) -> str:
    return hashlib.sha1("|".join(map(str, values)).encode()).hexdigest()[:10]


def current_cursor(
    session: Session, stale: dict[str, Any] | None = None, delayed: dict[str, Any] | None = None
) -> Cursor:
    t = session.exec(select(func.max(Transition.id))).one() or 0
    reg = session.exec(select(func.count(), func.max(Camera.updated_at)).select_from(Camera)).one()
    ack = session.exec(
        select(func.count(), func.max(Outage.acknowledged_at)).where(col(Outage.acknowledged_at).is_not(None))
    ).one()
    marks = ""
    if stale or delayed:
        marks = (
            _digest(*sorted(stale or ()), "|delayed|", *sorted(delayed or ()))
            if delayed
            else _digest(*sorted(stale or ()))
        )
    return Cursor(int(t), _digest(*reg), _digest(*ack), marks)


def changes_since(
    session: Session, cursor_text: str | None, where: Any = None, *, settings: Any = None
) -> dict[str, Any]:
    """``{cursor, full, cameras[, stale]}``: ``full`` means reload ``/api/map``; else ``cameras`` are the
    changed ones, each with ``stale``; ``stale`` (only when the set changed) is the whole stale set."""
    stale = stale_cameras(session, rule_of(settings) if settings is not None else None, where)
    delayed = delayed_set(session, settings, where)
    now = current_cursor(session, stale, delayed)
    old = Cursor.parse(cursor_text)
    if old is None or old.registry != now.registry or old.transition > now.transition:
        return {"cursor": str(now), "full": True, "cameras": []}
    ids: set[str] = set()
    holes: set[int] = set()
    if now.transition > old.transition or old.holes:
        cond = col(Transition.id) > old.transition
        if old.holes:
            cond = sa.or_(cond, col(Transition.id).in_(old.holes))
        seen: set[int] = set()
        for tid, cid in session.exec(
            select(Transition.id, Transition.camera_id).where(cond).limit(500000)
        ).all():
            if tid is not None:
                seen.add(tid)
            ids.add(cid)
            if len(ids) > MAX_CAMERAS:
                return {"cursor": str(now), "full": True, "cameras": []}
        start = max(old.transition + 1, now.transition - HOLE_WINDOW)
        holes = {i for i in range(start, now.transition + 1) if i not in seen}
        holes |= {h for h in old.holes if h not in seen and h > now.transition - HOLE_WINDOW}
    now = Cursor(now.transition, now.registry, now.acks, now.stale, tuple(sorted(holes))[-MAX_HOLES:])
    if now.acks != old.acks:
        ids.update(
            session.execute(
                sa.select(col(CameraStatus.camera_id)).where(col(CameraStatus.open_outage_id).is_not(None))
            )
            .scalars()
            .all()
        )
    if len(ids) > MAX_CAMERAS:
        return {"cursor": str(now), "full": True, "cameras": []}
    out: dict[str, Any] = {
        "cursor": str(now),
        "full": False,
        "cameras": mark_stale(map_rows(session, sorted(ids), where), stale, delayed),
    }
    if now.stale != old.stale:
        out["stale"] = {cid: v["last_check_at"] for cid, v in sorted(stale.items())}
        out["delayed"] = sorted(delayed)
    return out
