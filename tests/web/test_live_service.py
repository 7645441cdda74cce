"""The dashboard against the real running service checking the real 240-camera simulated fleet: 240
markers, and a camera switched down in the simulator turns red on the open page without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from camsvc.bench.common import ServiceProcess
from tests.utils.auth import add_users_in
from tests.utils.browser import open_dash, wait_js
from tests.utils.service import fleet_service
from tests.utils.waiting import wait_for
from tests.web.test_dashboard import COLOURS

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

INTERVAL = 15.0


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ServiceProcess]]:
    from camsvc.simulate.harness import Simulator

    data = tmp_path_factory.mktemp("live")
    with Simulator(roadside=40, household=200, out_dir=data / "sim") as sim:
        env = {
            "CAMSVC_CHECKS__INTERVAL_S": str(INTERVAL),
            "CAMSVC_CHECKS__RETRY_INTERVAL_S": "2",
            "CAMSVC_TILE_URL": "http://127.0.0.1:9/{z}/{x}/{y}.png",  # no tiles: markers must still show
        }
        with fleet_service(sim, data, env) as svc:
            add_users_in(data)
            yield sim, svc


def test_240_markers_then_a_camera_switched_down_turns_red(
    live: tuple[Any, ServiceProcess], page_factory: Any
) -> None:
    sim, svc = live
    enabled = [c for c in sim.fleet if c.enabled]
    assert len(sim.fleet) == 240

    def checked() -> bool:
        st = httpx.get(f"{svc.base}/api/status", headers=svc.headers, timeout=10).json()
        return st["by_state"]["up"] == len(enabled)

    wait_for(
        checked,
        INTERVAL * 3 + 30,
        "every enabled camera checked and up",
        lambda: httpx.get(f"{svc.base}/api/status", headers=svc.headers, timeout=10).json()["by_state"],
    )
    page = page_factory()
    open_dash(page, svc.base + "/")
    assert page.evaluate("camsvc.markerCount()") == 240
    cid = enabled[0].id
    assert page.evaluate(f"camsvc.markerState('{cid}')") == "up"
    sim.fault(cid, "down")
    try:
        wait_js(page, f"camsvc.markerState('{cid}') === 'down'", timeout_s=INTERVAL + 2 + 2 * 10 + 15)
        c = sim.camera(cid)
        page.evaluate(f"camsvc.map().setView([{c.latitude}, {c.longitude}], 19, {{animate: false}})")
        marker = page.locator(f'.leaflet-marker-icon.cm-down[title^="{c.name} — "]')
        marker.first.wait_for(state="visible", timeout=5000)
        colour = marker.first.evaluate("(el) => getComputedStyle(el.querySelector('.ico')).color")
        assert colour == COLOURS["down"]  # red
        assert page.evaluate("camsvc.listOrder()")[0] == cid  # down first in the list
    finally:
        sim.fault(cid, "normal")
