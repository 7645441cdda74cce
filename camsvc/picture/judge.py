"""Picture health: judge one check's metrics against what this camera normally looks like.

Pure functions: no I/O, no clock (the hour of day is passed in). Everything serialises to JSON.

* :func:`judge` returns the faults of one check (``black``, ``too_dark``, ``overexposed``, ``frozen``,
  ``blurred``, ``covered``, ``snow``, ``noise``, ``turned``, ``colour_cast``, ``low_fps``,
  ``resolution_changed``); the caller's state machine decides when a fault has lasted long enough.
* :func:`update_baseline` learns the camera's normal (brightness, sharpness, noise, liveness, colour...
  per hour of day; fps and resolution) from checks that had no fault.
* :func:`add_reference_view` keeps the reference view(s) used for ``turned``: one per lighting mode
  (colour day, greyscale/IR night), set from good checks and reset by a technician.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import cv2
import numpy as np

from camsvc.probing.analysis import (
    FrameMetrics,
    View,
    decode_views,
    encode_views,
    view_of,
)

log = logging.getLogger(__name__)

FAULT_CODES = (
    "black",
    "too_dark",
    "overexposed",
    "frozen",
    "blurred",
    "covered",
    "snow",
    "noise",
    "turned",
    "colour_cast",
    "low_fps",
    "resolution_changed",
)


@dataclass(frozen=True)
class Fault:
    """One picture fault found in one check. ``score`` is 0..1 (how far past the threshold)."""

    code: str
    score: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "score": round(self.score, 3), "detail": self.detail}


# ------------------------------------------------------------------------------------------ thresholds


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds. Defaults suit most cameras; override per camera kind or per camera.

    Ratios compare with the camera's own learned normal at this hour (see :class:`Baseline`).
    """

    disabled: tuple[str, ...] = ()  # fault codes never reported for this camera
    min_samples: int = 5  # healthy checks (at this hour, +-2 h) before a learned value is trusted
    # black: nearly all pixels dark; not reported when this camera is normally that dark at this hour
    black_brightness: float = 22.0
    black_dark_fraction: float = 0.95
    black_p99: float = 20.0  # ... and even the brightest 1% of pixels this dark
    black_p99_drop: float = 10.0  # not reported if the brightest 1% is normally below black_p99 + this
    # too_dark: brightness below this ratio of the normal at this hour, by at least this many levels
    too_dark_ratio: float = 0.45
    too_dark_min_drop: float = 25.0
    # overexposed: this fraction of pixels clipped white, or bright and flat
    overexposed_fraction: float = 0.5  # before learning; once learned, normal + overexposed_fraction_gain
    overexposed_fraction_gain: float = 0.3
    overexposed_brightness: float = 215.0
    overexposed_contrast: float = 30.0
    # ... or washed out: this bright, this much brighter than normal, this much more white than normal
    overexposed_brightness_rel: float = 190.0
    overexposed_rise: float = 60.0
    overexposed_fraction_rise: float = 0.1
    # frozen: almost no change within the check (worst 10x10 block at 320 px, grey levels) and either the
    # camera normally shows change within a check, or the picture equals the previous check's although it
    # normally changes between checks
    frozen_liveness: float = 3.0
    frozen_liveness_ratio: float = 0.35  # of the camera's usual low level at this hour
    frozen_grid_change_ratio: float = 0.25  # of the usual low change between checks ...
    frozen_grid_change_min: float = 0.3  # ... used only if the picture normally changes at least this much
    frozen_min_span_s: float = 0.8  # a shorter check (fast camera, few frames) cannot show a clock tick
    # blurred: detail (block sharpness / brightness^2) below this ratio of the normal at this hour
    blurred_ratio: float = 0.3
    # covered: the largest featureless region covers this fraction of the frame ...
    covered_fraction: float = 0.55
    covered_margin: float = 0.25  # ... and this much more than normal at this hour
    covered_fraction_unlearned: float = 0.95  # needed when the hour was never learned ...
    covered_unlearned_min_brightness: float = 25.0  # ... with at least this mean luma
    covered_layout_kept: float = 0.8  # featureless but laid out as usual (fog, defocus): blurred instead
    covered_layout_changed: float = 0.5  # layout similarity below this: something else is in the view ...
    covered_margin_changed: float = 0.05  # ... and a smaller margin over the normal featureless part will do
    # snow / noise: correlation of neighbouring pixels (1 = smooth picture, 0 = pure noise)
    snow_structure: float = 0.3
    snow_min_texture: float = 15.0  # luma std of the noisiest frame: fine noise on a covered lens is less
    noise_structure: float = 0.5  # noise: below this ...
    noise_structure_drop: float = 0.3  # ... and this much below normal
    # turned: reference view no longer matches
    turned_shift: float = 0.05  # fraction of the width
    turned_rotation_deg: float = 3.0
    turned_min_inliers: int = 12
    turned_min_keypoints: int = 60  # below this the current picture has too little detail to judge
    turned_layout_max: float = 0.5  # unmatched views count only with a layout similarity below this
    # colour_cast (YCrCb levels, 0-255 scale)
    colour_cast_shift: float = 14.0  # mean chroma moved this far from normal at this hour
    colour_lost_ratio: float = 0.2  # before learning: a channel below this fraction of the strongest ...
    colour_lost_min_level: float = 40.0  # ... while the strongest is at least this bright
    # low_fps
    expected_fps: float | None = None  # None: learned
    low_fps_ratio: float = 0.55
    # resolution_changed: compare with the learned resolution (or this one if set)
    expected_width: int | None = None
    expected_height: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["disabled"] = list(self.disabled)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Thresholds:
        return cls().merge(d or {})

    def merge(self, overrides: dict[str, Any] | None) -> Thresholds:
        """A copy with ``overrides`` applied (per kind, then per camera). Unknown keys are an error."""
        if not overrides:
            return self
        if not isinstance(overrides, dict):
            raise TypeError(f"threshold overrides must be a dict, got {type(overrides).__name__}")
        known = {f.name: f for f in fields(self)}
        kw: dict[str, Any] = {}
        for k, v in overrides.items():
            if k not in known:
                raise ValueError(f"unknown picture threshold {k!r} (known: {', '.join(sorted(known))})")
            current = getattr(self, k)
            if k == "disabled":
                if isinstance(v, str) or not all(isinstance(x, str) for x in v):
                    raise ValueError("picture threshold 'disabled' must be a list of fault codes")
                bad = [x for x in v if x not in FAULT_CODES]
                if bad:
                    raise ValueError(f"picture threshold 'disabled': unknown fault codes {bad}")
                kw[k] = tuple(v)
            elif v is None:
                if k not in ("expected_fps", "expected_width", "expected_height"):
                    raise ValueError(f"picture threshold {k!r} cannot be null")
                kw[k] = None
            elif isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(f"picture threshold {k!r} must be a number, got {v!r}")
            elif isinstance(current, int) and not isinstance(current, bool) and k != "expected_fps":
                if float(v) != int(v):
                    raise ValueError(f"picture threshold {k!r} must be an integer, got {v!r}")
                kw[k] = int(v)
            elif k in ("expected_width", "expected_height"):
                kw[k] = int(v)
            else:
                if not math.isfinite(float(v)) or float(v) < 0:
                    raise ValueError(f"picture threshold {k!r} must be a finite number >= 0, got {v!r}")
                kw[k] = float(v)
        return replace(self, **kw)


# ------------------------------------------------------------------------------------------- baseline

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


def _check_hour(hour: int) -> int:
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
    _check_hour(hour)
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


# -------------------------------------------------------------------------------------------- turned


@dataclass
class ViewMatch:
    """How the current frame matches one reference view."""

    keypoints: int  # in the current frame
    matches: int
    inliers: int
    shift: float  # translation of the frame centre, fraction of the width
    rotation_deg: float
    scale: float


def match_view(ref: View, cur: View, *, max_inlier_px: float = 4.0) -> ViewMatch:
    """Match ORB features (ratio test) and fit a similarity transform with RANSAC."""
    n = len(cur.points)
    if len(ref.points) < 4 or n < 4:
        return ViewMatch(n, 0, 0, 0.0, 0.0, 1.0)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(cur.descriptors, ref.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance and p[0].distance < 64]
    if len(good) < 4:
        return ViewMatch(n, len(good), 0, 0.0, 0.0, 1.0)
    src = cur.points[[g.queryIdx for g in good]].astype(np.float32)
    dst = ref.points[[g.trainIdx for g in good]].astype(np.float32)
    # the two views may have been taken at different sizes: compare in reference coordinates
    if cur.width != ref.width:
        src = src * (ref.width / cur.width)
    mat, inl = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=max_inlier_px, maxIters=500, confidence=0.99
    )
    if mat is None or inl is None:
        return ViewMatch(n, len(good), 0, 0.0, 0.0, 1.0)
    inliers = int(inl.sum())
    a, b = float(mat[0, 0]), float(mat[1, 0])
    scale = math.hypot(a, b)
    rot = math.degrees(math.atan2(b, a))
    cx, cy = ref.width / 2.0, ref.height / 2.0
    tx = a * cx - b * cy + float(mat[0, 2]) - cx
    ty = b * cx + a * cy + float(mat[1, 2]) - cy
    return ViewMatch(n, len(good), inliers, math.hypot(tx, ty) / ref.width, rot, scale)


def add_reference_view(
    reference: bytes | None, frame: np.ndarray, metrics: FrameMetrics, *, replace_all: bool = False
) -> bytes:
    """Reference view(s) for ``turned``, updated from a good check's last frame.

    With no reference (or ``replace_all``, when a technician re-sets the view) the frame becomes the only
    view. Otherwise a view is added only for a lighting mode not yet covered (colour vs greyscale/IR, or
    a brightness far from every view's), at most 4 views; an already covered mode leaves it unchanged.
    Call it only for checks that had no fault.
    """
    new = view_of(frame, metrics)
    if reference is None or replace_all:
        return encode_views([new])
    views = decode_views(reference)
    if _mode_view(views, metrics.is_greyscale, metrics.brightness) is not None or len(views) >= 4:
        return reference
    return encode_views([*views, new])


def _mode_view(views: list[View], greyscale: bool, brightness: float) -> View | None:
    same = [v for v in views if v.greyscale == greyscale and _bright_close(v.brightness, brightness)]
    return same[0] if same else None


def _bright_close(a: float, b: float) -> bool:
    return max(a, b) <= 2.5 * max(min(a, b), 10.0)


def _turned(
    reference: bytes, frame: np.ndarray, metrics: FrameMetrics, th: Thresholds, layout: float | None
) -> tuple[Fault | None, ViewMatch | None]:
    views = decode_views(reference)
    if not views:
        return None, None
    cur = view_of(frame, metrics)
    best: ViewMatch | None = None
    for v in views:
        mt = match_view(v, cur)
        if best is None or mt.inliers > best.inliers:
            best = mt
    assert best is not None
    if best.inliers >= th.turned_min_inliers:
        moved = best.shift >= th.turned_shift or abs(best.rotation_deg) >= th.turned_rotation_deg
        if moved:
            score = min(
                1.0, max(best.shift / th.turned_shift, abs(best.rotation_deg) / th.turned_rotation_deg) / 4
            )
            return (
                Fault(
                    "turned",
                    score,
                    f"view moved {best.shift * 100:.0f}% of the width, rotated {best.rotation_deg:.1f} deg "
                    f"({best.inliers} matching points)",
                ),
                best,
            )
        return None, best
    # no reliable match: a fault only if the picture is rich enough, a view of this lighting exists, and
    # the bright and dark areas are not where they normally are (a crowd hides the corners, not the layout)
    same_mode = _mode_view(views, metrics.is_greyscale, metrics.brightness)
    if same_mode is None or best.keypoints < th.turned_min_keypoints:
        return None, best
    if layout is None or layout >= th.turned_layout_max:
        return None, best
    return (
        Fault(
            "turned",
            0.8,
            f"the picture no longer matches the reference view ({best.inliers} of {best.keypoints} points, "
            f"layout similarity {layout:.2f})",
        ),
        best,
    )


# --------------------------------------------------------------------------------------------- judge


def _below_score(value: float, limit: float) -> float:
    """0..1: how far ``value`` is below ``limit`` (0 at the limit, 1 at a tenth of it or less)."""
    if limit <= 0:
        return 1.0
    r = max(value, 0.0) / limit
    return float(min(1.0, max(0.0, (1.0 - r) / 0.9)))


class _Judge:
    """One judgement: the metrics, what this camera normally looks like, and the faults found so far."""

    def __init__(self, m: FrameMetrics, b: Baseline | None, hour: int, th: Thresholds) -> None:
        self.m, self.b, self.hour, self.th = m, b, hour, th
        self.faults: list[Fault] = []

    def exp(self, metric: str) -> Expected | None:
        return self.b.expected(metric, self.hour, self.th.min_samples) if self.b is not None else None

    def add(self, code: str, score: float, detail: str) -> None:
        if code not in self.th.disabled:
            self.faults.append(Fault(code, float(min(1.0, max(0.0, score))), detail))

    # -- stream properties

    def resolution(self, width: int | None, height: int | None) -> None:
        b, th = self.b, self.th
        ew = th.expected_width or (b.width if b else None)
        eh = th.expected_height or (b.height if b else None)
        if width and height and ew and eh and (width, height) != (ew, eh):
            self.add("resolution_changed", 1.0, f"{width}x{height}, expected {ew}x{eh}")

    def low_fps(self, fps: float | None) -> None:
        b, th = self.b, self.th
        expected = th.expected_fps or (b.fps.mean if b is not None and b.fps.n >= th.min_samples else None)
        if fps is None or not expected or expected < 1.0:
            return
        limit = th.low_fps_ratio * expected
        if fps < limit:
            self.add("low_fps", _below_score(fps, limit), f"{fps:.1f} fps, expected {expected:.1f}")

    # -- faults that hide the picture: when one is found, the others are not judged

    def black(self) -> bool:
        """No picture: dark everywhere, with no lit part at all (a dark scene still has its lamps and
        windows, a dark hand over the lens lets some light round it)."""
        m, th = self.m, self.th
        if (
            m.brightness > th.black_brightness
            or m.dark_fraction < th.black_dark_fraction
            or m.luma_p99 > th.black_p99
        ):
            return False
        e99 = self.exp("luma_p99")
        if e99 is not None and e99.value < th.black_p99 + th.black_p99_drop:
            return False  # this camera normally shows nothing lit at this hour: black is its normal
        self.add("black", _below_score(m.brightness, th.black_brightness), f"mean luma {m.brightness:.1f}")
        return True

    def snow(self) -> bool:
        m, th = self.m, self.th
        if m.structure <= th.snow_structure and m.texture_peak >= th.snow_min_texture:
            self.add(
                "snow",
                _below_score(m.structure, th.snow_structure) * 0.5 + 0.5,
                f"the picture is noise (neighbour correlation {m.structure:.2f})",
            )
            return True
        return False

    def overexposed(self) -> bool:
        m, th = self.m, self.th
        e_bf, e_b = self.exp("bright_fraction"), self.exp("brightness")
        normal_bf = e_bf.value if e_bf else 0.0
        washed = (
            e_b is not None
            and m.brightness >= th.overexposed_brightness_rel
            and m.brightness - e_b.value >= th.overexposed_rise
            and m.bright_fraction >= normal_bf + th.overexposed_fraction_rise
        )
        if (
            washed
            or m.bright_fraction
            >= (normal_bf + th.overexposed_fraction_gain if e_bf else th.overexposed_fraction)
            or (m.brightness >= th.overexposed_brightness and m.contrast <= th.overexposed_contrast)
        ):
            self.add(
                "overexposed",
                max(m.bright_fraction, (m.brightness - th.overexposed_brightness_rel) / 50),
                f"{m.bright_fraction * 100:.0f}% of pixels white, mean luma {m.brightness:.0f}"
                + (f" (normally {e_b.value:.0f})" if e_b else ""),
            )
            return True
        return False

    def covered(self) -> bool:
        """Most of the view is one featureless region that is not the usual layout blurred (fog,
        defocus). Where the camera normally sees large featureless areas (a dark night), a changed
        layout is needed as well."""
        m, th = self.m, self.th
        if m.covered_fraction < th.covered_fraction:
            return False
        e = self.exp("covered_fraction")
        sim = self.layout()
        if sim is not None and sim >= th.covered_layout_kept:
            return False  # featureless, but the usual bright and dark areas are there: fog or defocus
        if e is None:
            # nothing learned at this hour (a new camera, a first night): only an evenly lit, all but
            # uniform view; a dark night scene is featureless too
            if m.brightness < th.covered_unlearned_min_brightness:
                return False
            limit = max(th.covered_fraction, th.covered_fraction_unlearned)
        elif sim is not None and sim < th.covered_layout_changed:
            limit = max(th.covered_fraction, e.value + th.covered_margin_changed)
        else:
            limit = max(th.covered_fraction, e.value + th.covered_margin)
        if m.covered_fraction < limit:
            return False
        self.add(
            "covered",
            (m.covered_fraction - th.covered_fraction) / max(1e-6, 1 - th.covered_fraction),
            f"{m.covered_fraction * 100:.0f}% of the view is featureless"
            + (f" (layout similarity {sim:.2f})" if sim is not None else ""),
        )
        return True

    def layout(self) -> float | None:
        if self.b is None:
            return None
        return layout_similarity(self.m.grid, self.b.expected_layout(self.hour, self.th.min_samples))

    # -- the others

    def too_dark(self) -> bool:
        m, th = self.m, self.th
        e = self.exp("brightness")
        if e is None:
            return False  # a first night is not "too dark": only a learned part of the day is compared
        limit = th.too_dark_ratio * e.value
        if m.brightness < limit and e.value - m.brightness >= th.too_dark_min_drop:
            self.add(
                "too_dark",
                _below_score(m.brightness, limit),
                f"mean luma {m.brightness:.0f}, normally {e.value:.0f} at {self.hour:02d}h",
            )
            return True
        return False

    def frozen(self, previous: FrameMetrics | None) -> None:
        """Nothing changes within the check, although this camera normally shows change within a check
        (a ticking clock, people, noise), or although its picture normally changes between checks (light)
        and now equals the previous check's. A static scene that shows neither is never called frozen."""
        m, th = self.m, self.th
        if m.n_frames < 2 or (m.span_s and m.span_s < th.frozen_min_span_s):
            return
        live = liveness_of(m)
        if live >= th.frozen_liveness:
            return
        reasons = []
        e_live = self.exp("liveness")
        if e_live is not None and live < th.frozen_liveness_ratio * e_live.low:
            reasons.append(f"normally at least {e_live.low:.1f}")
        if previous is not None:
            gc = grid_change(previous, m)
            e_gc = self.exp("grid_change")
            if (
                gc is not None
                and e_gc is not None
                and e_gc.low >= th.frozen_grid_change_min
                and gc < th.frozen_grid_change_ratio * e_gc.low
            ):
                reasons.append(f"same picture as the previous check ({gc:.2f}, normally {e_gc.low:.2f}+)")
        if reasons:
            self.add(
                "frozen",
                _below_score(live, th.frozen_liveness),
                f"change within the check {live:.2f}: " + "; ".join(reasons),
            )

    def blurred(self) -> bool:
        m, th = self.m, self.th
        e = self.exp("detail")
        if e is None:
            return False
        det = detail_of(m)
        limit = th.blurred_ratio * e.value
        if det < limit:
            self.add("blurred", _below_score(det, limit), f"detail {det:.2f}, normally {e.value:.2f}")
            return True
        return False

    def noise(self) -> bool:
        """The picture is there but drowned in noise (a failing sensor or link, heavy interference)."""
        m, th = self.m, self.th
        e = self.exp("structure")
        if e is None or m.texture_peak < th.snow_min_texture:
            return False
        limit = min(th.noise_structure, e.value - th.noise_structure_drop)
        if m.structure < limit:
            self.add(
                "noise",
                _below_score(m.structure, limit),
                f"noisy picture (neighbour correlation {m.structure:.2f}, normally {e.value:.2f})",
            )
            return True
        return False

    def colour_cast(self) -> None:
        """A tint away from this camera's normal colours at this hour. A greyscale (IR) picture is never a
        cast; a camera that is normally greyscale at this hour (black-and-white, IR) and now shows a tint
        is. Before anything is learned only a lost colour channel counts (a scene may be all brown)."""
        m, th = self.m, self.th
        if m.is_greyscale:
            return
        e_cr, e_cb, e_grey = self.exp("cast_cr"), self.exp("cast_cb"), self.exp("greyscale")
        if e_grey is not None and e_grey.value >= 0.8:
            normal: tuple[float, float] | None = (0.0, 0.0)
        elif e_cr is not None and e_cb is not None:
            normal = (e_cr.value, e_cb.value)
        else:
            normal = None
        if normal is not None:
            d = math.hypot(m.cast_cr - normal[0], m.cast_cb - normal[1])
            if d >= th.colour_cast_shift:
                self.add(
                    "colour_cast",
                    min(1.0, d / (3 * th.colour_cast_shift)),
                    f"colours moved by {d:.0f} (Cr {m.cast_cr:+.0f}, Cb {m.cast_cb:+.0f}; normally "
                    f"{normal[0]:+.0f}, {normal[1]:+.0f})",
                )
            return
        chans = (m.mean_b, m.mean_g, m.mean_r)
        if max(chans) >= th.colour_lost_min_level and min(chans) < th.colour_lost_ratio * max(chans):
            names = ("blue", "green", "red")
            lost = names[chans.index(min(chans))]
            self.add(
                "colour_cast",
                1.0,
                f"{lost} channel lost (B {m.mean_b:.0f}, G {m.mean_g:.0f}, R {m.mean_r:.0f})",
            )


def judge(
    metrics: FrameMetrics,
    *,
    baseline: Baseline | None,
    reference: bytes | None,
    frame: np.ndarray | None,
    hour: int,
    fps: float | None,
    width: int | None,
    height: int | None,
    previous: FrameMetrics | None = None,
    thresholds: Thresholds | None = None,
) -> list[Fault]:
    """Picture faults of one check, judged against this camera's normal at ``hour`` (0-23, local time).

    ``frame`` (the last decoded frame) is needed only for ``turned``; ``previous`` (the metrics of this
    camera's previous check) makes ``frozen`` surer; ``fps``/``width``/``height`` are the stream's.
    A fault that hides the picture (black, snow, overexposed, covered, too_dark, noise) stops the later
    checks, so a covered lens is reported as covered, not also as blurred or turned.
    """
    _check_hour(hour)
    if not isinstance(metrics, FrameMetrics):
        raise TypeError(f"metrics must be FrameMetrics, got {type(metrics).__name__}")
    if baseline is not None and not isinstance(baseline, Baseline):
        raise TypeError(f"baseline must be Baseline or None, got {type(baseline).__name__}")
    j = _Judge(metrics, baseline, hour, thresholds or Thresholds())
    j.resolution(width, height)
    j.low_fps(fps)
    if j.black() or j.snow() or j.overexposed() or j.covered():
        return j.faults
    if j.too_dark():
        return j.faults  # change within a check scales with exposure: frozen is not judged in the dark
    j.frozen(previous)
    if j.noise():
        return j.faults  # sharpness, colours and corners of a picture drowned in noise mean little
    blurred = j.blurred()
    j.colour_cast()
    if reference is not None and frame is not None and not blurred:
        fault, _ = _turned(reference, frame, metrics, j.th, j.layout())
        if fault is not None:
            j.add(fault.code, fault.score, fault.detail)
    return j.faults
