"""``camsvc bench vqd``: precision and recall of the picture checks on real footage, and their CPU cost.

The corpus is made from real pictures only: the street CCTV video ``vtest.avi`` and the photographs
beside it (``leuvenA.jpg``, ``leuvenB.jpg``, ``building.jpg``) plus scikit-image's photographs. Each
scene is rendered as a camera would see it (a view cut from a larger canvas, sensor noise, an on-screen
clock on some), under healthy-but-hard conditions (night, IR greyscale, rain, headlights, a near-empty
static scene, crowds, a slow pan, the first night after installation) and with every fault at three
severities. Clips are encoded to H.264 with imageio-ffmpeg's ffmpeg (cached), served by the simulator
when it is available (else read from the files), probed, measured and judged against a baseline learned
from the scene's healthy checks, as the service does.

The condition generators here and the damage in :mod:`camsvc.simulate.damage` are also used by the unit
tests (pure numpy/OpenCV).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import click
import cv2
import numpy as np

from camsvc.paths import cache_dir as settings_cache_dir
from camsvc.paths import ffmpeg_exe
from camsvc.simulate.damage import (
    add_noise,
    blur,
    colour_gains,
    condensation,
    cover,
    defocus,
    gain,
    overexpose,
    rotate,
    snow,
)
from camsvc.simulate.footage import FOOTAGE_FILES, ensure_sources, footage_dir

log = logging.getLogger(__name__)

VIEW_W = 640
CANVAS_W = 1024
FPS = 5
CLIP_SECONDS = 12
CORPUS_VERSION = 1  # bump when rendering changes: cached clips are keyed by it

# -------------------------------------------------------------------------------------------- footage


def skimage_data_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("scikit-image is not installed: its photographs are part of the corpus")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def footage_path(name: str) -> Path:
    """A footage file by name: the simulator's footage in the cache first (fetched once when missing, as the
    simulator does), then scikit-image's data."""
    fdir = footage_dir(settings_cache_dir())
    if name in FOOTAGE_FILES:
        fdir = ensure_sources(settings_cache_dir())
    p = fdir / name
    if p.exists():
        return p
    q = skimage_data_dir() / name
    if q.exists():
        return q
    raise FileNotFoundError(f"footage {name!r} not found in {fdir} nor in scikit-image's data")


@lru_cache(maxsize=16)
def load_photo(name: str) -> np.ndarray:
    img = cv2.imread(str(footage_path(name)), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"cannot decode footage photo {name!r}")
    return img


@lru_cache(maxsize=2)
def load_vtest(start: int = 0, count: int = 795) -> tuple[np.ndarray, ...]:
    """Frames of vtest.avi (768x576, 10 fps street CCTV), ``count`` from ``start``."""
    # PyAV, not OpenCV: the prober's process-wide OpenCV FFmpeg options allow network protocols only
    # (protocol_whitelist), so a local file cannot be opened through cv2 once they are set
    import av

    out: list[np.ndarray] = []
    try:
        with av.open(str(footage_path("vtest.avi"))) as c:
            for i, frame in enumerate(c.decode(video=0)):
                if i >= start + count:
                    break
                if i >= start:
                    out.append(frame.to_ndarray(format="bgr24"))
    except av.error.FFmpegError as exc:
        raise FileNotFoundError(f"cannot open vtest.avi: {type(exc).__name__}") from exc
    if not out:
        raise FileNotFoundError("vtest.avi gave no frames")
    return tuple(out)


@lru_cache(maxsize=1)
def vtest_background() -> np.ndarray:
    """The empty street: per-pixel median of vtest frames spread over the whole video."""
    frames = load_vtest()
    sample = np.stack(frames[:: max(1, len(frames) // 60)])
    return np.median(sample, axis=0).astype(np.uint8)


@lru_cache(maxsize=4)
def vtest_crowd(n: int = 60, start: int = 200, layers: int = 4) -> tuple[np.ndarray, ...]:
    """A crowd: the people of ``layers`` different moments of vtest pasted onto the same street."""
    frames = load_vtest()
    bg = vtest_background().astype(np.int16)
    out = []
    for i in range(n):
        img = frames[(start + 2 * i) % len(frames)].copy()
        for k in range(1, layers):
            f = frames[(start + 2 * i + k * 157) % len(frames)]
            diff = np.abs(f.astype(np.int16) - bg).max(axis=2)
            mask = cv2.dilate((diff > 30).astype(np.uint8), np.ones((5, 5), np.uint8))
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)
            img[mask] = f[mask]
        out.append(img)
    return tuple(out)


# --------------------------------------------------------------------------------------------- scenes


@dataclass(frozen=True)
class Scene:
    """A camera: what it looks at, its view size, whether it draws a clock, and its night mode."""

    name: str
    source: str  # footage file
    view_h: int  # view is VIEW_W x view_h
    osd: bool  # draws an on-screen date and time
    ir: bool  # switches to IR greyscale at night (else dim colour under street lights)
    outdoor: bool = True  # daylight drifts (clouds) between and within checks
    video: bool = False


SCENES: tuple[Scene, ...] = (
    Scene("street", "vtest.avi", 480, osd=True, ir=False, video=True),
    Scene("leuvenA", "leuvenA.jpg", 360, osd=True, ir=True),
    Scene("leuvenB", "leuvenB.jpg", 360, osd=False, ir=False),
    Scene("building", "building.jpg", 360, osd=False, ir=True),
    Scene("garage", "motorcycle_left.png", 360, osd=True, ir=True, outdoor=False),
    Scene("launchpad", "rocket.jpg", 360, osd=False, ir=False),
    Scene("yard", "camera.png", 480, osd=True, ir=True),
    Scene("cafe", "coffee.png", 360, osd=True, ir=False, outdoor=False),
)
SCENE_BY_NAME = {s.name: s for s in SCENES}


def _canvas_scale(src: np.ndarray) -> float:
    return CANVAS_W / src.shape[1]


def base_origin(scene: Scene, src_shape: tuple[int, ...]) -> tuple[float, float]:
    """Top-left of the camera's normal view on the canvas (canvas px)."""
    ch = src_shape[0] * CANVAS_W / src_shape[1]
    return 32.0, max(0.0, (ch - scene.view_h) / 2)


def cut_view(src: np.ndarray, scene: Scene, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """The view (VIEW_W x view_h) of ``src`` seen on a canvas CANVAS_W wide, moved by (dx, dy) canvas px."""
    s = _canvas_scale(src)
    x0, y0 = base_origin(scene, src.shape)
    x0, y0 = x0 + dx, y0 + dy
    # affine map from view pixels to source pixels: one warp, no canvas in memory
    m = np.array([[1 / s, 0, x0 / s], [0, 1 / s, y0 / s]], dtype=np.float32)
    return cv2.warpAffine(
        src,
        m,
        (VIEW_W, scene.view_h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )


def world_frame(scene: Scene, i: int, variant: str = "normal") -> np.ndarray:
    """The source picture at frame ``i`` (FPS): the video advances, photos are still."""
    if scene.video:
        if variant == "static":
            return vtest_background()
        if variant == "crowd":
            crowd = vtest_crowd()
            return crowd[i % len(crowd)]
        frames = load_vtest()
        return frames[(200 + 2 * i) % len(frames)]
    return load_photo(scene.source)


# ----------------------------------------------------------------------------------- camera pipeline


def _rng(*key: Any) -> np.random.Generator:
    h = hashlib.sha256(repr(key).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def daylight_drift(img: np.ndarray, t: float, amplitude: float = 0.03) -> np.ndarray:
    """Cloud shadows drifting across an outdoor scene (period = the clip length, so the loop is seamless)."""
    h, w = img.shape[:2]
    x = np.arange(w, dtype=np.float32) / (1.3 * w)
    y = np.arange(h, dtype=np.float32) / (1.7 * h)
    phase = 2 * np.pi * (x[None, :] - t / CLIP_SECONDS)
    field = 1.0 + amplitude * np.sin(phase) * (0.6 + 0.4 * np.sin(2 * np.pi * y))[:, None]
    return np.clip(img.astype(np.float32) * field[:, :, None], 0, 255).astype(np.uint8)


def night_light(img: np.ndarray, gain: float = 0.22) -> np.ndarray:
    """Dim colour under sodium street lights: darker, warmer, less saturated, a little soft."""
    f = img.astype(np.float32)
    grey = f.mean(axis=2, keepdims=True)
    f = 0.55 * f + 0.45 * grey
    f *= np.array([0.75, 1.0, 1.2], dtype=np.float32) * gain
    f = cv2.GaussianBlur(f, (0, 0), 0.8)
    return np.clip(f, 0, 255).astype(np.uint8)


def ir_mode(img: np.ndarray) -> np.ndarray:
    """IR night picture: greyscale, flat and bright in the middle where the illuminator reaches."""
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    h, w = g.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - w / 2) / (0.7 * w)) ** 2 + ((yy - h / 2) / (0.7 * h)) ** 2
    light = np.exp(-r2).astype(np.float32)
    g = (0.55 * g + 30.0) * (0.45 + 0.75 * light)
    g = cv2.GaussianBlur(g, (0, 0), 0.7)
    g8 = np.clip(g, 0, 255).astype(np.uint8)
    return cv2.cvtColor(g8, cv2.COLOR_GRAY2BGR)


def rain(img: np.ndarray, rng: np.random.Generator, drops: int = 350) -> np.ndarray:
    """Falling rain: short bright slanted streaks, new each frame, and a slightly washed-out picture."""
    out = img.astype(np.float32) * 0.9 + 12.0
    h, w = img.shape[:2]
    layer: np.ndarray = np.zeros((h, w), np.float32)
    xs = rng.integers(0, w, drops)
    ys = rng.integers(0, h, drops)
    lens = rng.integers(8, 22, drops)
    for x, y, n in zip(xs, ys, lens, strict=False):
        cv2.line(layer, (int(x), int(y)), (int(x - n * 0.25), int(y + n)), 1.0, 1)
    layer = cv2.GaussianBlur(layer, (0, 0), 0.6)
    out += layer[:, :, None] * 70.0
    return np.clip(out, 0, 255).astype(np.uint8)


def headlights(img: np.ndarray, i: int) -> np.ndarray:
    """A car crossing at night: two headlight glows with bloom and the lit road in front."""
    h, w = img.shape[:2]
    layer = np.zeros((h, w), np.float32)
    x = int((i * 45) % (w + 300)) - 150
    y = int(h * 0.72)
    for dxl in (0, 70):
        cv2.circle(layer, (x + dxl, y), 9, 1.0, -1)
    glow = cv2.GaussianBlur(layer, (0, 0), 14) * 6.0 + layer
    cone: np.ndarray = np.zeros((h, w), np.float32)
    pts = np.array([[x - 10, y], [x + 80, y], [x + 260, y + 80], [x - 60, y + 80]], np.int32)
    cv2.fillConvexPoly(cone, pts, 0.35)
    cone = cv2.GaussianBlur(cone, (0, 0), 12)
    f = img.astype(np.float32) * (1.0 + 2.5 * cone[:, :, None]) + 255.0 * np.minimum(glow, 1.0)[:, :, None]
    return np.clip(f, 0, 255).astype(np.uint8)


def osd_clock(img: np.ndarray, seconds: float, hour: int = 14) -> np.ndarray:
    """The camera's on-screen date and time, as most CCTV cameras draw it (top left)."""
    s = int(seconds)
    text = f"2026-03-14 {hour:02d}:{(s // 60) % 60:02d}:{s % 60:02d}"
    out = img.copy()
    org = (12, 26)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return out


# ----------------------------------------------------------------------------------- the clips


HEALTHY_CONDITIONS = ("day", "night", "rain", "static", "crowd", "slow_pan", "headlights", "first_night")
# Each fault: three severities, as (description, parameters). Faults apply to the day picture, and to
# the night picture for those listed in NIGHT_FAULTS.
FAULTS: dict[str, tuple[str, str, str]] = {
    "black": ("black with faint noise", "black with the OSD clock", "pure black"),
    "too_dark": ("exposure x0.35", "exposure x0.2", "exposure x0.1"),
    "overexposed": ("exposure x2.5", "exposure x4", "exposure x8 + bloom"),
    "frozen": ("frozen, OSD clock still ticking", "frozen, exposure still hunting", "frozen (loop)"),
    "blurred": ("gaussian sigma 2.5", "defocus disc r=6", "condensation"),
    "covered": ("box over 65%", "hand over ~85%", "full cover 0x303030 + noise"),
    "snow": ("noise sigma 25", "60% snow", "full snow"),
    "turned": ("pan 10%", "rotated 0.12 rad", "another part of the scene (45%)"),
    "colour_cast": ("red +30%, blue -20%", "IR-cut filter stuck (magenta)", "blue channel lost"),
    "low_fps": ("2.5 fps", "1 fps", "0.5 fps"),
    "resolution_changed": ("704x(396|528)", "320 wide", "1280 wide"),
}
NIGHT_FAULTS = ("black", "frozen", "blurred", "covered", "snow", "turned")
# Codes that count as a correct name for each injected fault.
ACCEPTED: dict[str, frozenset[str]] = {
    "black": frozenset({"black"}),
    "too_dark": frozenset({"too_dark", "black"}),
    "overexposed": frozenset({"overexposed"}),
    "frozen": frozenset({"frozen"}),
    "blurred": frozenset({"blurred"}),
    "covered": frozenset({"covered"}),
    "snow": frozenset({"snow", "noise"}),
    "turned": frozenset({"turned"}),
    "colour_cast": frozenset({"colour_cast"}),
    "low_fps": frozenset({"low_fps"}),
    "resolution_changed": frozenset({"resolution_changed"}),
}


@dataclass(frozen=True)
class ClipSpec:
    """One encoded clip: a scene under a light condition, optionally with a fault at a severity."""

    scene: str
    light: str  # "day", "night" (the scene's night mode: IR or dim colour)
    condition: str = "plain"  # plain, rain, static, crowd, slow_pan, headlights
    fault: str | None = None
    severity: int = 0

    @property
    def name(self) -> str:
        parts = [self.scene, self.light, self.condition]
        if self.fault:
            parts += [self.fault, str(self.severity)]
        return "-".join(parts)

    @property
    def fps(self) -> float:
        if self.fault == "low_fps":
            return {1: 2.5, 2: 1.0, 3: 0.5}[self.severity]
        return float(FPS)

    def size(self) -> tuple[int, int]:
        scene = SCENE_BY_NAME[self.scene]
        w, h = VIEW_W, scene.view_h
        if self.fault == "resolution_changed":
            w = {1: 704, 2: 320, 3: 1280}[self.severity]
            h = int(round(scene.view_h * w / VIEW_W / 2)) * 2
        return w, h


def render_frames(spec: ClipSpec, seconds: float = CLIP_SECONDS) -> Iterator[np.ndarray]:
    """The frames a camera would send for ``spec``, at spec.fps, ``seconds`` long (BGR uint8)."""
    scene = SCENE_BY_NAME[spec.scene]
    n = max(2, int(round(seconds * spec.fps)))
    frozen = spec.fault == "frozen"
    for k in range(n):
        t = k / spec.fps
        i = int(round(t * FPS))  # world time in 5 fps frames
        yield render_one(scene, spec, 0 if frozen else i, t, k)


def render_one(scene: Scene, spec: ClipSpec, i: int, t: float, k: int) -> np.ndarray:
    fault, sev = spec.fault, spec.severity
    night = spec.light == "night"
    frozen_world = fault == "frozen"
    variant = {"static": "static", "crowd": "crowd"}.get(spec.condition, "normal")
    src = world_frame(scene, i, variant)
    dx = dy = 0.0
    if spec.condition == "slow_pan":
        dx = 0.03 * VIEW_W * math.sin(2 * math.pi * t / 40.0)
    if fault == "turned" and sev == 1:
        dx += 0.10 * VIEW_W
    if fault == "turned" and sev == 3:
        dx += 0.45 * VIEW_W
        dy += 0.08 * scene.view_h
    img = cut_view(src, scene, dx, dy)
    rng = _rng(spec.name, i, 0 if frozen_world else k)  # a frozen picture keeps its noise
    # light in the scene
    if scene.outdoor and not scene.video and not night:
        img = daylight_drift(img, 0.0 if frozen_world else t)
    if night and not scene.ir:
        img = night_light(img)
    if spec.condition == "rain":
        img = rain(img, rng)
    if spec.condition == "headlights":
        img = headlights(img, k)
    # optics
    if fault == "blurred":
        img = blur(img, 2.5) if sev == 1 else defocus(img, 6) if sev == 2 else condensation(img)
    ir_hand = fault == "covered" and sev == 2 and night and scene.ir
    if fault == "covered" and not ir_hand:
        # at night without IR a hand is left dark by the street light
        img = (
            cover(img, 0.65, "box")
            if sev == 1
            else cover(img, 0.85, "hand", tone=0.2 if night else None)
            if sev == 2
            else cover(img, 1.0, "box")
        )
    # sensor
    if night and scene.ir:
        img = ir_mode(img)
        if ir_hand:  # a hand at the lens reflects the IR light: bright grey, the exposure turned down
            img = cover(img, 0.85, "hand", tone=1.45)
            img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    sigma = {"static": 0.8}.get(spec.condition, 3.5 if night else 1.5)
    img = add_noise(img, sigma, rng)
    if fault == "covered" and sev == 3:
        img = add_noise(img, 5.8, rng)  # the simulator's noise=alls=10:allf=t
    if fault == "too_dark":
        img = gain(img, {1: 0.35, 2: 0.2, 3: 0.1}[sev])
    if fault == "overexposed":
        img = overexpose(img, {1: 2.5, 2: 4.0, 3: 8.0}[sev])
    if fault == "colour_cast":
        img = (
            colour_gains(img, 0.8, 1.0, 1.3)
            if sev == 1
            else colour_gains(img, 1.25, 0.75, 1.35)
            if sev == 2
            else colour_gains(img, 0.0, 1.0, 1.0)
        )
    # signal
    if fault == "snow":
        img = add_noise(img, 25.0, rng) if sev == 1 else snow(img, 0.6 if sev == 2 else 1.0, rng)
    if fault == "black":
        img = np.zeros_like(img) if sev != 1 else add_noise(np.full_like(img, 6), 3.0, rng)
    if fault == "turned" and sev == 2:
        img = rotate(img, 0.12)
    if fault == "frozen" and sev == 2:
        img = gain(img, 1.0 + 0.006 * math.sin(2 * math.pi * k / 7))  # the ISP still hunts exposure
    # OSD: the camera keeps drawing its clock over a frozen (s1) or black (s2) picture
    if scene.osd and not (fault == "black" and sev != 2):
        clock_t = t if not (fault == "frozen" and sev != 1) else 0.0
        img = osd_clock(img, 1000 + clock_t, hour=22 if night else 14)
    if fault == "frozen" and sev == 1 and not scene.osd:
        img = osd_clock(img, 1000 + t, hour=22 if night else 14)
    w, h = spec.size()
    if (w, h) != (img.shape[1], img.shape[0]):
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if w < img.shape[1] else cv2.INTER_LINEAR)
    return img


# ----------------------------------------------------------------------------------- encoding


def encode_clip(spec: ClipSpec, cache_dir: Path) -> Path:
    """Render and encode ``spec`` to H.264 (cached by name and corpus version)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{spec.name}.v{CORPUS_VERSION}.mp4"
    if path.exists() and path.stat().st_size > 0:
        return path
    w, h = spec.size()
    fps = spec.fps
    gop = max(1, int(round(2 * fps)))  # a keyframe every 2 s, like a real camera
    tmp = path.with_suffix(".tmp.mp4")
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "-",
        "-an", "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", str(gop), "-sc_threshold", "0",
        "-pix_fmt", "yuv420p", "-b:v", "400k" if w <= 704 else "1000k", "-movflags", "+faststart",
        "-f", "mp4", str(tmp),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for f in render_frames(spec):
            proc.stdin.write(np.ascontiguousarray(f).tobytes())
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        rc = proc.wait(timeout=120)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if rc != 0:
        raise RuntimeError(f"ffmpeg failed encoding {spec.name}: {err.strip()[:500]}")
    tmp.replace(path)
    return path


def _read_frames(cap: Any, limit: int) -> list[np.ndarray]:
    """Up to *limit* frames from an open cv2.VideoCapture, stopping at the first failed read."""
    out: list[np.ndarray] = []
    for _ in range(limit):
        ok, f = cap.read()
        if not ok:
            break
        out.append(f)
    return out


def decode_clip(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    try:
        return _read_frames(cap, 10_000)
    finally:
        cap.release()


# ----------------------------------------------------------------------------------- checks


@dataclass
class Check:
    """One probe, measured: what the service keeps of it (metrics, the last frame for the reference view,
    the stream's fps and size)."""

    metrics: Any  # FrameMetrics
    last: np.ndarray  # last frame, at most 320 px wide (all the reference view needs)
    fps: float | None
    width: int
    height: int


WINDOW_S = 1.5  # ProbeSettings.window_s
MAX_FRAMES = 8  # ProbeSettings.max_frames


def _make_check(
    frames: list[np.ndarray], times: list[float], fps: float | None, width: int, height: int
) -> Check:
    from camsvc.picture.measure import downscale, measure

    last = frames[-1]
    if last.shape[1] > 320:
        last = downscale(last, 320)
    return Check(measure(frames, times), last, fps, width, height)


Request = tuple[ClipSpec, int]  # a clip and how many consecutive checks of it


class FileSource:
    """Checks cut from the encoded files, as the prober would see them: a joining client starts at a
    keyframe and reads up to MAX_FRAMES frames for WINDOW_S seconds; consecutive checks follow each other
    through the loop (each joins at the first keyframe after the previous one ended plus an open delay)."""

    name = "files"

    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths = paths

    def fetch(self, requests: list[Request], rng: np.random.Generator) -> dict[str, list[Check]]:
        out: dict[str, list[Check]] = {}
        for spec, n in requests:
            out[spec.name] = self._checks(spec, n, rng)
        return out

    def _checks(self, spec: ClipSpec, n: int, rng: np.random.Generator) -> list[Check]:
        path = self.paths[spec.name]
        frames = decode_clip(path)
        if not frames:
            raise RuntimeError(f"{path} decoded to no frames")
        gop = max(1, int(round(2 * spec.fps)))
        out = []
        pos = int(rng.integers(0, len(frames)))
        for _ in range(n):
            pos += int(round(float(rng.uniform(0.3, 1.2)) * spec.fps))
            start = ((pos + gop - 1) // gop) * gop
            sel: list[np.ndarray] = []
            times: list[float] = []
            k = start
            while len(sel) < MAX_FRAMES and (not times or times[-1] < WINDOW_S):
                sel.append(frames[k % len(frames)])
                times.append((k - start) / spec.fps)
                k += 1
            pos = k
            fps = (len(times) - 1) / times[-1] if len(times) >= 2 and times[-1] > 0 else None
            h, w = sel[0].shape[:2]
            # the prober keeps frames at most 640 px wide
            if w > 640:
                sel = [cv2.resize(f, (640, round(h * 640 / w)), interpolation=cv2.INTER_AREA) for f in sel]
            out.append(_make_check(sel, times, fps, w, h))
        return out

    def close(self) -> None:
        pass


class SimulatorSource:
    """Checks probed with the real prober (camsvc.probing.stream.probe) from the simulator's RTSP server.

    One simulator per scene serves that scene's clips; clips are probed in parallel, the checks of one
    clip one after the other (so each sees a later moment of the loop, as checks a minute apart would)."""

    name = "simulator"

    def __init__(self, paths: dict[str, Path], workers: int = 12, depth: str = "adaptive") -> None:
        from camsvc.config import load_settings
        from camsvc.probing.stream import configure_opencv_env, probe
        from camsvc.simulate.harness import Simulator

        configure_opencv_env()
        self.settings = load_settings().probe
        self.depth = depth if self.settings.engine == "packets" else "full"
        self.depths: dict[str, int] = {}  # checks per depth actually probed
        self._probe = probe
        self._simulator = Simulator
        self.paths = paths
        self.workers = workers
        self.failed = 0

    def fetch(self, requests: list[Request], rng: np.random.Generator) -> dict[str, list[Check]]:
        """Adaptive depth (``depth="adaptive"``): the scene's plain day/night clips (its learning checks)
        are probed first, in full; every other clip is then probed as a camera healthy for long would be
        (light checks, one full in ``probe.full_every``, a light check escalated when its packets differ
        from the usual ones learned from the plain clips, the check after an escalation full)."""
        from concurrent.futures import ThreadPoolExecutor

        from camsvc.probing.adaptive import DepthTracker, profile_from_result
        from camsvc.probing.depth import DepthState, PacketProfile, learn_usual

        streams = {spec.name: self.paths[spec.name] for spec, _ in requests}
        seeds = {spec.name: int(rng.integers(0, 2**31)) for spec, _ in requests}
        usual: dict[tuple[str, str], PacketProfile] = {}
        trackers: dict[str, DepthTracker] = {}
        with self._simulator(roadside=0, household=0, extra_streams=streams) as sim:

            def one(req: Request) -> tuple[str, list[Check]]:
                spec, n = req
                url = sim.extra_url(spec.name)
                local = np.random.default_rng(seeds[spec.name])
                base = self.depth == "adaptive" and spec.fault is None and spec.condition == "plain"
                tracker = None
                if self.depth == "adaptive" and not base:
                    tracker = trackers[spec.name] = DepthTracker(self.settings)
                    tracker.seed(
                        spec.name,
                        DepthState(
                            healthy_streak=100,
                            since_full=int(local.integers(0, self.settings.full_every)),
                            last_bad=False,
                            usual=usual.get((spec.scene, spec.light)),
                        ),
                    )
                got: list[Check] = []
                for _ in range(n + 3):  # a few spare probes for the odd failure
                    if len(got) >= n:
                        break
                    time.sleep(float(local.uniform(0.0, 0.6)))
                    depth = tracker.next(spec.name) if tracker else None
                    r = self._probe(url, settings=self.settings, depth=depth)
                    self.depths[r.depth or "full"] = self.depths.get(r.depth or "full", 0) + 1
                    if tracker:
                        tracker.record(spec.name, r)
                    elif base and r.ok and (prof := profile_from_result(r)) is not None:
                        key = (spec.scene, spec.light)
                        usual[key] = learn_usual(usual.get(key), prof)
                    if not r.ok or not r.frames:
                        self.failed += 1
                        log.warning("probe of %s failed: %s %s", spec.name, r.error, r.detail)
                        continue
                    got.append(
                        _make_check(
                            list(r.frames), list(r.frame_times), r.fps, int(r.width or 0), int(r.height or 0)
                        )
                    )
                return spec.name, got

            first = [r for r in requests if self.depth == "adaptive" and r[0].fault is None]
            first = [r for r in first if r[0].condition == "plain"]
            rest = [r for r in requests if r not in first]
            with ThreadPoolExecutor(max_workers=self.workers) as ex:
                out = dict(ex.map(one, first))
                out |= dict(ex.map(one, rest))
                return out

    def close(self) -> None:
        pass


# ----------------------------------------------------------------------------------- the run


DAY_HOURS = tuple(range(7, 18))
NIGHT_HOURS = (19, 20, 21, 22, 23, 0, 1, 2, 3, 4, 5)
EVAL_DAY_HOURS = (9, 10, 11, 12, 13, 14, 15, 16)
EVAL_NIGHT_HOURS = (20, 21, 22, 23, 0, 1, 2, 3)


@dataclass
class Outcome:
    """One judged check."""

    scene: str
    clip: str
    kind: str  # "healthy" or the injected fault
    condition: str  # healthy condition, or "day"/"night" for faults
    severity: int
    codes: list[str]
    ordinal: int  # 0 for the first check of a clip, 1, 2...
    hour: int = 0
    details: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class Camera:
    """What the service remembers of one camera while the bench runs."""

    baseline: Any = None
    reference: bytes | None = None
    last: dict[str, Any] = field(default_factory=dict)  # light -> metrics of the last healthy check


def _judge_check(check: Check, cam: Camera, hour: int, previous: Any) -> list[Any]:
    from camsvc.picture.judge import judge

    return judge(
        check.metrics,
        baseline=cam.baseline,
        reference=cam.reference,
        frame=check.last,
        hour=hour,
        fps=check.fps,
        width=check.width,
        height=check.height,
        previous=previous,
    )


def learn(cam: Camera, checks: list[Check], hours: tuple[int, ...], light: str) -> int:
    """Feed healthy checks as the service would: judge, and learn only from those without a fault.
    Returns the number of checks that raised a fault while learning."""
    from camsvc.picture.baseline import update_baseline
    from camsvc.picture.views import add_reference_view

    alarms = 0
    previous = cam.last.get(light)
    for i, c in enumerate(checks):
        hour = hours[i % len(hours)]
        faults = _judge_check(c, cam, hour, previous)
        if faults:
            alarms += 1
            log.info("learning %s h%02d: %s", light, hour, [f.code for f in faults])
        else:
            cam.baseline = update_baseline(
                cam.baseline,
                c.metrics,
                hour=hour,
                fps=c.fps,
                width=c.width,
                height=c.height,
                previous=previous,
            )
            cam.reference = add_reference_view(cam.reference, c.last, c.metrics)
        previous = c.metrics
    cam.last[light] = previous
    return alarms


def evaluate(
    cam: Camera, checks: list[Check], hours: tuple[int, ...], previous: Any, **labels: Any
) -> list[Outcome]:
    out = []
    for i, c in enumerate(checks):
        hour = hours[i % len(hours)]
        faults = _judge_check(c, cam, hour, previous)
        out.append(
            Outcome(
                codes=[f.code for f in faults],
                ordinal=i,
                hour=hour,
                details=[f"{f.code}: {f.detail}" for f in faults],
                metrics=c.metrics.scalars(),
                **labels,
            )
        )
        previous = c.metrics
    return out


def clip_plan(scenes: list[Scene]) -> list[ClipSpec]:
    plan: list[ClipSpec] = []
    for sc in scenes:
        plan += [ClipSpec(sc.name, "day"), ClipSpec(sc.name, "night")]
        for cond in ("rain", "static", "slow_pan"):
            plan.append(ClipSpec(sc.name, "day", cond))
        if sc.video:
            plan.append(ClipSpec(sc.name, "day", "crowd"))
        plan.append(ClipSpec(sc.name, "night", "headlights"))
        for fault in FAULTS:
            for sev in (1, 2, 3):
                plan.append(ClipSpec(sc.name, "day", fault=fault, severity=sev))
                if fault in NIGHT_FAULTS:
                    plan.append(ClipSpec(sc.name, "night", fault=fault, severity=sev))
    return plan


def run_scene(
    sc: Scene, source: Any, *, learn_checks: int, healthy_checks: int, fault_checks: int, seed: int
) -> tuple[list[Outcome], int]:
    """Learn the scene's normal from its healthy day and night clips, then judge every condition and
    fault clip. Returns the judged checks and the number of alarms raised while learning."""
    rng = _rng("bench", sc.name, seed)
    day, night = ClipSpec(sc.name, "day"), ClipSpec(sc.name, "night")
    healthy: list[tuple[str, ClipSpec, tuple[int, ...]]] = [
        ("day", day, EVAL_DAY_HOURS),
        ("night", night, EVAL_NIGHT_HOURS),
        ("rain", ClipSpec(sc.name, "day", "rain"), EVAL_DAY_HOURS),
        ("static", ClipSpec(sc.name, "day", "static"), EVAL_DAY_HOURS),
        ("slow_pan", ClipSpec(sc.name, "day", "slow_pan"), EVAL_DAY_HOURS),
        ("headlights", ClipSpec(sc.name, "night", "headlights"), EVAL_NIGHT_HOURS),
        ("first_night", night, EVAL_NIGHT_HOURS),
    ]
    if sc.video:
        healthy.append(("crowd", ClipSpec(sc.name, "day", "crowd"), EVAL_DAY_HOURS))
    faulty = [
        ClipSpec(sc.name, light, fault=fault, severity=sev)
        for fault in FAULTS
        for light in (("day", "night") if fault in NIGHT_FAULTS else ("day",))
        for sev in (1, 2, 3)
    ]
    # the day and night clips give the learning checks, then the evaluation ones (later in time)
    n_day = learn_checks + healthy_checks
    n_night = learn_checks + 2 * healthy_checks
    requests: list[Request] = [(day, n_day), (night, n_night)]
    requests += [(spec, healthy_checks) for cond, spec, _ in healthy if spec not in (day, night)]
    requests += [(spec, fault_checks) for spec in faulty]
    got = source.fetch(requests, rng)

    cam = Camera()
    alarms = learn(cam, got[day.name][:learn_checks], DAY_HOURS, "day")
    day_only = Camera(cam.baseline, cam.reference, dict(cam.last))
    alarms += learn(cam, got[night.name][:learn_checks], NIGHT_HOURS, "night")

    out: list[Outcome] = []
    night_rest = got[night.name][learn_checks:]
    for cond, spec, hours in healthy:
        if spec == day:
            checks = got[day.name][learn_checks:]
        elif spec == night:
            checks = night_rest[:healthy_checks] if cond == "night" else night_rest[healthy_checks:]
        else:
            checks = got[spec.name]
        c = day_only if cond == "first_night" else cam
        prev = c.last.get("day" if cond == "first_night" else spec.light)
        out += evaluate(
            c, checks, hours, prev, scene=sc.name, clip=spec.name, kind="healthy", condition=cond, severity=0
        )
    for spec in faulty:
        hours = EVAL_DAY_HOURS if spec.light == "day" else EVAL_NIGHT_HOURS
        out += evaluate(
            cam,
            got[spec.name],
            hours,
            cam.last.get(spec.light),
            scene=sc.name,
            clip=spec.name,
            kind=str(spec.fault),
            condition=spec.light,
            severity=spec.severity,
        )
    return out, alarms


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    """Recall per fault and severity, false alarms on healthy checks, precision per reported code."""
    healthy = [o for o in outcomes if o.kind == "healthy"]
    fa = [o for o in healthy if o.codes]
    by_cond: dict[str, dict[str, Any]] = {}
    for o in healthy:
        d = by_cond.setdefault(o.condition, {"checks": 0, "alarms": 0, "codes": {}})
        d["checks"] += 1
        if o.codes:
            d["alarms"] += 1
            for c in o.codes:
                d["codes"][c] = d["codes"].get(c, 0) + 1
    faults: dict[str, Any] = {}
    tp: dict[str, int] = {}
    fp: dict[str, int] = {}
    for o in outcomes:
        accepted = ACCEPTED.get(o.kind, frozenset())
        for c in o.codes:
            if c in accepted:
                tp[c] = tp.get(c, 0) + 1
            else:
                fp[c] = fp.get(c, 0) + 1
        if o.kind == "healthy":
            continue
        d = faults.setdefault(o.kind, {})
        s = d.setdefault(
            str(o.severity), {"checks": 0, "found": 0, "wrong": {}, "first_checks": 0, "first_found": 0}
        )
        found = bool(accepted & set(o.codes))
        s["checks"] += 1
        s["found"] += int(found)
        if o.ordinal == 0:
            s["first_checks"] += 1
            s["first_found"] += int(found)
        for c in o.codes:
            if c not in accepted:
                s["wrong"][c] = s["wrong"].get(c, 0) + 1
    for d in faults.values():
        for s in d.values():
            s["recall"] = round(s["found"] / s["checks"], 4) if s["checks"] else None
    codes = sorted(set(tp) | set(fp))
    precision = {c: round(tp.get(c, 0) / (tp.get(c, 0) + fp.get(c, 0)), 4) for c in codes}
    return {
        "healthy_checks": len(healthy),
        "false_alarm_checks": len(fa),
        "false_alarm_rate": round(len(fa) / len(healthy), 4) if healthy else None,
        "healthy_by_condition": by_cond,
        "faults": faults,
        "precision": precision,
        "true_positives": tp,
        "false_positives": fp,
    }


def measure_cost(runs: int = 300) -> dict[str, Any]:
    """CPU per check (time.process_time, all threads) of measure() and judge() on 8 frames of street video
    at 1280x720 and at 640x360 (what the prober hands over), with OpenCV's default threads and with one."""
    from camsvc.picture.baseline import update_baseline
    from camsvc.picture.measure import measure
    from camsvc.picture.views import add_reference_view

    src = load_vtest(200, 16)

    def clock(fn: Callable[[], Any], n: int) -> float:
        fn()
        t0 = time.process_time()
        for _ in range(n):
            fn()
        return (time.process_time() - t0) / n * 1000.0

    out: dict[str, Any] = {"runs": runs, "default_threads": cv2.getNumThreads()}
    default_threads = cv2.getNumThreads()
    try:
        for threads in (default_threads, 1):
            cv2.setNumThreads(threads)
            for w, h in ((1280, 720), (640, 360)):
                frames = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in src[::2]]
                times = [k / FPS for k in range(len(frames))]
                m = measure(frames, times)
                base = None
                for hour in range(24):
                    for _ in range(6):
                        base = update_baseline(base, m, hour=hour, fps=5.0, width=w, height=h, previous=m)
                ref = add_reference_view(None, src[0], m)
                out[f"{w}x{h}_threads{threads}"] = _cost_of(frames, times, m, base, ref, runs, clock)
    finally:
        cv2.setNumThreads(default_threads)
    return out


def _cost_of(
    frames: list[np.ndarray],
    times: list[float],
    m: Any,
    base: Any,
    ref: bytes,
    runs: int,
    clock: Callable[[Callable[[], Any], int], float],
) -> dict[str, float]:
    from camsvc.picture.judge import judge
    from camsvc.picture.measure import measure

    h, w = frames[0].shape[:2]
    kw: dict[str, Any] = dict(baseline=base, hour=12, fps=5.0, width=w, height=h, previous=m)
    return {
        "measure_ms": round(clock(lambda: measure(frames, times), runs), 3),
        "judge_ms": round(clock(lambda: judge(m, reference=None, frame=None, **kw), runs), 3),
        "judge_with_turned_ms": round(
            clock(lambda: judge(m, reference=ref, frame=frames[-1], **kw), max(20, runs // 3)), 3
        ),
    }


def print_report(res: dict[str, Any], echo: Callable[[str], None] = click.echo) -> None:
    s = res["summary"]
    echo(f"\nsource: {res['source']}; {res['clips']} clips; scenes: {', '.join(res['scenes'])}")
    echo(f"depth: {res.get('depth')}; checks by depth: {res.get('checks_by_depth')}")
    echo(f"{'fault':<20}{'sev':>4}  {'recall':>7} {'first':>7}  {'checks':>6}  wrong codes")
    for fault, sevs in s["faults"].items():
        for sev, d in sorted(sevs.items()):
            first = d["first_found"] / d["first_checks"] if d["first_checks"] else float("nan")
            wrong = ", ".join(f"{k}:{v}" for k, v in sorted(d["wrong"].items()))
            echo(f"{fault:<20}{sev:>4}  {d['recall']:>7.3f} {first:>7.3f}  {d['checks']:>6}  {wrong}")
    echo(f"\n{'healthy condition':<20}{'checks':>7}{'alarms':>8}  codes")
    for cond, d in s["healthy_by_condition"].items():
        codes = ", ".join(f"{k}:{v}" for k, v in sorted(d["codes"].items()))
        echo(f"{cond:<20}{d['checks']:>7}{d['alarms']:>8}  {codes}")
    echo(
        f"\nfalse alarms: {s['false_alarm_checks']} of {s['healthy_checks']} healthy checks "
        f"({100 * (s['false_alarm_rate'] or 0):.2f}%); while learning: {res['learning_alarms']}"
    )
    echo("precision per code: " + ", ".join(f"{k} {v:.3f}" for k, v in s["precision"].items()))
    c = res["cost"]
    echo(f"\nCPU per check (process time, 8 frames, mean of {c['runs']} runs):")
    echo(f"{'input':<12}{'threads':>8}{'measure':>10}{'judge':>8}{'+turned':>10}{'total':>8}")
    for key, d in c.items():
        if not isinstance(d, dict):
            continue
        size, threads = key.split("_threads")
        total = d["measure_ms"] + d["judge_with_turned_ms"]
        echo(
            f"{size:<12}{threads:>8}{d['measure_ms']:>9.2f}ms{d['judge_ms']:>6.2f}ms"
            f"{d['judge_with_turned_ms']:>8.2f}ms{total:>6.2f}ms"
        )


@click.command("vqd")
@click.option("--scenes", default="", help="Comma-separated scene names (default: all)")
@click.option(
    "--source",
    type=click.Choice(["auto", "simulator", "files"]),
    default="auto",
    help="Probe the clips through the simulator, or read the encoded files directly",
)
@click.option("--learn-checks", default=22, show_default=True, help="Healthy checks learned per light")
@click.option("--healthy-checks", default=12, show_default=True, help="Checks per healthy condition")
@click.option("--fault-checks", default=5, show_default=True, help="Checks per fault clip")
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where encoded clips are kept (default: vqd/ in the cache dir, camsvc.paths)",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("bench-results/vqd.json"), show_default=True
)
@click.option("--cost-runs", default=300, show_default=True, help="Runs to time measure() over")
@click.option(
    "--depth",
    type=click.Choice(["adaptive", "full"]),
    default="adaptive",
    show_default=True,
    help="Probe depth with the simulator source: adaptive (light checks for long-healthy cameras, "
    "camsvc.probing.depth) or every check full",
)
@click.option("--seed", default=1, show_default=True)
def vqd(
    scenes: str,
    source: str,
    learn_checks: int,
    healthy_checks: int,
    fault_checks: int,
    cache_dir: Path | None,
    out: Path,
    cost_runs: int,
    depth: str,
    seed: int,
) -> None:
    """Picture-fault detection: recall per fault and severity, false alarms, CPU cost."""
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(AttributeError):  # OpenCV's FFmpeg chatter (thread-safety notice) stays out
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    if source != "files":
        try:  # OpenCV's FFmpeg settings are process-wide: set them before the first open (footage reads)
            from camsvc.probing.stream import configure_opencv_env

            configure_opencv_env()
        except ImportError:
            pass
    chosen = list(SCENES)
    if scenes:
        names = [n.strip() for n in scenes.split(",") if n.strip()]
        bad = [n for n in names if n not in SCENE_BY_NAME]
        if bad:
            raise click.BadParameter(f"unknown scenes {bad}; known: {', '.join(SCENE_BY_NAME)}")
        chosen = [SCENE_BY_NAME[n] for n in names]
    cache = cache_dir or (settings_cache_dir() / "vqd")
    plan = clip_plan(chosen)
    t0 = time.monotonic()
    paths: dict[str, Path] = {}
    with click.progressbar(plan, label=f"encoding {len(plan)} clips (cached in {cache})") as bar:
        for spec in bar:
            paths[spec.name] = encode_clip(spec, cache)
    src: Any = None
    if source in ("auto", "simulator"):
        try:
            src = SimulatorSource(paths, depth=depth)
        except ImportError as exc:
            if source == "simulator":
                raise click.ClickException(f"the simulator or the prober is unavailable: {exc}") from exc
            click.echo(f"simulator or prober unavailable ({exc}); reading the encoded files directly")
    if src is None:
        src = FileSource(paths)
    outcomes: list[Outcome] = []
    alarms = 0
    try:
        for sc in chosen:
            t_scene = time.monotonic()
            o, a = run_scene(
                sc,
                src,
                learn_checks=learn_checks,
                healthy_checks=healthy_checks,
                fault_checks=fault_checks,
                seed=seed,
            )
            outcomes += o
            alarms += a
            click.echo(f"scene {sc.name}: {len(o)} checks judged in {time.monotonic() - t_scene:.0f} s")
    finally:
        src.close()
    res: dict[str, Any] = {
        "source": src.name,
        "failed_probes": getattr(src, "failed", 0),
        "depth": getattr(src, "depth", "full"),
        "checks_by_depth": getattr(src, "depths", {}),
        "scenes": [s.name for s in chosen],
        "clips": len(plan),
        "severities": FAULTS,
        "learning_alarms": alarms,
        "summary": summarise(outcomes),
        "cost": measure_cost(cost_runs),
        "wall_s": round(time.monotonic() - t0, 1),
        "outcomes": [o.__dict__ for o in outcomes],
    }
    print_report(res)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    click.echo(f"wrote {out}")
