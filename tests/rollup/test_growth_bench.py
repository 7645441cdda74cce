"""`camsvc bench growth` end to end on a tiny run (SQLite only): the real write path, the real worker, a
table printed and the JSON written with every raw check pruned into rollups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from camsvc.cli.bench import bench


def test_growth_bench_small_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(bench, ["growth", "--cameras", "1", "--days", "0.1", "--no-postgres"])
    assert r.exit_code == 0, r.output
    assert "KB/cam/month raw" in r.output and "sqlite" in r.output
    out = json.loads((tmp_path / "bench-results" / "growth.json").read_text())
    (res,) = out["results"]
    assert res["database"] == "sqlite" and res["checks"] == 144
    assert res["checks_deleted"] == 144 and res["checks_left"] == 0  # every check rolled up, then pruned
    assert 2 <= res["rollup_rows"] <= 4  # 2.4 h of checks: 3 (or 2-4) UTC hours
    assert res["bytes_per_check"] > 3 * res["bytes_per_rollup_row"] > 0
    assert res["projected_gb_per_1000_cameras"] < res["without_rollups_gb_per_1000_cameras"]


def test_growth_bench_refuses_bad_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(bench, ["growth", "--cameras", "0", "--no-postgres"])
    assert r.exit_code != 0 and "--cameras" in r.output
