"""Turn what a probe saw into an :class:`ErrorClass` a technician can act on. Pure: no I/O, no clocks.

Every function here takes plain values (status codes, durations measured by the caller, exception types)
so tables of cases test them (tests/probing/test_classify.py).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Sequence

from camsvc.probing.result import ErrorClass, StreamKind

# OpenCV trap (FACTS.md): after a stall the first reads still return stale frames, each after waiting the
# full read limit. A read that took this fraction of its limit or more is a failure, whatever it returned.
STALL_FRACTION = 0.8

Verdict = tuple[ErrorClass, str]


def is_stalled_read(elapsed_s: float, limit_s: float) -> bool:
    """True when a read took about the full read limit (a stall, even if it returned a frame)."""
    return elapsed_s >= STALL_FRACTION * limit_s - 1e-9


def classify_read_failure(frames_before: int, elapsed_s: float, limit_s: float) -> Verdict:
    """A read that failed (or was too slow) after the stream opened."""
    if is_stalled_read(elapsed_s, limit_s):
        if frames_before == 0:
            return ErrorClass.STALLED, f"stream opened but no frame arrived within {limit_s:g} s"
        return ErrorClass.STALLED, f"frames stopped after {frames_before} (no new frame within {limit_s:g} s)"
    if frames_before == 0:
        return ErrorClass.DECODE_ERROR, "stream opened but its first frame could not be read or decoded"
    return ErrorClass.ENDED, f"server ended the stream after {frames_before} frames"


def classify_connect_error(exc: BaseException) -> Verdict:
    """A failed TCP connect (the first step of the failure diagnosis)."""
    if isinstance(exc, socket.gaierror):
        return ErrorClass.TIMEOUT, "host name does not resolve"
    if isinstance(exc, ConnectionRefusedError):
        return ErrorClass.REFUSED, "connection refused: nothing listens on that port (camera off?)"
    if isinstance(exc, TimeoutError | socket.timeout):
        return ErrorClass.TIMEOUT, "no answer to TCP connect (no route, or camera hung)"
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return ErrorClass.TIMEOUT, "no route to host"
    if isinstance(exc, ConnectionResetError):
        return ErrorClass.REFUSED, "connection reset during connect"
    return ErrorClass.TIMEOUT, f"cannot connect: {type(exc).__name__}"


def classify_rtsp_status(code: int, had_credentials: bool) -> Verdict | None:
    """An RTSP reply status to DESCRIBE; ``None`` when it is a success."""
    if 200 <= code < 300:
        return None
    if code in (401, 403, 407):
        if had_credentials:
            return ErrorClass.AUTH, f"RTSP {code}: wrong username or password"
        return ErrorClass.AUTH, f"RTSP {code}: the camera requires a username and password"
    if code in (404, 410):
        return ErrorClass.NOT_FOUND, f"RTSP {code}: no stream at that path (wrong path or channel)"
    if code == 415 or code == 406:
        return ErrorClass.NO_VIDEO, f"RTSP {code}: the server cannot describe the stream"
    if code == 453:
        return ErrorClass.REFUSED, "RTSP 453: not enough bandwidth (too many viewers?)"
    if 400 <= code < 500:
        return ErrorClass.NOT_FOUND, f"RTSP {code}: request rejected (check the path)"
    return ErrorClass.NO_VIDEO, f"RTSP {code}: server error"


def classify_http_status(code: int, had_credentials: bool) -> Verdict | None:
    """An HTTP reply status; ``None`` when it is a success."""
    if 200 <= code < 300:
        return None
    if code in (401, 403, 407):
        if had_credentials:
            return ErrorClass.AUTH, f"HTTP {code}: wrong username or password"
        return ErrorClass.AUTH, f"HTTP {code}: the camera requires a username and password"
    if code in (404, 410):
        return ErrorClass.NOT_FOUND, f"HTTP {code}: nothing at that path (wrong path or channel)"
    if 300 <= code < 400:
        return ErrorClass.NOT_FOUND, f"HTTP {code}: redirected elsewhere (use the final URL)"
    if 400 <= code < 500:
        return ErrorClass.NOT_FOUND, f"HTTP {code}: request rejected (check the path)"
    return ErrorClass.NO_VIDEO, f"HTTP {code}: server error"


def kind_from_content_type(content_type: str | None) -> StreamKind | None:
    """Guess the stream kind of an HTTP reply; ``None`` when the type says nothing."""
    ct = (content_type or "").split(";", 1)[0].strip().lower()
    if ct.startswith("image/"):
        return StreamKind.SNAPSHOT
    if ct.startswith("multipart/"):
        return StreamKind.MJPEG
    return None


def is_not_video_content_type(content_type: str | None) -> bool:
    """Types that are certainly not a picture or a stream (a camera's web page, a JSON API...)."""
    ct = (content_type or "").split(";", 1)[0].strip().lower()
    return ct.startswith("text/") or ct in ("application/json", "application/xml", "application/xhtml+xml")


def sdp_has_video(sdp: str) -> bool:
    """Does an SDP description list a video media section?"""
    return any(line.strip().lower().startswith("m=video") for line in sdp.splitlines())


def classify_open_after_check(open_elapsed_s: float, open_limit_s: float) -> Verdict:
    """OpenCV failed to open a stream the pre/post check found healthy (server answers, video announced)."""
    if open_elapsed_s >= STALL_FRACTION * open_limit_s:
        return ErrorClass.STALLED, f"server answers but sent no video within {open_limit_s:g} s"
    return ErrorClass.DECODE_ERROR, "server answers but the stream could not be opened (unsupported codec?)"


def measured_fps(frame_times: Sequence[float]) -> float | None:
    """Frames per second from arrival times (s); ``None`` with fewer than two frames or no time span.

    Frames held up at the start (stream analysis, a server sending its GOP cache, a busy CPU) arrive in a
    burst and would inflate the rate: leading gaps shorter than half the median gap are skipped.
    """
    if len(frame_times) < 2:
        return None
    gaps = [b - a for a, b in zip(frame_times, frame_times[1:], strict=False)]
    ordered = sorted(gaps)
    median = ordered[len(ordered) // 2]
    start = 0
    while start < len(gaps) - 1 and gaps[start] < 0.5 * median:
        start += 1
    span = frame_times[-1] - frame_times[start]
    if span <= 0:
        return None
    return (len(frame_times) - 1 - start) / span
