"""The command line as one package: every group is reachable, each opens settings and the database the
same way (camsvc/cli/common.py), and configuration errors are messages with key paths, not tracebacks."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import inspect
from sqlmodel import select

from camsvc.cli import COMMANDS, cli, common
from camsvc.models import Camera

GROUPS = sorted(COMMANDS)


def test_every_command_is_a_click_command_under_camsvc_cli() -> None:
    for name, target in COMMANDS.items():
        module, attr = target.split(":")
        assert module.startswith("camsvc.cli."), name
        assert isinstance(getattr(importlib.import_module(module), attr), click.Command), name


@pytest.mark.parametrize("group", GROUPS)
def test_each_group_answers_help(group: str) -> None:
    res = CliRunner().invoke(cli, [group, "--help"], prog_name="camsvc", catch_exceptions=False)
    assert res.exit_code == 0 and res.output.startswith(f"Usage: camsvc {group} ")


def test_root_help_lists_every_group_and_bench_its_benchmarks() -> None:
    res = CliRunner().invoke(cli, ["--help"], prog_name="camsvc")
    assert res.exit_code == 0
    assert all(f"  {g} " in res.output for g in GROUPS)
    res = CliRunner().invoke(cli, ["bench", "--help"], prog_name="camsvc")
    assert all(f"  {b} " in res.output for b in ("alerts", "fleet", "simulator", "sweep", "vqd", "web"))


@pytest.mark.integration
@pytest.mark.parametrize("module", ["camsvc", "camsvc.cli"])
def test_python_m_runs_the_same_command_line(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "check-config" in out.stdout and "simulate" in out.stdout


def test_an_invalid_configuration_is_a_message_with_key_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMSVC_CHECKS__FAIL_THRESHOLD", "0")
    with pytest.raises(click.ClickException) as err:
        common.settings()
    assert err.value.message.startswith("invalid configuration (environment):")
    assert "checks.fail_threshold" in err.value.message
    res = CliRunner().invoke(cli, ["check-config"])
    assert res.exit_code == 1 and "checks.fail_threshold" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(cli, ["cameras", "list"])
    assert res.exit_code == 1 and "Error: invalid configuration" in res.output


def test_bad_per_kind_picture_thresholds_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conf = tmp_path / "camsvc.yaml"
    conf.write_text(
        "picture_thresholds:\n  household: {blurred_ratio: 30, glare: 1}\n  car: {}\n", encoding="utf-8"
    )
    monkeypatch.setenv("CAMSVC_CONFIG", str(conf))
    res = CliRunner().invoke(cli, ["check-config"])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    for named in ("household.blurred_ratio", "household.glare: unknown", "car: unknown camera kind"):
        assert named in res.output, (named, res.output)
    conf.write_text("picture_thresholds:\n  household: {blurred_ratio: 0.3}\n", encoding="utf-8")
    assert common.settings().picture_thresholds == {"household": {"blurred_ratio": 0.3}}


def test_an_unreadable_config_file_is_a_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bad = tmp_path / "camsvc.yaml"
    bad.write_text("- a list, not a mapping\n", encoding="utf-8")
    monkeypatch.setenv("CAMSVC_CONFIG", str(bad))
    with pytest.raises(click.ClickException, match="invalid configuration"):
        common.settings()


def test_options_given_win_and_options_left_out_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMSVC_PORT", "9000")
    assert common.settings(port=None).port == 9000
    assert common.settings(port=9100).port == 9100


def test_session_upgrades_the_schema_and_commits(tmp_path: Path) -> None:
    settings = common.settings(data_dir=tmp_path)
    with common.session(settings) as s:
        s.add(Camera(id="cam-1", name="one", kind="roadside", hamlet="H", main_url="rtsp://127.0.0.1/x"))
    with common.database(settings) as engine:
        assert "alembic_version" in inspect(engine).get_table_names()
    with common.session(settings) as s:
        assert s.exec(select(Camera.id)).all() == ["cam-1"]
    with pytest.raises(RuntimeError), common.session(settings) as s:
        s.add(Camera(id="cam-2", name="two", kind="roadside", hamlet="H", main_url="rtsp://127.0.0.1/y"))
        raise RuntimeError
    with common.session(settings) as s:
        assert s.exec(select(Camera.id)).all() == ["cam-1"]
