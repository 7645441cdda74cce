"""Table tests of the two pure pieces behind the map (issue 11): hamlet outlines (camsvc.web.outlines) and
the stale rule (camsvc.health.stale)."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from camsvc.health.stale import StaleRule
from camsvc.web.outlines import convex_hull, hamlet_outlines, outline

LAT, LON = 21.0300, 105.8500
M_LAT = 1 / 111195.0  # degrees per metre north
M_LON = 1 / (111195.0 * math.cos(math.radians(LAT)))


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot((a[0] - b[0]) / M_LAT, (a[1] - b[1]) / M_LON)


def inside(poly: list[list[float]], p: tuple[float, float]) -> bool:
    """Ray casting, lat/lon as y/x."""
    y, x = p
    n, hit = len(poly), False
    for i in range(n):
        (y1, x1), (y2, x2) = poly[i], poly[(i + 1) % n]
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            hit = not hit
    return hit


def edge_distance(poly: list[list[float]], p: tuple[float, float]) -> float:
    """Metres from p to the nearest vertex of the outline (vertices are dense: 24 per circle)."""
    return min(metres(p, (q[0], q[1])) for q in poly)


@pytest.mark.parametrize(
    ("name", "points", "pad", "circle"),
    [
        ("one camera: a circle of the padding", [(LAT, LON)], 40, 40.0),
        (
            "two cameras 100 m apart: a circle through both plus padding",
            [(LAT, LON), (LAT + 100 * M_LAT, LON)],
            40,
            90.0,
        ),
        ("same spot twice: one point", [(LAT, LON), (LAT, LON)], 30, 30.0),
        ("three in a row (collinear): a stadium", [(LAT, LON + i * 50 * M_LON) for i in range(3)], 40, None),
        (
            "a square with one inside",
            [
                (LAT, LON),
                (LAT + 200 * M_LAT, LON),
                (LAT, LON + 200 * M_LON),
                (LAT + 200 * M_LAT, LON + 200 * M_LON),
                (LAT + 100 * M_LAT, LON + 100 * M_LON),
            ],
            40,
            None,
        ),
    ],
)
def test_outline_table(
    name: str, points: list[tuple[float, float]], pad: float, circle: float | None
) -> None:
    o = outline(points, pad)
    assert o is not None, name
    poly = o["polygon"]
    assert len(poly) >= 24, name
    assert o["radius_m"] == (pytest.approx(circle, abs=0.2) if circle is not None else None), name
    for p in points:
        assert inside(poly, p), name
        # padded: no camera closer than ~the padding to the outline (24-gon chords: cos(7.5 deg) of it)
        assert edge_distance(poly, p) >= pad * math.cos(math.pi / 24) - 1.5, name
    assert inside(poly, (o["label"][0], o["label"][1])), name
    # rounded to 5 decimals: about a metre, never more precise than that
    assert all(round(v, 5) == v for q in poly for v in q)


def test_outline_without_points_and_hamlets_sorted_without_blank_names() -> None:
    assert outline([]) is None
    got = hamlet_outlines(
        {"Thôn B": [(LAT, LON)], "": [(LAT, LON)], "Thôn A": [(LAT, LON), (LAT, LON + 0.001)]}
    )
    assert [o["hamlet"] for o in got] == ["Thôn A", "Thôn B"]
    assert got[0]["cameras"] == 2 and got[1]["cameras"] == 1


@pytest.mark.parametrize(
    ("points", "hull"),
    [
        ([(0, 0), (1, 0), (0, 1), (1, 1), (0.5, 0.5)], [(0, 0), (1, 0), (1, 1), (0, 1)]),
        ([(0, 0), (2, 0), (1, 0)], [(0, 0), (2, 0)]),  # collinear: the two ends
        ([(3, 3)], [(3, 3)]),
        ([], []),
    ],
)
def test_convex_hull(points: list[tuple[float, float]], hull: list[tuple[float, float]]) -> None:
    assert convex_hull(points) == hull


NOW = dt.datetime(2026, 12, 2, 7, 0, tzinfo=dt.UTC)
RULE = StaleRule(default_interval_s=60, factor=3)


@pytest.mark.parametrize(
    ("case", "last_check_ago_s", "own_interval", "enabled", "stale"),
    [
        ("checked a minute ago", 60, None, True, False),
        ("exactly 3 intervals: not yet", 180, None, True, False),
        ("just over 3 intervals", 181, None, True, True),
        ("its own 10-minute interval: 20 min is fine", 1200, 600, True, False),
        ("its own 10-minute interval: 31 min is stale", 1860, 600, True, True),
        ("never checked: unknown, not stale", None, None, True, False),
        ("disabled: never stale", 86400, None, False, False),
    ],
)
def test_stale_rule(
    case: str, last_check_ago_s: float | None, own_interval: float | None, enabled: bool, stale: bool
) -> None:
    last = None if last_check_ago_s is None else NOW - dt.timedelta(seconds=last_check_ago_s)
    assert RULE.is_stale(last, NOW, own_interval, enabled) is stale, case


def test_stale_rule_naive_times_are_utc_and_cutoff() -> None:
    assert RULE.is_stale(dt.datetime(2026, 12, 2, 6, 50), NOW, None)
    assert RULE.cutoff(NOW, 30) == NOW - dt.timedelta(seconds=90)
