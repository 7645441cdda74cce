"""Browser-test fixtures: a real SQLite database with 240 cameras in real states, the real app served by
uvicorn on 127.0.0.1, and Debian's chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from camsvc.bench.sample import Sample
from camsvc.config import CheckSettings, Settings
from camsvc.models import HealthState
from tests.utils.auth import add_users
from tests.utils.browser import chromium
from tests.web.live import LiveServer

# Port 9 (discard): nothing answers and chromium refuses it outright, so no tile ever loads.
NO_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"
CAMERAS = 240
# Check interval of the test fleet: a camera shows "stale" after 3 intervals without a check (30 min), so a
# module's fleet stays current for its whole run although no scheduler runs.
CHECK_INTERVAL_S = 600.0


@dataclass
class Dash:
    url: str
    engine: Engine
    sample: Sample
    settings: Settings
    now: dt.datetime


def _fleet(tmp: Path) -> tuple[Settings, Engine, Sample, dt.datetime]:
    from camsvc.bench.sample import fill
    from camsvc.db import make_engine, upgrade

    settings = Settings(data_dir=tmp, tile_url=NO_TILES, checks=CheckSettings(interval_s=CHECK_INTERVAL_S))
    engine = make_engine(settings.db_url)
    upgrade(engine)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    sample = fill(engine, CAMERAS, now=now, seed=7)
    freshen(engine, sample, now)
    add_users(engine)
    return settings, engine, sample, now


def freshen(engine: Engine, sample: Sample, now: dt.datetime) -> None:
    """One more check of every checked camera a few seconds before *now*, with the same outcome, as the
    running service would have made (the sample's last check of a down camera can be days old, which the
    dashboard rightly shows as "stale"). States, their start and causes do not change."""
    from sqlmodel import Session

    from camsvc.bench.sample import write_check

    with Session(engine) as s:
        for cid, state in sample.states.items():
            at = now - dt.timedelta(seconds=2)
            if state is HealthState.DOWN:
                write_check(s, cid, at, ok=False, error=sample.causes[cid])
            elif state is HealthState.DEGRADED:
                write_check(s, cid, at, faults=(sample.causes[cid],))
            elif state is HealthState.MAINTENANCE:
                write_check(s, cid, at, maintenance=True)
            elif state is HealthState.UP:
                write_check(s, cid, at)
        s.commit()


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dash]:
    """One fleet and one server per test module (filling 240 cameras through record_check takes a few s)."""
    from camsvc.app import create_app

    settings, engine, sample, now = _fleet(tmp_path_factory.mktemp("dash"))
    with LiveServer(create_app(settings, start_runtime=False)) as srv:
        yield Dash(srv.url, engine, sample, settings, now)
    engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def page_factory(browser: Any) -> Iterator[Any]:
    """New isolated pages (own localStorage); the browser's zone is New York on purpose: the page must
    still show Asia/Ho_Chi_Minh times. Page errors fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make(width: int = 1440, height: int = 900, expected_console: tuple[str, ...] = (), **kw: Any) -> Any:
        ctx = browser.new_context(
            viewport={"width": width, "height": height},
            timezone_id="America/New_York",
            locale="en-US",
            **kw,
        )
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "console",
            lambda m: (
                errors.append(m.text)
                if m.type == "error"
                and "ERR_UNSAFE_PORT" not in m.text
                and "404" not in m.text
                and not any(x in m.text for x in expected_console)
                else None
            ),
        )
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    assert not errors, f"errors in the page: {errors}"
