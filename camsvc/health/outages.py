"""Record a check: the check row, the camera's health, transitions and outages, in ONE transaction.

The state machine (``state.step``) decides; this module only persists what it decided. The status row is
updated with a conditional ``version`` check, so two writers (a second process, a restarted service racing
an old one) can never both flip the same camera: the loser's transaction is rolled back and nothing it
decided is kept.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, fields

import sqlalchemy as sa
from sqlmodel import Session, col, select

from camsvc.enums import HealthState
from camsvc.health.state import Health, Observation, Thresholds, step
from camsvc.models import CameraStatus, Check, Outage, Thumbnail, Transition

log = logging.getLogger(__name__)

THUMBNAIL_HISTORY = 20  # kept per camera, taken at state changes


class ConcurrentUpdate(RuntimeError):
    """Another writer changed this camera's status first; this check's result was not applied."""


@dataclass
class Recorded:
    check: Check
    transitions: list[Transition]
    health: Health
    thumbnail_stored: bool = False  # the latest picture was written (it is not at every check)


# the columns of CameraStatus that hold the state machine's memory, named as in Health
HEALTH_FIELDS = tuple(f.name for f in fields(Health))


def health_of(row: CameraStatus) -> Health:
    return Health(**{k: getattr(row, k) for k in HEALTH_FIELDS})


def get_status(session: Session, camera_id: str) -> CameraStatus:
    row = session.get(CameraStatus, camera_id)
    if row is None:
        row = CameraStatus(camera_id=camera_id)
        session.add(row)
        session.flush()
    return row


def state_changes() -> sa.Select[tuple[str, dt.datetime, str, dt.datetime | None]]:
    """Transitions as (camera_id, at, new_state, outage_started_at): a change into down/degraded counts
    from its outage's start (the first failed check), as the outage log does, not from the check that
    confirmed it. Callers add their camera, time and order clauses."""
    return select(Transition.camera_id, Transition.at, Transition.new_state, Outage.started_at).join(  # type: ignore[return-value]
        Outage,
        sa.and_(
            col(Outage.id) == col(Transition.outage_id),
            col(Transition.new_state).in_([HealthState.DOWN, HealthState.DEGRADED]),
        ),
        isouter=True,
    )


def record_check(
    session: Session,
    check: Check,
    obs: Observation,
    thresholds: Thresholds,
    *,
    thumbnail_jpeg: bytes | None = None,
    refresh_thumbnail: bool = True,
) -> Recorded:
    """Persist one check and everything it changes. The caller commits (or rolls back) the session.
    *refresh_thumbnail* False keeps the stored latest picture unless the state changed (the caller's
    refresh period, checks.thumbnail_refresh_s)."""
    status = get_status(session, check.camera_id)
    version = status.version
    result = step(health_of(status), obs, thresholds)
    h = result.health
    was_open = open_id = status.open_outage_id
    # what the caller changed on the row (the picture baseline, reference, last metrics) goes into the one
    # versioned UPDATE below instead of a flush of its own: one statement per check, not two
    pending = _take_changes(session, status)

    session.add(check)
    transitions: list[Transition] = []
    for ch in result.changes:
        if ch.close_outage_at is not None and open_id is not None:
            outage = session.get(Outage, open_id)
            if outage is not None and outage.ended_at is None:
                outage.ended_at = max(ch.close_outage_at, outage.started_at)
                session.add(outage)
            open_id = None
        if ch.open_outage is not None:
            outage = Outage(
                camera_id=check.camera_id,
                state=ch.open_outage,
                started_at=ch.outage_started_at or ch.at,
                confirmed_at=ch.at,
                cause=ch.cause or "unknown",
                last_error=obs.detail,
            )
            session.add(outage)
            session.flush()
            open_id = outage.id
        tr = Transition(
            camera_id=check.camera_id,
            at=ch.at,
            old_state=ch.old,
            new_state=ch.new,
            cause=ch.cause,
            detail=ch.detail,
            outage_id=open_id if ch.open_outage is not None else was_open,
        )
        session.add(tr)
        transitions.append(tr)

    if open_id is not None and not result.changes and not obs.ok:
        # still down: keep the outage's last error current
        outage = session.get(Outage, open_id)
        if outage is not None:
            outage.last_error = obs.detail or obs.error
            session.add(outage)

    values = pending | {k: getattr(h, k) for k in HEALTH_FIELDS}
    values.update(last_check_at=obs.at, open_outage_id=open_id, version=version + 1)
    if obs.ok:
        values["last_ok_at"] = obs.at
    res = session.execute(
        sa.update(CameraStatus)
        .where(CameraStatus.camera_id == check.camera_id, CameraStatus.version == version)  # type: ignore[arg-type]
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrentUpdate(check.camera_id)
    session.expire(status)

    stored = False
    if thumbnail_jpeg and (refresh_thumbnail or transitions):
        _store_thumbnail(session, check.camera_id, obs.at, thumbnail_jpeg, h.state, bool(transitions))
        stored = True
    for tr in transitions:
        log.info("camera %s: %s -> %s (%s)", tr.camera_id, tr.old_state.value, tr.new_state.value, tr.cause)
    return Recorded(check=check, transitions=transitions, health=h, thumbnail_stored=stored)


def _take_changes(session: Session, status: CameraStatus) -> dict[str, object]:
    """The unflushed changes of *status* as column values, discarded from the object (so no flush writes
    them) and returned for the caller's own UPDATE."""
    state = sa.inspect(status)
    if state.pending or state.transient:  # a row not in the database yet: its INSERT carries them
        return {}
    changed = {a.key: a.value for a in state.attrs if a.history.has_changes()}
    if changed:
        session.expire(status, list(changed))
    return changed


def _store_thumbnail(
    session: Session, camera_id: str, at: dt.datetime, jpeg: bytes, state: HealthState, changed: bool
) -> None:
    # the latest row replaced in place by one UPDATE (the old picture is never read back), inserted when
    # the camera has none yet
    res = session.execute(
        sa.update(Thumbnail)
        .where(Thumbnail.camera_id == camera_id, Thumbnail.at_transition == False)  # type: ignore[arg-type]  # noqa: E712
        .values(at=at, jpeg=jpeg, state=state)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount == 0:  # type: ignore[attr-defined]
        session.add(Thumbnail(camera_id=camera_id, at=at, jpeg=jpeg, state=state))
    if changed:
        session.add(Thumbnail(camera_id=camera_id, at=at, jpeg=jpeg, state=state, at_transition=True))
        old = session.exec(
            select(Thumbnail.id)
            .where(Thumbnail.camera_id == camera_id, Thumbnail.at_transition == True)  # noqa: E712
            .order_by(Thumbnail.at.desc())  # type: ignore[attr-defined]
            .offset(THUMBNAIL_HISTORY)
        ).all()
        if old:
            session.execute(sa.delete(Thumbnail).where(Thumbnail.id.in_(old)))  # type: ignore[union-attr]


def prune_checks(
    session: Session,
    older_than: dt.datetime,
    batch: int = 5000,
    *,
    camera_id: str | None = None,
    newer_than: dt.datetime | None = None,
) -> int:
    """Delete check rows older than *older_than*, in bounded batches (each committed). With *camera_id*
    only that camera's, with *newer_than* only those at or after it: the rollup worker deletes one
    camera-hour at a time, in the transaction that wrote its rollup (camsvc/rollup/worker.py). Returns rows
    deleted."""
    where = [Check.at < older_than]
    if camera_id is not None:
        where.append(Check.camera_id == camera_id)
    if newer_than is not None:
        where.append(Check.at >= newer_than)
    total = 0
    for _ in range(1000):  # bounded: at most 1000 batches per call
        ids = session.exec(select(Check.id).where(*where).limit(batch)).all()
        if not ids:
            break
        session.execute(sa.delete(Check).where(Check.id.in_(ids)))  # type: ignore[union-attr]
        session.commit()
        total += len(ids)
    return total
