"""The red "checks are not running since HH:MM" banner, in the browser, on the map page and on a screen
built on base.html, at 1400x900 and 390x844: real app (uvicorn on 127.0.0.1), real SQLite, Debian's
chromium. Checks "stop" by the database's own record: the newest check is made 10 minutes old (what a
service that stopped recording leaves behind; the real faults are in tests/runtime/test_pipeline_e2e.py),
and "resume" with a fresh check row. The banner comes from /healthz on its own poll (no test hook)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlmodel import Session

from camsvc.bench.sample import write_check
from camsvc.config import CheckSettings, PipelineSettings
from camsvc.models import Check
from tests.utils.browser import doc_shot, open_dash, wait_js
from tests.web.conftest import NO_TILES, Dash
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser

SIZES = {"desktop": (1400, 900), "phone": (390, 844)}
BANNER = "!!document.getElementById('pipeline-banner') && !document.getElementById('pipeline-banner').hidden"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dash]:
    from camsvc.app import create_app
    from camsvc.bench.sample import fill
    from camsvc.config import Settings
    from camsvc.db import make_engine, upgrade
    from tests.web.conftest import add_users, freshen

    tmp = tmp_path_factory.mktemp("banner")
    settings = Settings(
        data_dir=tmp,
        tile_url=NO_TILES,
        checks=CheckSettings(interval_s=60),
        pipeline=PipelineSettings(grace_s=0),
    )
    engine = make_engine(settings.db_url)
    upgrade(engine)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    sample = fill(engine, 30, now=now, seed=3)
    freshen(engine, sample, now)
    add_users(engine)
    with LiveServer(create_app(settings, start_runtime=False)) as srv:
        yield Dash(srv.url, engine, sample, settings, now)
    engine.dispose()


def stop_checks(d: Dash, minutes: int = 10) -> dt.datetime:
    """Every check row is moved back so the newest is *minutes* old; returns that time."""
    newest = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=minutes)
    with Session(d.engine) as s:
        s.exec(update(Check).values(at=newest))  # type: ignore[call-overload]
        s.commit()
    return newest


def resume_checks(d: Dash) -> None:
    with Session(d.engine) as s:
        write_check(s, next(iter(d.sample.states)), dt.datetime.now(dt.UTC))
        s.commit()


@pytest.mark.parametrize("size", list(SIZES))
def test_banner_when_checks_stop_and_gone_when_they_resume(
    live: Dash, browser: Any, size: str, tmp_path: Path
) -> None:
    w, h = SIZES[size]
    ctx = browser.new_context(viewport={"width": w, "height": h})
    page = ctx.new_page()
    try:
        open_dash(page, live.url + "/")
        wait_js(page, "window.CS.pipeline.polls >= 1", 15)
        assert not page.evaluate(BANNER), "no banner while checks run"
        assert page.locator("#lost").is_hidden()

        since = stop_checks(live)
        wait_js(page, BANNER, 25)  # the page's own 10 s poll of /healthz
        hhmm = since.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%H:%M")
        text = page.locator("#pipeline-banner").inner_text()
        assert text.startswith(f"Kiểm tra camera đã ngừng từ {hhmm}"), text
        assert page.locator("#lost").is_hidden(), "distinct from the lost-the-server banner"
        box = page.locator("#pipeline-banner").bounding_box()
        assert box and box["y"] < h / 3 and box["width"] >= w * 0.9, box
        color = page.evaluate("getComputedStyle(document.getElementById('pipeline-banner')).backgroundColor")
        assert color == "rgb(179, 38, 30)", color
        shot = tmp_path / f"pipeline-banner-{size}.png"
        page.screenshot(path=str(shot))
        doc_shot(shot, f"pipeline-banner-{size}.png")

        # English, and on a screen built on base.html (the reports page): the same banner
        page.goto(live.url + "/reports?lang=en")
        wait_js(page, BANNER, 15)
        text_en = page.locator("#pipeline-banner").inner_text()
        assert text_en.startswith(f"Checks are not running since {hhmm}"), text_en
        top = page.locator("body > header").bounding_box()
        box = page.locator("#pipeline-banner").bounding_box()
        assert top and box and box["y"] >= top["y"] + top["height"] - 1, (top, box)
        shot = tmp_path / f"pipeline-banner-reports-{size}.png"
        page.screenshot(path=str(shot))

        resume_checks(live)
        wait_js(page, "!(" + BANNER + ")", 25)
        page.goto(live.url + "/")
        page.wait_for_selector('body[data-ready="1"]', state="attached", timeout=20000)
        wait_js(page, "window.CS.pipeline.polls >= 1", 15)
        assert not page.evaluate(BANNER)
    finally:
        ctx.close()
