"""build_report against a real SQLite database holding known outage rows (tests/reports/fleet.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session

from camsvc.auth.roles import Role, Subject
from camsvc.reports.build import build_report
from tests.reports import fleet

NOW = dt.datetime(2026, 12, 2, 5, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _settings, engine = fleet.make_db(tmp_path_factory.mktemp("rep"))
    yield engine
    engine.dispose()


def test_numbers_per_camera_hamlet_and_commune(engine: Any) -> None:
    with Session(engine) as s:
        rep = build_report(s, fleet.START, fleet.END, now=NOW)
    cams = {c.id: c.stats for c in rep.summary.cameras}
    assert set(cams) == {"r1", "r2", "h1", "h2"}  # d1 is disabled: left out, and said so
    assert rep.disabled_left_out == 1
    for cid in cams:
        assert cams[cid].monitored_s == pytest.approx(fleet.MON[cid]), cid
        assert cams[cid].down_s == pytest.approx(fleet.DOWN[cid]), cid
        assert cams[cid].degraded_s == pytest.approx(fleet.BAD[cid]), cid
        assert cams[cid].availability == pytest.approx(fleet.AVAIL[cid]), cid
    assert cams["h2"].maintenance_s == pytest.approx(24 * 3600)
    assert rep.summary.hamlets[fleet.EAST].availability == pytest.approx(fleet.EAST_AVAIL)
    assert rep.summary.hamlets[fleet.WEST].availability == pytest.approx(fleet.WEST_AVAIL)
    t = rep.total
    assert t.availability == pytest.approx(fleet.TOTAL_AVAIL)
    assert t.good_picture == pytest.approx(fleet.TOTAL_GOOD)
    assert t.outages == fleet.TOTAL_OUTAGES
    assert t.down_s == pytest.approx(fleet.TOTAL_DOWN_S)
    assert t.longest_down_s == pytest.approx(24 * 3600)
    assert t.mttr_s == pytest.approx(fleet.MTTR_S)
    assert t.mtta_s == pytest.approx(600)
    assert [c.id for c in rep.summary.worst] == [
        "h1",
        "h2",
        "r1",
        "r2",
    ]  # 24 h/15 d, 6 h/29 d, 5 h/30 d, picture only
    assert rep.month == "2026-11"


def test_hamlet_kind_and_user_scope(engine: Any) -> None:
    west = Subject(username="v", role=Role.VIEWER, hamlets=["thon tay"])
    with Session(engine) as s:
        scoped = build_report(s, fleet.START, fleet.END, now=NOW, subject=west)
        east_for_west = build_report(s, fleet.START, fleet.END, now=NOW, subject=west, hamlet=fleet.EAST)
        roadside = build_report(s, fleet.START, fleet.END, now=NOW, kind="roadside")
        east = build_report(s, fleet.START, fleet.END, now=NOW, hamlet="THÔN ĐÔNG")
    assert {c.id for c in scoped.summary.cameras} == {"h1", "h2"}
    assert scoped.total.availability == pytest.approx(fleet.WEST_AVAIL)
    assert east_for_west.summary.cameras == []  # out of the user's hamlets: nothing, not an error
    assert {c.id for c in roadside.summary.cameras} == {"r1", "r2"}
    assert {c.id for c in east.summary.cameras} == {"r1", "r2"}


def test_period_not_over_ends_now(engine: Any) -> None:
    now = fleet.T(15)  # mid-November: the month so far
    with Session(engine) as s:
        rep = build_report(s, fleet.START, fleet.END, now=now)
    r1 = next(c for c in rep.summary.cameras if c.id == "r1")
    assert r1.stats.monitored_s == pytest.approx((now - fleet.START).total_seconds())
    assert "h1" in {c.id for c in rep.summary.cameras} and rep.summary.cameras[0].stats.cameras == 1


@pytest.mark.parametrize("table_max", [300, 0], ids=["table", "one-line-per-camera"])
def test_pdf_lists_every_camera_with_its_numbers(engine: Any, table_max: int) -> None:
    """Small fleets get the per-camera table; above PDF_TABLE_MAX_CAMERAS the PDF lists one line per camera
    (WeasyPrint lays out text ~10x faster than table rows): either way each camera's availability is there."""
    import io

    from pypdf import PdfReader

    from camsvc.reports.render import to_html, to_pdf

    with Session(engine) as s:
        rep = build_report(s, fleet.START, fleet.END, now=NOW)
    pdf = to_pdf(rep, "vi", table_max=table_max)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    flat = " ".join(text.split())
    for cam in rep.summary.cameras:
        pct = f"{fleet.AVAIL[cam.id] * 100:.2f} %".replace(".", ",")
        assert f"({cam.id})" in flat and pct in flat, (cam.id, pct)
    html = to_html(rep, "vi", for_pdf=True, table_max=table_max)
    assert ('id="rp-camera-lines"' in html) == (table_max == 0)
    assert ('id="rp-cameras"' in html) == (table_max > 0)
