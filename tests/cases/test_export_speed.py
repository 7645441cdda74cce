"""Export speed (the issue's target: 10 minutes from 3 cameras under 5 s) on real 720p 1 Mbit/s segments."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from camsvc.cases import clips, jobs
from camsvc.cases.models import Case, CaseClip, ExportJob
from camsvc.cases.verify import verify_package
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.paths import ffmpeg_exe
from tests.cases import conftest

MINUTES = 10


@pytest.fixture(scope="module")
def long_segments(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("long")
    cmd = [
        ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=5",
        "-t",
        str(MINUTES * 60),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-b:v",
        "1M",
        "-maxrate",
        "1M",
        "-bufsize",
        "2M",
        "-pix_fmt",
        "yuv420p",
        "-bf",
        "0",
        "-x264-params",
        "keyint=10:min-keyint=10:scenecut=0",
        "-f",
        "segment",
        "-segment_time",
        "60",
        "-reset_timestamps",
        "1",
        "-segment_format",
        "mp4",
        "-segment_format_options",
        "movflags=+frag_keyframe+empty_moov+default_base_moof",
        str(d / "s%02d.mp4"),
    ]
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, timeout=600)
    return sorted(d.glob("s*.mp4"))


@pytest.mark.slow
def test_ten_minutes_from_three_cameras(
    engine: Engine, settings: Settings, long_segments: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    t0 = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).replace(microsecond=0)
    monkeypatch.setattr(conftest, "STARTS_S", tuple(60 * i for i in range(len(long_segments))))
    cams = [f"cam-{i}" for i in range(3)]
    for cam in cams:
        conftest.index_segments(engine, settings, long_segments, t0, cam)
    start, end = t0 + dt.timedelta(seconds=1), t0 + dt.timedelta(minutes=MINUTES) - dt.timedelta(seconds=1)
    with session_scope(engine) as s:
        case = Case(number="SPEED/1", created_by="officer")
        s.add(case)
        s.flush()
        rows = [CaseClip(case_id=case.id or 0, camera_id=c, start=start, end=end, added_by="o") for c in cams]
        s.add_all(rows)
        s.flush()
        ids = [int(r.id or 0) for r in rows]
        job = ExportJob(case_id=case.id or 0, requested_by="officer")
        s.add(job)
        s.flush()
        job_id = int(job.id or 0)
    t = time.monotonic()
    assert [clips.materialise(engine, settings, i) for i in ids] == ["ready"] * 3
    remux_s = time.monotonic() - t
    t = time.monotonic()
    done = jobs.run_export(engine, settings, job_id)
    package_s = time.monotonic() - t
    assert done.status == "done", done.error
    pkg = settings.cases_dir / (done.path or "")
    t = time.monotonic()
    rep = verify_package(pkg)
    verify_s = time.monotonic() - t
    assert rep.ok, rep.failures
    mb = (done.size or 0) / 1e6
    print(
        f"\n{MINUTES} min x 3 cameras (720p 1 Mbit/s): remux {remux_s:.2f} s, package {package_s:.2f} s, "
        f"total {remux_s + package_s:.2f} s, {mb:.0f} MB; verify {verify_s:.2f} s = {mb / verify_s:.0f} MB/s"
    )
    # clips are materialised in the background when added: the export job itself is the package step
    assert package_s < 5.0
    assert remux_s + package_s < 8.0  # 4.2 s measured alone on this 2-core machine; margin for shared CPU
