"""Picture faults through the real simulator and the real service: each turns its camera `degraded` with the
right cause and back to `up` when cleared; a camera re-aimed on purpose and re-referenced stops being turned."""

from __future__ import annotations

from typing import Any

import pytest

from tests.utils.picture import PICTURE_ENV, fault_every_picture, learned, service_fixture
from tests.utils.service import Recorder, map_states
from tests.utils.simulator import PICTURE_FAULT_CAUSES, simulator_fixture
from tests.utils.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

sim = simulator_fixture(4, 6, prebuild_faults=True)
api = service_fixture("psvc", PICTURE_ENV)


def test_each_picture_fault_degrades_with_its_cause_and_clears(sim: Any, api: Recorder) -> None:
    ids = [c.id for c in sim.fleet]
    # learn each camera's normal first (baseline needs several healthy checks)
    wait_for(lambda: learned(api, ids, 7), 120, "7 checks per camera")
    assert all(s == ("up", None) for s in map_states(api).values()), map_states(api)
    plan = fault_every_picture(sim, api, "picture faults confirmed")
    # the thumbnail kept at the change shows what the camera saw
    cid = next(iter(plan))
    assert api.get(f"/api/cameras/{cid}/thumbnails"), "a picture is kept at the state change"
    outs = api.get(f"/api/cameras/{cid}/outages")
    assert (
        outs[0]["state"] == "degraded"
        and outs[0]["open"]
        and outs[0]["cause"] in PICTURE_FAULT_CAUSES[plan[cid]]
    )

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
    checks = f"/api/cameras/{cid}/checks"
    reset_at = api.get(checks, limit=1)[0]["at"]
    wait_for(
        lambda: sum(c["at"] > reset_at for c in api.get(checks, limit=10)) >= 3,
        30,
        "3 checks on the new view",
    )
    assert map_states(api)[cid][0] == "up"  # stays up on its new view
    assert api.get(f"/api/cameras/{cid}/reference.jpg")  # the new reference view exists
