"""What the API, the CLI and the dashboard show of recording: one camera's timeline, the storage."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, col, select

from camsvc.models import Camera
from camsvc.recording.index import gaps, held_ids, merge, segments_between, usage
from camsvc.recording.models import RecorderStatus
from camsvc.recording.policy import effective_mode, effective_stream
from camsvc.recording.retention import disk_usage, floor_bytes

MERGE_TOLERANCE_S = 1.0


def iso(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def status_dict(st: RecorderStatus | None) -> dict[str, Any]:
    if st is None:
        return {"running": False, "since": None, "last_segment_end": None, "restarts": 0, "last_error": None}
    return {
        "running": st.running,
        "since": iso(st.since),
        "last_segment_end": iso(st.last_segment_end),
        "restarts": st.restarts,
        "last_error": st.last_error,
    }


def camera_timeline(
    session: Session, settings: Any, camera: Camera, start: dt.datetime, end: dt.datetime
) -> dict[str, Any]:
    """CONTRACTS ``GET /api/cameras/{id}/recording``: runs of kept segments (held or not), gaps, holds."""
    from camsvc.cases.models import Case, CaseClip

    rows = segments_between(session, camera.id, start, end)
    held = held_ids(session, [s.id for s in rows if s.id is not None])
    runs: list[dict[str, Any]] = []
    for flag in (False, True):
        part = [s for s in rows if (s.id in held) is flag]
        for s_, e_ in merge([(s.start, s.end) for s in part], MERGE_TOLERANCE_S):
            size = sum(s.size for s in part if s.start >= s_ and s.end <= e_)
            runs.append({"start": iso(s_), "end": iso(e_), "size": size, "held": flag})
    runs.sort(key=lambda r: str(r["start"]))
    holes = gaps(
        [(s.start, s.end) for s in rows], start, min(end, dt.datetime.now(dt.UTC)), MERGE_TOLERANCE_S
    )
    clips = session.exec(
        select(CaseClip, Case)
        .join(Case, col(Case.id) == col(CaseClip.case_id))
        .where(
            CaseClip.camera_id == camera.id,
            col(CaseClip.start) < end,
            col(CaseClip.end) > start,
            col(Case.held) == True,  # noqa: E712
        )
        .order_by(col(CaseClip.start))
    ).all()
    u = usage(session, [camera.id]).get(camera.id)
    return {
        "camera_id": camera.id,
        "mode": effective_mode(camera, settings).value,
        "stream": effective_stream(camera, settings),
        "status": status_dict(session.get(RecorderStatus, camera.id)),
        "segments": runs,
        "gaps": [{"start": iso(a), "end": iso(b)} for a, b in holes],
        "held": [{"start": iso(c.start), "end": iso(c.end), "case_id": k.id} for c, k in clips],
        "mb_per_hour": round(u.mb_per_hour, 2) if u and u.mb_per_hour is not None else None,
        "days_kept": round(u.days_kept, 3) if u and u.days_kept is not None else None,
        "bytes": u.bytes if u else 0,
    }


def storage(session: Session, settings: Any, camera_ids: list[str] | None = None) -> dict[str, Any]:
    """CONTRACTS ``GET /api/recording/storage``. ``camera_ids`` limits the per-camera list (scope)."""
    root = settings.recording_dir
    total, free = disk_usage(root)
    rec = settings.recording
    floor = floor_bytes(total, rec.min_free_bytes, rec.min_free_fraction)
    per = usage(session, camera_ids)
    names = {c.id: c.name for c in session.exec(select(Camera).where(col(Camera.id).in_(list(per))))}
    write_errors = 0
    for st in session.exec(select(RecorderStatus)):
        if (
            st.last_error
            and st.last_error.startswith("write failed")
            and st.last_error_at
            and (st.last_segment_end is None or st.last_error_at > st.last_segment_end)
        ):
            write_errors += 1
    return {
        "dir": str(root),
        "total_bytes": total,
        "free_bytes": free,
        "floor_bytes": floor,
        "used_bytes": sum(u.bytes for u in usage(session).values()),
        "floor_ok": free >= floor,
        "write_errors": write_errors,
        "cameras": [
            {
                "camera_id": cid,
                "name": names.get(cid, cid),
                "bytes": u.bytes,
                "mb_per_hour": round(u.mb_per_hour, 2) if u.mb_per_hour is not None else None,
                "days_kept": round(u.days_kept, 3) if u.days_kept is not None else None,
                "oldest": iso(u.oldest),
                "newest": iso(u.newest),
            }
            for cid, u in sorted(per.items())
        ],
    }
