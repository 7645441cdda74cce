"""The optional public status page: off by default (404, page and data); when on, per-hamlet numbers for a
real fleet (camsvc.bench.sample: the simulator's fleet imported, states through record_check), and nothing
that names or locates a household: no owner names or phones, no camera names or ids, no coordinates, no
addresses, no pictures. Checked in the JSON and in the page a browser shows, anonymous, at both sizes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from camsvc.config import Settings
from camsvc.enums import CameraKind
from camsvc.models import Camera
from tests.utils.browser import doc_shot, wait_js
from tests.web.conftest import NO_TILES
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser


def test_off_by_default(tmp_path: Path) -> None:
    from camsvc.app import create_app

    app = create_app(Settings(data_dir=tmp_path / "data"), start_runtime=False)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert c.get("/api/public/status").status_code == 404
        assert c.get("/status").status_code == 404


@pytest.fixture(scope="module")
def pub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Camera]]]:
    from camsvc.app import create_app
    from camsvc.bench.sample import fill
    from camsvc.db import make_engine, upgrade

    tmp = tmp_path_factory.mktemp("pub")
    settings = Settings(data_dir=tmp, tile_url=NO_TILES, dashboard={"public_status": True})
    engine = make_engine(settings.db_url, settings.data_dir)
    upgrade(engine)
    fill(engine, 120, now=dt.datetime.now(dt.UTC).replace(microsecond=0), seed=11, with_pictures=False)
    with Session(engine) as s:
        cams = list(s.exec(select(Camera)).all())
    with LiveServer(create_app(settings, start_runtime=False)) as srv:
        yield srv.url, cams
    engine.dispose()


def secrets_of(cams: list[Camera]) -> list[str]:
    """Every string that must not appear: who and where (households), and which camera."""
    out: set[str] = set()
    for c in cams:
        out.update(x for x in (c.owner_name, c.owner_phone, c.address) if x and len(x) > 3)
        out.add(c.id)
        if c.kind == CameraKind.HOUSEHOLD:
            out.add(c.name)
        for v in (c.latitude, c.longitude):
            if v is not None:
                out.update({str(v), f"{v:.4f}", f"{v:.3f}"})
    return sorted(out)


def test_data_has_hamlet_numbers_and_nothing_personal(pub: tuple[str, list[Camera]]) -> None:
    url, cams = pub
    r = httpx.get(f"{url}/api/public/status", timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    enabled = [c for c in cams if c.enabled and c.deleted_at is None]
    want = {}
    for c in enabled:
        want[c.hamlet] = want.get(c.hamlet, 0) + 1
    assert {h["hamlet"]: h["cameras"] for h in body["hamlets"]} == want
    assert any(h["open"] for h in body["hamlets"])  # the sample fleet has cameras down now
    assert all(0 <= h["availability_30d"] <= 1 for h in body["hamlets"])
    leaks = [s for s in secrets_of(cams) if s in r.text]
    assert not leaks, leaks[:10]
    assert "jpeg" not in r.text.lower() and "picture" not in r.text.lower()


@pytest.mark.parametrize("size", [(1400, 900), (390, 844)], ids=["desktop", "phone"])
def test_page_anonymous(
    pub: tuple[str, list[Camera]], page_factory: Any, tmp_path: Path, size: tuple[int, int]
) -> None:
    url, cams = pub
    page = page_factory(*size)
    page.goto(f"{url}/status")
    assert "/login" not in page.url
    page.wait_for_selector('body[data-ready="1"]', state="attached", timeout=30000)
    wait_js(page, "document.querySelectorAll('#st-hamlets tr[data-hamlet]').length > 0", 30)
    n = page.locator("#st-hamlets tr[data-hamlet]").count()
    assert n == len({c.hamlet for c in cams if c.enabled})
    html = page.content()
    text = page.locator("body").inner_text()
    leaks = [s for s in secrets_of(cams) if s in html or s in text]
    assert not leaks, leaks[:10]
    assert page.locator("img").count() == 0
    assert page.locator("#reports-link").count() == 0  # no navigation for an anonymous visitor
    name = "reports-status-" + ("desktop" if size[0] > 500 else "phone")
    tmp_path.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    doc_shot(tmp_path / f"{name}.png", f"{name}.png")
