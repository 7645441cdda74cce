"""`camsvc recording status|cleanup` on a real database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from camsvc.cameras import create_camera
from camsvc.cli import cli
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.models import CameraCreate
from camsvc.recording.models import RecorderStatus, Segment
from tests.utils.service import migrated_engine


def test_status_and_cleanup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("CAMSVC_DATA_DIR", str(data))
    monkeypatch.setenv("CAMSVC_RECORDING__MIN_FREE_BYTES", "0")
    monkeypatch.setenv("CAMSVC_RECORDING__MIN_FREE_FRACTION", "0")
    settings = Settings(data_dir=data)  # the env above applies to the CLI
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=20)
    root = data / "recordings"
    with migrated_engine(settings) as engine, session_scope(engine) as s:
        create_camera(
            s, CameraCreate(id="r1", name="Road 1", kind="roadside", main_url="rtsp://10.0.0.5/main")
        )
        for i, start in enumerate((old, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))):
            rel = f"r1/{start:%Y-%m-%d}/{start:%H}/r1-main-{i}.mp4"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(b"x" * 100)
            s.add(
                Segment(
                    camera_id="r1",
                    path=rel,
                    start=start,
                    end=start + dt.timedelta(seconds=60),
                    duration_s=60,
                    size=100,
                    sha256="0" * 64,
                )
            )
        s.add(RecorderStatus(camera_id="r1", running=True, since=old, restarts=1, last_error="boom"))
    runner = CliRunner()
    r = runner.invoke(cli, ["recording", "status"])
    assert r.exit_code == 0, r.output
    assert "r1" in r.output and "running" in r.output and "error: boom" in r.output
    r = runner.invoke(cli, ["recording", "status", "--camera", "r1"])
    assert r.exit_code == 0, r.output
    assert "mode continuous" in r.output and "gap" in r.output
    assert runner.invoke(cli, ["recording", "status", "--camera", "nope"]).exit_code != 0
    r = runner.invoke(cli, ["recording", "cleanup"])
    assert r.exit_code == 0, r.output
    assert "deleted r1/" in r.output and "1 past retention" in r.output
    assert len(list(root.rglob("*.mp4"))) == 1
