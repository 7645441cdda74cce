"""The segment index: queries over ``Segment`` and pure interval arithmetic (gaps) on top of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from camsvc.recording.models import Segment

Interval = tuple[dt.datetime, dt.datetime]


def held_condition() -> Any:
    """SQL condition on ``Segment``: true when a CaseClip of the same camera overlaps the segment
    ([start, end) against [clip.start, clip.end)) and the clip's Case is held (CONTRACTS "Hold")."""
    from camsvc.cases.models import Case, CaseClip

    return sa.exists(
        sa.select(1)
        .select_from(CaseClip)
        .join(Case, col(Case.id) == col(CaseClip.case_id))
        .where(
            col(CaseClip.camera_id) == col(Segment.camera_id),
            col(CaseClip.start) < col(Segment.end),
            col(CaseClip.end) > col(Segment.start),
            col(Case.held) == sa.true(),
        )
    )


def segments_between(session: Session, camera_id: str, start: dt.datetime, end: dt.datetime) -> list[Segment]:
    """The camera's segments overlapping [start, end), ordered by start."""
    stmt = (
        select(Segment)
        .where(Segment.camera_id == camera_id, col(Segment.start) < end, col(Segment.end) > start)
        .order_by(col(Segment.start))
    )
    return list(session.exec(stmt).all())


def held_ids(session: Session, ids: Iterable[int]) -> set[int]:
    wanted = list(ids)
    if not wanted:
        return set()
    stmt = select(Segment.id).where(col(Segment.id).in_(wanted), held_condition())
    return {int(i) for i in session.exec(stmt).all() if i is not None}


def merge(intervals: Iterable[Interval], tolerance_s: float = 0.0) -> list[Interval]:
    """Sorted, merged runs; intervals closer than *tolerance_s* join."""
    tol = dt.timedelta(seconds=tolerance_s)
    out: list[list[dt.datetime]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1] + tol:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def gaps(
    intervals: Iterable[Interval], start: dt.datetime, end: dt.datetime, tolerance_s: float = 1.0
) -> list[Interval]:
    """The parts of [start, end) no interval covers; holes shorter than *tolerance_s* (timestamp jitter
    between consecutive segments) are not gaps. Pure."""
    if end <= start:
        return []
    tol = dt.timedelta(seconds=tolerance_s)
    out: list[Interval] = []
    cursor = start
    for s, e in merge(intervals, tolerance_s):
        if e <= cursor:
            continue
        if s >= end:
            break
        if s - cursor > tol:
            out.append((cursor, min(s, end)))
        cursor = max(cursor, e)
    if end - cursor > tol:
        out.append((cursor, end))
    return out


@dataclass
class CameraUsage:
    camera_id: str
    bytes: int
    seconds: float
    oldest: dt.datetime | None
    newest: dt.datetime | None

    @property
    def mb_per_hour(self) -> float | None:
        return self.bytes / 1e6 / (self.seconds / 3600) if self.seconds > 0 else None

    @property
    def days_kept(self) -> float | None:
        if self.oldest is None or self.newest is None:
            return None
        return (self.newest - self.oldest).total_seconds() / 86400


def usage(session: Session, camera_ids: Sequence[str] | None = None) -> dict[str, CameraUsage]:
    """Per camera: bytes kept, seconds recorded, oldest start and newest end."""
    stmt = sa.select(
        col(Segment.camera_id),
        sa.func.sum(Segment.size),
        sa.func.sum(Segment.duration_s),
        sa.func.min(Segment.start),
        sa.func.max(Segment.end),
    ).group_by(col(Segment.camera_id))
    if camera_ids is not None:
        stmt = stmt.where(col(Segment.camera_id).in_(list(camera_ids)))
    out = {}
    from camsvc.models import UTCDateTime

    conv = UTCDateTime()
    for cid, size, secs, oldest, newest in session.execute(stmt).all():
        out[cid] = CameraUsage(
            camera_id=cid,
            bytes=int(size or 0),
            seconds=float(secs or 0.0),
            oldest=_aware(conv, oldest),
            newest=_aware(conv, newest),
        )
    return out


def _aware(conv: Any, v: Any) -> dt.datetime | None:
    if v is None:
        return None
    if isinstance(v, str):
        v = dt.datetime.fromisoformat(v)
    result: dt.datetime | None = conv.process_result_value(v, None)
    return result


def bytes_per_hour(session: Session, camera_id: str, now: dt.datetime) -> float | None:
    """Bytes per hour of recording over the last hour of segments."""
    since = now - dt.timedelta(hours=1)
    row = session.execute(
        sa.select(sa.func.sum(Segment.size), sa.func.sum(Segment.duration_s)).where(
            col(Segment.camera_id) == camera_id, col(Segment.end) > since
        )
    ).one()
    size, secs = row
    if not secs:
        return None
    return float(size or 0) * 3600.0 / float(secs)
