"""A small real simulator (3 roadside + 6 household) shared by the integration tests of this package."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# The prober's settings (FACTS.md); read by OpenCV at each open, before the first one in the process.
os.environ.setdefault("OPENCV_FFMPEG_IS_THREAD_SAFE", "1")
os.environ.setdefault(
    "OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp|analyzeduration;200000|probesize;32768"
)

from camsvc.simulate.harness import Simulator
from tests.utils.simulator import simulator_fixture

sim = simulator_fixture(3, 6, scope="session")


@pytest.fixture
def clean_sim(sim: Simulator) -> Iterator[Simulator]:
    """The shared simulator, with every camera back to normal after the test."""
    yield sim
    for cam_id, fault in sim.faults().items():
        if fault != "normal":
            sim.fault(cam_id, "normal")


# Two roadside cameras: cam-001 draws the live clock, cam-002 loops footage; both replay the last minute.
clock_sim = simulator_fixture(2, 0, scope="session", clock_cameras=1, playback_minutes=1)
