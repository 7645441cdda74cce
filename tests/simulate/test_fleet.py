"""The simulated fleet: deterministic, exact columns, inside Diễn Bích, a realistic mix."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from camsvc.simulate.fleet import (
    BBOX,
    FLEET_COLUMNS,
    HAMLETS,
    fleet_csv_text,
    fleet_yaml_text,
    fold,
    generate_fleet,
    match_hamlet,
    read_fleet,
    write_fleet,
)

EXPECTED_COLUMNS = [
    "id",
    "name",
    "kind",
    "hamlet",
    "address",
    "latitude",
    "longitude",
    "owner_name",
    "owner_phone",
    "owner_consent",
    "vendor",
    "model",
    "main_url",
    "sub_url",
    "snapshot_url",
    "username",
    "password",
    "check_interval_s",
    "enabled",
    "notes",
    "installed_on",
]


@pytest.fixture(scope="module")
def fleet() -> list:
    return generate_fleet()


def test_same_seed_same_fleet_other_seed_other_fleet() -> None:
    assert generate_fleet(seed=1) == generate_fleet(seed=1)
    a, b = generate_fleet(seed=1), generate_fleet(seed=2)
    assert [s.camera.id for s in a] == [s.camera.id for s in b]
    assert [s.camera.password for s in a] != [s.camera.password for s in b]


def test_default_fleet_is_dien_bich(fleet: list) -> None:
    cams = [s.camera for s in fleet]
    assert len(cams) == 240
    assert Counter(c.kind for c in cams) == {"roadside": 40, "household": 200}
    assert [c.id for c in cams] == [f"cam-{i:03d}" for i in range(1, 241)]
    assert len({c.name for c in cams}) == 240
    assert {c.hamlet for c in cams} == set(HAMLETS) and len(HAMLETS) == 8
    assert "Bắc Chiến Thắng" in HAMLETS
    s, w, n, e = BBOX
    assert all(s < c.latitude < n and w < c.longitude < e for c in cams)
    assert abs(s - 19.05) < 0.05 and abs(w - 105.63) < 0.05


def test_columns_are_exactly_the_import_format(fleet: list) -> None:
    assert list(FLEET_COLUMNS) == EXPECTED_COLUMNS
    cams = [s.camera for s in fleet[:5]]
    header = next(csv.reader(io.StringIO(fleet_csv_text(cams))))
    assert header == EXPECTED_COLUMNS
    rows = yaml.safe_load(fleet_yaml_text(cams))["cameras"]
    assert all(list(r) == EXPECTED_COLUMNS for r in rows)


def test_mix_of_kinds_protocols_and_credentials(fleet: list) -> None:
    roadside = [s for s in fleet if s.camera.kind == "roadside"]
    household = [s for s in fleet if s.camera.kind == "household"]
    assert all(s.protocol == "rtsp" and s.camera.sub_url.startswith("rtsp://") for s in roadside)
    assert all(s.camera.username and s.camera.password for s in roadside)
    assert all(not s.camera.owner_name and not s.camera.owner_phone for s in roadside)
    mix = Counter((s.protocol, bool(s.camera.username)) for s in household)
    assert all(mix[k] >= 20 for k in [("rtsp", True), ("rtsp", False), ("http", True), ("http", False)]), mix
    for s in household:
        assert re.fullmatch(r"09\d{8}", s.camera.owner_phone), s.camera.owner_phone
        assert len(s.camera.owner_name.split()) >= 3
        if s.protocol == "http":
            assert s.camera.main_url.startswith("http://") and s.camera.snapshot_url.startswith("http://")
            assert s.camera.sub_url == ""
    assert len({s.scene for s in fleet}) >= 5  # different pictures, not one clip everywhere


def test_urls_carry_no_credentials_and_use_one_port_per_camera(fleet: list) -> None:
    for spec in fleet:
        cam = spec.camera
        assert spec.port == 20000 + spec.index
        for url in (cam.main_url, cam.sub_url, cam.snapshot_url):
            if url:
                parts = urlsplit(url)
                assert "@" not in parts.netloc and parts.hostname == "127.0.0.1" and parts.port == spec.port
                if cam.password:
                    assert cam.password not in url


def test_rows_are_complete_and_typed(fleet: list) -> None:
    for spec in fleet:
        cam = spec.camera
        date.fromisoformat(cam.installed_on)
        assert cam.check_interval_s in (60, 120, 300)
        assert cam.vendor and cam.model and cam.address.endswith("Nghệ An")
        assert cam.hamlet in cam.address
    assert any(not s.camera.enabled for s in fleet) and sum(s.camera.enabled for s in fleet) > 220


def test_ports_and_host_follow_arguments() -> None:
    specs = generate_fleet(2, 3, base_port=31000, host="127.0.0.1")
    assert [s.port for s in specs] == [31000, 31001, 31002, 31003, 31004]
    assert specs[4].camera.main_url.split(":")[2].startswith("31004")
    with pytest.raises(ValueError, match=">= 0"):
        generate_fleet(-1, 3)


def test_csv_and_yaml_round_trip(tmp_path: Path, fleet: list) -> None:
    cams = [s.camera for s in fleet]
    csv_path, yaml_path = write_fleet(cams, tmp_path / "out")
    assert read_fleet(csv_path) == cams
    assert read_fleet(yaml_path) == cams
    text = csv_path.read_text(encoding="utf-8")
    assert "Bắc Chiến Thắng" in text  # UTF-8, diacritics kept
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["owner_name"] == "" and row["enabled"] == "true"  # empty cells for missing values


def test_read_fleet_names_missing_columns(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\ncam-001,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing columns kind, hamlet"):
        read_fleet(bad)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Bac Chien Thang", "Bắc Chiến Thắng"),
        ("  bắc CHIẾN   thắng ", "Bắc Chiến Thắng"),
        ("dong hai", "Đông Hải"),
        ("DONG TAM", "Đồng Tâm"),
    ],
)
def test_hamlet_matching_ignores_accents_and_case(query: str, expected: str) -> None:
    assert match_hamlet(query) == expected


def test_unknown_hamlet_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError) as err:
        match_hamlet("Chien Thang")
    msg = str(err.value)
    assert "unknown hamlet 'Chien Thang'" in msg
    assert all(h in msg for h in HAMLETS)
    assert fold("Đông Hải") == "dong hai" != fold("Đồng Tâm")
