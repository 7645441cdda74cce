"""What the scheduler remembers per camera goes with the camera: a camera that leaves the registry is
dropped from adaptive depth and the check processor's memos, and a camera given another stream URL
starts over with full checks (its usual packets were another stream's)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from camsvc.config import Settings
from camsvc.models import Camera
from camsvc.probing.depth import DepthState


def test_removed_and_re_pointed_cameras_are_forgotten(settings: Settings, engine: Any) -> None:
    from camsvc.runtime.scheduler import CheckScheduler

    with Session(engine) as s:
        for cid in ("c1", "c2", "c3"):
            s.add(Camera(id=cid, name=cid, kind="roadside", hamlet="X", main_url=f"rtsp://127.0.0.1:9/{cid}"))
        s.commit()
    sched = CheckScheduler(settings, engine, None, node="n1")
    sched.refresh()
    long_healthy = DepthState(healthy_streak=50, since_full=1, last_bad=False)
    for cid in ("c1", "c2", "c3"):
        sched._depth.seed(cid, long_healthy)
        sched.processor._thumb[cid] = (dt.datetime.now(dt.UTC), ())
    assert all(not sched._depth.next(cid).full for cid in ("c1", "c2", "c3"))

    with Session(engine) as s:
        c1, c2, c3 = (s.get(Camera, cid) for cid in ("c1", "c2", "c3"))
        assert c1 is not None and c2 is not None and c3 is not None
        c1.main_url = "rtsp://127.0.0.1:9/another"  # another stream
        c3.name = "renamed"  # an edit that keeps the stream
        s.add(c1)
        s.add(c3)
        s.delete(c2)
        s.commit()
    sched.refresh()

    assert sched._depth.next("c1").full, "a camera with another URL starts over with full checks"
    assert not sched._depth.next("c3").full, "an edit that keeps the stream keeps the camera's history"
    assert "c2" not in sched._depth.snapshot()
    assert "c2" not in sched.processor._thumb and "c3" in sched.processor._thumb
