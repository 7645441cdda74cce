"""A stream the camera's server ends is classed ``ended`` promptly: well before a read limit or the budget
runs out. Against the real simulator's ``ended`` fault (GStreamer EOS -> RTCP BYE, then the connection
closes), a relay that passes a real stream and then closes the connection, and a server that ends the
stream right after PLAY (closed, or BYE), before any frame."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest

from camsvc.config import ProbeSettings
from camsvc.enums import ErrorClass as E
from camsvc.probing.pool import ProbePool
from camsvc.probing.result import ProbeResult
from camsvc.probing.stream import probe
from camsvc.simulate.harness import Simulator
from tests.probing import servers as S
from tests.utils.simulator import simulator_fixture

Serve = Callable[[S.Handler], S.TinyServer]

# A window longer than the simulator's 1 s of play and a long read limit: if the end were not seen, the
# probe would wait out a read (and call it stalled) or read past the end of the window.
SETTINGS = ProbeSettings(
    budget_s=10.0, open_timeout_s=4.0, read_timeout_s=4.0, window_s=3.0, workers=1, threads_per_worker=4
)

sim = simulator_fixture(1, 1)


@pytest.fixture(scope="module")
def pool() -> Iterator[ProbePool]:
    with ProbePool(SETTINGS) as p:
        yield p


def _rtsp_cam(sim: Simulator) -> str:
    return next(c.id for c in sim.fleet if c.main_url.startswith("rtsp"))


def _assert_prompt_end(r: ProbeResult, elapsed_s: float, with_frames: bool) -> None:
    assert (r.ok, r.error) == (False, E.ENDED), r.detail
    assert elapsed_s < SETTINGS.budget_s / 2, elapsed_s
    if with_frames:
        assert r.frames_decoded >= 1 and r.first_frame_ms is not None
        # from the first frame to the verdict: less than half of one read limit
        assert (r.total_ms - r.first_frame_ms) / 1000 < SETTINGS.read_timeout_s / 2, (
            r.total_ms,
            r.first_frame_ms,
        )


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("which", ["main", "sub"])
def test_simulator_ended_fault_is_ended_promptly(sim: Simulator, pool: ProbePool, which: str) -> None:
    cam = _rtsp_cam(sim)
    sim.fault(cam, "ended")
    try:
        t0 = time.monotonic()
        r = pool.submit(sim.url(cam, which)).result(SETTINGS.budget_s + 5)
        _assert_prompt_end(r, time.monotonic() - t0, with_frames=True)
    finally:
        sim.fault(cam, "normal")


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("close_after_s", [0.6, 1.2])
def test_a_server_closing_a_real_stream_after_frames_is_ended_promptly(
    sim: Simulator, close_after_s: float
) -> None:
    cam = _rtsp_cam(sim)
    sim.fault(cam, "normal")
    url = sim.url(cam, "main")
    port = urlsplit(url).port
    assert port is not None
    with S.relay(port, close_after_s) as relay:
        relayed = url.replace(f":{port}/", f":{relay.port}/")
        t0 = time.monotonic()
        r = probe(relayed, settings=SETTINGS)
        _assert_prompt_end(r, time.monotonic() - t0, with_frames=True)


@pytest.mark.integration
@pytest.mark.parametrize("after_play", ["close", "bye"])
def test_a_stream_ended_before_its_first_frame_is_ended_not_decode_error(
    serve: Serve, after_play: str
) -> None:
    srv = serve(S.rtsp_responder(after_play=after_play))
    t0 = time.monotonic()
    r = probe(srv.url("rtsp", "/live"), settings=SETTINGS)
    _assert_prompt_end(r, time.monotonic() - t0, with_frames=False)
    detail = r.detail or ""
    assert r.reachable and ("ended" in detail or "closed" in detail), detail
