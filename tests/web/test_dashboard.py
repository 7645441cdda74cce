"""The dashboard in a real browser (Debian's chromium) against the real app and a real SQLite fleet.

Every state on the page comes from checks written through ``record_check`` (camsvc.bench.sample), so what is
asserted is the whole path: checks -> status/outages -> API -> page.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from camsvc.bench.sample import write_check
from camsvc.models import Camera, HealthState
from tests.utils.browser import open_dash, wait_js
from tests.web.conftest import CAMERAS, Dash

pytestmark = pytest.mark.browser

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
COLOURS = {  # the CSS custom properties of each state
    "up": "rgb(30, 142, 62)",
    "degraded": "rgb(242, 169, 0)",
    "down": "rgb(217, 48, 37)",
    "maintenance": "rgb(107, 119, 133)",
    "unknown": "rgb(26, 115, 232)",
}
SHOTS = Path(__file__).parent / "screenshots"


def cameras(dash: Dash) -> dict[str, Camera]:
    with Session(dash.engine) as s:
        return {c.id: c for c in s.exec(select(Camera)).all()}


def local_hm(t: dt.datetime) -> str:
    lt = t.astimezone(TZ)
    return f"{lt:%H:%M} {lt:%d/%m}"


def test_markers_colours_and_clusters(dash: Dash, page_factory: Any) -> None:
    page = page_factory()
    open_dash(page, dash.url)
    cams = cameras(dash)
    assert page.evaluate("camsvc.markerCount()") == CAMERAS  # every camera has coordinates
    assert page.evaluate("camsvc.cameraCount()") == CAMERAS

    # zoomed out: clusters; each takes the worst state of the cameras inside it (checked against the DB)
    expected = {cid: st.value for cid, st in dash.sample.states.items()}
    report = page.evaluate(
        """(expected) => {
          const order = ["down", "degraded", "unknown", "maintenance", "up"];
          const out = {clusters: 0, wrong: []};
          CS.map.cluster()._featureGroup.eachLayer((l) => {
            if (!l.getAllChildMarkers) return;
            out.clusters++;
            const states = l.getAllChildMarkers().map((m) => expected[m.options.camId]);
            const worst = order.find((s) => states.includes(s));
            if (!l._icon || !l._icon.classList.contains("cl-" + worst)) out.wrong.push(worst);
          });
          return out;
        }""",
        expected,
    )
    assert report["clusters"] > 0 and report["wrong"] == []
    assert page.locator(".cl-down").count() >= 1

    # zoomed in on one camera of each state: its own marker, with the state's colour and glyph
    for state in ("down", "degraded", "maintenance", "unknown", "up"):
        # prefer a household camera: roadside ones share crossroads and may stay clustered at any zoom
        enabled = [i for i in dash.sample.ids(HealthState(state)) if cams[i].enabled]
        cid = next((i for i in enabled if str(cams[i].kind.value) == "household"), enabled[0])
        c = cams[cid]
        page.evaluate(f"camsvc.map().setView([{c.latitude}, {c.longitude}], 19, {{animate: false}})")
        marker = page.locator(f'.leaflet-marker-icon.cm-{state}[title^="{c.name} — "]')
        marker.first.wait_for(state="visible", timeout=5000)
        colour = marker.first.evaluate("(el) => getComputedStyle(el.querySelector('.ico')).color")
        assert colour == COLOURS[state], (state, colour)
        assert (
            marker.first.locator(f'use[href="#g-{state}"]').count() == 1
        )  # shape + symbol, not colour alone


def test_list_orders_down_first_with_local_since(dash: Dash, page_factory: Any) -> None:
    page = page_factory()
    open_dash(page, dash.url)
    cams = cameras(dash)
    order = page.evaluate("camsvc.listOrder()")
    assert len(order) == CAMERAS
    down = [i for i in dash.sample.ids(HealthState.DOWN) if cams[i].enabled]
    degraded = [i for i in dash.sample.ids(HealthState.DEGRADED) if cams[i].enabled]
    assert set(order[: len(down)]) == set(down)
    assert set(order[len(down) : len(down) + len(degraded)]) == set(degraded)
    sinces = [dash.sample.since[i] for i in order[: len(down)]]
    assert sinces == sorted(sinces)  # down longest first

    first = order[0]
    row = page.locator(f'#cam-list .row[data-id="{first}"]')
    text = row.inner_text()
    # Vietnamese, in Asia/Ho_Chi_Minh although the browser runs in New York
    assert f"Mất tín hiệu từ {local_hm(dash.sample.since[first])}" in text, text
    assert "giờ" in text or "ngày" in text or "phút" in text
    assert cams[first].name in text
    # degraded rows name their fault
    deg = page.locator(f'#cam-list .row[data-id="{order[len(down)]}"]')
    deg.scroll_into_view_if_needed()
    fault = dash.sample.causes[order[len(down)]]
    words = {"covered": "Ống kính bị che", "blurred": "bị mờ", "frozen": "bị đứng", "turned": "xoay lệch"}
    assert words.get(fault, "") in deg.inner_text()

    # the counts at the top come from /api/status
    assert page.locator("#count-down").inner_text() == str(len(down))


def test_click_opens_details_with_pictures_checks_outages(dash: Dash, page_factory: Any) -> None:
    page = page_factory()
    open_dash(page, dash.url)
    cams = cameras(dash)
    first = page.evaluate("camsvc.listOrder()[0]")
    page.locator(f'#cam-list .row[data-id="{first}"]').click()
    details = page.locator("#details")
    details.wait_for(state="visible")
    assert page.locator("#details-title").inner_text() == cams[first].name
    page.locator("#details .tbl tbody tr").first.wait_for()
    body = details.inner_text()
    assert "Mất tín hiệu" in body and "Đang diễn ra" in body
    assert "Các lần kiểm tra gần nhất".upper() in body.upper()
    assert "?camera=" + first in page.url
    # latest picture and reference side by side (this camera had pictures before it went down)
    pics = page.locator("#details .pics figure")
    assert pics.count() == 2
    if dash.sample.states[first] and page.locator("#details .pics img").count():
        wait_js(
            page,
            "[...document.querySelectorAll('#details .pics img')].every(i => i.complete && i.naturalWidth > 0)",
        )

    # clicking a marker opens that camera too
    page.locator(".d-close").click()
    assert not details.is_visible()
    wait_js(page, "!camsvc.mapMoving()")
    # a household camera: roadside cameras share crossroads (one per direction) and stay clustered even
    # at the highest zoom, so which camera was picked made this flaky
    up = next(
        i
        for i in dash.sample.ids(HealthState.UP)
        if cams[i].enabled and str(cams[i].kind.value) == "household"
    )
    c = cams[up]
    page.evaluate(f"camsvc.map().setView([{c.latitude}, {c.longitude}], 19, {{animate: false}})")
    page.locator(f'.leaflet-marker-icon[title^="{c.name} — "]').first.click()
    details.wait_for(state="visible")
    assert page.locator("#details-title").inner_text() == c.name


def test_keyboard_list_and_camera_url(dash: Dash, page_factory: Any) -> None:
    page = page_factory()
    open_dash(page, dash.url)
    order = page.evaluate("camsvc.listOrder()")
    page.locator("#cam-list").focus()
    page.keyboard.press("ArrowDown")  # focusing the list made row 0 active; now row 1
    active = page.locator("#cam-list").get_attribute("aria-activedescendant")
    assert active and page.locator(f"#{active}").get_attribute("data-id") == order[1]
    page.keyboard.press("Enter")
    page.locator("#details").wait_for(state="visible")
    assert page.evaluate("camsvc.selected()") == order[1]
    page.keyboard.press("Escape")
    assert not page.locator("#details").is_visible()

    # /?camera=<id> opens that camera (alert messages link there)
    target = sorted(dash.sample.states)[16]
    page2 = page_factory()
    open_dash(page2, f"{dash.url}/?camera={target}")
    page2.locator("#details").wait_for(state="visible")
    assert page2.evaluate("camsvc.selected()") == target


def test_language_switch_remembered_and_url(dash: Dash, page_factory: Any) -> None:
    page = page_factory()
    open_dash(page, dash.url)
    assert page.evaluate("document.documentElement.lang") == "vi"
    assert page.locator(".count-down .count-lbl").inner_text() == "Mất tín hiệu"
    assert page.evaluate("CS.fmtDuration(2 * 3600 + 5 * 60 + 9)") == "2 giờ 5 phút"
    assert page.evaluate("CS.fmtDuration(2 * 86400 + 3 * 3600)") == "2 ngày 3 giờ"
    assert page.evaluate("CS.fmtDuration(45)") == "45 giây"
    # New York browser, Asia/Ho_Chi_Minh display (UTC+7): 17:30 UTC on 1 Jan is 00:30 on 2 Jan
    assert page.evaluate("CS.fmtTime('2026-01-01T17:30:00+00:00')") == "00:30 02/01/2026"
    assert page.evaluate("CS.fmtTime('2026-01-01T17:30:00')") == "00:30 02/01/2026"  # naive = UTC
    page.locator('button[data-lang="en"]').click()
    assert page.evaluate("CS.fmtDuration(2 * 3600 + 5 * 60)") == "2 h 5 min"
    assert page.locator(".count-down .count-lbl").inner_text() == "Down"
    first = page.evaluate("camsvc.listOrder()[0]")
    assert "Down since" in page.locator(f'#cam-list .row[data-id="{first}"]').inner_text()
    page.reload()
    page.wait_for_selector('body[data-ready="1"]', state="attached")
    assert page.evaluate("camsvc.lang()") == "en"  # remembered in localStorage
    assert page.locator("#f-q").get_attribute("placeholder").startswith("Search")
    open_dash(page, dash.url + "/?lang=vi")  # ?lang wins
    assert page.locator(".count-down .count-lbl").inner_text() == "Mất tín hiệu"

    fresh = page_factory()
    open_dash(fresh, dash.url + "/?lang=en")
    assert fresh.evaluate("document.documentElement.lang") == "en"
    row = fresh.locator(f'#cam-list .row[data-id="{first}"]').inner_text()
    assert f"Down since {local_hm(dash.sample.since[first])}" in row


def test_filters_search_hamlet_state(dash: Dash, page_factory: Any) -> None:
    page = page_factory()
    open_dash(page, dash.url)
    cams = cameras(dash)
    hamlet = sorted({c.hamlet for c in cams.values()})[0]
    in_hamlet = [c for c in cams.values() if c.hamlet == hamlet]
    page.select_option("#f-hamlet", hamlet)
    wait_js(page, f"camsvc.listOrder().length === {len(in_hamlet)}")
    assert page.evaluate("camsvc.markerCount()") == len(in_hamlet)

    page.locator("#f-clear").click()
    down = [i for i in dash.sample.ids(HealthState.DOWN) if cams[i].enabled]
    page.locator('.count[data-state="down"]').click()  # the count doubles as a filter
    wait_js(page, f"camsvc.listOrder().length === {len(down)}")
    assert sorted(page.evaluate("camsvc.listOrder()")) == sorted(down)
    assert page.locator('.count[data-state="down"]').get_attribute("aria-pressed") == "true"
    page.locator('.count[data-state="down"]').click()

    # text search ignores accents and case: "nha ba" finds "Nhà bà ..."
    target = next(c for c in cams.values() if c.kind.value == "household")
    page.fill("#f-q", target.id)
    wait_js(page, f"camsvc.listOrder().includes({target.id!r}) && camsvc.listOrder().length < 20")
    page.fill("#f-q", "nha ba")
    wait_js(page, "camsvc.listOrder().length > 0 && camsvc.listOrder().length < 240")
    names = page.evaluate("camsvc.listOrder().map((id) => camsvc.camera(id).address)")
    assert all("Nhà bà" in n for n in names)

    page.fill("#f-q", "")
    page.locator('button[data-tab="hamlets"]').click()
    table = page.locator("#panel-hamlets table")
    table.wait_for()
    assert table.locator("tbody tr").count() == len({c.hamlet for c in cams.values() if c.enabled})


def test_state_change_turns_red_without_reload(dash: Dash, page_factory: Any) -> None:
    page = page_factory()
    refresh_s = 1.0
    open_dash(page, f"{dash.url}/?refresh={refresh_s}")
    cams = cameras(dash)
    victim = next(i for i in dash.sample.ids(HealthState.UP) if cams[i].enabled and i != "cam-001")
    c = cams[victim]
    page.evaluate(f"camsvc.map().setView([{c.latitude}, {c.longitude}], 19, {{animate: false}})")
    page.locator(f'.leaflet-marker-icon.cm-up[title^="{c.name} — "]').first.wait_for()
    before = int(page.locator("#count-down").inner_text())
    polls = page.evaluate("camsvc.polls()")
    now = dt.datetime.now(dt.UTC)
    with Session(dash.engine) as s:  # two failed checks: confirmed down, through the service's own path
        write_check(s, victim, now, ok=False, error="refused")
        write_check(s, victim, now + dt.timedelta(seconds=10), ok=False, error="refused")
        s.commit()
    t0 = time.monotonic()
    wait_js(page, f"camsvc.markerState({victim!r}) === 'down'", timeout_s=refresh_s + 4)
    took = time.monotonic() - t0
    marker = page.locator(f'.leaflet-marker-icon.cm-down[title^="{c.name} — "]')
    marker.first.wait_for(timeout=3000)
    assert (
        marker.first.evaluate("(el) => getComputedStyle(el.querySelector('.ico')).color") == COLOURS["down"]
    )
    wait_js(page, f"document.getElementById('count-down').textContent === '{before + 1}'", timeout_s=3)
    assert page.evaluate("camsvc.polls()") > polls  # by polling, not by reloading
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert took < refresh_s + 3, took


def test_no_tiles_still_shows_markers(dash: Dash, page_factory: Any) -> None:
    page = page_factory()
    open_dash(page, dash.url)
    wait_js(page, "camsvc.noTiles()", timeout_s=10)
    assert page.locator("#map-note").is_visible()
    icons = page.locator("#map .leaflet-marker-icon.cl, #map .leaflet-marker-icon.cm")
    assert icons.count() > 0
    box = page.locator("#map").bounding_box()
    first = icons.first.bounding_box()
    assert box and first and box["x"] <= first["x"] <= box["x"] + box["width"]
    assert page.locator("#map .leaflet-tile-loaded").count() == 0


def test_screenshots_desktop_and_phone(dash: Dash, page_factory: Any) -> None:
    """Pictures to look at (tests/web/screenshots/, not committed); the phone layout toggles map and list."""
    SHOTS.mkdir(exist_ok=True)
    page = page_factory()
    open_dash(page, dash.url)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "desktop.png"))
    first = page.evaluate("camsvc.listOrder()[0]")
    page.locator(f'#cam-list .row[data-id="{first}"]').click()
    page.locator("#details .tbl").first.wait_for()
    page.screenshot(path=str(SHOTS / "desktop-details.png"))

    phone = page_factory(390, 844, is_mobile=True, has_touch=True, device_scale_factor=2)
    open_dash(phone, dash.url)
    assert phone.locator("#map").is_visible() and not phone.locator("#cam-list").is_visible()
    phone.wait_for_timeout(400)  # the clusters' zoom animation
    phone.screenshot(path=str(SHOTS / "phone-map.png"))
    phone.locator('button[data-view="list"]').click()
    phone.locator("#cam-list .row").first.wait_for()
    assert not phone.locator("#map").is_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page wider than the phone: {width}px"
    phone.screenshot(path=str(SHOTS / "phone-list.png"))
    phone.locator("#cam-list .row").first.click()
    phone.locator("#details").wait_for(state="visible")
    phone.screenshot(path=str(SHOTS / "phone-details.png"))
