"""Adaptive depth in the real service against the real simulator: once the cameras are learned, checks are
light (packets + one keyframe) and the periodic full check never comes (``probe.full_every`` 1000), yet
every picture fault is still found with its cause: the one-picture faults on the keyframe, a frozen
picture and a low frame rate because their packets look unusual and the light check turns full."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.utils.service import Recorder, fleet_service, map_states
from tests.utils.simulator import PICTURE_FAULT_CAUSES, simulator_fixture
from tests.utils.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LIGHT_AFTER = 5
ENV = {
    "CAMSVC_CHECKS__INTERVAL_S": "2",
    "CAMSVC_CHECKS__RETRY_INTERVAL_S": "1",
    "CAMSVC_CHECKS__JITTER_FRACTION": "0.5",
    "CAMSVC_PROBE__BUDGET_S": "6",
    "CAMSVC_PROBE__ENGINE": "packets",
    "CAMSVC_PROBE__LIGHT_AFTER_HEALTHY": str(LIGHT_AFTER),
    "CAMSVC_PROBE__FULL_EVERY": "1000",
}
EXPECTED = PICTURE_FAULT_CAUSES

sim = simulator_fixture(4, 6, prebuild_faults=True)


@pytest.fixture(scope="module")
def api(sim: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorder]:
    with fleet_service(sim, tmp_path_factory.mktemp("lightsvc"), ENV, enabled=True) as svc:
        yield Recorder(svc.base, svc.headers)


def depths(api: Recorder) -> dict[str, float]:
    text = api.get("/metrics")
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r'^camsvc_check_depth_total\{depth="(\w+)"\} (\S+)$', text, re.M)
    }


def test_light_checks_still_find_every_picture_fault(sim: Any, api: Recorder) -> None:
    ids = [c.id for c in sim.fleet]
    n = LIGHT_AFTER + 4  # full checks while the camera is learned, then light ones
    wait_for(
        lambda: all(len(api.get(f"/api/cameras/{c}/checks", limit=n)) >= n for c in ids),
        120,
        f"{n} checks per camera",
    )
    assert all(s == ("up", None) for s in map_states(api).values()), map_states(api)
    before = depths(api)
    assert before.get("light", 0) >= len(ids), before  # the learned cameras are on light checks

    plan = dict(zip(ids, EXPECTED, strict=False))
    for cid, fault in plan.items():
        sim.fault(cid, fault)
    wait_for(
        lambda: all(map_states(api)[c][0] == "degraded" for c in plan),
        60,
        "picture faults found on light checks",
        lambda: {c: (plan[c], map_states(api)[c]) for c in plan},
    )
    s = map_states(api)
    for cid, fault in plan.items():
        assert s[cid][1] in EXPECTED[fault], (cid, fault, s[cid])
    healthy = [c for c in ids if c not in plan]
    assert all(s[c] == ("up", None) for c in healthy), {c: s[c] for c in healthy}
    after = depths(api)
    # the frozen picture was seen in its packets: a light check turned full (no periodic full check came)
    assert after.get("escalated", 0) > before.get("escalated", 0), (before, after)
