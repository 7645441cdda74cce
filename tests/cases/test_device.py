"""Clips from the camera's own storage against the live simulator: a vendor without a playback template, and a
range the device does not hold (404 on DESCRIBE). The playback end to end (real footage replayed) is the
lead's, once the simulator's playback paths land."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.engine import Engine

from camsvc.cases import clips
from camsvc.cases.models import Case, CaseClip
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.models import Camera, CameraSecret
from tests.utils.simulator import simulator_fixture

sim = simulator_fixture(3, 0)


def _add(engine: Engine, sim: Any, camera_id: str, start: dt.datetime, end: dt.datetime) -> tuple[int, str]:
    f = sim.camera(camera_id)
    with session_scope(engine) as s:
        s.add(
            Camera(
                id=f.id, name=f.name, kind="household", hamlet=f.hamlet, vendor=f.vendor, main_url=f.main_url
            )
        )
        s.add(CameraSecret(camera_id=f.id, username=f.username, password=f.password))
        case = Case(number=f"D/{camera_id}", created_by="officer")
        s.add(case)
        s.flush()
        clip = CaseClip(case_id=case.id or 0, camera_id=f.id, start=start, end=end, added_by="officer")
        s.add(clip)
        s.flush()
        return int(clip.id or 0), f.password


def test_device_without_template(engine: Engine, settings: Settings, sim: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    cid, _ = _add(
        engine, sim, "cam-003", now - dt.timedelta(minutes=2), now - dt.timedelta(minutes=1)
    )  # KBVision
    assert clips.materialise(engine, settings, cid) == "no_source"
    with session_scope(engine) as s:
        clip = s.get(CaseClip, cid)
        assert clip is not None and clip.source == "device"
        assert "no playback template for vendor 'KBVision'" in (clip.detail or "")


def test_device_404_for_a_range_it_does_not_hold(engine: Engine, settings: Settings, sim: Any) -> None:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)  # older than the simulator keeps
    for camera_id in ("cam-001", "cam-002"):  # Hikvision, Dahua
        cid, password = _add(engine, sim, camera_id, start, start + dt.timedelta(seconds=30))
        assert clips.materialise(engine, settings, cid) == "no_source"
        with session_scope(engine) as s:
            clip = s.get(CaseClip, cid)
            assert clip is not None and clip.source == "device" and clip.path is None
            assert "404" in (clip.detail or "") and "no recording for this time range" in (clip.detail or "")
            stored = (clip.segments_json or "") + (clip.detail or "")
            assert password not in stored and "@" not in stored  # the URL kept has no credentials
            assert "starttime=" in (clip.segments_json or "")


def test_fetch_reads_a_live_rtsp_stream_with_credentials(sim: Any, tmp_path: Any) -> None:
    """The fetch path itself (credentials in the URL handed to PyAV only, stream copy, stop after the range)
    against a camera's live stream, standing in for a playback that never ends."""
    import av

    from camsvc.redact import with_credentials

    f = sim.camera("cam-001")
    start = dt.datetime.now(dt.UTC)
    out = tmp_path / "live.mp4"
    w, reason = clips.fetch_device(
        with_credentials(f.main_url, f.username, f.password),
        start,
        start + dt.timedelta(seconds=3),
        out,
        secrets=[f.password],
        budget_s=20,
        tail_s=0,
    )
    assert reason is None and w is not None, reason
    assert w.actual_start == start and w.actual_end >= start + dt.timedelta(seconds=3)
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        pk = [p for p in c.demux(v) if p.dts is not None]
        assert pk[0].is_keyframe and pk[0].pts == 0
        assert float(pk[-1].pts * v.time_base) >= 3.0
    with av.open(str(out)) as c:
        assert next(c.decode(video=0)).width > 0
    bad = f.main_url.replace("://", "://nobody:wrong@")
    try:
        clips.fetch_device(bad, start, start + dt.timedelta(seconds=2), tmp_path / "x.mp4", secrets=["wrong"])
    except clips.ClipError as exc:
        assert "wrong" not in str(exc)
    else:
        raise AssertionError("wrong credentials should fail")
