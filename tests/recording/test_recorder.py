"""The real recorder (worker processes + supervisor) against the real simulator, on a real SQLite index."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from camsvc.alerts.models import Contact, ContactChannel, OutboxMessage
from camsvc.alerts.system import queue_system_alert
from camsvc.cameras import import_cameras
from camsvc.cases.models import Case, CaseClip
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.recording.index import gaps, segments_between
from camsvc.recording.models import RecorderStatus, Segment
from camsvc.recording.retention import cleanup_pass
from camsvc.recording.supervisor import RecorderSupervisor
from camsvc.simulate.harness import Simulator
from tests.utils.service import migrated_engine
from tests.utils.waiting import wait_for

pytestmark = pytest.mark.slow
CAM = "cam-001"


def segs(engine: Engine, camera_id: str = CAM) -> list[Segment]:
    with Session(engine) as s:
        return list(
            s.exec(select(Segment).where(Segment.camera_id == camera_id).order_by(col(Segment.start)))
        )


@pytest.fixture(scope="module")
def rec_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("rec") / "data",
        recording={"segment_s": 6, "stall_s": 30, "restart_backoff_max_s": 2, "stream": "sub"},
    )


@pytest.fixture(scope="module")
def rec_engine(rec_settings: Settings, sim: Simulator) -> Iterator[Engine]:
    with migrated_engine(rec_settings) as eng:
        with session_scope(eng) as s:
            import_cameras(s, sim.fleet_csv.read_bytes(), "csv")
        yield eng


@pytest.fixture(scope="module")
def supervisor(rec_settings: Settings, rec_engine: Engine) -> Iterator[RecorderSupervisor]:
    sup = RecorderSupervisor(rec_settings, rec_engine)
    sup.start()
    try:
        yield sup
    finally:
        sup.stop(10)


def test_household_is_not_recorded_by_default(supervisor: RecorderSupervisor, sim: Simulator) -> None:
    household = [c.id for c in sim.fleet if c.kind == "household"]
    assert household and supervisor.stats()["cameras"] == 2
    assert not any((supervisor.root / h).exists() for h in household)


def test_segments_have_wall_clock_utc_and_hashes(
    supervisor: RecorderSupervisor, rec_engine: Engine, sim: Simulator
) -> None:
    t0 = dt.datetime.now(dt.UTC)
    wait_for(lambda: len(segs(rec_engine)) >= 3, 60, "three segments of cam-001", lambda: segs(rec_engine))
    rows = segs(rec_engine)
    first, last = rows[0], rows[-1]
    # the first packet arrived after the supervisor started, and not much later
    assert t0 - dt.timedelta(seconds=20) < first.start < t0 + dt.timedelta(seconds=15)
    for seg in rows:
        assert 5.0 <= seg.duration_s <= 9.0, seg  # cut at the first keyframe (every 2 s) after 6 s
        # closed promptly: the end is the wall clock of the last packet, not later than the row
        assert abs((seg.created_at - seg.end).total_seconds()) < 3.0, seg
        path = supervisor.root / seg.path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == seg.sha256
        assert path.stat().st_size == seg.size
        assert seg.codec == "h264" and seg.keyframes >= 2 and seg.frames > seg.keyframes
        assert seg.path.startswith(f"{CAM}/{seg.start:%Y-%m-%d}/{seg.start:%H}/{CAM}-sub-")
        with av.open(str(path)) as c:
            first_pkt = next(p for p in c.demux(c.streams.video[0]) if p.pts is not None)
            assert first_pkt.pts == 0 and first_pkt.is_keyframe
            assert (c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height) == (
                seg.width,
                seg.height,
            )
    assert gaps([(s.start, s.end) for s in rows], first.start, last.end, 0.5) == []
    with Session(rec_engine) as s:
        assert [x.id for x in segments_between(s, CAM, first.end, last.start)] == [
            x.id for x in rows[1:-1]
        ] or (len(rows) >= 3)
        st = s.get(RecorderStatus, CAM)
        assert st is not None and st.running and st.last_segment_end == max(r.end for r in rows)
        assert st.bytes_per_hour and st.bytes_per_hour > 0


def test_secrets_never_in_ps_files_or_status(
    supervisor: RecorderSupervisor, rec_engine: Engine, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    password = sim.camera(CAM).password
    assert password
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert "camsvc.recording.worker" in ps and password not in ps
    names = [str(p) for p in supervisor.root.rglob("*")]
    assert names and not any(password in n for n in names)
    with Session(rec_engine) as s:
        texts = [repr(x) for x in s.exec(select(RecorderStatus))] + [repr(x) for x in s.exec(select(Segment))]
    assert not any(password in t for t in texts)
    assert password not in caplog.text


def test_worker_killed_is_restarted_and_partial_file_recovered(
    supervisor: RecorderSupervisor, rec_engine: Engine
) -> None:
    wait_for(lambda: segs(rec_engine), 60, "a segment")
    # kill when the open segment holds at least one complete fragment (keyframes every 2 s)
    wait_for(
        lambda: (dt.datetime.now(dt.UTC) - segs(rec_engine)[-1].end).total_seconds() > 3.5,
        30,
        "3.5 s into a segment",
        interval_s=0.1,
    )
    before = {s.path for s in segs(rec_engine)}
    pids = supervisor.worker_pids()
    assert len(pids) == 1
    killed_at = dt.datetime.now(dt.UTC)
    os.kill(pids[0], signal.SIGKILL)
    wait_for(
        lambda: supervisor.worker_pids() and supervisor.worker_pids() != pids,
        30,
        "a new worker",
        supervisor.stats,
    )
    wait_for(
        lambda: any(s.end > killed_at + dt.timedelta(seconds=5) for s in segs(rec_engine) if not s.recovered),
        60,
        "segments again after the restart",
    )
    rows = segs(rec_engine)
    recovered = [s for s in rows if s.recovered and s.path not in before]
    assert len(recovered) == 1, rows
    rec = recovered[0]
    assert rec.start < killed_at < rec.end + dt.timedelta(seconds=3)
    assert (
        rec.duration_s >= 1.5
        and rec.sha256 == hashlib.sha256((supervisor.root / rec.path).read_bytes()).hexdigest()
    )
    holes = gaps([(s.start, s.end) for s in rows], rows[0].start, rows[-1].end, 0.5)
    assert len(holes) == 1 and holes[0][0] == rec.end and holes[0][0] < killed_at + dt.timedelta(seconds=1)
    with Session(rec_engine) as s:
        st = s.get(RecorderStatus, CAM)
        assert st is not None and st.restarts >= 1 and "SIGKILL" in (st.last_error or "")


def test_unreadable_file_moved_aside(supervisor: RecorderSupervisor, rec_engine: Engine) -> None:
    junk = supervisor.root / "cam-002" / "2026-01-01" / "00" / "cam-002-sub-20260101T000000.000Z.mp4"
    junk.parent.mkdir(parents=True, exist_ok=True)
    junk.write_bytes(b"not an mp4 at all")
    assert supervisor.recover(["cam-002"]) == []
    assert not junk.exists() and junk.with_name(junk.name + ".unreadable").exists()


def test_retention_and_floor_never_delete_held(
    supervisor: RecorderSupervisor, rec_settings: Settings, rec_engine: Engine
) -> None:
    wait_for(lambda: len(segs(rec_engine, "cam-002")) >= 3, 60, "three segments of cam-002")
    rows = segs(rec_engine, "cam-002")
    held_seg = rows[1]
    with session_scope(rec_engine) as s:
        case = Case(number="2026/117", title="test", created_by="officer")
        s.add(case)
        s.flush()
        assert case.id is not None
        mid = held_seg.start + (held_seg.end - held_seg.start) / 2
        s.add(
            CaseClip(
                case_id=case.id,
                camera_id="cam-002",
                start=mid,
                end=mid + dt.timedelta(seconds=1),
                added_by="officer",
            )
        )
    # retention: a month later every unheld segment is past its 14 days; the floor is 0
    no_floor = rec_settings.model_copy(
        update={
            "recording": rec_settings.recording.model_copy(
                update={"min_free_bytes": 0, "min_free_fraction": 0}
            )
        }
    )
    result = cleanup_pass(no_floor, rec_engine, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    assert result.by_retention >= 3 and not result.floor_unmet
    left = segs(rec_engine, "cam-002")
    assert held_seg.path in {s.path for s in left}
    assert all(s.start > rows[-1].start or s.path == held_seg.path for s in left)
    for p in result.deleted:
        assert not (rec_settings.recording_dir / p).exists()
    assert (rec_settings.recording_dir / held_seg.path).exists()
    # disk pressure: a floor larger than any disk cannot be kept; everything unheld goes, held stays
    wait_for(lambda: len(segs(rec_engine, "cam-002")) >= 3, 60, "new segments of cam-002")
    huge = rec_settings.model_copy(
        update={"recording": rec_settings.recording.model_copy(update={"min_free_bytes": 1 << 60})}
    )
    result = cleanup_pass(huge, rec_engine)
    assert result.floor_unmet and result.by_pressure >= 2 and result.by_retention == 0
    left_all = [s.path for s in segs(rec_engine, "cam-002")] + [s.path for s in segs(rec_engine)]
    assert left_all == [held_seg.path] or set(left_all) - {held_seg.path} <= _just_closed(rec_engine, result)
    assert (rec_settings.recording_dir / held_seg.path).exists()
    # released: the next pass may delete it
    with session_scope(rec_engine) as s:
        for c in s.exec(select(Case)):
            c.held = False
            s.add(c)
    result = cleanup_pass(huge, rec_engine)
    assert held_seg.path in result.deleted


def _just_closed(engine: Engine, result: Any) -> set[str]:
    """Segments indexed after the pass planned (the recorders keep running)."""
    with Session(engine) as s:
        return {x.path for x in s.exec(select(Segment)) if x.path not in result.deleted}


def test_system_alert_to_technician_and_duty_once_a_day(rec_settings: Settings, rec_engine: Engine) -> None:
    with session_scope(rec_engine) as s:
        for name, role in (("tech", "technician"), ("duty", "duty"), ("owner", "owner")):
            c = Contact(name=name, role=role, language="en" if role == "duty" else "vi")
            s.add(c)
            s.flush()
            s.add(ContactChannel(contact_id=c.id, url="json://127.0.0.1:9/x"))
    kw: dict[str, Any] = dict(problem="recording_floor", text_vi="đầy", text_en="full")
    assert queue_system_alert(rec_engine, rec_settings, **kw) == 2
    assert queue_system_alert(rec_engine, rec_settings, **kw) == 0  # same problem, same day
    with Session(rec_engine) as s:
        msgs = list(s.exec(select(OutboxMessage).where(OutboxMessage.kind == "system")))
    assert sorted(m.contact_name for m in msgs) == ["duty", "tech"]
    assert all(m.incident_id is None and m.status == "pending" for m in msgs)
    assert {m.body for m in msgs} == {"đầy", "full"}


def test_stop_closes_open_segments(supervisor: RecorderSupervisor, rec_engine: Engine) -> None:
    n = len(segs(rec_engine))
    t = time.monotonic()
    supervisor.stop(10)
    assert time.monotonic() - t < 12
    assert len(segs(rec_engine)) > n  # the open segment was closed and indexed
    with Session(rec_engine) as s:
        st = s.get(RecorderStatus, CAM)
        assert st is not None and not st.running
    leftovers = [p for p in Path(supervisor.root).rglob("*.mp4")]
    with Session(rec_engine) as s:
        known = set(s.exec(select(Segment.path)))
    assert all(str(p.relative_to(supervisor.root)) in known for p in leftovers)
