"""The recording parts of the dashboard (issue 10) in a real browser against the real app: a camera's 24 h
timeline (kept, gaps, held by a case), its recorder's status, a household camera that camsvc does not
record, and the storage line that turns to a warning below the free-space floor.

The segment index, recorder status and the case holding a range are real rows in the real SQLite database
(the recorder itself is tested in tests/recording); what is asserted is the path index -> API -> page.
Skipped (with the reason) while ``GET /api/cameras/{id}/recording`` is not installed.
"""

from __future__ import annotations

import datetime as dt
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
from tests.web.conftest import NO_TILES
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SIZES = ((1400, 900), (390, 844))
SEGMENT = dt.timedelta(minutes=10)
HOLE = (dt.timedelta(hours=9), dt.timedelta(hours=8, minutes=30))  # before now: the gap in the index
KEPT = (dt.timedelta(hours=20), dt.timedelta(minutes=2))  # first and last kept instants, before now
HELD = (dt.timedelta(hours=6), dt.timedelta(hours=5, minutes=30))
ERROR = "connection refused by the camera"


@dataclass
class RecDash:
    url: str
    engine: Engine
    now: dt.datetime
    roadside: str
    household: str
    case_id: int


def _segments(camera_id: str, start: dt.datetime, end: dt.datetime) -> list[Any]:
    from camsvc.recording.models import Segment

    out = []
    t = start
    while t < end:
        e = min(t + SEGMENT, end)
        stamp = t.strftime("%Y%m%dT%H%M%S.000Z")
        out.append(
            Segment(
                camera_id=camera_id,
                stream="main",
                path=f"{camera_id}/{t:%Y-%m-%d}/{t:%H}/{camera_id}-main-{stamp}.mp4",
                start=t,
                end=e,
                duration_s=(e - t).total_seconds(),
                size=int(50e6 * (e - t).total_seconds() / 3600),  # 50 MB/hour
                sha256="0" * 64,
                frames=int(5 * (e - t).total_seconds()),
                keyframes=int((e - t).total_seconds() / 2),
                codec="h264",
                width=1280,
                height=720,
            )
        )
        t = e
    return out


def _fill_recordings(engine: Engine, now: dt.datetime, cid: str) -> int:
    from camsvc.cases.models import Case, CaseClip
    from camsvc.recording.models import RecorderStatus

    with Session(engine) as s:
        for seg in _segments(cid, now - KEPT[0], now - HOLE[0]) + _segments(
            cid, now - HOLE[1], now - KEPT[1]
        ):
            s.add(seg)
        s.add(
            RecorderStatus(
                camera_id=cid,
                running=True,
                since=now - HOLE[1],
                last_segment_end=now - KEPT[1],
                last_packet_at=now - dt.timedelta(seconds=5),
                restarts=2,
                last_error=ERROR,
                last_error_at=now - HOLE[0],
                bytes_per_hour=50e6,
            )
        )
        case = Case(number="REC-1", title="timeline", reason="test", created_by="officer")
        s.add(case)
        s.flush()
        assert case.id is not None
        s.add(
            CaseClip(
                case_id=case.id,
                camera_id=cid,
                start=now - HELD[0],
                end=now - HELD[1],
                source="recorded",
                status="ready",
                added_by="officer",
            )
        )
        s.commit()
        return case.id


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecDash]:
    from camsvc.app import create_app
    from camsvc.bench.sample import fill
    from camsvc.db import make_engine, upgrade

    tmp = tmp_path_factory.mktemp("rec")
    # a floor no disk can keep: the storage line must turn to a warning
    settings = Settings(
        data_dir=tmp, tile_url=NO_TILES, recording={"min_free_bytes": 10**18, "dir": str(tmp / "recordings")}
    )
    engine = make_engine(settings.db_url, settings.data_dir)
    upgrade(engine)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    fill(engine, 24, now=now, seed=11)
    add_users(engine)
    with Session(engine) as s:
        cams = s.exec(select(Camera).where(Camera.enabled == True)).all()  # noqa: E712
        roadside = next(c.id for c in cams if c.kind == CameraKind.ROADSIDE)
        household = next(c.id for c in cams if c.kind == CameraKind.HOUSEHOLD and c.recording_mode is None)
    with LiveServer(create_app(settings, start_runtime=False)) as srv:
        probe = httpx.get(f"{srv.url}/api/cameras/{roadside}/recording", headers=headers(engine), timeout=10)
        assert probe.status_code == 200, probe.text
        case_id = _fill_recordings(engine, now, roadside)
        yield RecDash(srv.url, engine, now, roadside, household, case_id)
    engine.dispose()


def local(t: dt.datetime) -> str:
    lt = t.astimezone(TZ)
    return f"{lt:%H:%M} {lt:%d/%m}"


def shot(page: Any, out: Path, name: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / f"{name}.png"), full_page=False)


@pytest.mark.parametrize("size", SIZES, ids=["desk", "phone"])
def test_timeline_kept_gaps_held_and_recorder_status(
    rec: RecDash, page_factory: Any, tmp_path: Path, size: tuple[int, int]
) -> None:
    page = page_factory(*size)
    open_dash(page, f"{rec.url}/?lang=en&camera={rec.roadside}", "officer")
    wait_js(page, "document.querySelector('#d-recording .tl')", 15)
    tl = page.locator("#d-recording .tl")
    kept_h = int(tl.get_attribute("data-kept-ms") or 0) / 3600e3
    expected_h = ((KEPT[0] - HOLE[0]) + (HOLE[1] - KEPT[1])).total_seconds() / 3600
    assert abs(kept_h - expected_h) < 0.1, (kept_h, expected_h)
    assert int(tl.get_attribute("data-gaps") or 0) >= 1
    assert int(tl.get_attribute("data-held") or 0) >= 1
    # drawn: kept and held pieces in the bar; the 30-minute hole listed with its local times
    assert page.locator("#d-recording .tl-bar rect.tl-kept").count() >= 1
    assert page.locator("#d-recording .tl-bar rect.tl-held").count() >= 1
    gaps = page.locator("#d-recording .tl-gap-item").all_inner_texts()
    assert any(local(rec.now - HOLE[0]) in g for g in gaps), gaps
    held = page.locator(f'#d-recording .tl-held-item a[href="/cases?case={rec.case_id}"]')
    assert held.count() == 1  # an officer may open the case holding it
    facts = page.locator("#d-recording dl.facts").inner_text()
    assert "Continuous" in facts and "Running since" in facts and ERROR in facts
    assert "MB/hour" in facts and "Days kept" in facts
    restarts = page.locator("#d-recording dl.facts dt", has_text="Restarts")
    assert restarts.locator("xpath=following-sibling::dd[1]").inner_text().strip() == "2"
    page.locator("#d-recording").scroll_into_view_if_needed()
    shot(page, tmp_path, f"timeline-{size[0]}x{size[1]}")
    # Vietnamese too
    page.goto(f"{rec.url}/?lang=vi&camera={rec.roadside}")
    wait_js(page, "document.querySelector('#d-recording h3')?.textContent === 'Ghi hình'", 15)
    assert "Ghi liên tục" in page.locator("#d-recording dl.facts").inner_text()


def test_household_camera_not_recorded_by_camsvc(rec: RecDash, page_factory: Any, tmp_path: Path) -> None:
    page = page_factory(390, 844)
    open_dash(page, f"{rec.url}/?lang=en&camera={rec.household}", "viewer")  # RECORDING_VIEW is every role
    wait_js(page, "document.querySelector('#d-recording.rec-off')", 15)
    assert "own storage" in page.locator("#d-recording .rec-note").inner_text()
    assert page.locator("#d-recording .tl").count() == 0
    # a viewer gets neither the storage line nor case clips
    assert page.locator("#storage").count() == 0 and page.locator("#d-add-case").count() == 0
    assert page.locator("#clip-start").count() == 0
    shot(page, tmp_path, "household-390x844")


@pytest.mark.parametrize("size", SIZES, ids=["desk", "phone"])
def test_storage_line_warns_below_the_floor(
    rec: RecDash, page_factory: Any, tmp_path: Path, size: tuple[int, int]
) -> None:
    r = httpx.get(f"{rec.url}/api/recording/storage", headers=headers(rec.engine), timeout=10)
    assert r.status_code == 200, r.text
    assert r.status_code == 200 and r.json()["floor_ok"] is False
    page = page_factory(*size)
    open_dash(page, f"{rec.url}/?lang=en", "technician")
    wait_js(page, "!document.getElementById('storage').hidden", 15)
    line = page.locator("#storage")
    assert "warn" in (line.get_attribute("class") or "")
    assert "floor" in line.inner_text()
    shot(page, tmp_path, f"storage-line-{size[0]}x{size[1]}")
    line.click()
    wait_js(page, "!document.getElementById('panel-storage').hidden")
    panel = page.locator("#panel-storage")
    assert panel.locator(".storage-sum.warn").count() == 1
    free = page.evaluate("(n) => CS.fmtBytes(n)", r.json()["free_bytes"])
    assert free in panel.locator(".storage-free").inner_text()
    if any(c["camera_id"] == rec.roadside for c in r.json()["cameras"]):
        assert panel.locator(f'tr[data-camera="{rec.roadside}"]').count() == 1
    shot(page, tmp_path, f"storage-panel-{size[0]}x{size[1]}")
