"""Open one camera stream with hard timeouts, decode a few real frames, say what went wrong.

RTSP and MJPEG are read as video with OpenCV's FFmpeg backend; JPEG snapshot URLs are fetched with httpx
and decoded with ``cv2.imdecode``. When a stream fails, :mod:`camsvc.probing.diagnose` asks the camera why
(only then: a healthy probe costs nothing extra).

OpenCV traps handled here (see /work/shared/FACTS.md):
- OpenCV holds a process-wide lock for a whole FFmpeg open unless ``OPENCV_FFMPEG_IS_THREAD_SAFE=1`` is set
  before the first open; stream analysis takes 5 s unless ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` shortens it.
  Both are process-wide, so :func:`configure_opencv_env` sets them before ``cv2`` is imported.
- After a stall the next reads still return stale frames after waiting the full read limit: a read that took
  about the limit is a stall, whatever it returned.
- ``CAP_PROP_FPS`` is meaningless for MJPEG (always 25): the rate is measured from frame arrival times.

:func:`probe` runs one probe in this process and returns within budget + a grace even if OpenCV wedges
(the wedged thread is abandoned). For many probes, and for isolation from decoder crashes, use
:class:`camsvc.probing.pool.ProbePool`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from camsvc import netpolicy
from camsvc.config import ProbeSettings
from camsvc.probing import classify
from camsvc.probing.depth import FULL, ProbeDepth
from camsvc.probing.diagnose import diagnose, http_client, rtsp_play_ended
from camsvc.probing.result import ErrorClass, ProbeResult, StreamKind
from camsvc.probing.target import InvalidURL, Target, parse_target
from camsvc.redact import redact_text

log = logging.getLogger(__name__)

FRAME_MAX_WIDTH = 640
THUMB_MAX_WIDTH = 320
THUMB_QUALITY = 70
MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024
GRACE_S = 2.0  # how far past its budget an in-process probe may run before it is abandoned
# Share of the budget the open and the first read may take at most (the rest: window and diagnosis).
OPEN_SHARE = 0.5
READ_SHARE = 0.3
EXTRA_READS = (
    6  # frames read per probe at most, in multiples of max_frames (a 25 fps window; the rest only grabbed)
)
DIAGNOSE_MAX_S = 3.0  # the failure check never takes longer than this

Progress = Callable[[str], None]

_cv2: Any = None
_configured = False
_cv2_lock = threading.Lock()


# The protocols FFmpeg may open (RTSP is a demuxer that opens tcp/tls itself; RTP/UDP only for UDP
# transport). No file, concat, subfile, crypto, data, pipe...: a hostile "camera" (say, an HLS playlist served
# as MJPEG) cannot make FFmpeg read local files or reach other protocols.
PROTOCOLS_TCP = "tcp,tls,http,https"
PROTOCOLS_UDP = "tcp,tls,http,https,rtp,udp"


def capture_options(rtsp_transport: str) -> str:
    """FFmpeg options for every open: TCP (or UDP) transport, 0.2 s analysis instead of 5 s, and only the
    network protocols a camera stream needs. Cameras serve https with self-signed certificates, and FFmpeg 8
    (OpenCV 5's wheels) verifies peers by default: ``tls_verify;0`` keeps https cameras checkable, as
    the reachability diagnosis does (only that the stream works matters, not who signed it)."""
    if rtsp_transport not in ("tcp", "udp"):
        raise ValueError(f"probe.rtsp_transport must be 'tcp' or 'udp', not {rtsp_transport!r}")
    protocols = PROTOCOLS_TCP if rtsp_transport == "tcp" else PROTOCOLS_UDP
    return (
        f"rtsp_transport;{rtsp_transport}|analyzeduration;200000|probesize;32768"
        f"|protocol_whitelist;{protocols}|tls_verify;0"
    )


def configure_opencv_env(settings: ProbeSettings | None = None) -> None:
    """Set OpenCV's process-wide FFmpeg settings; call before ``cv2`` is first imported or opens."""
    global _configured
    settings = settings or ProbeSettings.model_validate({})
    os.environ["OPENCV_FFMPEG_IS_THREAD_SAFE"] = "1"
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = capture_options(settings.rtsp_transport)
    # FFmpeg's own messages go straight to stderr (and can echo a URL): keep it quiet; OpenCV's warnings too.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    _configured = True


def load_cv2(settings: ProbeSettings | None = None) -> Any:
    """Import ``cv2`` with the environment above in place (once per process).

    If something imported ``cv2`` earlier, the FFmpeg variables still apply (OpenCV reads them at the first
    open), and OpenCV's own log level is lowered at run time.
    """
    global _cv2
    with _cv2_lock:
        if _cv2 is None:
            user_log_level = "OPENCV_LOG_LEVEL" in os.environ
            imported_before = "cv2" in sys.modules
            if not _configured:
                configure_opencv_env(settings)
            import cv2

            if imported_before and not user_log_level:
                cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
            _cv2 = cv2
    return _cv2


def probe(
    url: str,
    *,
    kind: StreamKind | None = None,
    settings: ProbeSettings | None = None,
    keep_frames: bool = True,
    budget_s: float | None = None,
    depth: ProbeDepth | None = None,
) -> ProbeResult:
    """Probe one stream in this process; returns within ``budget + GRACE_S`` whatever the camera does.

    *depth* (:mod:`camsvc.probing.depth`): a full check (the default) or a light one (engine packets)."""
    settings = settings or ProbeSettings.model_validate({})
    budget = budget_s if budget_s is not None else settings.budget_s
    try:
        target = parse_target(url, kind)
    except InvalidURL as exc:
        return invalid_result(url, str(exc))
    load_cv2(settings)
    box: dict[str, Any] = {"stage": "start"}

    def run() -> None:
        box["result"] = run_probe(
            target,
            kind,
            settings,
            budget,
            keep_frames,
            progress=lambda s: box.__setitem__("stage", s),
            depth=depth,
        )

    started = time.monotonic()
    thread = threading.Thread(target=run, name="camsvc-probe", daemon=True)
    thread.start()
    thread.join(budget + GRACE_S)
    if "result" in box:
        result: ProbeResult = box["result"]
        return result
    log.warning("probe of %s overran its %.1f s budget; abandoned", target.redacted, budget)
    return overrun_result(target.redacted, str(box["stage"]), budget, time.monotonic() - started, kind)


def invalid_result(url: str, detail: str) -> ProbeResult:
    from camsvc.redact import redact_url

    return ProbeResult(
        url=redact_url(url) if isinstance(url, str) else "<not a string>",
        ok=False,
        error=ErrorClass.INVALID_URL,
        detail=detail,
        started_at=time.time(),
    )


def overrun_result(
    redacted_url: str, stage: str, budget_s: float, elapsed_s: float, kind: StreamKind | None
) -> ProbeResult:
    """The result given for a probe that did not return within its budget (+ grace)."""
    opened = stage in ("opened", "frames")
    error = ErrorClass.STALLED if opened else ErrorClass.TIMEOUT
    where = "after the stream opened" if opened else "before the stream opened"
    return ProbeResult(
        url=redacted_url,
        ok=False,
        reachable=opened,
        opened=opened,
        total_ms=elapsed_s * 1000,
        error=error,
        detail=f"probe did not finish within its {budget_s:g} s budget ({where}); stopped",
        stream_kind=kind,
        started_at=time.time() - elapsed_s,
    )


def run_probe(
    target: Target,
    kind: StreamKind | None,
    settings: ProbeSettings,
    budget_s: float,
    keep_frames: bool,
    progress: Progress | None = None,
    depth: ProbeDepth | None = None,
) -> ProbeResult:
    """The probe itself, in the calling thread (the pool's workers call this). Never raises.

    RTSP streams go through :mod:`camsvc.probing.packets` when ``settings.engine`` is ``packets``."""
    t0 = time.monotonic()
    res = ProbeResult(url=target.redacted, ok=False, started_at=time.time(), stream_kind=kind)
    ctx = _Ctx(target, settings, t0, t0 + budget_s, budget_s, keep_frames, progress or (lambda _s: None))
    try:
        netpolicy.check_host(target.host, target.port)  # again at every probe: DNS may have changed
    except netpolicy.Refused as exc:
        res.error, res.detail = ErrorClass.INVALID_URL, str(exc)
        res.total_ms = (time.monotonic() - t0) * 1000
        return res
    try:
        if kind is None and target.is_rtsp:
            kind = StreamKind.RTSP
        res.stream_kind = kind
        ctx.depth = depth or FULL
        if kind in (StreamKind.RTSP, StreamKind.MJPEG):
            _video(ctx, res)
        else:
            _probe_http(ctx, res, kind)
    except Exception as exc:  # a bug or an unexpected library error: report it, never raise
        msg = redact_text(f"{type(exc).__name__}: {exc}", target.secrets)
        log.exception("probe of %s failed unexpectedly: %s", target.redacted, msg)
        res.error = ErrorClass.DECODE_ERROR
        res.detail = f"probe error: {msg}"
    res.total_ms = (time.monotonic() - t0) * 1000
    res.ok = res.error is None and res.frames_decoded > 0
    if res.detail:
        res.detail = redact_text(res.detail, target.secrets)
    log.debug(
        "probe %s: ok=%s error=%s frames=%d %.0f ms",
        res.url,
        res.ok,
        res.error,
        res.frames_decoded,
        res.total_ms,
    )
    return res


class _Ctx:
    def __init__(
        self,
        target: Target,
        settings: ProbeSettings,
        t0: float,
        deadline: float,
        budget_s: float,
        keep_frames: bool,
        progress: Progress,
    ) -> None:
        self.target = target
        self.settings = settings
        self.t0 = t0
        self.deadline = deadline
        self.keep_frames = keep_frames
        self.progress = progress
        self.open_limit = min(settings.open_timeout_s, OPEN_SHARE * budget_s)
        self.read_limit = min(settings.read_timeout_s, READ_SHARE * budget_s)
        self.depth: ProbeDepth = FULL

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def ms_since_start(self) -> float:
        return (time.monotonic() - self.t0) * 1000

    def fail(self, res: ProbeResult, verdict: classify.Verdict) -> None:
        res.error, res.detail = verdict

    def ended_instead_of_decode_error(self, res: ProbeResult) -> None:
        """OpenCV failed at once before a first frame, on a server that answers: an unsupported stream, or
        a server that ended the stream (closed, BYE, TEARDOWN) before the first frame. Only playing it
        once tells them apart (RTSP; an HTTP stream's end is seen by the diagnosis already)."""
        if res.error is not ErrorClass.DECODE_ERROR or not self.target.is_rtsp:
            return
        verdict = rtsp_play_ended(self.target, max(0.0, min(DIAGNOSE_MAX_S, self.left() - 0.1)))
        if verdict is not None:
            self.fail(res, verdict)

    def diagnose_into(self, res: ProbeResult) -> bool:
        """Run the failure check; fills reachable/error/detail. False when it found nothing wrong."""
        diag = diagnose(self.target, max(0.2, min(DIAGNOSE_MAX_S, self.left() - 0.1)))
        res.reachable = res.reachable or diag.reachable
        if diag.verdict is None:
            return False
        self.fail(res, diag.verdict)
        return True


# --- video (RTSP, MJPEG) -------------------------------------------------------------------------------


def _video(ctx: _Ctx, res: ProbeResult) -> None:
    """A video stream: through the packet engine (:mod:`camsvc.probing.packets`) or OpenCV's decode."""
    if ctx.settings.engine == "packets":
        from camsvc.probing.packets import probe_rtsp

        probe_rtsp(ctx, res, ctx.depth)
    else:
        _probe_video(ctx, res)


def _probe_video(ctx: _Ctx, res: ProbeResult) -> None:
    cv2 = load_cv2(ctx.settings)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(ctx.open_limit * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(ctx.read_limit * 1000),
        cv2.CAP_PROP_N_THREADS,
        1,  # many probes at once: one decoder thread each is cheaper than a pool each
    ]
    t_open = time.monotonic()
    cap = cv2.VideoCapture(ctx.target.url, cv2.CAP_FFMPEG, params)
    try:
        open_elapsed = time.monotonic() - t_open
        if not cap.isOpened():
            res.open_ms = None
            if not ctx.diagnose_into(res):
                ctx.fail(res, classify.classify_open_after_check(open_elapsed, ctx.open_limit))
                ctx.ended_instead_of_decode_error(res)
            return
        res.opened = res.reachable = True
        res.open_ms = open_elapsed * 1000
        ctx.progress("opened")
        _read_frames(ctx, res, cap)
    finally:
        cap.release()


def _read_frames(ctx: _Ctx, res: ProbeResult, cap: Any) -> None:
    """Read for ``window_s`` after the first frame; keep (convert, shrink) at most ``max_frames``, spread
    over the window (one per ``window_s / max_frames``), so that a 25 fps camera's kept frames span the
    window as a 5 fps camera's do: picture analysis needs that span to see a frozen clock tick or not.

    The whole window is watched even when ``max_frames`` came early (a server catching up sends a burst):
    frames not kept are only grabbed (decoded, not converted), so a stream that stops half-way through the
    window is still seen to stall and the rate is measured over the window. Reads stop at ``EXTRA_READS``
    times ``max_frames`` whatever the frame rate.
    """
    settings = ctx.settings
    first_t: float | None = None
    arrivals: list[float] = []
    last = None
    kept = 0
    spacing = settings.window_s / settings.max_frames
    while res.frames_decoded < EXTRA_READS * settings.max_frames:
        now = time.monotonic()
        if first_t is not None and now - first_t >= settings.window_s:
            break
        if ctx.deadline - now < ctx.read_limit:
            if first_t is None:  # only when a tiny budget was given
                ctx.fail(res, (ErrorClass.TIMEOUT, "budget ran out before the first frame"))
            break
        t_read = time.monotonic()
        ok, frame = cap.grab(), None
        t_got = time.monotonic()
        keep = kept < settings.max_frames and (first_t is None or t_got - first_t >= kept * spacing)
        if ok and keep:
            ok, frame = cap.retrieve()
        elapsed = t_got - t_read
        if not ok or (keep and frame is None) or classify.is_stalled_read(elapsed, ctx.read_limit):
            ctx.fail(res, classify.classify_read_failure(res.frames_decoded, elapsed, ctx.read_limit))
            if res.frames_decoded == 0:
                ctx.ended_instead_of_decode_error(res)
            break
        if first_t is None:
            assert frame is not None  # the first frame is always kept
            first_t = t_got
            res.first_frame_ms = ctx.ms_since_start()
            res.height, res.width = int(frame.shape[0]), int(frame.shape[1])
            ctx.progress("frames")
        res.frames_decoded += 1
        arrivals.append(t_got - first_t)
        if keep:
            kept += 1
            last = frame
            if ctx.keep_frames:
                res.frames.append(shrink(frame, FRAME_MAX_WIDTH))
                res.frame_times.append(t_got - first_t)
    res.fps = classify.measured_fps(arrivals)
    if last is not None:
        res.thumbnail_jpeg = thumbnail(last)


# --- HTTP (snapshot, or guessing the kind of an http URL) -----------------------------------------------


def _probe_http(ctx: _Ctx, res: ProbeResult, kind: StreamKind | None) -> None:
    """GET the URL: a snapshot is decoded from the body; an unknown kind is guessed from Content-Type."""
    target = ctx.target
    connect_s = max(0.05, min(ctx.open_limit, ctx.left()))
    read_s = max(0.05, min(ctx.read_limit, ctx.left()))
    t_open = time.monotonic()
    video = False
    try:
        with (
            http_client(target, connect_s, read_s) as client,
            client.stream("GET", target.bare_url) as resp,
        ):
            res.reachable = True
            verdict = classify.classify_http_status(resp.status_code, bool(target.username))
            if verdict is not None:
                ctx.fail(res, verdict)
                return
            ctype = resp.headers.get("content-type")
            guessed = classify.kind_from_content_type(ctype)
            if kind is None:
                if guessed is None and classify.is_not_video_content_type(ctype):
                    ctx.fail(res, (ErrorClass.NO_VIDEO, f"the URL serves {ctype}, not video"))
                    return
                kind = guessed or StreamKind.MJPEG  # anything else: let FFmpeg try it as a stream
                res.stream_kind = kind
            if kind != StreamKind.SNAPSHOT:
                video = True
            else:
                res.opened = True
                res.open_ms = (time.monotonic() - t_open) * 1000
                ctx.progress("opened")
                body = _read_body(ctx, res, resp)
                if body is not None:
                    _decode_snapshot(ctx, res, body)
    except httpx.TimeoutException:
        if res.reachable:
            ctx.fail(res, (ErrorClass.TIMEOUT, "connected, but the server did not answer in time"))
        elif not ctx.diagnose_into(res):
            ctx.fail(res, (ErrorClass.TIMEOUT, "no answer in time"))
        return
    except httpx.TransportError as exc:
        if not ctx.diagnose_into(res):
            detail = redact_text(f"HTTP request failed: {type(exc).__name__}", target.secrets)
            ctx.fail(res, (ErrorClass.ENDED if res.reachable else ErrorClass.REFUSED, detail))
        return
    if video:
        res.opened = res.reachable = False
        _video(ctx, res)


def _read_body(ctx: _Ctx, res: ProbeResult, resp: httpx.Response) -> bytes | None:
    """The snapshot body, bounded in size and by the deadline (endless bodies end here)."""
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_SNAPSHOT_BYTES:
        ctx.fail(
            res, (ErrorClass.DECODE_ERROR, f"snapshot declares {int(declared)} bytes, more than allowed")
        )
        return None
    chunks: list[bytes] = []
    size = 0
    t_last = time.monotonic()
    try:
        for chunk in resp.iter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            t_last = time.monotonic()
            if size > MAX_SNAPSHOT_BYTES:
                limit_mb = MAX_SNAPSHOT_BYTES // (1024 * 1024)
                ctx.fail(res, (ErrorClass.DECODE_ERROR, f"snapshot body did not end within {limit_mb} MB"))
                return None
            if ctx.left() <= 0:
                ctx.fail(res, (ErrorClass.TIMEOUT, f"snapshot body still arriving after {size} bytes"))
                return None
    except httpx.ReadTimeout:
        waited = time.monotonic() - t_last
        if size:
            ctx.fail(
                res, (ErrorClass.STALLED, f"snapshot stopped after {size} bytes ({waited:.1f} s silent)")
            )
        else:
            ctx.fail(res, (ErrorClass.STALLED, "headers arrived but no image data followed"))
        return None
    except httpx.HTTPError as exc:
        ctx.fail(res, (ErrorClass.ENDED, f"snapshot cut off after {size} bytes ({type(exc).__name__})"))
        return None
    return b"".join(chunks)


def _decode_snapshot(ctx: _Ctx, res: ProbeResult, body: bytes) -> None:
    cv2 = load_cv2(ctx.settings)
    import numpy as np

    if not body:
        ctx.fail(res, (ErrorClass.NO_VIDEO, "empty snapshot"))
        return
    img = cv2.imdecode(np.frombuffer(body, dtype=np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        ctx.fail(res, (ErrorClass.DECODE_ERROR, f"snapshot ({len(body)} bytes) is not a decodable image"))
        return
    res.first_frame_ms = ctx.ms_since_start()
    res.frames_decoded = 1
    res.height, res.width = int(img.shape[0]), int(img.shape[1])
    if ctx.keep_frames:
        res.frames = [shrink(img, FRAME_MAX_WIDTH)]
        res.frame_times = [0.0]
    res.thumbnail_jpeg = thumbnail(img)


# --- frames ------------------------------------------------------------------------------------------------


def shrink(frame: Any, max_width: int) -> Any:
    """*frame* scaled down (never up) to at most *max_width* pixels wide, as a compact BGR uint8 array."""
    cv2 = load_cv2()
    import numpy as np

    h, w = frame.shape[:2]
    if w <= max_width:
        return np.ascontiguousarray(frame, dtype=np.uint8)
    new_h = max(1, round(h * max_width / w))
    return cv2.resize(frame, (max_width, new_h), interpolation=cv2.INTER_AREA)


def thumbnail(frame: Any) -> bytes | None:
    cv2 = load_cv2()
    small = shrink(frame, THUMB_MAX_WIDTH)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, THUMB_QUALITY])
    return bytes(buf) if ok else None
