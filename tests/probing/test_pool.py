"""The probe pool with real worker processes: isolation, hard budget, crash recovery, no leaked secrets."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Iterator

import pytest

from camsvc.config import ProbeSettings
from camsvc.probing.pool import ProbePool
from camsvc.probing.result import ErrorClass as E
from camsvc.probing.result import StreamKind
from tests.probing import servers as S
from tests.probing.conftest import PASSWORD
from tests.utils.waiting import wait_for

pytestmark = pytest.mark.integration

Serve = Callable[[S.Handler], S.TinyServer]


@pytest.fixture
def pool(quick: ProbeSettings) -> Iterator[ProbePool]:
    settings = quick.model_copy(update={"workers": 1, "threads_per_worker": 4})
    with ProbePool(settings, grace_s=1.0) as p:
        yield p


def test_a_hung_camera_does_not_delay_healthy_ones(pool: ProbePool, serve: Serve) -> None:
    hung = serve(S.hang)
    healthy = serve(S.http_camera("mjpeg"))
    t0 = time.monotonic()
    slow = pool.submit(hung.url("rtsp", "/live"))
    fast = [pool.submit(healthy.url("http", "/video")) for _ in range(3)]
    for f in fast:
        r = f.result(10)
        assert r.ok, r.detail
    healthy_done = time.monotonic() - t0
    r = slow.result(10)
    hung_done = time.monotonic() - t0
    assert r.error == E.TIMEOUT
    assert healthy_done < 1.5 < hung_done  # the healthy ones finished long before the hung one
    stats = pool.stats()
    assert stats["completed"] == 4 and stats["in_flight"] == 0 and stats["capacity"] == 4


def test_frames_cross_the_process_boundary(pool: ProbePool, serve: Serve) -> None:
    srv = serve(S.http_camera("mjpeg", jpeg=S.footage_jpeg(width=1280)))
    r = pool.submit(srv.url("http", "/video"), kind=StreamKind.MJPEG).result(10)
    assert r.ok and r.width == 1280
    assert r.frames and all(f.shape[1] == 640 for f in r.frames)
    assert len(r.frame_times) == len(r.frames) and r.thumbnail_jpeg
    r2 = pool.submit(srv.url("http", "/video"), keep_frames=False).result(10)
    assert r2.ok and r2.frames == [] and r2.thumbnail_jpeg


def test_a_crashed_worker_is_replaced_and_its_probes_fail_as_decode_error(
    pool: ProbePool, serve: Serve
) -> None:
    hung = serve(S.hang)
    healthy = serve(S.http_camera("mjpeg"))
    inflight = [pool.submit(hung.url("rtsp", f"/live{i}")) for i in range(2)]
    wait_for(lambda: pool.stats()["in_flight"] == 2, 10, "2 probes in flight", interval_s=0.02)
    (pid,) = pool.worker_pids()
    os.kill(pid, signal.SIGSEGV)  # a real crash of the worker process, as a decoder bug would cause
    for f in inflight:
        r = f.result(5)
        assert (r.ok, r.error) == (False, E.DECODE_ERROR)
        assert "decoder crashed" in (r.detail or "") and "SIGSEGV" in (r.detail or "")
    r = pool.submit(healthy.url("http", "/video")).result(15)  # the replacement probes
    assert r.ok, r.detail
    assert pool.worker_pids() != [pid]
    stats = pool.stats()
    assert stats["worker_restarts"] == 1 and stats["crashes"] == 1


def test_a_wedged_probe_is_cut_at_budget_plus_grace_and_its_worker_recycled(
    pool: ProbePool, serve: Serve
) -> None:
    trickle = serve(S.trickle_headers(0.2))  # defeats per-read timeouts: the probe thread wedges
    healthy = serve(S.http_camera("mjpeg"))
    (pid,) = pool.worker_pids()
    t0 = time.monotonic()
    r = pool.submit(trickle.url("http", "/snap.jpg"), kind=StreamKind.SNAPSHOT, budget_s=1.0).result(10)
    elapsed = time.monotonic() - t0
    assert (r.ok, r.error) == (False, E.TIMEOUT)
    assert 1.0 + 1.0 <= elapsed < 1.0 + 1.0 + 1.0  # budget + grace (+ the manager's tick)
    assert pool.stats()["timeouts"] == 1
    # the old worker is retired (its wedged thread with it) once idle; a fresh one takes new probes
    wait_for(lambda: pid not in pool.worker_pids(), 10, "the worker gone", interval_s=0.02)
    assert pool.submit(healthy.url("http", "/video")).result(15).ok


def test_invalid_urls_resolve_at_once(pool: ProbePool) -> None:
    r = pool.submit(f"gopher://u:{PASSWORD}@127.0.0.1/x").result(0.1)
    assert r.error == E.INVALID_URL and PASSWORD not in r.url
    with pytest.raises(ValueError):
        pool.submit("rtsp://127.0.0.1/x", kind="vhs")
    with pytest.raises(ValueError):
        pool.submit("rtsp://127.0.0.1/x", budget_s=0)


def test_queue_beyond_capacity_and_close_cancels(quick: ProbeSettings, serve: Serve) -> None:
    hung = serve(S.hang)
    settings = quick.model_copy(update={"workers": 1, "threads_per_worker": 2})
    p = ProbePool(settings)
    p.start()
    futures = [p.submit(hung.url("rtsp", f"/{i}")) for i in range(5)]
    wait_for(lambda: p.stats()["in_flight"] == 2, 10, "2 probes in flight", interval_s=0.02)
    assert p.stats()["queued"] == 3
    p.close(timeout_s=0)
    assert all(f.cancelled() or f.done() for f in futures)
    assert sum(f.cancelled() for f in futures) >= 3
    with pytest.raises(RuntimeError):
        p.submit(hung.url("rtsp", "/late"))


def test_no_credentials_in_logs(quick: ProbeSettings, serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # before the pool starts: workers log at the parent's level
    auth_cam = serve(S.rtsp_responder(auth=S.Auth("admin", "other")))
    hung = serve(S.hang)
    urls = [
        auth_cam.url("rtsp", "/live", f"admin:{PASSWORD}"),
        hung.url("rtsp", "/live", f"admin:{PASSWORD}"),
        f"rtsp://admin:{PASSWORD}@127.0.0.1:{S.refused_port()}/live",
    ]
    with ProbePool(quick.model_copy(update={"workers": 1, "threads_per_worker": 4})) as pool:
        results = [f.result(10) for f in [pool.submit(u) for u in urls]]
    assert [r.error for r in results] == [E.AUTH, E.TIMEOUT, E.REFUSED]
    text = "\n".join(r.getMessage() for r in caplog.records) + repr([r.to_dict() for r in results])
    assert PASSWORD not in text
    assert any(rec.name == "camsvc.probing.stream" for rec in caplog.records)  # worker logs did arrive


def test_postprocess_runs_in_the_worker_and_frames_stay_there(quick: ProbeSettings, serve: Serve) -> None:
    srv = serve(S.http_camera("mjpeg"))
    settings = quick.model_copy(update={"workers": 1, "threads_per_worker": 2})
    with ProbePool(settings, postprocess="tests.probing.servers:mark_result") as p:
        slim = p.submit(srv.url("http", "/video"), keep_frames=False).result(10)
        full = p.submit(srv.url("http", "/video"), keep_frames=True).result(10)
    assert slim.ok and slim.metrics["frames_seen_in_worker"] >= 2 and slim.frames == []
    assert full.ok and full.metrics["frames_seen_in_worker"] == len(full.frames) >= 2
    with pytest.raises(ValueError):
        ProbePool(settings, postprocess="no-colon")


def test_bench_ship_last_ships_one_frame_of_many(quick: ProbeSettings, serve: Serve) -> None:
    """``camsvc bench sweep --ship-last`` measures what the service ships: the last decoded frame only."""
    srv = serve(S.http_camera("mjpeg"))
    settings = quick.model_copy(update={"workers": 1, "threads_per_worker": 1})
    with ProbePool(settings) as p:
        every = p.submit(srv.url("http", "/video"), keep_frames=True).result(10)
    with ProbePool(settings, postprocess="camsvc.picture.measure:keep_last_frame") as p:
        last = p.submit(srv.url("http", "/video"), keep_frames=True).result(10)
    assert every.ok and len(every.frames) >= 2
    assert last.ok and len(last.frames) == len(last.frame_times) == 1 and last.frames_decoded >= 2
