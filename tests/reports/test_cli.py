"""``camsvc report`` as a user runs it (a real process on the data dir): the PDF's text holds the numbers
worked out by hand in tests/reports/fleet.py; CSV; the text summary; a bad month is named."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.reports import fleet


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    _settings, engine = fleet.make_db(d)
    engine.dispose()
    return d


def camsvc(data: Path, *args: str) -> Any:
    env = {**os.environ, "CAMSVC_DATA_DIR": str(data)}
    return subprocess.run(
        [sys.executable, "-m", "camsvc", "report", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def vi_pct(v: float) -> str:
    return f"{v * 100:.2f} %".replace(".", ",")


def test_pdf_holds_the_numbers(data: Path, tmp_path: Path) -> None:
    from pypdf import PdfReader

    out = tmp_path / "out.pdf"
    res = camsvc(data, "--month", "2026-11", "--pdf", str(out))
    assert res.returncode == 0, res.stderr
    text = "\n".join(p.extract_text() for p in PdfReader(str(out)).pages)
    assert "11/2026" in text
    for v in (fleet.TOTAL_AVAIL, fleet.TOTAL_GOOD, fleet.EAST_AVAIL, fleet.WEST_AVAIL, fleet.AVAIL["h1"]):
        assert vi_pct(v) in text, (vi_pct(v), text[:2000])
    assert "1 ngày 11 giờ" in text  # total downtime 35 h
    assert "8 giờ 30 phút" in text  # MTTR 8.5 h
    assert "bảo trì" in text.lower()  # maintenance counted apart, said so
    assert fleet.OWNER not in text


def test_csv_and_english(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    res = camsvc(
        data, "--start", "2026-11-01", "--end", "2026-11-30", "--hamlet", fleet.EAST, "--csv", str(out)
    )
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert {r["camera_id"] for r in rows if r["level"] == "camera"} == {"r1", "r2"}
    assert float(rows[-1]["availability"]) == pytest.approx(fleet.EAST_AVAIL, abs=1e-6)


def test_text_summary(data: Path) -> None:
    res = camsvc(data, "--month", "2026-11", "--lang", "en")
    assert res.returncode == 0, res.stderr
    assert f"{fleet.TOTAL_AVAIL * 100:.2f}%" in res.stdout
    assert "Maintenance is counted apart" in res.stdout


def test_bad_month_is_named(data: Path) -> None:
    res = camsvc(data, "--month", "2026-13")
    assert res.returncode == 2
    assert "--month" in res.stderr and "2026-13" in res.stderr
