"""What a camera normally looks like, learned per hour of day from its healthy checks.

Pure (no I/O, no clock: the hour of day is passed in). :func:`update_baseline` learns brightness,
sharpness, noise, liveness, colour... per hour, fps and resolution, and where the bright and dark areas
normally are (the 8x6 layout); :meth:`Baseline.expected` reads a learned value back. Serialises to JSON
(:meth:`Baseline.to_dict`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from camsvc.picture.measure import FrameMetrics

# metric -> how it is learned: "lin" (EWMA of the value) or "log" (EWMA of log(value + offset))
_LEARNED: dict[str, tuple[str, float]] = {
    "brightness": ("lin", 0.0),
    "luma_p99": ("lin", 0.0),
    "bright_fraction": ("lin", 0.0),
    "detail": ("log", 0.01),
    "noise": ("log", 0.5),
    "structure": ("lin", 0.0),
    "liveness": ("log", 0.1),
    "grid_change": ("log", 0.05),
    "covered_fraction": ("lin", 0.0),
    "cast_cr": ("lin", 0.0),
    "cast_cb": ("lin", 0.0),
    "greyscale": ("lin", 0.0),
}
ALPHA_MIN = 0.05  # an EWMA over about the last 20 healthy checks at that hour
LOW_QUANTILE = 0.1


def detail_of(m: FrameMetrics) -> float:
    """Sharpness independent of exposure (auto-exposure, day and night): block sharpness / brightness^2."""
    return 100.0 * m.sharpness / max(m.brightness, 20.0) ** 2


def liveness_of(m: FrameMetrics) -> float:
    """How much the picture changed within the check (grey levels, worst block): an OSD clock, people."""
    return m.motion_peak


def grid_change(a: FrameMetrics, b: FrameMetrics) -> float | None:
    """How much the picture changed between two checks, ignoring a global gain/offset (auto-exposure):
    mean absolute residual of the 8x6 block means after a least-squares fit of b = k a + c."""
    if not a.grid or len(a.grid) != len(b.grid):
        return None
    x = np.asarray(a.grid, dtype=np.float64)
    y = np.asarray(b.grid, dtype=np.float64)
    vx = float(((x - x.mean()) ** 2).mean())
    k = float(((x - x.mean()) * (y - y.mean())).mean() / vx) if vx > 1e-6 else 1.0
    res = y - (k * (x - x.mean()) + y.mean())
    return float(np.abs(res).mean())


def _ranks(x: np.ndarray) -> np.ndarray:
    r = np.empty(len(x), dtype=np.float64)
    r[np.argsort(x, kind="stable")] = np.arange(len(x), dtype=np.float64)
    return r


def layout_similarity(grid: list[float], expected: list[float] | None) -> float | None:
    """How much the 8x6 block means look like the camera's usual layout at this hour: 1 = the same bright
    and dark areas, 0 = none of it left. The rank correlation (one bright block, an OSD clock, cannot
    decide it), scaled down when the layout survives only faintly (relative spread under a quarter of
    normal: seen through a translucent cover), so a dim picture keeps its layout and a covered lens
    loses it. None when there is nothing to compare with."""
    if expected is None or not grid or len(grid) != len(expected):
        return None
    x = np.asarray(grid, dtype=np.float64)
    y = np.asarray(expected, dtype=np.float64)
    if _flat_grid(y):
        return None  # the normal picture itself has no layout (a uniform night)
    if _flat_grid(x):
        return 0.0
    rx, ry = _ranks(x), _ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    corr = float((rx * ry).sum() / math.sqrt(float((rx * rx).sum() * (ry * ry).sum())))
    retained = _relative_spread(x) / max(_relative_spread(y), 1e-6)
    return max(0.0, corr) * min(1.0, retained / LAYOUT_RETAINED)


def _relative_spread(g: np.ndarray) -> float:
    return float(g.std()) / max(float(g.mean()), 10.0)


LAYOUT_RETAINED = 0.25


def _flat_grid(g: np.ndarray) -> bool:
    """No layout: block means spread less than 3.5% of their mean level (at least 1 grey level), so a
    dim picture keeps its layout while a lens covered by something uniform has none."""
    return float(g.std()) < max(1.0, LAYOUT_FLAT * float(g.mean()))


LAYOUT_FLAT = 0.035


def _learned_values(m: FrameMetrics, previous: FrameMetrics | None) -> dict[str, float]:
    out = {
        "brightness": m.brightness,
        "luma_p99": m.luma_p99,
        "bright_fraction": m.bright_fraction,
        "detail": detail_of(m),
        "noise": m.noise,
        "structure": m.structure,
        "covered_fraction": m.covered_fraction,
        "greyscale": 1.0 if m.is_greyscale else 0.0,
    }
    if m.n_frames >= 2:
        out["liveness"] = liveness_of(m)
    if not m.is_greyscale:
        out["cast_cr"] = m.cast_cr
        out["cast_cb"] = m.cast_cb
    if previous is not None:
        gc = grid_change(previous, m)
        if gc is not None:
            out["grid_change"] = gc
    return out


@dataclass
class Stat:
    """Exponentially weighted mean and mean absolute deviation, and a running 10th percentile (``low``),
    all in the learned domain. ``low`` is the camera's quiet level: the least change it shows within
    a check at this hour, however busy the scene usually is."""

    n: int = 0
    mean: float = 0.0
    dev: float = 0.0
    low: float = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        a = max(1.0 / self.n, ALPHA_MIN)
        if self.n == 1:
            self.mean, self.dev, self.low = x, 0.0, x
            return
        self.dev = (1 - a) * self.dev + a * abs(x - self.mean)
        self.mean = (1 - a) * self.mean + a * x
        # stochastic quantile: rises by 0.1 step when above, falls by 0.9 step when below
        step = a * max(4.0 * self.dev, 0.2)
        self.low += step * (LOW_QUANTILE - (1.0 if x < self.low else 0.0))

    def to_list(self) -> list[float]:
        return [self.n, round(self.mean, 5), round(self.dev, 5), round(self.low, 5)]

    @classmethod
    def from_list(cls, v: list[Any]) -> Stat:
        if len(v) < 3:
            raise ValueError(f"a learned statistic needs [n, mean, dev, low], got {v!r}")
        low = float(v[3]) if len(v) > 3 else float(v[1]) - 2 * float(v[2])
        return cls(int(v[0]), float(v[1]), float(v[2]), low)


@dataclass
class Expected:
    """A learned value (back in natural units), its typical spread, and how it was found."""

    value: float  # the mean
    low: float  # the 10th percentile
    high: float  # mean + 2 mean absolute deviations
    n: int


@dataclass
class Baseline:
    """What this camera normally looks like, learned from its healthy checks."""

    version: int = 1
    n: int = 0
    hours: dict[int, dict[str, Stat]] = field(default_factory=dict)
    fps: Stat = field(default_factory=Stat)
    width: int | None = None
    height: int | None = None
    # hour -> (count, EWMA of the 8x6 grid of block means): where the bright and dark areas normally are
    layouts: dict[int, tuple[int, list[float]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "n": self.n,
            "hours": {
                str(h): {k: s.to_list() for k, s in stats.items()} for h, stats in sorted(self.hours.items())
            },
            "fps": self.fps.to_list(),
            "width": self.width,
            "height": self.height,
            "layouts": {str(h): [n, [round(v, 2) for v in g]] for h, (n, g) in sorted(self.layouts.items())},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Baseline:
        if not isinstance(d, dict):
            raise TypeError(f"Baseline.from_dict needs a dict, got {type(d).__name__}")
        if d.get("version", 1) != 1:
            raise ValueError(f"unsupported picture baseline version {d.get('version')!r}")
        try:
            hours = {
                int(h): {k: Stat.from_list(v) for k, v in stats.items()}
                for h, stats in d.get("hours", {}).items()
            }
            f = d.get("fps", [0, 0.0, 0.0, 0.0])
            return cls(
                n=int(d.get("n", 0)),
                hours=hours,
                fps=Stat.from_list(f),
                width=None if d.get("width") is None else int(d["width"]),
                height=None if d.get("height") is None else int(d["height"]),
                layouts={
                    int(h): (int(v[0]), [float(x) for x in v[1]]) for h, v in d.get("layouts", {}).items()
                },
            )
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            raise ValueError(f"malformed picture baseline: {exc}") from exc

    def expected(self, metric: str, hour: int, min_samples: int) -> Expected | None:
        """The learned value of ``metric`` at ``hour``, pooling the hours around it (+-2 h) while that hour
        has fewer than ``min_samples``; None when this part of the day was never learned."""
        kind, off = _LEARNED[metric]
        pooled_n = 0
        wsum = mean = dev = low = 0.0
        for dist in (0, 1, 2):
            for h in {(hour - dist) % 24, (hour + dist) % 24}:
                s = self.hours.get(h, {}).get(metric)
                if s is None or s.n == 0:
                    continue
                w = s.n / (1 + dist)
                wsum += w
                mean += w * s.mean
                dev += w * s.dev
                low += w * s.low
                pooled_n += s.n
            if pooled_n >= min_samples:
                break
        if pooled_n < min_samples or wsum <= 0:
            return None
        mean /= wsum
        dev /= wsum
        low /= wsum

        def back(x: float) -> float:
            return math.exp(x) - off if kind == "log" else x

        return Expected(back(mean), back(min(low, mean)), back(mean + 2 * dev), pooled_n)

    def expected_layout(self, hour: int, min_samples: int) -> list[float] | None:
        """The usual 8x6 grid at ``hour`` (pooled over +-2 h like :meth:`expected`)."""
        acc: np.ndarray | None = None
        wsum = 0.0
        n = 0
        for dist in (0, 1, 2):
            for h in {(hour - dist) % 24, (hour + dist) % 24}:
                got = self.layouts.get(h)
                if got is None or got[0] == 0:
                    continue
                w = got[0] / (1 + dist)
                g = np.asarray(got[1], dtype=np.float64)
                if acc is not None and g.shape != acc.shape:
                    continue
                acc = g * w if acc is None else acc + g * w
                wsum += w
                n += got[0]
            if n >= min_samples:
                break
        if acc is None or n < min_samples or wsum <= 0:
            return None
        return [float(v) for v in acc / wsum]


def check_hour(hour: int) -> int:
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
        raise ValueError(f"hour must be an integer 0-23, got {hour!r}")
    return hour


def update_baseline(
    baseline: Baseline | None,
    metrics: FrameMetrics,
    *,
    hour: int,
    fps: float | None,
    width: int | None,
    height: int | None,
    previous: FrameMetrics | None = None,
) -> Baseline:
    """Learn from one check. Call it only for checks with no picture fault (a new copy is returned).

    ``previous``: the metrics of this camera's previous check, if it was a few minutes ago at most; it
    teaches how much the picture normally changes between checks (used to tell ``frozen``).
    """
    check_hour(hour)
    b = Baseline() if baseline is None else copy.deepcopy(baseline)
    b.n += 1
    stats = b.hours.setdefault(hour, {})
    for k, v in _learned_values(metrics, previous).items():
        if not math.isfinite(v):
            continue
        kind, off = _LEARNED[k]
        stats.setdefault(k, Stat()).add(math.log(max(v, 0.0) + off) if kind == "log" else v)
    if metrics.grid:
        n, g = b.layouts.get(hour, (0, []))
        if len(g) != len(metrics.grid):
            n, g = 0, list(metrics.grid)
        n += 1
        a = max(1.0 / n, ALPHA_MIN)
        b.layouts[hour] = (n, [(1 - a) * x + a * y for x, y in zip(g, metrics.grid, strict=True)])
    if fps is not None and math.isfinite(fps) and fps > 0:
        b.fps.add(float(fps))
    if width and height:
        b.width, b.height = int(width), int(height)
    return b
