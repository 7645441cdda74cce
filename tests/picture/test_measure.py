"""Per-check picture metrics on real street CCTV frames (vtest.avi) and photographs, with faults applied."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from camsvc.bench import vqd as V
from camsvc.picture.measure import FrameMetrics, downscale, measure, postprocess
from camsvc.picture.views import decode_views, encode_views, signature, view_of
from camsvc.probing.result import ProbeResult

STREET = V.SCENE_BY_NAME["street"]


@pytest.fixture(scope="module")
def street() -> list[np.ndarray]:
    """16 consecutive frames of the street as the camera sends them (5 fps, OSD clock, sensor noise)."""
    spec = V.ClipSpec("street", "day")
    return [V.render_one(STREET, spec, i, i / V.FPS, i) for i in range(16)]


@pytest.fixture(scope="module")
def healthy(street: list[np.ndarray]) -> FrameMetrics:
    return measure(street[:8], [k / V.FPS for k in range(8)])


def each(frames: list[np.ndarray], fn) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    return [fn(f) for f in frames]


def test_healthy_street_metrics_are_plausible(healthy: FrameMetrics) -> None:
    m = healthy
    assert m.n_frames == 8 and (m.width, m.height) == (640, 480)
    assert 80 < m.brightness < 170 and 30 < m.contrast < 80
    assert m.dark_fraction < 0.1 and m.bright_fraction < 0.05
    assert m.sharpness > 100  # a sharp street
    assert m.structure > 0.8  # neighbouring pixels alike: a picture, not noise
    assert m.motion_peak > 10  # people walk and the clock ticks within 1.4 s
    assert not m.is_greyscale and m.saturation > 5
    assert m.covered_fraction < 0.2
    assert m.check_fps == pytest.approx(5.0) and m.span_s == pytest.approx(1.4)
    assert len(m.grid) == 48


@pytest.mark.parametrize(
    ("name", "transform", "check"),
    [
        ("black", lambda f: np.zeros_like(f), lambda m, h: m.brightness < 1 and m.dark_fraction > 0.99),
        ("black, faint noise", lambda f: V.add_noise(np.full_like(f, 6), 3.0, np.random.default_rng(1)),
         lambda m, h: m.brightness < 10 and m.luma_p99 < 20),
        ("exposure x0.2", lambda f: V.gain(f, 0.2), lambda m, h: m.brightness < 0.3 * h.brightness),
        ("exposure x4", lambda f: V.overexpose(f, 4.0), lambda m, h: m.bright_fraction > 0.3),
        ("blur sigma 2.5", lambda f: V.blur(f, 2.5), lambda m, h: m.sharpness < 0.3 * h.sharpness),
        ("defocus r=6", lambda f: V.defocus(f, 6), lambda m, h: m.sharpness < 0.15 * h.sharpness),
        ("condensation", V.condensation, lambda m, h: m.sharpness < 0.05 * h.sharpness),
        ("box over 65%", lambda f: V.cover(f, 0.65), lambda m, h: m.covered_fraction >= 0.55),
        ("hand over 85%", lambda f: V.cover(f, 0.85, "hand"), lambda m, h: m.covered_fraction >= 0.65),
        ("full cover", lambda f: V.cover(f, 1.0), lambda m, h: m.covered_fraction > 0.95),
        ("60% snow", lambda f: V.snow(f, 0.6, np.random.default_rng(2)), lambda m, h: m.structure < 0.3),
        ("full snow", lambda f: V.snow(f, 1.0, np.random.default_rng(3)),
         lambda m, h: m.structure < 0.1 and m.texture_peak > 50),
        ("IR greyscale", V.ir_mode, lambda m, h: m.is_greyscale and m.saturation < 1),
        ("red +30%, blue -20%", lambda f: V.colour_gains(f, 0.8, 1.0, 1.3),
         lambda m, h: m.cast_cr - h.cast_cr > 5 and m.cast_cb < h.cast_cb),
        ("blue lost", lambda f: V.colour_gains(f, 0.0, 1.0, 1.0), lambda m, h: m.mean_b < 2),
    ],
)  # fmt: skip
def test_metric_responds_to_fault(
    street: list[np.ndarray],
    healthy: FrameMetrics,
    name: str,
    transform,
    check,  # type: ignore[no-untyped-def]
) -> None:
    m = measure(each(street[:8], transform), [k / V.FPS for k in range(8)])
    assert check(m, healthy), f"{name}: {m.scalars()}"


@pytest.mark.parametrize("sigmas", [(1.0, 2.5, 5.0, 10.0)])
def test_sharpness_falls_with_blur(street: list[np.ndarray], sigmas: tuple[float, ...]) -> None:
    values = [measure([V.blur(street[0], s), V.blur(street[1], s)]).sharpness for s in sigmas]
    assert values == sorted(values, reverse=True), values


def test_frozen_frames_show_no_change_but_a_ticking_clock_does(street: list[np.ndarray]) -> None:
    frozen = measure([street[0]] * 8, [k / 5 for k in range(8)])
    assert frozen.motion == 0 and frozen.motion_peak == 0
    # the picture is stuck but the camera still draws its clock over it (a DVR overlay)
    base = V.cut_view(V.world_frame(STREET, 0), STREET)
    ticking = [V.osd_clock(base, 1000 + k / 5) for k in range(8)]
    m = measure(ticking, [k / 5 for k in range(8)])
    assert m.motion_peak > 5  # the seconds digit changed in its block


def test_static_scene_with_sensor_noise_is_alive(street: list[np.ndarray]) -> None:
    """A static scene whose only change is sensor noise still shows change within the check."""
    bg = V.cut_view(V.vtest_background(), STREET)
    rng = np.random.default_rng(4)
    noisy = [V.add_noise(bg, 2.0, rng) for _ in range(8)]
    m = measure(noisy, [k / 5 for k in range(8)])
    assert m.temporal_noise > 1.0 and m.motion_peak > 0.5
    assert measure([bg] * 8).motion_peak == 0


def test_frame_times_give_rate_and_span(street: list[np.ndarray]) -> None:
    m = measure(street[:3], [0.0, 1.0, 2.0])
    assert m.check_fps == pytest.approx(1.0) and m.span_s == pytest.approx(2.0)
    assert measure(street[:1]).check_fps == 0.0
    assert measure(street[:2], [0.0, 0.0]).check_fps == 0.0  # no time elapsed: unknown, not infinite


@pytest.mark.parametrize(("w", "h"), [(1280, 720), (640, 480), (352, 288), (176, 144), (320, 240)])
def test_any_resolution_is_measured_at_the_working_width(street: list[np.ndarray], w: int, h: int) -> None:
    frames = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in street[:4]]
    assert downscale(frames[0], 320).shape[1] == 320
    m = measure(frames)
    assert (m.width, m.height) == (w, h) and len(m.grid) == 48


def test_greyscale_frames_are_accepted(street: list[np.ndarray]) -> None:
    grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in street[:4]]
    m = measure(grey)
    assert m.is_greyscale and m.saturation == 0 and m.brightness > 50


@pytest.mark.parametrize(
    ("frames", "times", "error", "words"),
    [
        ([], None, ValueError, "non-empty"),
        ("not a list", None, ValueError, "non-empty"),
        ([np.zeros((64, 64, 3), np.float32)], None, ValueError, "uint8"),
        ([[1, 2, 3]], None, TypeError, "numpy array"),
        ([np.zeros((64, 64, 2), np.uint8)], None, ValueError, "HxWx3"),
        ([np.zeros((8, 8, 3), np.uint8)], None, ValueError, "too small"),
        ([np.zeros((64, 64, 3), np.uint8), np.zeros((32, 64, 3), np.uint8)], None, ValueError, "sizes differ"),
        ([np.zeros((64, 64, 3), np.uint8)] * 2, [0.0], ValueError, "frame_times"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_a_clear_error(frames, times, error, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=words):
        measure(frames, times)


def test_measure_does_not_touch_its_input(street: list[np.ndarray]) -> None:
    frames = [f.copy() for f in street[:4]]
    measure(frames)
    assert all(np.array_equal(a, b) for a, b in zip(frames, street[:4], strict=True))


def test_metrics_round_trip_through_json(healthy: FrameMetrics) -> None:
    back = FrameMetrics.from_dict(json.loads(json.dumps(healthy.to_dict())))
    assert back.scalars() == healthy.scalars()
    assert back.grid == pytest.approx(healthy.grid, abs=0.01)
    scalars = healthy.scalars()
    assert "grid" not in scalars and all(isinstance(v, float) and math.isfinite(v) for v in scalars.values())
    assert FrameMetrics.from_dict({"brightness": 3, "ignored": 1}).brightness == 3.0
    with pytest.raises(TypeError):
        FrameMetrics.from_dict([1, 2])  # type: ignore[arg-type]


def test_signature_is_compact_and_round_trips(street: list[np.ndarray]) -> None:
    sig = signature(street[0])
    assert isinstance(sig, bytes) and 2_000 < len(sig) < 16_000
    (view,) = decode_views(sig)
    assert len(view.points) >= 100 and view.descriptors.shape == (len(view.points), 32)
    assert view.width == 320 and not view.greyscale
    again = decode_views(encode_views([view, view_of(V.ir_mode(street[0]))]))
    assert len(again) == 2 and again[1].greyscale
    np.testing.assert_allclose(again[0].points, view.points, atol=0.125)


@pytest.mark.parametrize("data", [b"", b"JUNK", signature(np.full((64, 64, 3), 128, np.uint8))[:-5]])
def test_bad_signature_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_views(data)


def test_postprocess_fills_probe_metrics_that_read_back(
    street: list[np.ndarray], healthy: FrameMetrics
) -> None:
    r = ProbeResult(
        url="rtsp://127.0.0.1/x", ok=True, frames=street[:8], frame_times=[k / 5 for k in range(8)]
    )
    postprocess(r)
    assert all(isinstance(v, float) for v in r.metrics.values())
    back = FrameMetrics.from_dict(r.metrics)
    assert back.scalars() == healthy.scalars() and back.grid == pytest.approx(healthy.grid, abs=0.01)
    json.dumps(r.to_dict())
    empty = ProbeResult(url="rtsp://127.0.0.1/x", ok=False)
    postprocess(empty)
    assert empty.metrics == {}
