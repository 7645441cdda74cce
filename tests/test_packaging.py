"""The dashboard is part of the package: a wheel carries its templates, static files and translations."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import camsvc
from camsvc.web.routes import find_web_dir

ROOT = Path(__file__).resolve().parents[1]


def test_the_dashboard_is_found_as_package_data() -> None:
    web = find_web_dir()
    assert web == Path(camsvc.__file__).parent / "webui"
    assert web.resolve() == (ROOT / "web").resolve()  # the source stays the top-level web/


@pytest.mark.integration  # pip builds the wheel in a subprocess (~3 s)
def test_a_wheel_ships_the_dashboard(tmp_path: Path) -> None:
    src = tmp_path / "src"  # a copy: the build writes build/ and *.egg-info beside the sources
    junk = (".git", ".venv", "build", "data", "*.egg-info", "__pycache__", ".*_cache", "bench-results")
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(*junk))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(src)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("camsvc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    web = ROOT / "web"
    expected = {f"camsvc/webui/{p.relative_to(web).as_posix()}" for p in web.rglob("*") if p.is_file()}
    assert {
        "camsvc/webui/templates/index.html",
        "camsvc/webui/static/css/dashboard.css",
        "camsvc/webui/static/js/app.js",
        "camsvc/webui/translations/vi.json",
        "camsvc/webui/translations/en.json",
    } <= names
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)}"
    assert "camsvc/migrations/env.py" in names and "camsvc/cli/__main__.py" in names
