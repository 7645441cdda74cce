"""The camera page (/cameras/{id}, issue 11) against the real service checking the real simulator: bars and
charts with data (uPlot canvases, points from real checks), the pictures, then a fault switched in the
simulator appears in the 24 h bars and the outage list while the page stays open; the phone layout for a
viewer (who may not see pictures: none are requested); the map's details panel links to the page.

Screenshots go to the test's tmp dir and are copied to docs/img/camera-page-{desktop,phone}.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from camsvc.bench.common import ServiceProcess
from camsvc.web.routes import WEB_DIR, load_translations
from tests.utils.auth import add_users_in
from tests.utils.browser import doc_shot, open_dash, wait_js
from tests.utils.service import fleet_service, quick_checks_env
from tests.utils.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

INTERVAL, RETRY, BUDGET = 3.0, 1.0, 5.0
DETECT_S = INTERVAL + RETRY + 2 * BUDGET + 10  # refused is fast; slack for a shared 2-core machine
REFRESH_S = 5  # the page's own polling (?refresh=), bounded by the page to 5..300 s
WORDS = load_translations(WEB_DIR) if WEB_DIR else {"vi": {}, "en": {}}
VI, EN = WORDS["vi"], WORDS["en"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ServiceProcess]]:
    from camsvc.simulate.harness import Simulator

    data = tmp_path_factory.mktemp("campage")
    with Simulator(roadside=3, household=0, out_dir=data / "sim") as sim:
        env = quick_checks_env(INTERVAL, RETRY, BUDGET) | {
            "CAMSVC_TILE_URL": "http://127.0.0.1:9/{z}/{x}/{y}.png"
        }
        with fleet_service(sim, data, env, enabled=True) as svc:
            add_users_in(data)
            yield sim, svc


def api(svc: ServiceProcess, path: str, **params: Any) -> Any:
    r = httpx.get(svc.base + path, params=params, headers=svc.headers, timeout=10)
    r.raise_for_status()
    return r.json()


def save(page: Any, tmp_path: Path, name: str) -> None:
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    doc_shot(shot, f"{name}.png")


@pytest.fixture(scope="module")
def camera(live: tuple[Any, ServiceProcess]) -> str:
    """The first camera, up with a few checks (and its first picture) behind it."""
    sim, svc = live
    cid = sim.fleet[0].id

    def ready() -> bool:
        m = {c["id"]: c["state"] for c in api(svc, "/api/map")["cameras"]}
        return m.get(cid) == "up" and len(api(svc, f"/api/cameras/{cid}/checks", limit=5)) >= 3

    wait_for(ready, 90, f"{cid} up with 3 checks", lambda: api(svc, "/api/map")["cameras"])
    return cid


def test_bars_and_charts_then_a_fault_appears_in_the_bars(
    live: tuple[Any, ServiceProcess], camera: str, page_factory: Any, tmp_path: Path
) -> None:
    sim, svc = live
    page = page_factory(1400, 900)
    open_dash(page, f"{svc.base}/cameras/{camera}?refresh={REFRESH_S}", username="admin")
    assert page.inner_text("#cam-name") == sim.camera(camera).name
    assert page.get_attribute("#cam-state", "data-state") == "up"
    assert VI["state.up"] in page.inner_text("#cam-state")  # Vietnamese by default, the word beside the glyph
    assert page.locator("#cam-state svg.ico-up").count() == 1
    # bars: 24 hours, 7 and 30 days; the camera was added minutes ago: no data before, up now
    for rng, n in (("24h", 24), ("7d", 7), ("30d", 30)):
        shown = page.evaluate(f"camsvc.barsShown('{rng}')")
        assert len(shown) == n, (rng, shown)
        assert shown[-1] == "up" and set(shown[:-1]) <= {"none", "up"}, (rng, shown)
        assert shown[0] == "none"
        assert page.evaluate(f"camsvc.totals('{rng}').availability") == 1
    assert "100%" in page.inner_text("#pct-24h")
    label = page.get_attribute("#bars-24h .b:last-child", "aria-label")
    assert VI["state.up"] in label  # the tooltip says it in words
    # charts: four uPlot canvases whose series hold the real checks' values
    charts = wait_js(
        page, "(() => { const c = camsvc.charts(); return c.open_ms && c.brightness.values >= 3 && c; })()"
    )
    for field in ("open_ms", "fps", "brightness", "sharpness"):
        assert charts[field]["canvas"], field
        assert charts[field]["points"] >= 3 and charts[field]["values"] >= 3, (field, charts[field])
    assert page.locator("#charts canvas").count() >= 4
    # the latest picture beside the reference view (an admin may see a roadside camera's pictures)
    wait_js(
        page,
        "(() => { const i = document.querySelector('#pics-body img'); return i && i.complete && i.naturalWidth > 0; })()",
    )
    assert page.locator("#pics-body .pic").count() == 2

    loads = page.evaluate("camsvc.loads()")
    sim.fault(camera, "down")
    try:
        # the page polls by itself (no reload): the current hour's bar turns down, the outage is listed
        wait_js(
            page, "camsvc.barsShown('24h').slice(-1)[0] === 'down'", timeout_s=DETECT_S + 2 * REFRESH_S + 10
        )
        assert page.evaluate("camsvc.loads()") > loads
        wait_js(
            page, "document.querySelector('#cam-state').dataset.state === 'down'", timeout_s=REFRESH_S + 5
        )
        assert page.evaluate("camsvc.barsShown('7d').slice(-1)[0]") == "down"
        assert page.evaluate("camsvc.totals('24h').availability") < 1
        row = page.locator("#outages-body tr[data-state='down']").first
        assert VI["cause.refused"] in row.inner_text()  # the cause in words, translated
        page.locator("#bars-24h .b:last-child").hover()
        detail = page.inner_text("#detail-24h")
        assert VI["state.down"] in detail, detail
        save(page, tmp_path, "camera-page-desktop")
        # English with ?lang=en, times still in Hanoi (the browser is in New York)
        page.goto(f"{svc.base}/cameras/{camera}?lang=en&refresh={REFRESH_S}")
        page.wait_for_selector('body[data-ready="1"]', state="attached")
        assert EN["state.down"] in page.inner_text("#cam-state")
        assert EN["camera.availability"].split(" ")[0] in page.inner_text("#pct-24h")
        # the charts' period: 7 days of the same checks, and back to Vietnamese without a reload
        page.click("#cam-charts [data-hours='168']")
        wait_js(
            page,
            "document.querySelector('#cam-charts [data-hours=\"168\"]').getAttribute('aria-pressed') === 'true'",
        )
        wait_js(page, "camsvc.charts().fps.points >= 3")
        page.click("[data-lang='vi']")
        assert VI["state.down"] in page.inner_text("#cam-state")
        assert page.text_content("#charts-h") == VI["camera.charts"]
    finally:
        sim.fault(camera, "normal")


def test_phone_viewer_no_pictures_requested(
    live: tuple[Any, ServiceProcess], camera: str, page_factory: Any, tmp_path: Path
) -> None:
    sim, svc = live
    page = page_factory(390, 844)
    pictures: list[str] = []
    page.on("request", lambda r: pictures.append(r.url) if ".jpg" in r.url or "/pictures" in r.url else None)
    open_dash(page, f"{svc.base}/cameras/{camera}", username="viewer")
    wait_js(page, "camsvc.charts().fps && camsvc.charts().fps.points >= 3")
    assert page.is_visible("#pics-refused")
    assert pictures == [] and page.evaluate("camsvc.picturesRequested()") is False
    # the page fits the phone: no sideways scrolling, bars compressed into the width, charts resized
    wide = page.evaluate(
        "Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > 391)"
        ".slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className)"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, wide
    assert len(page.evaluate("camsvc.barsShown('30d')")) == 30
    box = page.locator("#bars-30d").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert all(c["width"] <= 390 for c in page.evaluate("Object.values(camsvc.charts())"))
    save(page, tmp_path, "camera-page-phone")


def test_details_panel_links_to_the_camera_page(
    live: tuple[Any, ServiceProcess], camera: str, page_factory: Any
) -> None:
    _, svc = live
    page = page_factory(1400, 900)
    open_dash(page, f"{svc.base}/?camera={camera}&lang=en", username="technician")
    link = page.locator("#d-page-link")
    link.wait_for(state="visible", timeout=10000)
    assert link.inner_text() == "Open camera page"
    assert link.get_attribute("href") == f"/cameras/{camera}?lang=en"
    link.click()
    page.wait_for_selector('body[data-ready="1"]', state="attached")
    assert page.url.endswith(f"/cameras/{camera}?lang=en")
    assert page.get_attribute("html", "lang") == "en"


def test_out_of_scope_camera_page_is_not_found(live: tuple[Any, ServiceProcess], camera: str) -> None:
    _, svc = live
    from camsvc.auth.bootstrap import api_token
    from camsvc.config import Settings
    from camsvc.db import make_engine

    engine = make_engine(Settings(data_dir=svc.data_dir).db_url)
    try:
        raw = api_token(engine, "far-viewer", "viewer", hamlets=["Nowhere"])
    finally:
        engine.dispose()
    h = {"Authorization": f"Bearer {raw}"}
    for path in (f"/api/cameras/{camera}/bars", f"/api/cameras/{camera}/series", f"/cameras/{camera}"):
        assert httpx.get(svc.base + path, headers=h, timeout=10).status_code == 404, path
