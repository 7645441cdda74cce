"""Picture health: judge one check's metrics against what this camera normally looks like.

Pure functions: no I/O, no clock (the hour of day is passed in). Everything serialises to JSON.

* :func:`judge` returns the faults of one check (``black``, ``too_dark``, ``overexposed``, ``frozen``,
  ``blurred``, ``covered``, ``snow``, ``noise``, ``turned``, ``colour_cast``, ``low_fps``,
  ``resolution_changed``); the caller's state machine decides when a fault has lasted long enough.
* :class:`Thresholds` are its decision thresholds (defaults, per camera kind, per camera).
* What it judges against: the camera's learned normal (:mod:`camsvc.picture.baseline`) and its reference
  views for ``turned`` (:mod:`camsvc.picture.views`); both are learned from checks without a fault.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from camsvc.picture.baseline import (
    Baseline,
    Expected,
    check_hour,
    detail_of,
    grid_change,
    layout_similarity,
    liveness_of,
)
from camsvc.picture.measure import FrameMetrics
from camsvc.picture.views import match_reference

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


# Accepted range of every threshold (for validation where a value comes in: the API, imports, settings).
# "int" thresholds must be whole numbers; the three expected_* may be null (learned). Luma levels are 0-255.
_LUMA = (0.0, 255.0, "number")
_UNIT = (0.0, 1.0, "number")
THRESHOLD_RANGES: dict[str, tuple[float, float, str]] = {
    "min_samples": (1, 10_000, "int"),
    "black_brightness": _LUMA,
    "black_dark_fraction": _UNIT,
    "black_p99": _LUMA,
    "black_p99_drop": _LUMA,
    "too_dark_ratio": _UNIT,
    "too_dark_min_drop": _LUMA,
    "overexposed_fraction": _UNIT,
    "overexposed_fraction_gain": _UNIT,
    "overexposed_brightness": _LUMA,
    "overexposed_contrast": _LUMA,
    "overexposed_brightness_rel": _LUMA,
    "overexposed_rise": _LUMA,
    "overexposed_fraction_rise": _UNIT,
    "frozen_liveness": _LUMA,
    "frozen_liveness_ratio": _UNIT,
    "frozen_grid_change_ratio": _UNIT,
    "frozen_grid_change_min": _LUMA,
    "frozen_min_span_s": (0.0, 60.0, "number"),
    "blurred_ratio": _UNIT,
    "covered_fraction": _UNIT,
    "covered_margin": _UNIT,
    "covered_fraction_unlearned": _UNIT,
    "covered_unlearned_min_brightness": _LUMA,
    "covered_layout_kept": _UNIT,
    "covered_layout_changed": _UNIT,
    "covered_margin_changed": _UNIT,
    "snow_structure": _UNIT,
    "snow_min_texture": _LUMA,
    "noise_structure": _UNIT,
    "noise_structure_drop": _UNIT,
    "turned_shift": _UNIT,
    "turned_rotation_deg": (0.0, 180.0, "number"),
    "turned_min_inliers": (1, 100_000, "int"),
    "turned_min_keypoints": (1, 100_000, "int"),
    "turned_layout_max": _UNIT,
    "colour_cast_shift": _LUMA,
    "colour_lost_ratio": _UNIT,
    "colour_lost_min_level": _LUMA,
    "expected_fps": (0.1, 240.0, "number|null"),
    "low_fps_ratio": _UNIT,
    "expected_width": (1, 16_384, "int|null"),
    "expected_height": (1, 16_384, "int|null"),
}


def _fmt(x: float) -> str:
    return f"{x:g}"


def threshold_errors(overrides: Any) -> list[str]:
    """Every problem of a threshold override mapping, as ``"key: what is wrong"`` (empty: valid).

    Stricter than :meth:`Thresholds.merge` (which only refuses what cannot be applied): values must lie in
    :data:`THRESHOLD_RANGES`, so a typo such as ``blurred_ratio: 30`` is refused where it comes in.
    """
    if overrides is None:
        return []
    if not isinstance(overrides, dict):
        return [f"must be a JSON object of threshold names and values, not {type(overrides).__name__}"]
    errors: list[str] = []
    for key, v in overrides.items():
        if key == "disabled":
            if not isinstance(v, list | tuple) or not all(isinstance(x, str) for x in v):
                errors.append(f"disabled: must be a list of fault codes ({', '.join(FAULT_CODES)})")
                continue
            bad = [x for x in v if x not in FAULT_CODES]
            if bad:
                errors.append(f"disabled: unknown fault code(s) {', '.join(map(repr, bad))}")
            continue
        rng = THRESHOLD_RANGES.get(str(key))
        if rng is None:
            errors.append(f"{key}: unknown picture threshold")
            continue
        lo, hi, kind = rng
        if v is None:
            if "null" not in kind:
                errors.append(f"{key}: cannot be null")
            continue
        whole = kind.startswith("int")
        what = f"{'a whole number' if whole else 'a number'} between {_fmt(lo)} and {_fmt(hi)}"
        number = not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)
        if not number or (whole and float(v) != int(v)) or not lo <= v <= hi:
            errors.append(f"{key}: must be {what}")
    return errors


def per_kind_threshold_errors(per_kind: Any, kinds: tuple[str, ...]) -> list[str]:
    """Problems of the settings' per-kind overrides ``{kind: {threshold: value}}``, as ``"kind.key: ..."``."""
    if not isinstance(per_kind, dict):
        return [f"must be a mapping of camera kind ({', '.join(kinds)}) to thresholds"]
    errors: list[str] = []
    for kind, overrides in per_kind.items():
        if kind not in kinds:
            errors.append(f"{kind}: unknown camera kind (known: {', '.join(kinds)})")
            continue
        errors += [f"{kind}.{e}" for e in threshold_errors(overrides)]
    return errors


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

    def turned(self, reference: bytes, frame: np.ndarray) -> None:
        """The view moved or rotated away from the reference; or, with no reliable match, a picture rich
        enough to judge, a reference of this lighting, and the bright and dark areas not where they
        normally are (a crowd hides the corners, not the layout)."""
        th = self.th
        match = match_reference(reference, frame, self.m)
        if match is None:
            return
        best = match.best
        if best.inliers >= th.turned_min_inliers:
            if best.shift >= th.turned_shift or abs(best.rotation_deg) >= th.turned_rotation_deg:
                self.add(
                    "turned",
                    max(best.shift / th.turned_shift, abs(best.rotation_deg) / th.turned_rotation_deg) / 4,
                    f"view moved {best.shift * 100:.0f}% of the width, rotated {best.rotation_deg:.1f} deg "
                    f"({best.inliers} matching points)",
                )
            return
        if not match.same_mode or best.keypoints < th.turned_min_keypoints:
            return
        layout = self.layout()
        if layout is None or layout >= th.turned_layout_max:
            return
        self.add(
            "turned",
            0.8,
            f"the picture no longer matches the reference view ({best.inliers} of {best.keypoints} points, "
            f"layout similarity {layout:.2f})",
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
    check_hour(hour)
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
        j.turned(reference, frame)
    return j.faults
