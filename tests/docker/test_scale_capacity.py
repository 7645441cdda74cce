"""The pure part of `camsvc bench scale` (camsvc/bench/scale.py): the --decode-ms parser and the cameras
per node arithmetic, as tables. (Here because tests/docker is where this helper's tests live.)"""

from __future__ import annotations

import pytest

from camsvc.bench.scale import cameras_per_node, capacity_rows, parse_compare, parse_decode_ms


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("sub 640x360=15,main 1280x720=29", [("sub 640x360", 15.0), ("main 1280x720", 29.0)]),
        (" a=1.5 , ", [("a", 1.5)]),
        ("x=y=2", [("x=y", 2.0)]),
    ],
)
def test_parse_decode_ms(spec: str, want: list[tuple[str, float]]) -> None:
    assert parse_decode_ms(spec) == want


@pytest.mark.parametrize("spec", ["", "15", "a=", "=3", "a=0", "a=-2", "a=fast", ","])
def test_parse_decode_ms_names_the_bad_item(spec: str) -> None:
    with pytest.raises(ValueError, match="--decode-ms"):
        parse_decode_ms(spec)


@pytest.mark.parametrize(
    ("decode_ms", "overhead_ms", "interval_s", "cores", "utilisation", "want"),
    [
        (15, 5, 60, 2, 0.75, 4500),  # 2 cores * 0.75 * 60 s / 20 ms
        (29, 1, 60, 2, 0.75, 3000),
        (15, 5, 30, 2, 0.75, 2250),  # half the interval, half the cameras
        (15, 5, 60, 4, 0.75, 9000),
        (60, 0, 60, 2, 1.0, 2000),
    ],
)
def test_cameras_per_node(
    decode_ms: float, overhead_ms: float, interval_s: float, cores: int, utilisation: float, want: int
) -> None:
    assert cameras_per_node(decode_ms, overhead_ms, interval_s, cores, utilisation) == want


def test_cameras_per_node_refuses_a_free_check() -> None:
    with pytest.raises(ValueError):
        cameras_per_node(0, 0, 60)


def test_capacity_rows_one_per_stream() -> None:
    rows = capacity_rows([("sub", 15.0), ("main", 29.0)], 5.0, 60)
    assert [r["stream"] for r in rows] == ["sub", "main"]
    assert rows[0]["cameras_per_2_core_node"] == 4500 and rows[1]["non_decode_ms"] == 5.0


def test_parse_compare_gives_one_environment_per_value() -> None:
    assert parse_compare("checks.thumbnail_refresh_s=0, 300") == [
        ("checks.thumbnail_refresh_s=0", {"CAMSVC_CHECKS__THUMBNAIL_REFRESH_S": "0"}),
        ("checks.thumbnail_refresh_s=300", {"CAMSVC_CHECKS__THUMBNAIL_REFRESH_S": "300"}),
    ]
    assert parse_compare("") == [("default", {})]


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("checks=1", "section.key=v1,v2"),
        ("nosuch.key=1", "section.key=v1,v2"),
        ("checks.nosuch=1", "no setting 'nosuch'"),
        ("checks.thumbnail_refresh_s=-1", "greater than or equal to 0"),
        ("checks.thumbnail_refresh_s=fast", "valid number"),
        ("checks.thumbnail_refresh_s=,", "no values"),
    ],
)
def test_parse_compare_names_what_is_wrong(spec: str, named: str) -> None:
    with pytest.raises(ValueError, match="--compare") as exc:
        parse_compare(spec)
    assert named in str(exc.value)
