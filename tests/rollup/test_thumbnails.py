"""Thumbnails stay bounded whatever the number of checks: one latest row per camera updated in place, and
at most THUMBNAIL_HISTORY rows kept at state changes (real SQLite, the real recording path)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, func, select

from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.enums import ErrorClass
from camsvc.health.outages import THUMBNAIL_HISTORY, record_check
from camsvc.health.state import Observation, Thresholds
from camsvc.models import Camera, Check, Thumbnail
from camsvc.probing.result import ProbeResult
from camsvc.runtime.checks import CheckProcessor
from camsvc.runtime.scheduler import camera_entries

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


def _ok(at: dt.datetime, jpeg: bytes) -> ProbeResult:
    return ProbeResult(url="rtsp://127.0.0.1:9/c1", ok=True, started_at=at.timestamp(), thumbnail_jpeg=jpeg)


def _bad(at: dt.datetime) -> ProbeResult:
    return ProbeResult(
        url="rtsp://127.0.0.1:9/c1", ok=False, error=ErrorClass.REFUSED, started_at=at.timestamp()
    )


def _latest(engine: object) -> tuple[bytes, dt.datetime, int]:
    with Session(engine) as s:  # type: ignore[arg-type]
        row = s.exec(select(Thumbnail).where(Thumbnail.at_transition == False)).one()  # noqa: E712
        at_change = Thumbnail.at_transition == True  # noqa: E712
        history = s.exec(select(func.count()).select_from(Thumbnail).where(at_change)).one()
        return row.jpeg, row.at.replace(tzinfo=dt.UTC), history


def test_the_latest_picture_is_replaced_once_per_refresh_period_and_at_every_state_change(
    settings: Settings, engine: object
) -> None:
    settings.checks.thumbnail_refresh_s = 300
    with Session(engine) as s:  # type: ignore[arg-type]
        s.add(Camera(id="c1", name="c1", kind="roadside", hamlet="X", main_url="rtsp://127.0.0.1:9/c1"))
        s.commit()
        cam = camera_entries(s, 60.0)["c1"]
    proc = CheckProcessor(settings, engine)  # type: ignore[arg-type]
    t = [T0 + dt.timedelta(minutes=i) for i in range(12)]
    stored = [proc.process(cam, _ok(t[0], b"p0")).thumbnail_stored]  # the first (unknown -> up): stored
    assert _latest(engine) == (b"p0", t[0], 1)
    for i in range(1, 5):  # within the period: the stored picture stays, nothing is written
        stored.append(proc.process(cam, _ok(t[i], b"p%d" % i)).thumbnail_stored)
    assert stored == [True, False, False, False, False]
    assert _latest(engine) == (b"p0", t[0], 1)
    assert proc.process(cam, _ok(t[5], b"p5")).thumbnail_stored  # 300 s after the stored one
    assert _latest(engine) == (b"p5", t[5], 1)
    proc.process(cam, _bad(t[6]))
    proc.process(cam, _bad(t[7]))  # down: a failed check has no picture
    assert proc.process(cam, _ok(t[8], b"p8")).thumbnail_stored  # down -> up within the period: kept
    assert _latest(engine) == (b"p8", t[8], 2)
    assert not proc.process(cam, _ok(t[9], b"p9")).thumbnail_stored
    # a fault seen (not yet a state change) or gone replaces the picture within the period
    assert proc._thumbnail_due("c1", t[10], ("covered",))
    assert not proc._thumbnail_due("c1", t[10], ())
    settings.checks.thumbnail_refresh_s = 0  # every check
    assert proc.process(cam, _ok(t[10], b"p10")).thumbnail_stored
    assert proc.process(cam, _ok(t[11], b"p11")).thumbnail_stored
    assert _latest(engine) == (b"p11", t[11], 2)
