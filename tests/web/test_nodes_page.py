"""The probe nodes page (/nodes, issue 12) and the dashboard's "delayed" badge, in Debian's chromium at
1400x900 and 390x844: real app (uvicorn on 127.0.0.1), real SQLite, probe_node and camera_lease rows written
here as node agents would. Lost nodes red, delayed nodes amber, uncovered sites listed; a technician sees
the page, a viewer is told it is not for the role; screenshots in each test's own directory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from camsvc.config import CheckSettings, NodeSettings, Settings
from camsvc.enums import CameraKind, HealthState
from camsvc.models import Camera, CameraStatus
from camsvc.nodes.models import CameraLease, ProbeNode
from tests.utils.auth import add_users
from tests.utils.browser import doc_shot, open_dash, wait_js
from tests.web.conftest import NO_TILES
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser

SIZES = {"desktop": (1400, 900), "phone": (390, 844)}
RED = "rgb(253, 236, 234)"  # #fdecea: a lost node's card
AMBER = "rgb(255, 244, 220)"  # #fff4dc: a delayed node's card


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from camsvc.app import create_app
    from camsvc.db import make_engine, upgrade

    tmp = tmp_path_factory.mktemp("nodes")
    # a node is lost after an hour here, so the live ones stay live for the whole module
    settings = Settings(
        data_dir=tmp,
        tile_url=NO_TILES,
        checks=CheckSettings(interval_s=600),
        node=NodeSettings(dead_after_s=3600),
    )
    engine = make_engine(settings.db_url)
    upgrade(engine)
    add_users(engine)
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as s:
        cams = [
            ("a-1", "Cổng chợ", "Thôn Một", "xa-an-phu", 10.80, 106.70),
            ("a-2", "Ngã ba", "Thôn Hai", "xa-an-phu", 10.81, 106.71),
            ("b-1", "Trạm y tế", "Thôn Một", "xa-binh-minh", 10.82, 106.72),
            ("b-2", "Trường học", "Thôn Hai", "xa-binh-minh", 10.83, 106.73),
            ("c-1", "Bến đò", "Thôn Ba", "xa-cat-tien", 10.84, 106.74),
        ]
        for cid, name, hamlet, site, lat, lon in cams:
            s.add(
                Camera(
                    id=cid,
                    name=name,
                    kind=CameraKind.ROADSIDE,
                    hamlet=hamlet,
                    site=site,
                    latitude=lat,
                    longitude=lon,
                    main_url=f"rtsp://10.0.0.9/{cid}",
                )
            )
        s.flush()
        for cid, *_ in cams:
            s.add(CameraStatus(camera_id=cid, state=HealthState.UP, since=now, last_check_at=now))
        s.add(
            ProbeNode(
                name="an-phu-1",
                site="xa-an-phu",
                role="probe",
                host="may-an-phu",
                last_seen=now,
                cameras=2,
                capacity=32,
                probes_per_min=120.0,
                saturation=0.4,
            )
        )
        s.add(
            ProbeNode(
                name="binh-minh-1",
                site="xa-binh-minh",
                role="probe",
                host="may-binh-minh",
                last_seen=now,
                spooled=240,
                oldest_spooled_at=now - dt.timedelta(minutes=7),
            )
        )
        s.add(
            ProbeNode(
                name="cat-tien-1",
                site="xa-cat-tien",
                role="probe",
                host="may-cat-tien",
                last_seen=now - dt.timedelta(hours=2),
            )
        )
        s.flush()
        for cid, node in (
            ("a-1", "an-phu-1"),
            ("a-2", "an-phu-1"),
            ("b-1", "binh-minh-1"),
            ("c-1", "cat-tien-1"),
        ):
            s.add(CameraLease(camera_id=cid, node=node))
        s.commit()
    with LiveServer(create_app(settings, start_runtime=False)) as srv:
        yield srv.url
    engine.dispose()


def _bg(page: Any, selector: str) -> str:
    return str(page.evaluate(f"getComputedStyle(document.querySelector('{selector}')).backgroundColor"))


@pytest.mark.parametrize("size", list(SIZES))
def test_nodes_page(live: str, page_factory: Any, size: str, tmp_path: Path) -> None:
    w, h = SIZES[size]
    page = page_factory(w, h)
    open_dash(page, live + "/nodes?lang=en")
    wait_js(
        page, "document.body.dataset.ready === '1' && document.querySelectorAll('.nd-node').length === 3", 15
    )
    assert page.locator("#nodes-link").get_attribute("aria-current") == "page"
    lost = page.locator('.nd-node[data-node="cat-tien-1"]')
    assert lost.get_attribute("data-state") == "lost"
    assert "Lost" in lost.inner_text()
    assert _bg(page, '.nd-node[data-node="cat-tien-1"]') == RED
    late = page.locator('.nd-node[data-node="binh-minh-1"]')
    assert "Delayed" in late.inner_text() and "240 results queued since" in late.inner_text()
    assert _bg(page, '.nd-node[data-node="binh-minh-1"]') == AMBER
    ok = page.locator('.nd-node[data-node="an-phu-1"]').inner_text()
    assert "may-an-phu" in ok and "120" in ok and "40 %" in ok and "Running" in ok
    # the site whose only node is lost is listed as uncovered, in red
    unc = page.locator("#nd-uncovered").inner_text()
    assert "xa-cat-tien: 1 cameras show as unknown" in unc, unc
    assert "xa-an-phu" not in unc
    row = page.locator('#nd-sites tr[data-site="xa-cat-tien"]')
    assert "bad" in (row.get_attribute("class") or "")
    assert page.locator('[data-count="nodes.uncovered_cameras"] .v').inner_text() == "1"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= w, f"page wider than the screen: {width}px"
    # a node's cameras, with links to their pages
    page.locator('.nd-show[data-node="an-phu-1"]').click()
    page.locator('#nd-cams li[data-camera="a-1"]').wait_for()
    assert page.locator("#nd-cams li").count() == 2
    assert "Cổng chợ" in page.locator("#nd-cams").inner_text()
    page.screenshot(path=str(tmp_path / f"nodes-{size}.png"), full_page=True)
    assert (tmp_path / f"nodes-{size}.png").stat().st_size > 10_000

    # Vietnamese by the language buttons
    page.locator('button[data-lang="vi"]').click()
    wait_js(
        page,
        "document.querySelector('.nd-node[data-node=\"cat-tien-1\"]').innerText.includes('Mất liên lạc')",
        10,
    )
    assert "Chậm cập nhật" in late.inner_text()
    assert "Khu vực không có máy kiểm tra" in page.locator("#nd-unc-h").inner_text()
    page.screenshot(path=str(tmp_path / f"nodes-{size}-vi.png"), full_page=True)
    doc_shot(tmp_path / f"nodes-{size}-vi.png", f"nodes-{size}.png")


def test_viewer_is_told_the_page_is_not_for_the_role(live: str, page_factory: Any) -> None:
    page = page_factory(390, 844, expected_console=("403",))  # the API's answer to a viewer
    open_dash(page, live + "/nodes?lang=en", username="viewer")
    wait_js(page, "document.body.dataset.ready === '1'", 15)
    assert page.locator("#nd-role-note").is_visible()
    assert page.locator("#nodes-link").count() == 0, "no link for a role that may not see it"


def test_delayed_badge_on_the_dashboard_list_and_map(live: str, page_factory: Any, tmp_path: Path) -> None:
    page = page_factory(1400, 900)
    open_dash(page, live + "/?lang=en")
    page.locator('#cam-list .row[data-id="b-1"]').wait_for()
    badge = page.locator('#cam-list .row[data-id="b-1"] .row-delayed')
    assert badge.is_visible() and badge.inner_text() == "Delayed"
    # c-1's node is lost: delayed too; a-1's node is fine
    assert page.locator('#cam-list .row[data-id="c-1"] .row-delayed').is_visible()
    assert page.locator('#cam-list .row[data-id="a-1"] .row-delayed').is_hidden()
    assert "Delayed" in (page.locator('#cam-list .row[data-id="b-1"]').get_attribute("aria-label") or "")
    wait_js(page, "document.querySelectorAll('.cm-delayed').length >= 1", 10)
    page.locator('#cam-list .row[data-id="b-1"]').click()
    page.locator("#d-shown").wait_for(state="visible")
    shown = " ".join(page.locator("#d-shown").inner_text().split())
    assert shown.startswith("Delayed — this camera's probe node has not sent its latest results"), shown
    page.screenshot(path=str(tmp_path / "dashboard-delayed.png"))
    phone = page_factory(390, 844, is_mobile=True, has_touch=True)
    open_dash(phone, live + "/?lang=vi")
    phone.locator('button[data-view="list"]').click()
    phone.locator('#cam-list .row[data-id="b-1"] .row-delayed').wait_for()
    assert phone.locator('#cam-list .row[data-id="b-1"] .row-delayed').inner_text() == "Chậm cập nhật"
    phone.screenshot(path=str(tmp_path / "dashboard-delayed-phone.png"))
