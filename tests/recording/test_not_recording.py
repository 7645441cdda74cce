"""Through the real runtime (`camsvc serve`): a camera whose recorder cannot write turns
degraded/not_recording while its live picture is fine, and recovers when writing works again."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from camsvc.config import Settings
from camsvc.db import make_engine
from camsvc.models import CameraStatus, Transition
from camsvc.recording.models import RecorderStatus, Segment
from camsvc.simulate.harness import Simulator
from tests.utils.service import fleet_service, quick_checks_env
from tests.utils.waiting import wait_for

pytestmark = pytest.mark.slow
CAM = "cam-001"


def test_not_recording_degrades_and_recovers(sim: Simulator, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = quick_checks_env(3, 2, 6) | {
        "CAMSVC_RECORDING__SEGMENT_S": "4",
        "CAMSVC_RECORDING__STALL_S": "12",
        "CAMSVC_RECORDING__RESTART_BACKOFF_MAX_S": "2",
        "CAMSVC_RECORDING__STREAM": "sub",
    }
    password = sim.camera(CAM).password
    with fleet_service(sim, data, env) as svc:
        engine = make_engine(Settings(data_dir=data).db_url)

        def state() -> tuple[str, str | None]:
            with Session(engine) as s:
                st = s.get(CameraStatus, CAM)
                return (st.state.value, st.cause) if st else ("none", None)

        def n_segments() -> int:
            with Session(engine) as s:
                return len(s.exec(select(Segment.id).where(Segment.camera_id == CAM)).all())

        wait_for(lambda: n_segments() >= 2, 60, "segments of cam-001", svc.log_text)
        wait_for(lambda: state()[0] == "up", 60, "cam-001 up", state)
        cam_dir = data / "recordings" / CAM
        shutil.rmtree(cam_dir)
        cam_dir.write_text("a regular file where the camera's directory should be\n")
        wait_for(
            lambda: state() == ("degraded", "not_recording"), 90, "cam-001 degraded/not_recording", state
        )
        with Session(engine) as s:
            rs = s.get(RecorderStatus, CAM)
            assert rs is not None and rs.last_error and "write failed" in rs.last_error
            assert s.exec(
                select(Transition).where(Transition.camera_id == CAM, col(Transition.new_state) == "degraded")
            ).first()
        cam_dir.unlink()
        n = n_segments()
        wait_for(lambda: n_segments() > n, 60, "segments again")
        wait_for(lambda: state()[0] == "up", 60, "cam-001 up again", state)
        with Session(engine) as s:
            other = s.get(CameraStatus, "cam-002")
            assert other is not None and other.cause != "not_recording"
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
        assert "camsvc.recording.worker" in ps and password not in ps
        engine.dispose()
    log = svc.log_text()
    assert "recorder supervisor started" in log
    assert password not in log
    assert not any(password in p.name for p in (data / "recordings").rglob("*"))
