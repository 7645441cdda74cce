"""Retention and the free-space floor: a pure planner, and the worker applying it.

The plan (no I/O): every unheld segment older than its camera's retention goes; then, while the disk's
free space is under the floor (``max(min_free_bytes, min_free_fraction * total)``), the oldest unheld
segments go, across all cameras, oldest end first. A held segment (a case's evidence lock) never goes;
when only held segments are left and the floor is still not kept, the plan says so (``floor_unmet``) and
the worker alerts the admins.

The worker deletes the file first, then the row (a crash between leaves a row whose file is gone, which a
later pass removes; never a file nobody indexes... except a recorder's partial file, which recovery
indexes).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Item:
    id: int
    camera_id: str
    end: dt.datetime
    size: int
    held: bool


@dataclass
class Plan:
    delete: list[int] = field(default_factory=list)
    by_retention: int = 0
    by_pressure: int = 0
    freed_bytes: int = 0
    floor_unmet: bool = False
    free_after: int = 0


def floor_bytes(total: int, min_free_bytes: int, min_free_fraction: float) -> int:
    return max(int(min_free_bytes), int(min_free_fraction * total))


def plan(
    items: Sequence[Item],
    retention_days: dict[str, float],
    now: dt.datetime,
    free_bytes: int,
    floor: int,
    default_days: float = 14.0,
) -> Plan:
    """Which segments to delete (ids, in order) and whether the floor stays unmet. Pure."""
    out = Plan()
    ordered = sorted(items, key=lambda i: (i.end, i.id))
    gone: set[int] = set()
    for it in ordered:
        days = retention_days.get(it.camera_id, default_days)
        if not it.held and it.end < now - dt.timedelta(days=days):
            out.delete.append(it.id)
            gone.add(it.id)
            out.by_retention += 1
            out.freed_bytes += it.size
    free = free_bytes + out.freed_bytes
    for it in ordered:
        if free >= floor:
            break
        if it.held or it.id in gone:
            continue
        out.delete.append(it.id)
        gone.add(it.id)
        out.by_pressure += 1
        out.freed_bytes += it.size
        free += it.size
    out.free_after = free
    out.floor_unmet = free < floor
    return out


def disk_usage(path: Path) -> tuple[int, int]:
    """(total, free) bytes of the filesystem holding *path* (its nearest existing parent)."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    du = shutil.disk_usage(p)
    return du.total, du.free


@dataclass
class PassResult:
    deleted: list[str] = field(default_factory=list)  # relative paths
    by_retention: int = 0
    by_pressure: int = 0
    freed_bytes: int = 0
    floor_unmet: bool = False
    free_bytes: int = 0
    floor_bytes: int = 0
    errors: list[str] = field(default_factory=list)


def cleanup_pass(
    settings: Any, engine: Engine, now: dt.datetime | None = None, disk: tuple[int, int] | None = None
) -> PassResult:
    """One retention + floor pass: plan, then delete file then row, never a held segment."""
    from camsvc.models import Camera
    from camsvc.recording.index import held_ids
    from camsvc.recording.models import Segment
    from camsvc.recording.policy import retention_days

    now = now or dt.datetime.now(dt.UTC)
    root = settings.recording_dir
    total, free = disk if disk is not None else disk_usage(root)
    rec = settings.recording
    floor = floor_bytes(total, rec.min_free_bytes, rec.min_free_fraction)
    with Session(engine) as session:
        days = {c.id: retention_days(c, settings) for c in session.exec(select(Camera))}
        rows = session.exec(
            select(Segment.id, Segment.camera_id, Segment.end, Segment.size).order_by(col(Segment.end))
        ).all()
        held = held_ids(session, [r[0] for r in rows if r[0] is not None])
    items = [Item(int(i), c, e, int(s), int(i) in held) for i, c, e, s in rows if i is not None]
    p = plan(items, days, now, free, floor)
    result = PassResult(floor_unmet=p.floor_unmet, floor_bytes=floor, free_bytes=free)
    by_id = {it.id: it for it in items}
    for chunk in _chunks(p.delete, 200):
        with Session(engine) as session:
            segs = session.exec(select(Segment).where(col(Segment.id).in_(chunk))).all()
            # re-check the hold at the moment of deleting: a clip may have been added since planning
            still_held = held_ids(session, [s.id for s in segs if s.id is not None])
            for seg in segs:
                if seg.id in still_held:
                    continue
                path = root / seg.path
                try:
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    result.errors.append(f"{seg.path}: {exc}")
                    continue
                _prune_dirs(path.parent, root)
                session.delete(seg)
                result.deleted.append(seg.path)
                result.freed_bytes += by_id[seg.id].size if seg.id in by_id else seg.size
            session.commit()
    result.by_retention, result.by_pressure = p.by_retention, p.by_pressure
    if result.deleted:
        log.info(
            "recording cleanup: deleted %d segments (%d past retention, %d for the free-space floor), %.1f MB",
            len(result.deleted),
            p.by_retention,
            p.by_pressure,
            result.freed_bytes / 1e6,
        )
    return result


def _chunks(ids: list[int], n: int) -> Iterable[list[int]]:
    for i in range(0, len(ids), n):
        yield ids[i : i + n]


def _prune_dirs(d: Path, root: Path) -> None:
    """Remove emptied hour/day/camera directories up to (not including) the root."""
    root = root.resolve()
    d = d.resolve()
    while d != root and root in d.parents:
        try:
            os.rmdir(d)
        except OSError:
            return
        d = d.parent


class RetentionWorker:
    """Runs :func:`cleanup_pass` every ``recording.cleanup_interval_s``; alerts admins when the floor
    cannot be kept."""

    def __init__(self, settings: Any, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recording-retention", daemon=True)
        self.last: PassResult | None = None

    def start(self) -> None:
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        interval = float(self.settings.recording.cleanup_interval_s)
        while not self._stop.is_set():
            try:
                self.last = cleanup_pass(self.settings, self.engine)
                if self.last.floor_unmet:
                    self._alert(self.last)
            except Exception:
                log.exception("recording cleanup failed")
            if self._stop.wait(interval):
                return

    def _alert(self, r: PassResult) -> None:
        from camsvc.alerts.system import queue_system_alert

        log.warning(
            "recording: free space %.1f GB is under the floor %.1f GB and only held segments are left",
            r.free_bytes / 1e9,
            r.floor_bytes / 1e9,
        )
        queue_system_alert(
            self.engine,
            self.settings,
            problem="recording_floor",
            text_vi=f"Ổ ghi hình sắp đầy: còn trống {r.free_bytes / 1e9:.1f} GB, dưới mức tối thiểu "
            f"{r.floor_bytes / 1e9:.1f} GB; chỉ còn các đoạn đang được giữ cho vụ việc.",
            text_en=f"Recording disk nearly full: {r.free_bytes / 1e9:.1f} GB free, under the "
            f"{r.floor_bytes / 1e9:.1f} GB floor; only segments held by cases are left.",
        )
