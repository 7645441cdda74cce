"""Picture faults end to end: the service checking the simulator every 2 s, and the step both picture
tests take (every simulator picture fault on its own camera, each found with its cause, the rest up)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from camsvc.simulate.harness import Simulator
from tests.utils.service import Recorder, fleet_service, map_states
from tests.utils.simulator import PICTURE_FAULT_CAUSES
from tests.utils.waiting import wait_for

INTERVAL_S = 2.0
PICTURE_ENV = {
    "CAMSVC_CHECKS__INTERVAL_S": str(INTERVAL_S),
    "CAMSVC_CHECKS__RETRY_INTERVAL_S": "1",
    "CAMSVC_CHECKS__JITTER_FRACTION": "0.5",
    "CAMSVC_PROBE__BUDGET_S": "6",
}


def service_fixture(name: str, env: dict[str, str]) -> Callable[..., Any]:
    """A module fixture ``api``: the service with *env* on the module's ``sim`` fleet, as a Recorder."""

    @pytest.fixture(scope="module")
    def api(sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorder]:
        with fleet_service(sim, tmp_path_factory.mktemp(name), env, enabled=True) as svc:
            yield Recorder(svc.base, svc.headers)

    return api


def learned(api: Recorder, ids: list[str], checks: int) -> bool:
    return all(len(api.get(f"/api/cameras/{c}/checks", limit=checks)) >= checks for c in ids)


def fault_every_picture(sim: Simulator, api: Recorder, what: str) -> dict[str, str]:
    """Put each picture fault on one camera of the (learned, all up) fleet; wait until every one is
    `degraded` with its cause while the others stay up. Returns camera id -> fault."""
    ids = [c.id for c in sim.fleet]
    plan = dict(zip(ids, PICTURE_FAULT_CAUSES, strict=False))
    for cid, fault in plan.items():
        sim.fault(cid, fault)
    wait_for(
        lambda: all(map_states(api)[c][0] == "degraded" for c in plan),
        60,
        what,
        lambda: {c: (plan[c], map_states(api)[c]) for c in plan},
    )
    s = map_states(api)
    for cid, fault in plan.items():
        assert s[cid][1] in PICTURE_FAULT_CAUSES[fault], (cid, fault, s[cid])
    healthy = [c for c in ids if c not in plan]
    assert all(s[c] == ("up", None) for c in healthy), {c: s[c] for c in healthy}
    return plan
