"""Hamlet outlines for a map without tiles (issue 11): each hamlet drawn as the convex hull of its cameras,
padded by ``pad_m`` metres, so the map still shows where things are. Pure: no I/O, no clock.

A hamlet with one camera, or two, is a circle (centre: the cameras' midpoint; radius: half their distance
plus the padding). Three or more make the hull of the cameras, grown by the padding (a circle of ``pad_m``
around every camera, then the hull of those: the Minkowski sum, so every camera is at least ``pad_m`` inside
the outline). Coordinates are rounded to 5 decimals (about 1 m).

Distances use a local equirectangular projection around the hamlet (accurate to well under 1 % over a
commune's few kilometres).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

EARTH_R_M = 6371008.8
DEFAULT_PAD_M = 40.0
SEGMENTS = 24  # points on a circle

LatLon = tuple[float, float]
XY = tuple[float, float]


def _cross(o: XY, a: XY, b: XY) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def convex_hull(points: Iterable[XY]) -> list[XY]:
    """Andrew's monotone chain: the hull counter-clockwise, no repeated or collinear points."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts
    lower: list[XY] = []
    for p in pts:
        while len(lower) >= 2 and _cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[XY] = []
    for p in reversed(pts):
        while len(upper) >= 2 and _cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


class _Local:
    """Metres east/north of a reference point."""

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0, self.lon0 = lat0, lon0
        self.kx = math.radians(1) * EARTH_R_M * math.cos(math.radians(lat0))
        self.ky = math.radians(1) * EARTH_R_M

    def xy(self, p: LatLon) -> XY:
        return ((p[1] - self.lon0) * self.kx, (p[0] - self.lat0) * self.ky)

    def latlon(self, q: XY) -> LatLon:
        return (round(self.lat0 + q[1] / self.ky, 5), round(self.lon0 + q[0] / self.kx, 5))


def _circle(c: XY, r: float, n: int = SEGMENTS) -> list[XY]:
    return [
        (c[0] + r * math.cos(2 * math.pi * i / n), c[1] + r * math.sin(2 * math.pi * i / n)) for i in range(n)
    ]


def _centroid(poly: Sequence[XY]) -> XY:
    """The area centroid of a simple polygon (its vertices' mean when degenerate)."""
    a = cx = cy = 0.0
    for i, p in enumerate(poly):
        q = poly[(i + 1) % len(poly)]
        w = p[0] * q[1] - q[0] * p[1]
        a += w
        cx += (p[0] + q[0]) * w
        cy += (p[1] + q[1]) * w
    if abs(a) < 1e-9:
        return (sum(p[0] for p in poly) / len(poly), sum(p[1] for p in poly) / len(poly))
    return (cx / (3 * a), cy / (3 * a))


def outline(points: Sequence[LatLon], pad_m: float = DEFAULT_PAD_M) -> dict[str, Any] | None:
    """``{"polygon": [[lat, lon], ...], "label": [lat, lon], "radius_m": r | None}`` around the points, or
    None without points. ``radius_m`` is set when the outline is a circle (1 or 2 cameras)."""
    pts = [(float(a), float(b)) for a, b in points if math.isfinite(a) and math.isfinite(b)]
    if not pts:
        return None
    lat0 = sum(p[0] for p in pts) / len(pts)
    lon0 = sum(p[1] for p in pts) / len(pts)
    proj = _Local(lat0, lon0)
    xy = sorted({proj.xy(p) for p in pts})
    radius: float | None = None
    if len(xy) <= 2:
        a, b = xy[0], xy[-1]
        centre = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
        radius = math.dist(a, b) / 2 + pad_m
        ring = _circle(centre, radius)
        label = centre
    else:
        ring = convex_hull(q for p in xy for q in _circle(p, pad_m))
        label = _centroid(convex_hull(xy)) if len(convex_hull(xy)) >= 3 else _centroid(ring)
    return {
        "polygon": [list(proj.latlon(q)) for q in ring],
        "label": list(proj.latlon(label)),
        "radius_m": round(radius, 1) if radius is not None else None,
    }


def hamlet_outlines(
    cameras: Mapping[str, Sequence[LatLon]], pad_m: float = DEFAULT_PAD_M
) -> list[dict[str, Any]]:
    """One outline per hamlet name (cameras without a hamlet are left out), sorted by name:
    ``[{"hamlet", "cameras": n, "polygon", "label", "radius_m"}]``."""
    out = []
    for name in sorted(cameras):
        if not name:
            continue
        o = outline(cameras[name], pad_m)
        if o is not None:
            out.append({"hamlet": name, "cameras": len(cameras[name]), **o})
    return out
