"""GET /api/reports (formats, errors, hamlet scope) and GET /api/public/status on the real app."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from camsvc.auth.bootstrap import api_token
from tests.reports import fleet
from tests.utils.auth import headers


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Any]]:
    from camsvc.app import create_app

    settings, engine = fleet.make_db(tmp_path_factory.mktemp("api"))
    app = create_app(settings, start_runtime=False)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c, engine, settings
    engine.dispose()


def _get(env: Any, role: str = "viewer", **params: Any) -> Any:
    c, engine, _ = env
    return c.get("/api/reports", params=params, headers=headers(engine, role))


def test_json_for_a_month(env: Any) -> None:
    r = _get(env, month="2026-11")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["period"]["start"] == "2026-10-31T17:00:00Z" and body["period"]["end"] == "2026-11-30T17:00:00Z"
    )
    assert body["total"]["availability"] == pytest.approx(fleet.TOTAL_AVAIL, abs=1e-6)
    assert body["total"]["outages"] == fleet.TOTAL_OUTAGES
    assert {h["hamlet"]: h["availability"] for h in body["hamlets"]} == pytest.approx(
        {fleet.EAST: fleet.EAST_AVAIL, fleet.WEST: fleet.WEST_AVAIL}, abs=1e-6
    )
    assert "maintenance" in body["definitions"]
    assert fleet.OWNER not in r.text  # owners never in a report


def test_start_end_local_dates_equal_the_month(env: Any) -> None:
    a = _get(env, start="2026-11-01", end="2026-11-30").json()
    b = _get(env, start="2026-10-31T17:00:00Z", end="2026-11-30T17:00:00Z").json()
    assert a["period"] == b["period"] and a["period"]["month"] == "2026-11"
    assert a["total"] == b["total"]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        pytest.param({"month": "2026-13"}, "month", id="month-13"),
        pytest.param({"month": "11-2026"}, "month", id="month-shape"),
        pytest.param({"start": "2026-11-01"}, "end", id="start-alone"),
        pytest.param({"start": "yesterday", "end": "2026-11-02"}, "start", id="start-text"),
        pytest.param({"start": "2026-11-05", "end": "2026-11-01"}, "end", id="end-before-start"),
        pytest.param({"month": "2026-11", "start": "2026-11-01", "end": "2026-11-02"}, "month", id="both"),
        pytest.param({"format": "xls"}, "format", id="format"),
        pytest.param({"kind": "drone"}, "kind", id="kind"),
        pytest.param({"lang": "fr"}, "lang", id="lang"),
    ],
)
def test_bad_parameters_are_named(env: Any, params: dict[str, str], name: str) -> None:
    r = _get(env, **params)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail[0]["loc"] == ["query", name], detail
    assert name in detail[0]["msg"]


def test_csv_rows_and_filename(env: Any) -> None:
    r = _get(env, month="2026-11", format="csv")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="camsvc-report-2026-11.csv"'
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    levels = [x["level"] for x in rows]
    assert levels.count("camera") == 4 and levels.count("hamlet") == 2 and levels[-1] == "total"
    total = rows[-1]
    assert float(total["availability"]) == pytest.approx(fleet.TOTAL_AVAIL, abs=1e-6)
    assert float(total["downtime_s"]) == pytest.approx(fleet.TOTAL_DOWN_S)


def test_csv_is_formula_safe(env: Any) -> None:
    from sqlmodel import Session

    from camsvc.models import Camera

    c, engine, _ = env
    with Session(engine) as s:
        cam = s.get(Camera, "r2")
        assert cam is not None
        cam.name = '=HYPERLINK("http://x/","y")'
        s.add(cam)
        s.commit()
    try:
        r = _get(env, month="2026-11", format="csv")
        row = next(
            x for x in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))) if x["camera_id"] == "r2"
        )
        assert row["camera_name"].startswith("'=")
    finally:
        with Session(engine) as s:
            cam = s.get(Camera, "r2")
            assert cam is not None
            cam.name = "Cầu Đông"
            s.add(cam)
            s.commit()


def test_pdf_holds_the_numbers(env: Any) -> None:
    from pypdf import PdfReader

    r = _get(env, month="2026-11", format="pdf", hamlet=fleet.WEST)
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert "camsvc-report-2026-11-" in r.headers["content-disposition"]
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert f"{fleet.WEST_AVAIL * 100:.2f} %".replace(".", ",") in text
    assert "Ngã ba chợ" not in text  # another hamlet's camera


def test_print_page_vi_and_en(env: Any) -> None:
    vi = _get(env, month="2026-11", format="html")
    en = _get(env, month="2026-11", format="html", lang="en")
    assert vi.headers["content-type"].startswith("text/html")
    assert f"{fleet.TOTAL_AVAIL * 100:.2f} %".replace(".", ",") in vi.text
    assert f"{fleet.TOTAL_AVAIL * 100:.2f}%" in en.text
    assert "Bảo trì" in vi.text or "bảo trì" in vi.text


def test_hamlet_scope_of_the_user(env: Any) -> None:
    c, engine, _ = env
    tok = api_token(engine, "west-viewer", "viewer", hamlets=[fleet.WEST])
    r = c.get("/api/reports", params={"month": "2026-11"}, headers={"Authorization": f"Bearer {tok}"})
    body = r.json()
    assert {x["id"] for x in body["cameras"]} == {"h1", "h2"}
    assert body["total"]["availability"] == pytest.approx(fleet.WEST_AVAIL, abs=1e-6)
    other = c.get(
        "/api/reports",
        params={"month": "2026-11", "hamlet": fleet.EAST},
        headers={"Authorization": f"Bearer {tok}"},
    )
    assert other.json()["cameras"] == []


def test_default_is_last_month(env: Any) -> None:
    body = _get(env).json()
    assert body["period"]["month"] is not None


def test_needs_sign_in(env: Any) -> None:
    c, _, _ = env
    assert c.get("/api/reports", headers={"Accept": "application/json"}).status_code == 401


def test_public_status_404_by_default(env: Any) -> None:
    c, _, _ = env
    assert c.get("/api/public/status").status_code == 404
    assert c.get("/status").status_code == 404
