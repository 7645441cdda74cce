"""Picture faults judged against each camera's learned normal, on real footage with faults applied.

Cameras: ``street`` (vtest.avi street CCTV, OSD clock, dim colour at night), ``leuvenA`` (a street
photograph, OSD clock, IR greyscale at night), ``leuvenB`` (no OSD clock, daylight drifting). Each learns
its normal from healthy checks at day and night hours, as the service does, once per test session.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from camsvc.bench import vqd as V
from camsvc.picture.baseline import Baseline, layout_similarity, update_baseline
from camsvc.picture.judge import FAULT_CODES, Fault, Thresholds, judge
from camsvc.picture.measure import FrameMetrics, measure
from camsvc.picture.views import add_reference_view, decode_views

DAY_HOURS = (8, 9, 10, 11, 12, 13, 14, 15, 16)
NIGHT_HOURS = (20, 21, 22, 23, 0, 1, 2)
DAY, NIGHT = 12, 23


@dataclass
class Check:
    frames: list[np.ndarray]
    times: list[float]
    fps: float
    metrics: FrameMetrics

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.frames[-1].shape[:2]
        return w, h


def take(scene: str, light: str = "day", condition: str = "plain", fault: str | None = None,
         severity: int = 0, start: int = 0, scene_obj: V.Scene | None = None) -> Check:  # fmt: skip
    """One check as the prober gives it: up to 8 frames for 1.5 s from ``start`` (frames at the clip rate)."""
    spec = V.ClipSpec(scene, light, condition, fault, severity)
    sc = scene_obj or V.SCENE_BY_NAME[scene]
    frames, times = [], []
    k = start
    while len(frames) < 8 and (not times or times[-1] - times[0] < 1.5):
        t = k / spec.fps
        frames.append(V.render_one(sc, spec, 0 if fault == "frozen" else round(t * V.FPS), t, k))
        times.append(t - start / spec.fps)
        k += 1
    fps = (len(times) - 1) / times[-1]
    return Check(frames, times, fps, measure(frames, times))


@dataclass
class Cam:
    """What the service remembers of one camera."""

    baseline: Baseline | None = None
    reference: bytes | None = None
    last: dict[str, FrameMetrics] = field(default_factory=dict)
    day_only: Baseline | None = None
    day_reference: bytes | None = None

    def feed(self, c: Check, hour: int, light: str) -> list[Fault]:
        prev = self.last.get(light)
        faults = self.judge(c, hour, prev)
        if not faults:
            w, h = c.size
            self.baseline = update_baseline(
                self.baseline, c.metrics, hour=hour, fps=c.fps, width=w, height=h, previous=prev
            )
            self.reference = add_reference_view(self.reference, c.frames[-1], c.metrics)
        self.last[light] = c.metrics
        return faults

    def judge(self, c: Check, hour: int, previous: FrameMetrics | None = None, **kw: Any) -> list[Fault]:
        w, h = c.size
        args: dict[str, Any] = dict(baseline=self.baseline, reference=self.reference, frame=c.frames[-1])
        args.update(kw)
        return judge(c.metrics, hour=hour, fps=c.fps, width=w, height=h, previous=previous, **args)


def learned(scene: str, scene_obj: V.Scene | None = None, checks: int = 9) -> Cam:
    cam = Cam()
    for i in range(checks):  # consecutive checks at different moments of the scene
        assert (
            cam.feed(take(scene, "day", start=7 * i + 1, scene_obj=scene_obj), DAY_HOURS[i % 9], "day") == []
        )
    cam.day_only, cam.day_reference = cam.baseline, cam.reference
    for i in range(checks):
        night = take(scene, "night", start=7 * i + 3, scene_obj=scene_obj)
        assert cam.feed(night, NIGHT_HOURS[i % 7], "night") == []
    return cam


@pytest.fixture(scope="module")
def cams() -> dict[str, Cam]:
    return {name: learned(name) for name in ("street", "leuvenA", "leuvenB")}


def codes(faults: list[Fault]) -> list[str]:
    return [f.code for f in faults]


# ------------------------------------------------------------------------------ healthy but hard


@pytest.mark.parametrize(
    ("scene", "light", "condition", "hour"),
    [
        ("street", "day", "plain", DAY),
        ("street", "night", "plain", NIGHT),  # dim colour under street lights, sensor noise
        ("leuvenA", "night", "plain", NIGHT),  # IR greyscale: not a colour fault
        ("street", "day", "rain", DAY),
        ("leuvenA", "day", "rain", DAY),
        ("street", "night", "headlights", NIGHT),
        ("leuvenB", "night", "headlights", NIGHT),
        ("street", "day", "crowd", DAY),
        ("street", "day", "static", DAY),  # the street empty, only noise and the clock
        ("leuvenB", "day", "static", DAY),  # no clock, nobody, low noise
        ("street", "day", "slow_pan", DAY),
        ("leuvenA", "day", "slow_pan", DAY),
    ],
)
def test_healthy_but_hard_pictures_raise_nothing(
    cams: dict[str, Cam], scene: str, light: str, condition: str, hour: int
) -> None:
    cam = cams[scene]
    for start in (2, 31):
        c = take(scene, light, condition, start=start)
        faults = cam.judge(c, hour, cam.last[light])
        assert faults == [], f"{scene} {light} {condition} at {start}: {faults}"


@pytest.mark.parametrize("scene", ["street", "leuvenA", "leuvenB"])
def test_the_first_night_after_installation_is_not_a_fault(cams: dict[str, Cam], scene: str) -> None:
    """Only daytime was learned: the dark (or IR greyscale) picture at night is not too dark, not a
    colour cast, not blurred, and the camera has not turned."""
    cam = cams[scene]
    for hour in (20, 23, 2):
        c = take(scene, "night", start=40)
        faults = cam.judge(c, hour, cam.last["day"], baseline=cam.day_only, reference=cam.day_reference)
        assert faults == [], f"{scene} at {hour}h: {faults}"


# ------------------------------------------------------------------------------------- faults


def _fault_cases() -> list[Any]:
    cases = []
    strong = {
        "black": ((1, 2, 3), {"black"}),
        "too_dark": ((1, 2, 3), {"too_dark", "black"}),
        "overexposed": ((2, 3), {"overexposed"}),
        "blurred": ((1, 2, 3), {"blurred"}),
        "covered": ((1, 2, 3), {"covered"}),
        "snow": ((2, 3), {"snow", "noise"}),
        "turned": ((1, 2, 3), {"turned"}),
        "colour_cast": ((1, 2, 3), {"colour_cast"}),
        "low_fps": ((1, 2, 3), {"low_fps"}),
        "resolution_changed": ((1, 2, 3), {"resolution_changed"}),
    }
    for fault, (sevs, accepted) in strong.items():
        for scene in ("street", "leuvenA"):
            for sev in sevs:
                cases.append(pytest.param(scene, "day", fault, sev, accepted, id=f"{scene}-{fault}-{sev}"))
    for fault in ("black", "blurred", "covered", "snow", "turned"):
        for sev in (2, 3):
            accepted = strong[fault][1]
            cases.append(
                pytest.param("street", "night", fault, sev, accepted, id=f"street-night-{fault}-{sev}")
            )
            cases.append(
                pytest.param("leuvenA", "night", fault, sev, accepted, id=f"leuvenA-ir-{fault}-{sev}")
            )
    return cases


@pytest.mark.parametrize(("scene", "light", "fault", "severity", "accepted"), _fault_cases())
def test_each_fault_is_found_and_named(
    cams: dict[str, Cam], scene: str, light: str, fault: str, severity: int, accepted: set[str]
) -> None:
    cam = cams[scene]
    c = take(scene, light, fault=fault, severity=severity, start=11)
    got = codes(cam.judge(c, DAY if light == "day" else NIGHT, cam.last[light]))
    assert accepted & set(got), f"{fault} {severity}: {got} ({c.metrics.scalars()})"
    assert set(got) <= accepted, f"{fault} {severity} also named {set(got) - accepted}"


@pytest.mark.parametrize("scene", ["street", "leuvenA", "leuvenB"])
@pytest.mark.parametrize("severity", [2, 3])
def test_a_frozen_picture_is_found_from_the_second_check(
    cams: dict[str, Cam], scene: str, severity: int
) -> None:
    """The first frozen check is compared with a live one; the next with a frozen one. Cameras with a
    clock know at once (the clock stopped); without one, the picture no longer changing between checks
    although the daylight normally moves it gives it away."""
    cam = cams[scene]
    first = take(scene, "day", fault="frozen", severity=severity, start=0)
    second = take(scene, "day", fault="frozen", severity=severity, start=60)
    got = codes(cam.judge(second, DAY, first.metrics))
    assert got == ["frozen"]
    if V.SCENE_BY_NAME[scene].osd:
        assert codes(cam.judge(first, DAY, cam.last["day"])) == ["frozen"]


def test_a_covered_lens_is_not_called_black(cams: dict[str, Cam]) -> None:
    for scene, light in (("street", "day"), ("street", "night"), ("leuvenA", "night")):
        c = take(scene, light, fault="covered", severity=3, start=5)
        assert codes(cams[scene].judge(c, DAY if light == "day" else NIGHT, cams[scene].last[light])) == [
            "covered"
        ]


def test_a_re_referenced_camera_stops_being_turned(cams: dict[str, Cam]) -> None:
    cam = cams["street"]
    turned = take("street", "day", fault="turned", severity=3, start=20)
    assert codes(cam.judge(turned, DAY, cam.last["day"])) == ["turned"]
    # the technician accepts the new view: it becomes the reference
    new_ref = add_reference_view(cam.reference, turned.frames[-1], turned.metrics, replace_all=True)
    later = take("street", "day", fault="turned", severity=3, start=45)
    assert "turned" not in codes(cam.judge(later, DAY, turned.metrics, reference=new_ref))
    # ... and the old view now looks turned
    back = take("street", "day", start=45)
    assert "turned" in codes(cam.judge(back, DAY, later.metrics, reference=new_ref))


def test_reference_views_cover_day_and_ir_night(cams: dict[str, Cam]) -> None:
    views = decode_views(cams["leuvenA"].reference or b"")
    assert sorted(v.greyscale for v in views) == [False, True]
    assert len(decode_views(cams["leuvenA"].day_reference or b"")) == 1


# ------------------------------------------------------------------------ frozen vs a static scene


def _static_camera() -> tuple[Cam, V.Scene]:
    """A camera without a clock looking at an empty street that only sensor noise changes."""
    sc = V.Scene("empty", "vtest.avi", 480, osd=False, ir=False, video=True)
    cam = Cam()
    for i in range(8):
        c = take("street", "day", "static", start=9 * i, scene_obj=sc)
        assert cam.feed(c, DAY_HOURS[i], "day") == []
    return cam, sc


def test_noise_only_is_not_frozen_but_a_stuck_picture_is() -> None:
    cam, sc = _static_camera()
    live = take("street", "day", "static", start=100, scene_obj=sc)
    assert codes(cam.judge(live, DAY, cam.last["day"])) == []
    # the same picture, stuck: the noise stops
    stuck_frame = live.frames[0]
    stuck = measure([stuck_frame] * 8, live.times)
    got = judge(stuck, baseline=cam.baseline, reference=None, frame=None, hour=DAY, fps=5.0, width=640,
                height=480, previous=live.metrics)  # fmt: skip
    assert [f.code for f in got] == ["frozen"]


def test_noise_compared_with_a_noise_free_check_is_not_frozen() -> None:
    """A check with only sensor noise, after a previous check that had none (the same static scene):
    the picture did change, so it is not frozen."""
    cam, sc = _static_camera()
    clean = V.osd_clock(V.cut_view(V.vtest_background(), sc), 0)  # a noise-free previous picture
    previous = measure([clean] * 4)
    live = take("street", "day", "static", start=200, scene_obj=sc)
    assert "frozen" not in codes(cam.judge(live, DAY, previous))


def test_a_stopped_clock_is_frozen_without_any_history_of_checks(cams: dict[str, Cam]) -> None:
    cam = cams["street"]
    c = take("street", "day", fault="frozen", severity=3, start=0)
    assert codes(cam.judge(c, DAY, None)) == ["frozen"]


def test_a_short_check_is_never_called_frozen(cams: dict[str, Cam]) -> None:
    """A fast camera gives 8 frames in 0.3 s: too short for a clock to tick."""
    cam = cams["street"]
    c = take("street", "day", fault="frozen", severity=3, start=0)
    short = measure(c.frames, [k / 25 for k in range(len(c.frames))])
    got = judge(short, baseline=cam.baseline, reference=None, frame=None, hour=DAY, fps=25.0, width=640,
                height=480)  # fmt: skip
    assert "frozen" not in [f.code for f in got]


# ----------------------------------------------------------------------------------- thresholds


def test_disabled_codes_are_not_reported(cams: dict[str, Cam]) -> None:
    cam = cams["street"]
    c = take("street", "day", fault="blurred", severity=3, start=3)
    assert codes(cam.judge(c, DAY, cam.last["day"])) == ["blurred"]
    th = Thresholds().merge({"disabled": ["blurred"]})
    assert codes(cam.judge(c, DAY, cam.last["day"], thresholds=th)) == []


def test_thresholds_are_tunable_and_checked() -> None:
    th = Thresholds.from_dict({"blurred_ratio": 0.2, "min_samples": 3, "expected_fps": 12})
    assert th.blurred_ratio == 0.2 and th.min_samples == 3 and th.expected_fps == 12.0
    camera = th.merge({"blurred_ratio": 0.1, "expected_fps": None})  # per camera over per kind
    assert camera.blurred_ratio == 0.1 and camera.min_samples == 3 and camera.expected_fps is None
    assert Thresholds.from_dict(json.loads(json.dumps(camera.to_dict()))) == camera
    for bad, words in [
        ({"blured_ratio": 0.2}, "unknown picture threshold 'blured_ratio'"),
        ({"blurred_ratio": "low"}, "must be a number"),
        ({"blurred_ratio": -1}, ">= 0"),
        ({"min_samples": 2.5}, "integer"),
        ({"disabled": ["blurry"]}, "unknown fault codes"),
        ({"disabled": "blurred"}, "list of fault codes"),
        ({"black_brightness": None}, "cannot be null"),
    ]:
        with pytest.raises(ValueError, match=words):
            Thresholds().merge(bad)


def test_low_fps_uses_the_configured_rate_before_anything_is_learned(cams: dict[str, Cam]) -> None:
    c = take("street", "day", fault="low_fps", severity=2, start=0)
    assert c.fps == pytest.approx(1.0)
    assert codes(judge(c.metrics, baseline=None, reference=None, frame=None, hour=DAY, fps=c.fps, width=640,
                       height=480, thresholds=Thresholds(expected_fps=10))) == ["low_fps"]  # fmt: skip
    assert codes(judge(c.metrics, baseline=None, reference=None, frame=None, hour=DAY, fps=c.fps, width=640,
                       height=480)) == []  # fmt: skip


# ------------------------------------------------------------------------------------- baseline


def test_baseline_learns_per_hour_and_round_trips(cams: dict[str, Cam]) -> None:
    b = cams["street"].baseline
    assert b is not None
    day, night = b.expected("brightness", DAY, 5), b.expected("brightness", NIGHT, 5)
    assert day is not None and night is not None and night.value < 0.5 * day.value
    assert b.expected("brightness", 18, 5) is None  # dusk hours were never seen
    assert b.fps.mean == pytest.approx(5.0) and (b.width, b.height) == (640, 480)
    back = Baseline.from_dict(json.loads(json.dumps(b.to_dict())))
    assert back.to_dict() == b.to_dict()
    assert b.expected_layout(DAY, 5) is not None
    assert layout_similarity(cams["street"].last["day"].grid, b.expected_layout(DAY, 5)) > 0.8  # type: ignore[operator]


def test_update_baseline_returns_a_new_baseline(cams: dict[str, Cam]) -> None:
    b = cams["street"].baseline
    assert b is not None
    before = json.dumps(b.to_dict())
    c = take("street", "day", start=77)
    b2 = update_baseline(b, c.metrics, hour=DAY, fps=5.0, width=640, height=480)
    assert json.dumps(b.to_dict()) == before and b2.n == b.n + 1


@pytest.mark.parametrize("hour", [-1, 24, 12.5, "12", True])
def test_hour_must_be_0_to_23(cams: dict[str, Cam], hour: Any) -> None:
    m = cams["street"].last["day"]
    with pytest.raises(ValueError, match="hour"):
        judge(m, baseline=None, reference=None, frame=None, hour=hour, fps=None, width=None, height=None)
    with pytest.raises(ValueError, match="hour"):
        update_baseline(None, m, hour=hour, fps=None, width=None, height=None)


@pytest.mark.parametrize(
    "data", [[1], {"version": 2}, {"hours": {"3": {"brightness": [1]}}}, {"fps": "fast"}]
)
def test_malformed_baseline_is_refused(data: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        Baseline.from_dict(data)


def test_fault_codes_are_the_documented_ones() -> None:
    assert set(FAULT_CODES) == set(V.ACCEPTED) | {"noise"}
    f = Fault("blurred", 0.5, "detail 0.1")
    assert json.loads(json.dumps(f.to_dict())) == {"code": "blurred", "score": 0.5, "detail": "detail 0.1"}
