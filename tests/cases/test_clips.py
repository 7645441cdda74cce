"""Clips from real recorded segments (remux with PyAV) and the pure parts (gaps, playback URLs)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from fractions import Fraction
from pathlib import Path

import av
import pytest
from sqlalchemy.engine import Engine

from camsvc.cases import clips
from camsvc.cases.models import Case, CaseClip
from camsvc.config import DEFAULT_PLAYBACK, Settings
from camsvc.db import session_scope
from camsvc.models import Camera
from tests.cases.conftest import FPS, Recorded

T = dt.datetime(2026, 12, 1, 14, 10, tzinfo=dt.UTC)


def s(sec: float) -> dt.datetime:
    return T + dt.timedelta(seconds=sec)


def _cam(vendor: str, url: str = "rtsp://10.0.0.5:8554/Streaming/Channels/101") -> Camera:
    return Camera(id="h1", name="h1", kind="household", vendor=vendor, main_url=url)


def test_playback_urls() -> None:
    start, end = s(0), s(30 * 60)
    hik = clips.playback_url(_cam("Hikvision"), DEFAULT_PLAYBACK, start, end)
    assert (
        hik == "rtsp://10.0.0.5:8554/Streaming/tracks/101?starttime=20261201T141000Z&endtime=20261201T144000Z"
    )
    sub = clips.playback_url(_cam("hikvision"), DEFAULT_PLAYBACK, start, end, stream="sub")
    assert sub and "/tracks/102?" in sub
    dahua = clips.playback_url(
        _cam("Dahua", "rtsp://10.0.0.6/cam/realmonitor?channel=1&subtype=0"), DEFAULT_PLAYBACK, start, end
    )
    assert dahua == (
        "rtsp://10.0.0.6:554/cam/playback?channel=1&subtype=0&starttime=2026_12_01_21_10_00&endtime=2026_12_01_21_40_00"
    )
    assert clips.playback_url(_cam("Imou"), DEFAULT_PLAYBACK, start, end) is None
    assert clips.playback_url(_cam(""), DEFAULT_PLAYBACK, start, end) is None
    custom = {
        "acme": {
            "template": "rtsp://{host}:{port}/replay?from={start}&to={end}",
            "time_format": "%Y%m%d%H%M%S",
        }
    }
    assert clips.playback_url(_cam("ACME"), custom, start, end) == (
        "rtsp://10.0.0.5:8554/replay?from=20261201141000&to=20261201144000"
    )
    odd = clips.playback_url(_cam("hikvision"), DEFAULT_PLAYBACK, s(0.4), s(9.2))
    assert odd and "starttime=20261201T141000Z&endtime=20261201T141010Z" in odd  # floor / ceil to seconds
    with pytest.raises(clips.ClipError, match="placeholders"):
        clips.playback_url(_cam("acme"), {"acme": {"template": "rtsp://{host}/{nope}"}}, start, end)


def _packets(path: Path) -> list[tuple[Fraction, bool]]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return [(p.pts * v.time_base, p.is_keyframe) for p in c.demux(v) if p.dts is not None]


def _files(settings: Settings, rec: Recorded) -> list[clips.SegmentFile]:
    return [
        clips.SegmentFile(settings.recording_dir / g.path, g.path, g.start, g.end, g.sha256, g.size)
        for g in rec.segments
    ]


def test_remux_starts_at_keyframe_before_and_ends_after(
    settings: Settings, recorded: Recorded, tmp_path: Path
) -> None:
    t0 = recorded.t0
    start, end = t0 + dt.timedelta(seconds=5.3), t0 + dt.timedelta(seconds=25.1)
    out = tmp_path / "clip.mp4"
    w = clips.remux_recorded(_files(settings, recorded), start, end, out)
    assert w.actual_start == t0 + dt.timedelta(seconds=4)  # keyframes every 2 s: the one at 4 s
    assert w.actual_start <= start and start - w.actual_start <= dt.timedelta(seconds=2)
    last = w.actual_end - dt.timedelta(seconds=1 / FPS)
    assert last >= end and last - end < dt.timedelta(seconds=1 / FPS)  # the first packet at/after the end
    pk = _packets(out)
    assert pk[0] == (0, True)
    assert len(pk) == round((25.2 - 4.0) * FPS) + 1
    steps = {b[0] - a[0] for a, b in zip(pk, pk[1:], strict=False)}
    assert steps == {Fraction(1, FPS)}  # continuous across the segment boundaries at 10 s and 20 s
    assert [g.rel for g in w.used] == [g.path for g in recorded.segments[:3]]
    with av.open(str(out)) as c:  # decodable from its first packet, +faststart: moov before mdat
        frame = next(c.decode(video=0))
        assert frame.width == 640 and frame.key_frame
    head = out.read_bytes()[:200_000]
    assert head.find(b"moov") < head.find(b"mdat")


def test_remux_across_a_gap_keeps_real_time(settings: Settings, recorded: Recorded, tmp_path: Path) -> None:
    t0 = recorded.t0
    start, end = t0 + dt.timedelta(seconds=26), t0 + dt.timedelta(seconds=40)
    w = clips.remux_recorded(_files(settings, recorded)[2:], start, end, tmp_path / "c.mp4")
    assert w.actual_start == t0 + dt.timedelta(seconds=26)
    pk = [float(t) for t, _ in _packets(tmp_path / "c.mp4")]
    jump = max(b - a for a, b in zip(pk, pk[1:], strict=False))
    assert jump == pytest.approx(36 - 29.8, abs=0.01)  # the 6 s hole is a jump in time, not a pause
    assert pk[-1] == pytest.approx(40 - 26)


def _case_clip(engine: Engine, camera_id: str, start: dt.datetime, end: dt.datetime) -> int:
    with session_scope(engine) as s:
        case = Case(number=f"T/{start.timestamp()}", title="t", created_by="officer")
        s.add(case)
        s.flush()
        clip = CaseClip(case_id=case.id or 0, camera_id=camera_id, start=start, end=end, added_by="officer")
        s.add(clip)
        s.flush()
        return int(clip.id or 0)


def test_materialise_recorded_lists_gaps_and_hashes(
    engine: Engine, settings: Settings, recorded: Recorded
) -> None:
    t0 = recorded.t0
    start, end = t0 + dt.timedelta(seconds=15), t0 + dt.timedelta(seconds=44)
    cid = _case_clip(engine, recorded.camera_id, start, end)
    assert clips.materialise(engine, settings, cid) == "ready"
    with session_scope(engine) as s:
        clip = s.get(CaseClip, cid)
        assert clip is not None and clip.path and clip.sha256
        f = settings.cases_dir / clip.path
        assert f.parent == settings.cases_dir / str(clip.case_id)
        assert hashlib.sha256(f.read_bytes()).hexdigest() == clip.sha256 and clip.size == f.stat().st_size
        assert clip.source == "recorded" and clip.actual_start == t0 + dt.timedelta(seconds=14)
        gaps = json.loads(clip.gaps_json or "[]")
        assert gaps == [
            {
                "start": clips.iso(t0 + dt.timedelta(seconds=30)),
                "end": clips.iso(t0 + dt.timedelta(seconds=36)),
            }
        ]
        segs = json.loads(clip.segments_json or "[]")
        assert [g["sha256"] for g in segs] == [g.sha256 for g in recorded.segments[1:]]


def test_materialise_gap_at_the_start(engine: Engine, settings: Settings, recorded: Recorded) -> None:
    t0 = recorded.t0
    start, end = t0 - dt.timedelta(seconds=20), t0 + dt.timedelta(seconds=5)
    cid = _case_clip(engine, recorded.camera_id, start, end)
    assert clips.materialise(engine, settings, cid) == "ready"
    with session_scope(engine) as s:
        clip = s.get(CaseClip, cid)
        assert clip is not None and clip.actual_start == t0
        assert json.loads(clip.gaps_json or "[]") == [{"start": clips.iso(start), "end": clips.iso(t0)}]


def test_no_template_is_no_source(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as s:
        s.add(
            Camera(
                id="hh-1", name="nhà ông A", kind="household", vendor="Imou", main_url="rtsp://127.0.0.1:9/x"
            )
        )
    now = dt.datetime.now(dt.UTC)
    cid = _case_clip(engine, "hh-1", now - dt.timedelta(minutes=10), now - dt.timedelta(minutes=9))
    assert clips.materialise(engine, settings, cid) == "no_source"
    with session_scope(engine) as s:
        clip = s.get(CaseClip, cid)
        assert clip is not None and clip.source == "device" and "no playback template" in (clip.detail or "")
        assert "'Imou'" in (clip.detail or "")


def test_a_range_still_being_recorded_waits_for_its_segments(
    engine: Engine, settings: Settings, segment_files: list[Path]
) -> None:
    import threading

    from tests.cases.conftest import index_segments
    from tests.utils.waiting import wait_for

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    t0 = now - dt.timedelta(seconds=40)
    with session_scope(engine) as s:
        s.add(Camera(id="cam-live", name="live", kind="roadside", main_url="rtsp://127.0.0.1:9/x"))
    cid = _case_clip(engine, "cam-live", now - dt.timedelta(seconds=12), now)
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(clips.materialise(engine, settings, cid)))
    worker.start()

    def detail() -> str:
        with session_scope(engine) as s:
            clip = s.get(CaseClip, cid)
            return (clip.detail or "") if clip else ""

    wait_for(lambda: "waiting for the recording" in detail(), 20, "the clip to wait", detail)
    index_segments(engine, settings, segment_files, t0, "cam-live")  # the recorder closes its segments
    worker.join(timeout=30)
    assert result == ["ready"]
    with session_scope(engine) as s:
        clip = s.get(CaseClip, cid)
        assert clip is not None and clip.source == "recorded" and clip.detail is None
        assert json.loads(clip.gaps_json or "[]") == [
            {
                "start": clips.iso(t0 + dt.timedelta(seconds=30)),
                "end": clips.iso(t0 + dt.timedelta(seconds=36)),
            }
        ]


def test_a_changed_segment_fails_the_clip(engine: Engine, settings: Settings, recorded: Recorded) -> None:
    seg = recorded.segments[1]
    f = settings.recording_dir / seg.path
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))
    t0 = recorded.t0
    cid = _case_clip(engine, recorded.camera_id, t0 + dt.timedelta(seconds=5), t0 + dt.timedelta(seconds=15))
    assert clips.materialise(engine, settings, cid) == "failed"
    with session_scope(engine) as s:
        clip = s.get(CaseClip, cid)
        assert clip is not None and clip.path is None
        assert f"segment {seg.path} changed on disk" in (clip.detail or "")
