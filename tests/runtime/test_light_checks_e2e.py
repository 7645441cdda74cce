"""Adaptive depth in the real service against the real simulator: once the cameras are learned, checks are
light (packets + one keyframe) and the periodic full check never comes (``probe.full_every`` 1000), yet
every picture fault is still found with its cause: the one-picture faults on the keyframe, a frozen
picture and a low frame rate because their packets look unusual and the light check turns full."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.utils.picture import PICTURE_ENV, fault_every_picture, learned, service_fixture
from tests.utils.service import Recorder, map_states
from tests.utils.simulator import simulator_fixture
from tests.utils.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LIGHT_AFTER = 5
ENV = PICTURE_ENV | {
    "CAMSVC_PROBE__ENGINE": "packets",
    "CAMSVC_PROBE__LIGHT_AFTER_HEALTHY": str(LIGHT_AFTER),
    "CAMSVC_PROBE__FULL_EVERY": "1000",
}

sim = simulator_fixture(4, 6, prebuild_faults=True)
api = service_fixture("lightsvc", ENV)


def depths(api: Recorder) -> dict[str, float]:
    text = api.get("/metrics")
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r'^camsvc_check_depth_total\{depth="(\w+)"\} (\S+)$', text, re.M)
    }


def test_light_checks_still_find_every_picture_fault(sim: Any, api: Recorder) -> None:
    ids = [c.id for c in sim.fleet]
    n = LIGHT_AFTER + 4  # full checks while the camera is learned, then light ones
    wait_for(lambda: learned(api, ids, n), 120, f"{n} checks per camera")
    assert all(s == ("up", None) for s in map_states(api).values()), map_states(api)
    before = depths(api)
    assert before.get("light", 0) >= len(ids), before  # the learned cameras are on light checks

    fault_every_picture(sim, api, "picture faults found on light checks")
    after = depths(api)
    # the frozen picture was seen in its packets: a light check turned full (no periodic full check came)
    assert after.get("escalated", 0) > before.get("escalated", 0), (before, after)
