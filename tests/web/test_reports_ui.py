"""The reports screen in a real browser (Debian's chromium) against the real app, at desktop and phone
sizes, for a fleet with known outage rows (tests/reports/fleet.py, November 2026).

The expected availability is computed HERE, minute by minute from the outage rows, the maintenance window
and the cameras' created_at read back from the database (not by camsvc.reports); the page's tiles, hamlet
rows and camera rows must show it, and the PDF downloaded from the page's link must hold the same numbers.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from camsvc.models import Camera, MaintenanceWindow, Outage
from tests.reports import fleet
from tests.utils.auth import add_users
from tests.utils.browser import doc_shot, open_dash, wait_js
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser

SIZES = {"desktop": (1400, 900), "phone": (390, 844)}


@dataclass
class Expected:
    total: float
    hamlets: dict[str, float]
    cameras: dict[str, float]
    down_minutes: int


def independent(engine: Engine) -> Expected:
    """Availability by counting minutes of November 2026 (local): a minute is monitored when the camera
    existed, was enabled and no maintenance window covered it; down when a down outage covered it."""
    with Session(engine) as s:
        cams = [c for c in s.exec(select(Camera)).all() if c.enabled]
        outages = s.exec(select(Outage)).all()
        windows = s.exec(select(MaintenanceWindow)).all()
    minutes = int((fleet.END - fleet.START).total_seconds() // 60)
    mon: dict[str, int] = {}
    down: dict[str, int] = {}
    for c in cams:
        mine = [o for o in outages if o.camera_id == c.id and o.state.value == "down"]
        maint = [w for w in windows if w.camera_id in (None, c.id)]
        m = d = 0
        for k in range(minutes):
            t = fleet.START + dt.timedelta(minutes=k)
            if t < c.created_at or any(w.starts_at <= t < (w.ends_at or fleet.END) for w in maint):
                continue
            m += 1
            if any(o.started_at <= t < (o.ended_at or fleet.END) for o in mine):
                d += 1
        mon[c.id], down[c.id] = m, d
    by_hamlet: dict[str, list[str]] = {}
    for c in cams:
        by_hamlet.setdefault(c.hamlet, []).append(c.id)
    ratio = lambda ids: 1 - sum(down[i] for i in ids) / sum(mon[i] for i in ids)  # noqa: E731
    return Expected(
        total=ratio(list(mon)),
        hamlets={h: ratio(ids) for h, ids in by_hamlet.items()},
        cameras={i: ratio([i]) for i in mon},
        down_minutes=sum(down.values()),
    )


def vi(v: float) -> str:
    return f"{v * 100:.2f} %".replace(".", ",")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    from camsvc.app import create_app

    settings, engine = fleet.make_db(tmp_path_factory.mktemp("rep-ui"))
    add_users(engine)
    with LiveServer(create_app(settings, start_runtime=False)) as live:
        yield live.url, engine
    engine.dispose()


@pytest.fixture(scope="module")
def expected(srv: tuple[str, Engine]) -> Expected:
    return independent(srv[1])


def shot(page: Any, out: Path, name: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    doc_shot(out / f"{name}.png", f"{name}.png")


@pytest.mark.parametrize("size", list(SIZES))
def test_report_page_and_pdf_show_the_independent_numbers(
    srv: tuple[str, Engine], expected: Expected, page_factory: Any, tmp_path: Path, size: str
) -> None:
    url, _engine = srv
    assert expected.down_minutes == fleet.TOTAL_DOWN_S // 60  # the independent count agrees with the hand one
    w, hgt = SIZES[size]
    page = page_factory(w, hgt, accept_downloads=True)
    open_dash(page, f"{url}/reports?month=2026-11", "viewer")
    wait_js(page, "document.body.dataset.reportLoads >= 1", 30)
    assert page.locator("#rp-t-availability .v").inner_text() == vi(expected.total)
    for hamlet, v in expected.hamlets.items():
        assert page.locator(f'#rp-hamlets tr[data-hamlet="{hamlet}"] td.avail').inner_text() == vi(v), hamlet
    for cid, v in expected.cameras.items():
        assert page.locator(f'#rp-cameras tr[data-camera="{cid}"] td.avail').inner_text() == vi(v), cid
    assert page.locator("#rp-cameras tr[data-camera]").count() == len(expected.cameras)
    assert page.locator("#rp-worst tr[data-camera]").first.get_attribute("data-camera") == "h1"
    causes = page.locator(".rp-cause").evaluate_all("els => els.map(e => e.dataset.cause)")
    assert set(causes) == {"timeout", "refused", "covered"}
    assert "bảo trì" in page.locator("#rp-result").inner_text().lower()
    # the screen fits the width (wide tables scroll inside their own box), on a phone too
    assert page.evaluate(
        "(() => { const m = document.getElementById('reports-main'); return m.scrollWidth <= m.clientWidth + 1 && m.getBoundingClientRect().right <= window.innerWidth + 1; })()"
    )
    assert page.locator("#rp-start").is_hidden()  # month mode: the range fields are hidden
    shot(page, tmp_path, f"reports-page-{size}")

    # sorted by availability, worst first; a click on the heading turns it round
    worst, best = (
        min(expected.cameras, key=expected.cameras.__getitem__),
        max(expected.cameras, key=expected.cameras.__getitem__),
    )
    assert page.locator("#rp-cameras tbody tr").first.get_attribute("data-camera") == worst
    page.locator('#rp-cameras th[data-key="availability"]').click()
    assert page.locator("#rp-cameras tbody tr").first.get_attribute("data-camera") == best

    with page.expect_download() as info:
        page.locator("#rp-pdf").click()
    dl = info.value
    assert dl.suggested_filename == "camsvc-report-2026-11.pdf"
    from pypdf import PdfReader

    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(Path(dl.path()).read_bytes())).pages)
    assert vi(expected.total) in text
    for v in [*expected.hamlets.values(), *expected.cameras.values()]:
        assert vi(v) in text

    # the print page (the PDF's own source) for the docs
    pr = page_factory(w, hgt)
    pr.context.add_cookies(page.context.cookies())
    pr.goto(
        page.locator("#rp-print").get_attribute("href")
        and url + page.locator("#rp-print").get_attribute("href")
    )
    pr.emulate_media(media="print")
    assert pr.locator("#rp-availability").inner_text() == vi(expected.total)
    shot(pr, tmp_path, f"reports-print-{size}")


def test_custom_range_scope_and_english(
    srv: tuple[str, Engine], expected: Expected, page_factory: Any
) -> None:
    url, _ = srv
    page = page_factory(1400, 900)
    open_dash(page, f"{url}/reports?start=2026-11-01&end=2026-11-30&hamlet={fleet.WEST}&lang=en", "viewer")
    wait_js(page, "document.body.dataset.reportLoads >= 1", 30)
    assert page.locator("#rp-t-availability .v").inner_text() == f"{expected.hamlets[fleet.WEST] * 100:.2f}%"
    assert page.locator("#rp-cameras tr[data-camera]").count() == 2
    # switch the scope to the whole commune from the form
    page.select_option("#rp-hamlet", "")
    page.locator("#rp-form button[type=submit]").click()
    wait_js(page, "document.body.dataset.reportLoads >= 2", 30)
    assert page.locator("#rp-t-availability .v").inner_text() == f"{expected.total * 100:.2f}%"
    assert "format=csv" in (page.locator("#rp-csv").get_attribute("href") or "")
