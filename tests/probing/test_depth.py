"""Adaptive depth rules (camsvc.probing.depth): pure, tested with tables."""

from __future__ import annotations

import pytest

from camsvc.probing.depth import (
    DepthState,
    PacketProfile,
    choose,
    looks_different,
    profile_of,
    update,
)

USUAL = PacketProfile(fps=5.0, bitrate_kbps=1000.0, key_bytes=100_000, p_median_bytes=15_000, packets=8)


@pytest.mark.parametrize(
    ("state", "full", "why"),
    [
        (DepthState(), True, "failed"),  # a new camera
        (DepthState(healthy_streak=50, last_bad=True), True, "failed"),
        (DepthState(healthy_streak=2, last_bad=False), True, "healthy for 2"),
        (DepthState(healthy_streak=5, since_full=0, last_bad=False), False, "healthy for long"),
        (DepthState(healthy_streak=5, since_full=3, last_bad=False), False, "healthy for long"),
        (DepthState(healthy_streak=9, since_full=4, last_bad=False), True, "every 5th"),
    ],
)
def test_choose(state: DepthState, full: bool, why: str) -> None:
    d = choose(state, light_after_healthy=5, full_every=5)
    assert d.full is full
    assert why in d.reason


def test_full_every_one_is_always_full() -> None:
    assert choose(DepthState(healthy_streak=100, last_bad=False), 5, 1).full


@pytest.mark.parametrize(
    ("now", "usual", "expect"),
    [
        (USUAL, USUAL, None),
        (PacketProfile(5.0, 900, 110_000, 13_000), USUAL, None),  # ordinary variation
        (PacketProfile(5.0, 150, 100_000, 40), None, "near-minimal"),  # frozen, no history needed
        (PacketProfile(5.0, 150, 200_000, 700), None, "near-minimal"),  # below 0.4 % of the keyframe
        (PacketProfile(5.0, 300, 100_000, 3_000), USUAL, "P-frames 3000"),  # frozen but a clock ticks
        (PacketProfile(5.0, 300, 30_000, 14_000), USUAL, "keyframe 30000"),  # black/blurred/covered
        (PacketProfile(5.0, 900, 250_000, 14_000), USUAL, "keyframe 250000"),  # snow
        (PacketProfile(1.0, 900, 100_000, 15_000), USUAL, "1.0 fps"),
        (PacketProfile(5.0, 3000, 100_000, 15_000), USUAL, "kbit/s"),
        (PacketProfile(5.0, 900, 100_000, 3_000), None, None),  # no history: only the absolute rule
        (PacketProfile(None, None, 100_000, None), USUAL, None),  # one packet only: nothing to compare
    ],
)
def test_looks_different(now: PacketProfile, usual: PacketProfile | None, expect: str | None) -> None:
    got = looks_different(now, usual)
    if expect is None:
        assert got is None
    else:
        assert got is not None and expect in got


def test_profile_of() -> None:
    p = profile_of([1000, 10, 30, 20], [True, False, False, False], 5.0, 0.6)
    assert p.key_bytes == 1000 and p.p_median_bytes == 20 and p.packets == 4
    assert p.bitrate_kbps == pytest.approx(8 * 1060 / 0.6 / 1000)
    assert profile_of([], [], None, 0.0).bitrate_kbps is None


@pytest.mark.parametrize(
    ("kw", "streak", "since_full", "bad"),
    [
        ({"ok": True, "full": True, "different": False}, 4, 0, False),
        ({"ok": True, "full": False, "different": False}, 4, 3, False),
        ({"ok": False, "full": True, "different": False}, 0, 0, True),
        ({"ok": True, "full": True, "different": True}, 0, 0, True),
        ({"ok": True, "full": True, "different": False, "degraded": True}, 0, 0, True),
    ],
)
def test_update(kw: dict[str, bool], streak: int, since_full: int, bad: bool) -> None:
    before = DepthState(healthy_streak=3, since_full=2, last_bad=False, usual=USUAL)
    after = update(before, **kw)
    assert (after.healthy_streak, after.since_full, after.last_bad) == (streak, since_full, bad)


def test_a_long_healthy_camera_cycles_light_and_full() -> None:
    """From a new camera: full checks until healthy long enough, then 1 full in every 5."""
    state, seq = DepthState(), []
    for _ in range(16):
        d = choose(state, light_after_healthy=3, full_every=5)
        seq.append("F" if d.full else "l")
        state = update(state, ok=True, full=d.full, different=False, profile=USUAL)
    assert "".join(seq) == "FFFllllFllllFlll"
    # a failure brings full checks back at once
    state = update(state, ok=False, full=False, different=False)
    assert choose(state, 3, 5).full


def test_usual_profile_is_learned_from_healthy_checks_only() -> None:
    state = update(DepthState(), ok=True, full=True, different=False, profile=USUAL)
    assert state.usual == USUAL
    odd = PacketProfile(5.0, 100, 10_000, 50)
    assert update(state, ok=True, full=True, different=True, profile=odd).usual == USUAL
    moved = update(
        state, ok=True, full=True, different=False, profile=PacketProfile(5.0, 2000, 200_000, 30_000)
    )
    assert moved.usual is not None and 100_000 < (moved.usual.key_bytes or 0) < 200_000


def test_a_picture_judged_faulty_gets_full_checks_again() -> None:
    """The writer tells the tracker when a check found a picture fault (the judge runs after the probe):
    a camera on light checks goes back to full ones."""
    from camsvc.config import ProbeSettings
    from camsvc.probing.adaptive import DepthTracker
    from camsvc.probing.depth import DepthState

    tracker = DepthTracker(ProbeSettings(engine="packets", light_after_healthy=2, full_every=10))
    tracker.seed("c1", DepthState(healthy_streak=5, since_full=1, last_bad=False))
    assert tracker.next("c1").full is False
    tracker.degraded("c1")
    assert tracker.next("c1").full is True


def test_a_probe_in_flight_when_its_camera_is_forgotten_teaches_nothing() -> None:
    """A camera deleted (or given another URL) while its probe runs: the probe's result, arriving after
    the forget, neither brings the deleted camera back nor teaches the new stream the old one's packets."""
    from concurrent.futures import Future

    from camsvc.config import ProbeSettings
    from camsvc.probing.adaptive import DepthTracker
    from camsvc.probing.result import ProbeResult

    tracker = DepthTracker(ProbeSettings(engine="packets", light_after_healthy=1, full_every=10))
    stale: Future[ProbeResult] = Future()
    tracker.watch("c1", stale)
    tracker.forget("c1")
    stale.set_result(ProbeResult(url="rtsp://127.0.0.1/old", ok=True, depth="full"))
    assert "c1" not in tracker.snapshot()

    fresh: Future[ProbeResult] = Future()  # watched after the forget: recorded as usual
    tracker.watch("c1", fresh)
    fresh.set_result(ProbeResult(url="rtsp://127.0.0.1/new", ok=True, depth="full"))
    assert tracker.snapshot()["c1"].healthy_streak == 1
