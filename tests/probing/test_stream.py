"""The in-process prober against real misbehaving servers on 127.0.0.1 (one probe each)."""

from __future__ import annotations

import time
from collections.abc import Callable

import cv2
import numpy as np
import pytest

from camsvc.config import ProbeSettings
from camsvc.enums import ErrorClass as E
from camsvc.enums import StreamKind
from camsvc.probing.stream import GRACE_S, probe
from tests.probing import servers as S
from tests.probing.conftest import PASSWORD

pytestmark = pytest.mark.integration

Serve = Callable[[S.Handler], S.TinyServer]


@pytest.mark.parametrize(
    ("handler", "scheme", "userinfo", "kind", "expected", "reachable"),
    [
        (S.hang, "rtsp", "", None, E.TIMEOUT, True),
        (S.hang, "http", "", StreamKind.SNAPSHOT, E.TIMEOUT, True),
        (S.garbage, "rtsp", "", None, E.DECODE_ERROR, True),
        (S.garbage, "http", "", None, E.DECODE_ERROR, True),
        (S.rtsp_responder(auth=S.Auth("admin", PASSWORD)), "rtsp", "", None, E.AUTH, True),
        (S.rtsp_responder(auth=S.Auth("admin", PASSWORD)), "rtsp", "admin:wrong-pw", None, E.AUTH, True),
        (
            S.rtsp_responder(auth=S.Auth("admin", PASSWORD, "basic")),
            "rtsp",
            "admin:wrong-pw",
            None,
            E.AUTH,
            True,
        ),
        (S.rtsp_responder(describe_status="404 Not Found"), "rtsp", "", None, E.NOT_FOUND, True),
        (S.rtsp_responder(sdp=S.SDP_AUDIO_ONLY), "rtsp", "", None, E.NO_VIDEO, True),
        (S.rtsp_responder(), "rtsp", "", None, E.STALLED, True),  # DESCRIBE fine, PLAY never answered
        (S.http_status("404 Not Found"), "http", "", None, E.NOT_FOUND, True),
        (S.http_status("401 Unauthorized"), "http", "", StreamKind.MJPEG, E.AUTH, True),
        (S.http_status("200 OK"), "http", "", None, E.NO_VIDEO, True),  # the camera's web page
        (S.http_status("500 Internal Server Error"), "http", "", None, E.NO_VIDEO, True),
        (
            S.http_camera("mjpeg", auth=S.Auth("admin", PASSWORD)),
            "http",
            "admin:wrong-pw",
            None,
            E.AUTH,
            True,
        ),
        (S.http_camera("mjpeg", frames=3, after="stall"), "http", "", None, E.STALLED, True),
        (S.http_camera("mjpeg", frames=3, after="close"), "http", "", None, E.ENDED, True),
        (S.endless_body("image/jpeg"), "http", "", None, E.DECODE_ERROR, True),  # endless "snapshot"
        (S.endless_body("application/octet-stream"), "http", "", None, E.DECODE_ERROR, True),
        (S.http_camera("snapshot", jpeg=b"\x00not a jpeg" * 100), "http", "", None, E.DECODE_ERROR, True),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_failures_are_classified_within_budget(
    serve: Serve,
    quick: ProbeSettings,
    handler: S.Handler,
    scheme: str,
    userinfo: str,
    kind: StreamKind | None,
    expected: E,
    reachable: bool,
) -> None:
    srv = serve(handler)
    t0 = time.monotonic()
    r = probe(srv.url(scheme, "/stream", userinfo), kind=kind, settings=quick)
    assert time.monotonic() - t0 <= quick.budget_s + 0.5
    assert (r.ok, r.error, r.reachable) == (False, expected, reachable), r.detail
    assert r.detail and "wrong-pw" not in r.detail and "wrong-pw" not in r.url


def test_refused(quick: ProbeSettings) -> None:
    r = probe(f"rtsp://admin:{PASSWORD}@127.0.0.1:{S.refused_port()}/live", settings=quick)
    assert (r.ok, r.error, r.reachable, r.opened) == (False, E.REFUSED, False, False)
    assert PASSWORD not in str(r.to_dict())


def test_invalid_url_never_touches_the_network() -> None:
    r = probe(f"ftp://admin:{PASSWORD}@127.0.0.1/x")
    assert (r.ok, r.error) == (False, E.INVALID_URL)
    assert PASSWORD not in r.url and PASSWORD not in (r.detail or "")


def test_mjpeg_with_digest_auth_reads_frames_and_measures_fps(serve: Serve) -> None:
    srv = serve(S.http_camera("mjpeg", auth=S.Auth("admin", PASSWORD), fps=10))
    settings = ProbeSettings(window_s=1.0, max_frames=20)
    r = probe(srv.url("http", "/video.mjpg", f"admin:{PASSWORD}"), settings=settings)
    assert r.ok and r.error is None, r.detail
    assert r.stream_kind == StreamKind.MJPEG  # guessed from multipart/x-mixed-replace
    assert r.opened and r.reachable
    assert r.frames_decoded >= 8 and len(r.frames) == min(r.frames_decoded, 20) == len(r.frame_times)
    assert r.fps == pytest.approx(10, rel=0.2)  # arrival times, not OpenCV's 25
    assert (r.width, r.height) == (640, 480)
    assert r.open_ms is not None and r.first_frame_ms is not None and r.first_frame_ms <= r.total_ms
    assert r.frame_times[0] == 0.0 and r.frame_times == sorted(r.frame_times)


def test_the_whole_window_is_watched_but_only_max_frames_kept(serve: Serve) -> None:
    """A burst of max_frames must not end the probe early: a stall later in the window is still seen."""
    fast = serve(S.http_camera("mjpeg", fps=10))
    r = probe(fast.url("http", "/v"), settings=ProbeSettings(window_s=1.0, max_frames=3))
    assert r.ok and len(r.frames) == len(r.frame_times) == 3
    assert r.frames_decoded >= 9  # ~1 s at 10 fps: decoded (grabbed), not kept
    # the kept frames are spread over the window (one per window/max_frames), not the first three
    assert r.frame_times[0] == 0 and r.frame_times[1] >= 0.33 and r.frame_times[2] >= 0.66
    assert r.fps == pytest.approx(10, rel=0.2)
    stalls = serve(S.http_camera("mjpeg", fps=10, frames=6, after="stall"))
    r = probe(
        stalls.url("http", "/v"), settings=ProbeSettings(window_s=1.0, max_frames=3, read_timeout_s=0.8)
    )
    # 6 frames (0-0.5 s) then silence: kept at 0 and >= 0.33 s before the stall is seen
    assert (r.ok, r.error, r.frames_decoded, len(r.frames)) == (False, E.STALLED, 6, 2)


def test_snapshot_is_downscaled_and_thumbnailed(serve: Serve) -> None:
    big = S.footage_jpeg(width=1280)
    srv = serve(S.http_camera("snapshot", jpeg=big, auth=S.Auth("admin", PASSWORD, "basic")))
    r = probe(srv.url("http", "/snap.jpg", f"admin:{PASSWORD}"))
    assert r.ok and r.stream_kind == StreamKind.SNAPSHOT, r.detail
    assert r.width == 1280 and r.frames_decoded == 1
    frame = r.frames[0]
    assert frame.dtype == np.uint8 and frame.shape[1] == 640 and frame.shape[2] == 3
    assert r.thumbnail_jpeg is not None
    thumb = cv2.imdecode(np.frombuffer(r.thumbnail_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert thumb.shape[1] == 320
    # the first request carried no password: the camera's challenge was answered
    assert b"Authorization" not in srv.requests[0]
    assert b"Authorization" in srv.requests[-1]


def test_keep_frames_false_keeps_only_the_thumbnail(serve: Serve) -> None:
    srv = serve(S.http_camera("mjpeg"))
    r = probe(srv.url("http", "/v"), settings=ProbeSettings(window_s=0.3), keep_frames=False)
    assert r.ok and r.frames_decoded > 0
    assert r.frames == [] and r.frame_times == [] and r.thumbnail_jpeg


def test_endless_trickle_is_cut_at_the_budget(serve: Serve) -> None:
    """Headers trickling byte by byte defeat every per-read timeout; the budget still holds."""
    srv = serve(S.trickle_headers(0.2))
    budget = 1.5
    t0 = time.monotonic()
    r = probe(srv.url("http", "/snap.jpg"), kind=StreamKind.SNAPSHOT, budget_s=budget)
    assert time.monotonic() - t0 <= budget + GRACE_S + 0.5
    assert (r.ok, r.error) == (False, E.TIMEOUT)
    assert "budget" in (r.detail or "")
