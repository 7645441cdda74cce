"""Case clips and the cases page (issue 10) in a real browser against the real app and its runtime: an
officer picks a point on the map, a radius drawn as a circle and a time range typed in Asia/Ho_Chi_Minh
time (the browser sits in New York), creates a case and requests the clips; adds one camera from its
details; the case page lists the clips with their source and status, exports the package as a job whose
progress is polled, offers the download, and shows the signing key's fingerprint (also in "About").

Every check of what was asked goes back to the API (the clip's UTC range, cameras, case fields).
Skipped (with the reason) while the cases routes are not installed.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from camsvc.config import Settings
from camsvc.enums import CameraKind
from camsvc.models import Camera
from tests.utils.auth import add_users, headers
from tests.utils.browser import open_dash, wait_js
from tests.utils.waiting import wait_for
from tests.web.conftest import NO_TILES
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SIZES = ((1400, 900), (390, 844))
CLIP_STATUS_EN = {
    "pending": "Waiting",
    "fetching": "Fetching",
    "ready": "Ready",
    "no_source": "No footage",
    "failed": "Failed",
}
SOURCE_EN = {"recorded": "Recorded by camsvc", "device": "Camera's own storage"}
EXPORT_WAIT_S = 120.0


@dataclass
class CaseDash:
    url: str
    engine: Engine
    cams: dict[str, Camera]
    roadside: Camera
    household: Camera

    def api(self, role: str = "officer") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=headers(self.engine, role), timeout=15)


@pytest.fixture(scope="module")
def cd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaseDash]:
    from camsvc.app import create_app
    from camsvc.bench.sample import fill
    from camsvc.db import make_engine, upgrade

    tmp = tmp_path_factory.mktemp("cases")
    settings = Settings(data_dir=tmp, tile_url=NO_TILES)
    engine = make_engine(settings.db_url, settings.data_dir)
    upgrade(engine)
    fill(engine, 24, now=dt.datetime.now(dt.UTC).replace(microsecond=0), seed=5)
    add_users(engine)
    with Session(engine) as s:
        cams = {c.id: c for c in s.exec(select(Camera)).all()}
    usable = [c for c in cams.values() if c.enabled and c.latitude is not None]
    roadside = next(c for c in usable if c.kind == CameraKind.ROADSIDE)
    # footage is pictures: an officer pulls household footage only with the owner's consent
    household = next(c for c in usable if c.kind == CameraKind.HOUSEHOLD and c.owner_consent)
    # the runtime runs: clips are materialised and exports built in the background, as in `camsvc serve`
    with LiveServer(create_app(settings, start_runtime=True)) as srv:
        probe = httpx.get(f"{srv.url}/api/cases", headers=headers(engine, "officer"), timeout=10)
        assert probe.status_code == 200, probe.text
        yield CaseDash(srv.url, engine, cams, roadside, household)
    engine.dispose()


def shot(page: Any, out: Path, name: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / f"{name}.png"))


def local_range(minutes_ago: int, length_min: int) -> tuple[str, str, dt.datetime, dt.datetime]:
    """A range ending *minutes_ago* before now: datetime-local values in Asia/Ho_Chi_Minh, and its UTC."""
    end = dt.datetime.now(TZ).replace(second=0, microsecond=0) - dt.timedelta(minutes=minutes_ago)
    start = end - dt.timedelta(minutes=length_min)
    fmt = "%Y-%m-%dT%H:%M"
    return start.strftime(fmt), end.strftime(fmt), start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def parse(t: str) -> dt.datetime:
    return dt.datetime.fromisoformat(t.replace("Z", "+00:00"))


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    r = 6371008.8
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    dp, dl = p2 - p1, math.radians(b[1] - a[1])
    s = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(s))


def new_case(cd: CaseDash, number: str) -> dict[str, Any]:
    with cd.api() as c:
        r = c.post("/api/cases", json={"number": number, "title": "test " + number, "reason": "browser test"})
        assert r.status_code == 201, r.text
        return dict(r.json())


@pytest.mark.parametrize("size", SIZES, ids=["desk", "phone"])
def test_case_clip_from_the_map(
    cd: CaseDash, page_factory: Any, tmp_path: Path, size: tuple[int, int]
) -> None:
    page = page_factory(*size)
    open_dash(page, f"{cd.url}/?lang=en", "officer")
    page.locator("#clip-start").click()
    wait_js(
        page, "document.body.classList.contains('picking') && !document.getElementById('clip-panel').hidden"
    )
    # a point ~30 m north of a roadside camera, in the upper part of the map (a phone's form sheet covers
    # the lower part)
    cam = cd.roadside
    target = (cam.latitude + 0.00027, cam.longitude)
    page.evaluate(
        "([lat, lon]) => { const m = camsvc.map(); m.setView([lat, lon], 18, {animate: false});"
        " m.panBy([0, m.getSize().y * 0.2], {animate: false}); }",
        list(target),
    )
    pt = page.evaluate("([lat, lon]) => camsvc.map().latLngToContainerPoint([lat, lon])", list(target))
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + pt["x"], box["y"] + pt["y"])
    circle = wait_js(page, "camsvc.clipCircle()")
    assert circle["radius"] == 100  # the default
    assert metres((circle["lat"], circle["lon"]), target) < 40  # the click, or the camera marker under it
    where = page.locator("#clip-panel .cf-where").inner_text()
    m = re.search(r"(\d+) cameras within 100 m", where)
    assert m and int(m.group(1)) >= 1, where  # the camera 30 m away is counted
    page.fill("#clip-panel input[name=radius]", "150")
    wait_js(page, "camsvc.clipCircle().radius === 150")

    start_v, end_v, start_utc, end_utc = local_range(5, 10)
    page.fill("#clip-panel input[name=start]", start_v)
    page.fill("#clip-panel input[name=end]", end_v)
    page.select_option("#clip-panel select[name=case]", "__new__")
    number = f"2026/map-{size[0]}"
    title = "Chợ Bích <b>not markup</b>"
    page.fill("#clip-panel input[name=number]", number)
    page.fill("#clip-panel input[name=title]", title)
    page.fill("#clip-panel textarea[name=reason]", "theft at the market")
    shot(page, tmp_path, f"map-clip-form-{size[0]}x{size[1]}")
    page.locator("#clip-panel button[type=submit]").click()
    link = page.locator("#clip-panel a.cf-open")
    link.wait_for(state="visible", timeout=15000)
    case_id = (link.get_attribute("href") or "").split("case=")[-1]
    shot(page, tmp_path, f"map-clip-done-{size[0]}x{size[1]}")

    with cd.api() as c:
        case = c.get(f"/api/cases/{case_id}").json()
    assert case["number"] == number and case["title"] == title and case["status"] == "open"
    clips = case["clips"]
    assert clips and cam.id in {k["camera_id"] for k in clips}
    for k in clips:  # the range typed in Asia/Ho_Chi_Minh time reached the API as that instant in UTC
        assert parse(k["start"]) == start_utc and parse(k["end"]) == end_utc
        there = cd.cams[k["camera_id"]]
        assert metres((there.latitude, there.longitude), (circle["lat"], circle["lon"])) <= 150 + 1
    page.locator("#clip-panel button", has_text="Cancel").click()
    assert page.evaluate("camsvc.clipCircle()") is None
    # without a pointer: the point under the map's centre
    page.locator("#clip-start").click()
    page.locator("#clip-panel .cf-centre").click()
    centre = page.evaluate("(() => { const c = camsvc.map().getCenter(); return [c.lat, c.lng]; })()")
    circle = wait_js(page, "camsvc.clipCircle()")
    assert metres((circle["lat"], circle["lon"]), (centre[0], centre[1])) < 1
    page.keyboard.press("Escape")
    wait_js(page, "!document.body.classList.contains('picking') && camsvc.clipCircle() === null")
    # the case page shows what was typed as text, never as markup
    page.goto(f"{cd.url}/cases?lang=en&case={case_id}")
    page.wait_for_selector('body[data-ready="1"]', state="attached")
    page.locator("#case-title").wait_for(state="visible", timeout=15000)
    assert title in page.locator("#case-title").inner_text()
    assert page.locator("#case b, #case-rows b").count() == 0


def test_add_this_camera_to_a_case(cd: CaseDash, page_factory: Any, tmp_path: Path) -> None:
    case = new_case(cd, "2026/details")
    cam = cd.household
    page = page_factory(390, 844)
    open_dash(page, f"{cd.url}/?lang=en&camera={cam.id}", "officer")
    page.locator("#d-add-case").click()
    form = page.locator("#d-case form.clipform")
    form.wait_for(state="visible")
    wait_js(page, f"!!document.querySelector('#d-case select option[value=\"{case['id']}\"]')")
    start_v, end_v, start_utc, end_utc = local_range(3, 2)
    form.locator("input[name=start]").fill(start_v)
    form.locator("input[name=end]").fill(end_v)
    form.locator("select[name=case]").select_option(str(case["id"]))
    form.locator("button[type=submit]").click()
    form.locator("a.cf-open").wait_for(state="visible", timeout=15000)
    shot(page, tmp_path, "details-add-390x844")
    with cd.api() as c:
        clips = c.get(f"/api/cases/{case['id']}").json()["clips"]
    assert [(k["camera_id"], parse(k["start"]), parse(k["end"])) for k in clips] == [
        (cam.id, start_utc, end_utc)
    ]


def test_roles_below_officer_get_no_case_controls(cd: CaseDash, page_factory: Any) -> None:
    page = page_factory(expected_console=("status of 403",))  # the cases page asks, and is refused
    open_dash(page, f"{cd.url}/?lang=en&camera={cd.roadside.id}", "technician")
    wait_js(page, "document.querySelector('#details .facts')", 15)
    assert page.locator("#clip-start").count() == 0 and page.locator("#d-add-case").count() == 0
    assert page.locator("#cases-link").count() == 0
    page.goto(f"{cd.url}/cases?lang=en")
    page.wait_for_selector('body[data-ready="1"]', state="attached")
    assert "officers and admins" in page.locator("#cases-refused").inner_text()


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES, ids=["desk", "phone"])
def test_case_page_clips_export_and_key(
    cd: CaseDash, page_factory: Any, tmp_path: Path, size: tuple[int, int]
) -> None:
    case = new_case(cd, f"2026/page-{size[0]}")
    _, _, start_utc, end_utc = local_range(4, 2)
    with cd.api() as c:
        r = c.post(
            f"/api/cases/{case['id']}/clips",
            json={
                "camera_ids": [cd.roadside.id, cd.household.id],
                "start": start_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end": end_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )
        assert r.status_code == 202, r.text
        key = c.get("/api/evidence/key").json()

    page = page_factory(*size)
    open_dash(page, f"{cd.url}/cases?lang=en&case={case['id']}", "officer")
    wait_js(page, "document.querySelectorAll('tr.clip').length === 2", 15)
    # clips: camera, source and status as the API says (wait until the background work settles)
    with cd.api() as c:

        def settled() -> list[dict[str, Any]] | None:
            clips = c.get(f"/api/cases/{case['id']}").json()["clips"]
            return None if any(k["status"] in ("pending", "fetching") for k in clips) else clips

        wait_for(settled, EXPORT_WAIT_S, "the clips to be fetched or found missing")
        clips = settled() or []
    for k in clips:
        wait_js(
            page,
            f"document.querySelector('tr.clip[data-clip=\"{k['id']}\"]')?.dataset.status === '{k['status']}'",
            15,
        )
        row = page.locator(f'tr.clip[data-clip="{k["id"]}"]')
        assert k["camera_id"] in row.locator("th").inner_text()
        assert row.locator(".clip-source").inner_text() == SOURCE_EN[k["source"]]
        assert CLIP_STATUS_EN[k["status"]] in row.locator(".clip-status").inner_text()
        if k.get("detail"):
            assert row.locator(".clip-detail").inner_text() == k["detail"]
    # the signing key, grouped for reading aloud, on the case page
    hexfp = key["fingerprint_hex"]
    grouped = " ".join(hexfp[i : i + 4] for i in range(0, len(hexfp), 4))
    assert grouped == key["fingerprint"]  # the API's grouping and the page's agree
    wait_js(page, "document.querySelector('.case-key .fingerprint')")
    assert page.locator(".case-key .fingerprint").inner_text() == grouped
    shot(page, tmp_path, f"case-{size[0]}x{size[1]}")

    # export: a job whose progress is polled until it is done, then downloaded
    page.locator("#export-start").click()
    wait_js(page, "camsvc.jobs().length === 1", 15)
    job_id = page.evaluate("camsvc.jobs()[0].id")
    wait_js(page, "['done', 'failed'].includes(camsvc.jobs()[0].status)", EXPORT_WAIT_S)
    shot(page, tmp_path, f"export-{size[0]}x{size[1]}")
    with cd.api() as c:
        job = c.get(f"/api/cases/{case['id']}/exports/{job_id}").json()
    assert page.locator(f'li.job[data-job="{job_id}"]').get_attribute("data-status") == job["status"]
    # a clip without footage is stated in the package, it does not fail the export
    assert job["status"] == "done", job
    href = page.locator(f'li.job[data-job="{job_id}"] a.job-download').get_attribute("href")
    got = page.context.request.get(cd.url + href)
    assert got.ok and got.body()[:2] == b"PK", (got.status, got.headers)
    assert page.evaluate("camsvc.jobs()[0].polls") < 600  # bounded

    # the same fingerprint in the dashboard's About dialog
    open_dash(page, f"{cd.url}/?lang=en", "officer")
    page.locator("#about-open").click()
    wait_js(page, "document.querySelector('#about .fingerprint')")
    assert page.locator("#about .fingerprint").inner_text() == grouped
