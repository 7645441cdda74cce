"""Thumbnails stay bounded whatever the number of checks: one latest row per camera updated in place, and
at most THUMBNAIL_HISTORY rows kept at state changes (real SQLite, the real recording path)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, func, select

from camsvc.db import session_scope
from camsvc.health.outages import THUMBNAIL_HISTORY, record_check
from camsvc.health.state import Observation, Thresholds
from camsvc.models import Camera, Check, Thumbnail

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def test_many_checks_and_flaps_leave_a_bounded_number_of_thumbnails(engine: object) -> None:
    with session_scope(engine) as s:  # type: ignore[arg-type]
        for cid in ("c1", "c2"):
            s.add(Camera(id=cid, name=cid, kind="roadside", main_url=f"rtsp://127.0.0.1:9/{cid}"))
    n = 120
    with Session(engine) as s:  # type: ignore[arg-type]
        for i in range(n):
            at = T0 + dt.timedelta(minutes=i)
            for cid in ("c1", "c2"):
                # c1 flaps (2 failures, 2 good: a state change every few checks), c2 always good
                good = cid == "c2" or i % 4 < 2
                record_check(
                    s,
                    Check(camera_id=cid, at=at, ok=good, error=None if good else "refused"),
                    Observation(at=at, ok=good, error=None if good else "refused"),
                    Thresholds(fail=2, recover=1),
                    thumbnail_jpeg=b"\xff\xd8" + i.to_bytes(2, "big"),
                )
            s.commit()
        rows = {
            cid: (
                s.exec(select(func.count()).select_from(Thumbnail).where(Thumbnail.camera_id == cid)).one(),
                s.exec(
                    select(Thumbnail.jpeg).where(Thumbnail.camera_id == cid, Thumbnail.at_transition == False)  # noqa: E712
                ).all(),
            )
            for cid in ("c1", "c2")
        }
    # c1 changed state far more often than the cap: the latest row plus the capped history
    assert rows["c1"][0] == 1 + THUMBNAIL_HISTORY
    # c2: the first check (unknown -> up) is its only change: latest + one
    assert rows["c2"][0] == 2
    # the latest row holds the last picture (updated in place, not a new row per check)
    assert rows["c1"][1] == [b"\xff\xd8" + (n - 1).to_bytes(2, "big")] == rows["c2"][1]
