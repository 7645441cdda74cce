"""Classification logic as tables: every input is a plain value, no I/O."""

from __future__ import annotations

import errno
import socket

import pytest

from camsvc.probing import classify
from camsvc.probing.result import ErrorClass as E
from camsvc.probing.result import StreamKind


@pytest.mark.parametrize(
    ("frames", "elapsed", "limit", "expected"),
    [
        (0, 3.0, 3.0, E.STALLED),  # opened, nothing ever came
        (0, 2.5, 3.0, E.STALLED),  # about the full limit counts as a stall
        (5, 2.9, 3.0, E.STALLED),  # frames stopped (stale frame after the full limit)
        (5, 0.1, 3.0, E.ENDED),  # quick end after frames: the server ended it
        (0, 0.05, 3.0, E.DECODE_ERROR),  # opened, first read fails at once
    ],
)
def test_read_failure(frames: int, elapsed: float, limit: float, expected: E) -> None:
    assert classify.classify_read_failure(frames, elapsed, limit)[0] == expected


@pytest.mark.parametrize(("elapsed", "stalled"), [(0.2, False), (2.3, False), (2.4, True), (3.1, True)])
def test_a_read_near_the_limit_is_a_stall(elapsed: float, stalled: bool) -> None:
    assert classify.is_stalled_read(elapsed, 3.0) is stalled


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ConnectionRefusedError(), E.REFUSED),
        (TimeoutError(), E.TIMEOUT),
        (TimeoutError(), E.TIMEOUT),
        (socket.gaierror(-2, "Name or service not known"), E.TIMEOUT),
        (OSError(errno.EHOSTUNREACH, "No route to host"), E.TIMEOUT),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), E.TIMEOUT),
        (ConnectionResetError(), E.REFUSED),
    ],
)
def test_connect_errors(exc: BaseException, expected: E) -> None:
    assert classify.classify_connect_error(exc)[0] == expected


@pytest.mark.parametrize(
    ("code", "creds", "expected", "words"),
    [
        (200, False, None, ""),
        (401, False, E.AUTH, "requires a username"),
        (401, True, E.AUTH, "wrong username or password"),
        (403, True, E.AUTH, "wrong"),
        (404, False, E.NOT_FOUND, "path"),
        (454, False, E.NOT_FOUND, "454"),
        (453, False, E.REFUSED, "bandwidth"),
        (415, False, E.NO_VIDEO, "415"),
        (500, False, E.NO_VIDEO, "server error"),
        (503, False, E.NO_VIDEO, "503"),
    ],
)
def test_rtsp_status(code: int, creds: bool, expected: E | None, words: str) -> None:
    verdict = classify.classify_rtsp_status(code, creds)
    if expected is None:
        assert verdict is None
    else:
        assert verdict is not None and verdict[0] == expected and words in verdict[1]


@pytest.mark.parametrize(
    ("code", "creds", "expected"),
    [
        (200, False, None),
        (206, False, None),
        (301, False, E.NOT_FOUND),
        (401, False, E.AUTH),
        (401, True, E.AUTH),
        (403, False, E.AUTH),
        (404, False, E.NOT_FOUND),
        (400, False, E.NOT_FOUND),
        (500, False, E.NO_VIDEO),
    ],
)
def test_http_status(code: int, creds: bool, expected: E | None) -> None:
    verdict = classify.classify_http_status(code, creds)
    assert (verdict[0] if verdict else None) == expected


@pytest.mark.parametrize(
    ("ctype", "kind", "not_video"),
    [
        ("image/jpeg", StreamKind.SNAPSHOT, False),
        ("IMAGE/JPEG; charset=binary", StreamKind.SNAPSHOT, False),
        ("multipart/x-mixed-replace; boundary=frame", StreamKind.MJPEG, False),
        ("text/html; charset=utf-8", None, True),
        ("application/json", None, True),
        ("application/octet-stream", None, False),
        ("video/mp2t", None, False),
        (None, None, False),
    ],
)
def test_content_types(ctype: str | None, kind: StreamKind | None, not_video: bool) -> None:
    assert classify.kind_from_content_type(ctype) == kind
    assert classify.is_not_video_content_type(ctype) is not_video


def test_sdp_video_detection() -> None:
    assert classify.sdp_has_video("v=0\r\nm=audio 0 RTP/AVP 0\r\nm=video 0 RTP/AVP 96\r\n")
    assert not classify.sdp_has_video("v=0\r\nm=audio 0 RTP/AVP 0\r\n")
    assert not classify.sdp_has_video("")


@pytest.mark.parametrize(("elapsed", "expected"), [(5.0, E.STALLED), (4.2, E.STALLED), (0.3, E.DECODE_ERROR)])
def test_open_failure_after_a_healthy_check(elapsed: float, expected: E) -> None:
    assert classify.classify_open_after_check(elapsed, 5.0)[0] == expected


@pytest.mark.parametrize(
    ("times", "fps"),
    [
        ([], None),
        ([0.0], None),
        ([0.0, 0.0], None),
        ([0.0, 0.2, 0.4, 0.6, 0.8], 5.0),
        ([0.0, 1.0, 2.0], 1.0),
        ([0.0, 0.04, 0.08, 0.12], 25.0),
        # three frames FFmpeg had buffered arrive at once, then 5 fps: the burst is not counted
        ([0.0, 0.001, 0.002, 0.2, 0.4, 0.6, 0.8], 5.0),
    ],
)
def test_measured_fps(times: list[float], fps: float | None) -> None:
    got = classify.measured_fps(times)
    if fps is None:
        assert got is None
    else:
        assert got == pytest.approx(fps, rel=0.02)
