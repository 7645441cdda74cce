"""The packet-level RTSP probe (probe.engine: packets) against the real simulator: depths, frozen
suspicion from packet sizes, and the same error classes as the decode engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from camsvc.config import ProbeSettings
from camsvc.probing.depth import DepthState, ProbeDepth, choose
from camsvc.probing.result import ErrorClass as E
from camsvc.probing.result import ProbeResult
from camsvc.probing.stream import probe
from camsvc.simulate.harness import Simulator
from tests.utils.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PACKETS = ProbeSettings(budget_s=4.0, open_timeout_s=2.0, read_timeout_s=1.2, window_s=1.5, engine="packets")
DECODE = PACKETS.model_copy(update={"engine": "decode"})
LIGHT = ProbeDepth(full=False, reason="test")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(roadside=1, household=0) as s:
        yield s


def _url(sim: Simulator) -> tuple[str, str]:
    cam = next(c for c in sim.fleet if c.main_url.startswith("rtsp"))
    return cam.id, sim.url(cam.id, "main")


def test_full_and_light_depth(sim: Simulator) -> None:
    cam, url = _url(sim)
    sim.fault(cam, "normal")
    full = probe(url, settings=PACKETS)
    assert full.ok and full.depth == "full", full.detail
    # the window's frames decoded, max_frames kept spread over it (as the decode engine keeps them)
    assert 3 <= len(full.frames) <= PACKETS.max_frames and full.frame_times[-1] >= 0.6
    assert full.fps is not None and 3.5 < full.fps < 8
    assert full.bitrate_kbps and full.bitrate_kbps > 50
    assert full.packet_stats["key_bytes"] > full.packet_stats["p_median_bytes"] > 0
    light = probe(url, settings=PACKETS, depth=LIGHT)
    assert light.ok and light.depth == "light", (light.detail, light.depth_reason)
    assert len(light.frames) == 1 and light.frame_times == [0.0]  # the keyframe only
    assert light.frames_decoded >= 5 and light.fps is not None  # liveness and rate from the packets
    assert (light.width, light.height) == (full.width, full.height)


def test_a_frozen_picture_turns_a_light_check_into_a_full_one(sim: Simulator) -> None:
    cam, url = _url(sim)
    sim.fault(cam, "frozen")
    try:
        # the fault starts with the simulator's next frames: wait until the packets show it
        seen: list[ProbeResult] = []

        def escalated() -> bool:
            seen.append(probe(url, settings=PACKETS, depth=LIGHT))
            return seen[-1].depth == "escalated"

        wait_for(
            escalated,
            timeout_s=20,
            what="a light check escalated on a frozen picture",
            describe=lambda: [(x.depth, x.packet_stats) for x in seen[-3:]],
        )
        r = seen[-1]
        assert r.ok and "near-minimal P-frames" in (r.depth_reason or "")
        assert len(r.frames) >= 3  # decoded for the frozen check from the buffered packets
    finally:
        sim.fault(cam, "normal")


@pytest.mark.parametrize("fault", ["stall", "hang", "ended"])
def test_same_error_class_as_the_decode_engine(sim: Simulator, fault: str) -> None:
    cam, url = _url(sim)
    sim.fault(cam, fault)
    try:
        a = probe(url, settings=PACKETS, depth=LIGHT)
        b = probe(url, settings=DECODE)
        assert (
            (a.ok, a.error)
            == (b.ok, b.error)
            == (False, {"stall": E.STALLED, "hang": E.TIMEOUT, "ended": E.ENDED}[fault])
        )
        assert a.total_ms <= (PACKETS.budget_s + 0.5) * 1000
        secret = next(c.password for c in sim.fleet if c.id == cam)
        assert secret and secret not in a.url and secret not in (a.detail or "")
    finally:
        sim.fault(cam, "normal")


def test_choose_is_what_the_probe_is_given() -> None:
    assert choose(DepthState(), 5, 5).full  # a new camera is always checked in full
