"""Real recorded segments for clip tests: fragmented MP4 written by the imageio-ffmpeg binary (H.264, 5 fps,
a keyframe every 2 s), cut into 10 s files with pts from 0, indexed as Segment rows with matching UTC ranges.

Layout (seconds from ``T0``): segments [0, 10) [10, 20) [20, 30), a gap, then [36, 46).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import pytest
from sqlalchemy.engine import Engine

from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.models import Camera
from camsvc.paths import ffmpeg_exe
from camsvc.recording.models import Segment

FPS = 5
STARTS_S = (0, 10, 20, 36)  # a 6 s gap between the third and the fourth segment
CAMERA = "cam-rec"


@pytest.fixture(scope="session")
def segment_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("segments")
    cmd = [
        ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size=640x360:rate={FPS}",
        "-t",
        "40",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-bf",
        "0",
        "-x264-params",
        "keyint=10:min-keyint=10:scenecut=0",
        "-f",
        "segment",
        "-segment_time",
        "10",
        "-reset_timestamps",
        "1",
        "-segment_format",
        "mp4",
        "-segment_format_options",
        "movflags=+frag_keyframe+empty_moov+default_base_moof",
        str(d / "s%02d.mp4"),
    ]
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, timeout=120)
    files = sorted(d.glob("s*.mp4"))
    assert len(files) == 4, files
    return files


def frame_count(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for p in c.demux(c.streams.video[0]) if p.dts is not None)


@dataclass
class Recorded:
    t0: dt.datetime
    camera_id: str
    segments: list[Segment]


def index_segments(
    engine: Engine, settings: Settings, files: list[Path], t0: dt.datetime, camera_id: str
) -> Recorded:
    rows = []
    with session_scope(engine) as s:
        if s.get(Camera, camera_id) is None:
            s.add(
                Camera(
                    id=camera_id,
                    name="Ngã tư chợ Bích",
                    kind="roadside",
                    hamlet="Bích",
                    address="QL1A",
                    latitude=21.0,
                    longitude=105.8,
                    main_url="rtsp://127.0.0.1:1/none",
                )
            )
        for f, off in zip(files, STARTS_S, strict=True):
            start = t0 + dt.timedelta(seconds=off)
            n = frame_count(f)
            end = start + dt.timedelta(seconds=n / FPS)
            rel = f"{camera_id}/{start:%Y-%m-%d}/{start:%H}/{camera_id}-main-{start:%Y%m%dT%H%M%S}.000Z.mp4"
            dst = settings.recording_dir / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dst)
            data = dst.read_bytes()
            seg = Segment(
                camera_id=camera_id,
                path=rel,
                start=start,
                end=end,
                duration_s=n / FPS,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                frames=n,
                keyframes=n // 10,
                codec="h264",
            )
            s.add(seg)
            rows.append(seg)
        s.flush()
        for r in rows:
            s.refresh(r)
            s.expunge(r)
    return Recorded(t0, camera_id, rows)


@pytest.fixture
def recorded(engine: Engine, settings: Settings, segment_files: list[Path]) -> Iterator[Recorded]:
    t0 = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(microsecond=0)
    yield index_segments(engine, settings, segment_files, t0, CAMERA)
