"""Settings are declared once: the configuration reference and the example file are generated from them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from camsvc import config_docs
from camsvc.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_generated_files_are_up_to_date() -> None:
    stale = config_docs.stale(ROOT)
    assert not stale, f"{', '.join(stale)} out of date with camsvc/config.py: run {config_docs.REGENERATE}"


def test_every_setting_and_section_has_a_description() -> None:
    missing = [k.name for k in config_docs.all_keys() if not k.description.strip()]
    assert not missing, f"settings without a description: {missing}"


SECTIONS = {s.key.name for s in config_docs.sections() if s.key is not None}


def _keys(data: dict[str, Any], prefix: str = "") -> set[str]:
    """Setting names: sections are walked into, a mapping-valued setting (e.g. playback) is one key."""
    out = set()
    for k, v in data.items():
        out.add(prefix + k)
        if isinstance(v, dict) and prefix + k in SECTIONS:
            out |= _keys(v, f"{prefix}{k}.")
    return out


def test_example_file_holds_every_key_and_loads_as_the_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    example = ROOT / "config" / "camsvc.example.yaml"
    written = yaml.safe_load(example.read_text(encoding="utf-8"))
    assert _keys(written) == _keys(Settings().model_dump()) == {k.name for k in config_docs.all_keys()}
    monkeypatch.chdir(tmp_path)  # no config/camsvc.yaml of the developer's
    monkeypatch.setenv("CAMSVC_CONFIG", str(example))
    loaded = load_settings()
    monkeypatch.delenv("CAMSVC_CONFIG")
    assert loaded == load_settings()


def test_environment_names_follow_the_settings_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    key = next(k for k in config_docs.all_keys() if k.name == "checks.interval_s")
    assert key.env == "CAMSVC_CHECKS__INTERVAL_S"
    monkeypatch.setenv(key.env, "17")
    assert load_settings().checks.interval_s == 17


def test_write_regenerates_what_is_stale(tmp_path: Path) -> None:
    assert sorted(config_docs.stale(tmp_path)) == sorted(config_docs.GENERATED)
    assert len(config_docs.write(tmp_path)) == len(config_docs.GENERATED)
    assert config_docs.stale(tmp_path) == [] and config_docs.write(tmp_path) == []
