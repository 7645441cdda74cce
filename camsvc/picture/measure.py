"""Per-check picture measurements: pure functions of the decoded frames (no I/O, no clock).

``measure(frames, frame_times)`` turns the few frames of one check into a :class:`FrameMetrics` of plain
numbers. Reference views (for ``turned``) are :mod:`camsvc.picture.views`; the judgement (is this a fault
for *this* camera?) is :mod:`camsvc.picture.judge`.

Everything is computed on downscaled copies, so the cost does not grow with the stream's resolution:

* the last frame (the analysis frame) at ``WORK_WIDTH`` (320 px) wide, by exact 2x box halvings then one
  area resize: brightness, contrast, clipping, sharpness, noise, colour;
* every frame at ``MOTION_WIDTH`` (160 px) wide, grey: motion within the check;
* the analysis frame again at ``COARSE_WIDTH`` (80 px): flat (featureless) regions for ``covered`` and an
  8x6 grid of block means, a fingerprint to compare with the previous check for ``frozen``.

:func:`postprocess` is the probe worker's entry point: it measures there, while the frames are at hand.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import cv2
import numpy as np

WORK_WIDTH = 320
MOTION_WIDTH = 160
COARSE_WIDTH = 80
GRID_COLS, GRID_ROWS = 8, 6
# Blocks of the coarse image used to find flat regions (5x5 px at 80 px wide, i.e. 20x20 at 320).
FLAT_BLOCK = 5
FLAT_STD = 3.0  # a coarse block whose std is below this (grey levels) is featureless
# Mean absolute chroma (YCrCb, 0-255 scale) below which a picture counts as greyscale (IR night mode).
GREY_CHROMA = 3.0


@dataclass
class FrameMetrics:
    """Plain numbers describing the picture of one check. Grey levels are 0-255."""

    n_frames: int = 0
    width: int = 0  # size of the decoded frames given to measure()
    height: int = 0
    brightness: float = 0.0  # mean luma
    contrast: float = 0.0  # std of luma
    luma_p01: float = 0.0  # 1st / 99th percentile of luma
    luma_p99: float = 0.0
    dark_fraction: float = 0.0  # luma <= 24
    bright_fraction: float = 0.0  # luma >= 245
    sharpness: float = 0.0  # spread (p90 - p10) of block Laplacian variance at 160 px: edges over noise
    noise: float = 0.0  # estimated std of spatial noise (Immerkaer, median based) at 160 px
    structure: float = 1.0  # lowest neighbour correlation of any frame (sampled 160 px): ~0 for snow
    texture_peak: float = 0.0  # largest luma std of any frame (sampled 160 px): snow on a keyframe
    motion: float = 0.0  # median over consecutive frame pairs of the mean absolute difference (160 px)
    motion_peak: float = 0.0  # largest 10x10 block mean abs difference at 320 px, first vs last frame
    temporal_noise: float = 0.0  # robust std of the first two frames' difference in still areas
    span_s: float = 0.0  # time from the first to the last frame (s); 0 when unknown
    saturation: float = 0.0  # mean chroma magnitude (YCrCb, 0-255 scale)
    cast_cr: float = 0.0  # mean Cr - 128 (red-cyan axis)
    cast_cb: float = 0.0  # mean Cb - 128 (blue-yellow axis)
    mean_b: float = 0.0
    mean_g: float = 0.0
    mean_r: float = 0.0
    is_greyscale: bool = False
    flat_fraction: float = 0.0  # fraction of coarse blocks without detail
    covered_fraction: float = 0.0  # largest connected flat region, as a fraction of the frame
    check_fps: float = 0.0  # from frame_times; 0 when unknown
    grid: list[float] = field(default_factory=list)  # 8x6 block means of luma, row-major, fingerprint

    def scalars(self) -> dict[str, float]:
        """Scalar metrics only (booleans as 0/1): what ``ProbeResult.metrics`` holds and the UI shows."""
        out: dict[str, float] = {}
        for f in fields(self):
            if f.name == "grid":
                continue
            v = getattr(self, f.name)
            out[f.name] = round(float(v), 4)
        return out

    def flat(self) -> dict[str, float]:
        """Everything as floats, the grid as ``grid_00``..``grid_47``: fits ``ProbeResult.metrics``
        (what :func:`postprocess` stores) and :meth:`from_dict` reads it back."""
        out = self.scalars()
        for i, v in enumerate(self.grid):
            out[f"grid_{i:02d}"] = round(float(v), 2)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (the grid as a list): store this to pass as ``previous`` next check."""
        d: dict[str, Any] = dict(self.scalars())
        d["grid"] = [round(float(v), 2) for v in self.grid]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FrameMetrics:
        """Inverse of :meth:`to_dict` (also accepts :meth:`scalars`); unknown keys are ignored."""
        if not isinstance(d, dict):
            raise TypeError(f"FrameMetrics.from_dict needs a dict, got {type(d).__name__}")
        kw: dict[str, Any] = {}
        flat_grid = sorted(k for k in d if isinstance(k, str) and k.startswith("grid_"))
        if flat_grid and "grid" not in d:
            kw["grid"] = [float(d[k]) for k in flat_grid]
        for f in fields(cls):
            if f.name not in d:
                continue
            v = d[f.name]
            if f.name == "grid":
                kw["grid"] = [float(x) for x in v]
            elif f.name in ("n_frames", "width", "height"):
                kw[f.name] = int(v)
            elif f.name == "is_greyscale":
                kw[f.name] = bool(v)
            else:
                kw[f.name] = float(v)
        return cls(**kw)

    def copy(self) -> FrameMetrics:
        return FrameMetrics(**{**asdict(self), "grid": list(self.grid)})


# --------------------------------------------------------------------------------------------- helpers


def check_frame(frame: Any, what: str) -> np.ndarray:
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"{what} must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8, got {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3)):
        raise ValueError(f"{what} must be HxWx3 BGR or HxW grey, got shape {frame.shape}")
    if frame.shape[0] < 16 or frame.shape[1] < 16:
        raise ValueError(f"{what} is too small ({frame.shape[1]}x{frame.shape[0]}), need at least 16x16")
    return frame


def downscale(frame: np.ndarray, width: int) -> np.ndarray:
    """Resize to ``width`` px wide (aspect kept): exact 2x box halvings (cheap), then one area resize."""
    h, w = frame.shape[:2]
    while w >= 2 * width:
        w //= 2
        h = max(1, h // 2)
        # INTER_LINEAR at exactly half size averages each 2x2 block: a box filter at a fraction of the cost
        frame = cv2.resize(frame[: h * 2, : w * 2], (w, h), interpolation=cv2.INTER_LINEAR)
    if w != width:
        h = max(1, round(h * width / w))
        frame = cv2.resize(frame, (width, h), interpolation=cv2.INTER_AREA)
    return frame


def _sample(frame: np.ndarray, width: int) -> np.ndarray:
    """Nearest-neighbour resize to ``width`` px (no averaging: sensor noise stays visible), green channel
    of a colour frame (close to luma, no conversion to pay for)."""
    h, w = frame.shape[:2]
    if w > width:
        frame = cv2.resize(frame, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_NEAREST)
    return cv2.extractChannel(frame, 1) if frame.ndim == 3 else frame


def _quick(frame: np.ndarray, width: int) -> np.ndarray:
    """One bilinear resize to ``width`` px, green channel: the same cheap path for two frames compared."""
    h, w = frame.shape[:2]
    if w != width:
        frame = cv2.resize(frame, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_LINEAR)
    return cv2.extractChannel(frame, 1) if frame.ndim == 3 else frame


def to_grey(img: np.ndarray) -> np.ndarray:
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def _percentile_from_hist(hist: np.ndarray, q: float) -> float:
    c = np.cumsum(hist)
    return float(np.searchsorted(c, q * c[-1]))


_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)


def noise_sigma(grey: np.ndarray) -> float:
    """Std of additive noise, robust to edges: median |Immerkaer Laplacian| / (0.6745 * 6)."""
    r = cv2.filter2D(grey, cv2.CV_32F, _IMMERKAER, borderType=cv2.BORDER_REFLECT)[1:-1, 1:-1]
    a = np.minimum(np.abs(r), 1023).astype(np.uint16)
    hist = np.bincount(a.ravel(), minlength=1024)
    med = _percentile_from_hist(hist, 0.5)
    # 36 = sum of squared kernel weights; median of |N(0, 36 s^2)| is 0.6745 * 6 s
    return med / (0.6745 * 6.0)


def _block_view(img: np.ndarray, rows: int, cols: int) -> np.ndarray:
    h, w = img.shape[:2]
    bh, bw = h // rows, w // cols
    return img[: bh * rows, : bw * cols].reshape(rows, bh, cols, bw)


def _flat_regions(coarse: np.ndarray) -> tuple[float, float]:
    """(fraction of flat blocks, largest connected flat region as a fraction of the frame)."""
    h, w = coarse.shape
    rows, cols = max(1, h // FLAT_BLOCK), max(1, w // FLAT_BLOCK)
    b = _block_view(coarse.astype(np.float32), rows, cols)
    std = b.std(axis=(1, 3))
    flat = (std < FLAT_STD).astype(np.uint8)
    n = rows * cols
    nflat = int(flat.sum())
    if nflat == 0:
        return 0.0, 0.0
    _, _, stats, _ = cv2.connectedComponentsWithStats(flat, connectivity=4)
    largest = int(stats[1:, cv2.CC_STAT_AREA].max()) if len(stats) > 1 else 0
    return nflat / n, largest / n


def _trimmed_noise(hist: np.ndarray) -> float:
    """Noise std from a histogram of |a - b| (two frames, independent noise): mean of the smallest 75%.

    Moving objects and coding changes sit in the largest differences; for Gaussian noise of std s the mean
    of the smallest 75% of |diff| is 0.515 * sqrt(2) * s.
    """
    total = float(hist.sum())
    if total <= 0:
        return 0.0
    keep = 0.75 * total
    c = np.cumsum(hist)
    k = int(np.searchsorted(c, keep))
    below = float(c[k - 1]) if k > 0 else 0.0
    vals = np.arange(len(hist), dtype=np.float64)
    s = float((hist[:k] * vals[:k]).sum()) + (keep - below) * k
    return s / keep / (0.515 * math.sqrt(2.0))


def _motion(greys: list[np.ndarray]) -> tuple[float, float]:
    """(motion, temporal_noise) over consecutive grey frames."""
    if len(greys) < 2:
        return 0.0, 0.0
    means = []
    for a, b in zip(greys, greys[1:], strict=False):
        means.append(cv2.mean(cv2.absdiff(a, b))[0])
    d = cv2.absdiff(greys[0], greys[1])
    hist = cv2.calcHist([d], [0], None, [256], [0, 256]).ravel()
    return float(np.median(means)), _trimmed_noise(hist)


def _peak_change(a: np.ndarray, b: np.ndarray, block: int = 10) -> float:
    """Largest mean absolute difference over ``block`` x ``block`` blocks: a ticking clock, a person."""
    d = cv2.absdiff(a, b).astype(np.float32)
    h, w = d.shape
    rows, cols = max(1, h // block), max(1, w // block)
    return float(_block_view(d, rows, cols).mean(axis=(1, 3)).max())


def neighbour_correlation(grey: np.ndarray) -> tuple[float, float]:
    """(correlation of each pixel with its right and lower neighbours, luma std). The correlation is
    ~0.7-1 for pictures and ~0 for snow; a flat frame (std < 4: black, covered) counts as structured."""
    x = grey.astype(np.float32)
    x -= float(x.mean())
    var = float(cv2.mean(x * x)[0])
    std = math.sqrt(var)
    if var < 16.0:
        return 1.0, std
    ch = float(cv2.mean(x[:, :-1] * x[:, 1:])[0])
    cv = float(cv2.mean(x[:-1, :] * x[1:, :])[0])
    return (ch + cv) / (2.0 * var), std


def block_sharpness(grey: np.ndarray, block: int = 10) -> float:
    """Spread of the Laplacian variance over blocks (90th minus 10th percentile).

    The sharpest blocks carry the edges; the flattest carry only noise, so subtracting them keeps night
    noise from passing for detail. A few blocks of on-screen text (sharp even on a blurred picture) do not
    reach the 90th percentile.
    """
    lap = cv2.Laplacian(grey, cv2.CV_32F)
    h, w = lap.shape
    v = _block_view(lap, max(1, h // block), max(1, w // block)).var(axis=(1, 3)).ravel()
    lo, hi = np.percentile(v, (10.0, 90.0))
    return float(max(0.0, hi - lo))


def _fps(frame_times: list[float] | None) -> float:
    if not frame_times or len(frame_times) < 2:
        return 0.0
    span = float(frame_times[-1]) - float(frame_times[0])
    if not math.isfinite(span) or span <= 0:
        return 0.0
    return (len(frame_times) - 1) / span


# ------------------------------------------------------------------------------------------- measure


def measure(frames: list[np.ndarray], frame_times: list[float] | None = None) -> FrameMetrics:
    """Measure the picture of one check from its decoded frames (BGR uint8, oldest first)."""
    if not isinstance(frames, list | tuple) or not frames:
        raise ValueError("measure() needs a non-empty list of frames")
    checked = [check_frame(f, f"frames[{i}]") for i, f in enumerate(frames)]
    shape = checked[-1].shape
    for i, f in enumerate(checked):
        if f.shape != shape:
            raise ValueError(f"frames[{i}] has shape {f.shape}, the last frame {shape}: sizes differ")
    if frame_times is not None and len(frame_times) != len(frames):
        raise ValueError(f"frame_times has {len(frame_times)} entries for {len(frames)} frames")

    last = checked[-1]
    small = downscale(last, WORK_WIDTH)
    grey = to_grey(small)
    m = FrameMetrics(n_frames=len(checked), width=int(shape[1]), height=int(shape[0]))

    hist = cv2.calcHist([grey], [0], None, [256], [0, 256]).ravel()
    total = float(hist.sum())
    mean, std = cv2.meanStdDev(grey)
    m.brightness = float(mean[0, 0])
    m.contrast = float(std[0, 0])
    m.luma_p01 = _percentile_from_hist(hist, 0.01)
    m.luma_p99 = _percentile_from_hist(hist, 0.99)
    m.dark_fraction = float(hist[:25].sum() / total)
    m.bright_fraction = float(hist[245:].sum() / total)

    half = cv2.resize(small, (small.shape[1] // 2, small.shape[0] // 2), interpolation=cv2.INTER_LINEAR)
    half_grey = to_grey(half)
    m.sharpness = block_sharpness(half_grey)
    m.noise = noise_sigma(half_grey)

    if half.ndim == 3:
        ycc = cv2.cvtColor(half, cv2.COLOR_BGR2YCrCb)
        cr = ycc[:, :, 1].astype(np.float32) - 128.0
        cb = ycc[:, :, 2].astype(np.float32) - 128.0
        m.cast_cr = float(cv2.mean(cr)[0])
        m.cast_cb = float(cv2.mean(cb)[0])
        m.saturation = float(cv2.mean(cv2.magnitude(cr, cb))[0])
        bgr = cv2.mean(half)
        m.mean_b, m.mean_g, m.mean_r = float(bgr[0]), float(bgr[1]), float(bgr[2])
    else:
        m.mean_b = m.mean_g = m.mean_r = m.brightness
    m.is_greyscale = m.saturation < GREY_CHROMA

    coarse = cv2.resize(
        half_grey, (COARSE_WIDTH, max(1, half_grey.shape[0] // 2)), interpolation=cv2.INTER_LINEAR
    )
    m.flat_fraction, m.covered_fraction = _flat_regions(coarse)
    m.grid = [
        float(v)
        for v in _block_view(coarse.astype(np.float32), GRID_ROWS, GRID_COLS).mean(axis=(1, 3)).ravel()
    ]

    # motion frames are sampled, not averaged: sensor noise stays visible (a live static scene is not frozen)
    greys = [_sample(f, MOTION_WIDTH) for f in checked]
    m.motion, m.temporal_noise = _motion(greys)
    # snow shows best on a keyframe (the first frame of an RTSP check); later frames may be smeared
    picks = sorted({0, len(greys) // 2, len(greys) - 1})
    nc = [neighbour_correlation(greys[i]) for i in picks]
    m.structure = min(c for c, _ in nc)
    m.texture_peak = max(sd for _, sd in nc)
    if len(checked) >= 2:
        m.motion_peak = _peak_change(_quick(checked[0], WORK_WIDTH), _quick(last, WORK_WIDTH))
    m.check_fps = _fps(frame_times)
    if frame_times is not None and len(frame_times) >= 2:
        m.span_s = max(0.0, float(frame_times[-1]) - float(frame_times[0]))
    return m


# ------------------------------------------------------------------------------------ the probe worker


def postprocess(result: Any) -> None:
    """The probe worker's picture step (``ProbePool(settings, postprocess="camsvc.picture.measure:postprocess")``):
    measure every frame into ``result.metrics`` (:meth:`FrameMetrics.flat`) while the frames are in the
    worker, then keep only the last frame (for ``turned`` and the reference picture). The service judges
    the metrics against the camera's history (:func:`camsvc.picture.store.analyse`)."""
    if not getattr(result, "frames", None):
        return
    frames = list(result.frames)
    times = list(getattr(result, "frame_times", None) or [])
    result.metrics = measure(frames, times if len(times) == len(frames) else None).flat()
    keep_last_frame(result)


def keep_last_frame(result: Any) -> None:
    """Keep only a result's last frame: what the worker ships back after measuring (``camsvc bench sweep
    --ship-last`` runs this alone, to count the probe and its shipping without the picture analysis)."""
    if len(result.frames) > 1:
        result.frames = result.frames[-1:]
        result.frame_times = result.frame_times[-1:]
