"""Picture faults through the real simulator and the real service: each turns its camera `degraded` with the
right cause and back to `up` when cleared; a camera re-aimed on purpose and re-referenced stops being turned."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.utils.service import Recorder, fleet_service, map_states
from tests.utils.simulator import PICTURE_FAULT_CAUSES, simulator_fixture
from tests.utils.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INTERVAL = 2.0
ENV = {
    "CAMSVC_CHECKS__INTERVAL_S": str(INTERVAL),
    "CAMSVC_CHECKS__RETRY_INTERVAL_S": "1",
    "CAMSVC_CHECKS__JITTER_FRACTION": "0.5",
    "CAMSVC_PROBE__BUDGET_S": "6",
}
EXPECTED = PICTURE_FAULT_CAUSES


sim = simulator_fixture(4, 6, prebuild_faults=True)


@pytest.fixture(scope="module")
def api(sim: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorder]:
    with fleet_service(sim, tmp_path_factory.mktemp("psvc"), ENV, enabled=True) as svc:
        yield Recorder(svc.base, svc.headers)


def learned(api: Recorder, ids: list[str], checks: int) -> bool:
    return all(len(api.get(f"/api/cameras/{c}/checks", limit=checks)) >= checks for c in ids)


def test_each_picture_fault_degrades_with_its_cause_and_clears(sim: Any, api: Recorder) -> None:
    ids = [c.id for c in sim.fleet]
    # learn each camera's normal first (baseline needs several healthy checks)
    wait_for(lambda: learned(api, ids, 7), 120, "7 checks per camera")
    assert all(s == ("up", None) for s in map_states(api).values()), map_states(api)
    plan = dict(zip(ids, EXPECTED, strict=False))
    for cid, fault in plan.items():
        sim.fault(cid, fault)

    def all_degraded() -> bool:
        s = map_states(api)
        return all(s[c][0] == "degraded" for c in plan)

    wait_for(
        all_degraded, 60, "picture faults confirmed", lambda: {c: (plan[c], map_states(api)[c]) for c in plan}
    )
    s = map_states(api)
    for cid, fault in plan.items():
        assert s[cid][1] in EXPECTED[fault], (cid, fault, s[cid])
    healthy = [c for c in ids if c not in plan]
    assert all(s[c] == ("up", None) for c in healthy), {c: s[c] for c in healthy}
    # the thumbnail kept at the change shows what the camera saw
    cid = next(iter(plan))
    assert api.get(f"/api/cameras/{cid}/thumbnails"), "a picture is kept at the state change"
    outs = api.get(f"/api/cameras/{cid}/outages")
    assert outs[0]["state"] == "degraded" and outs[0]["open"] and outs[0]["cause"] in EXPECTED[plan[cid]]

    for cid in plan:
        sim.fault(cid, "normal")
    wait_for(
        lambda: all(map_states(api)[c][0] == "up" for c in plan),
        60,
        "pictures back",
        lambda: {c: map_states(api)[c] for c in plan},
    )
    for cid in plan:
        outs = api.get(f"/api/cameras/{cid}/outages")
        assert len(outs) == 1 and not outs[0]["open"], (cid, outs)


def test_re_aimed_camera_re_referenced_stops_being_turned(sim: Any, api: Recorder) -> None:
    cid = sim.fleet[-1].id
    # its normal view learned first (this test may run before the one above, on a fresh service)
    wait_for(lambda: learned(api, [cid], 7), 120, "7 checks of the camera")
    wait_for(lambda: map_states(api)[cid][0] == "up", 60, "camera up")
    sim.fault(cid, "turned")  # the technician re-aims the camera on purpose
    wait_for(
        lambda: map_states(api)[cid] == ("degraded", "turned"),
        60,
        "turned detected",
        lambda: map_states(api)[cid],
    )
    r = api.client.post(f"{api.base}/api/cameras/{cid}/reference/reset")
    assert r.status_code == 202
    wait_for(
        lambda: map_states(api)[cid][0] == "up", 30, "re-referenced camera up", lambda: map_states(api)[cid]
    )
    time.sleep(INTERVAL * 3)
    assert map_states(api)[cid][0] == "up"  # stays up on its new view
    assert api.get(f"/api/cameras/{cid}/reference.jpg")  # the new reference view exists
