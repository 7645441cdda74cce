"""The packet-level RTSP probe (``probe.engine: packets``): read packets, decode only what the checks need.

Demuxing a stream costs far less than decoding it (docs/probing.md: measured 28 ms of CPU per probe for
demux + one keyframe, 48 ms for demux + every frame, 69 ms for OpenCV's decode of every frame, 27 ms for
OpenCV's open + one frame). So over the window this path only reads packets, with PyAV (the same FFmpeg
libraries as OpenCV's), and measures from them what decoded frames were used for: liveness, fps (arrival
times, as before), bitrate, stalls (a packet that took about the read limit), frozen suspicion (P-frame
sizes). It decodes the first keyframe always, and every frame of the window (keeping ``max_frames``
spread over it, as the decode path does) only for a full check; a light check whose packets look
different from the camera's usual is turned into a full one from the packets already buffered.

Error classes, budget and redaction are the decode path's own: the same :mod:`classify` functions are
fed the same measurements (open time vs. open limit, read time vs. read limit, frames before a failure),
and the failure diagnosis is the same. PyAV's exception texts carry the URL and are never used.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from camsvc.probing import classify
from camsvc.probing.depth import ProbeDepth, looks_different, profile_of
from camsvc.probing.result import ErrorClass, ProbeResult

if TYPE_CHECKING:
    from camsvc.probing.stream import _Ctx

_av: Any = None
INTRA_ONLY = frozenset({"mjpeg", "jpeg2000", "png", "rawvideo"})  # every frame decodes on its own
# Codec options for the stream analysis at open (PyAV hands ``options`` to avformat_find_stream_info's
# decoders): FFmpeg decodes up to 7 H.264 frames there to guess the decoder delay, which cost 10-11 of the
# 15 ms an open took (1280x720); the size and pixel format come from the SPS through the parser anyway.
# The probe's own decoder is a fresh context and decodes every frame it is given.
ANALYSIS_OPTIONS = {"skip_frame": "all"}


def load_av() -> Any:
    global _av
    if _av is None:
        import av

        _av = av
    return _av


def av_options(rtsp_transport: str) -> dict[str, str]:
    """The decode path's FFmpeg options (:func:`camsvc.probing.stream.capture_options`) as a dict."""
    from camsvc.probing.stream import capture_options

    return dict(pair.split(";", 1) for pair in capture_options(rtsp_transport).split("|"))


def probe_rtsp(ctx: _Ctx, res: ProbeResult, depth: ProbeDepth) -> None:
    av = load_av()
    t_open = time.monotonic()
    try:
        container = av.open(
            ctx.target.url,
            options={**av_options(ctx.settings.rtsp_transport), **ANALYSIS_OPTIONS},
            timeout=(ctx.open_limit, ctx.read_limit),
        )
    except Exception:  # av.error.*: its text holds the URL; the diagnosis says what is wrong
        container = None
    open_elapsed = time.monotonic() - t_open
    if container is None or not container.streams.video:
        if container is not None:
            container.close()
        res.open_ms = None
        if not ctx.diagnose_into(res):
            ctx.fail(res, classify.classify_open_after_check(open_elapsed, ctx.open_limit))
            ctx.ended_instead_of_decode_error(res)
        return
    try:
        res.opened = res.reachable = True
        res.open_ms = open_elapsed * 1000
        ctx.progress("opened")
        _read_window(ctx, res, container, depth)
    finally:
        container.close()


def _read_window(ctx: _Ctx, res: ProbeResult, container: Any, depth: ProbeDepth) -> None:
    from camsvc.probing.stream import EXTRA_READS, FRAME_MAX_WIDTH, shrink, thumbnail

    settings = ctx.settings
    stream = container.streams.video[0]
    stream.thread_type = "SLICE"
    stream.codec_context.thread_count = 1  # many probes at once: one decoder thread each
    packets_iter = container.demux(stream)
    first_t: float | None = None
    arrivals: list[float] = []
    sizes: list[int] = []
    keyflags: list[bool] = []
    window: list[Any] = []  # packets after the keyframe, for a full decode
    key_img: Any = None
    while len(arrivals) < EXTRA_READS * settings.max_frames:
        now = time.monotonic()
        if first_t is not None and now - first_t >= settings.window_s:
            break
        if ctx.deadline - now < ctx.read_limit:
            if first_t is None:
                ctx.fail(res, (ErrorClass.TIMEOUT, "budget ran out before the first frame"))
            break
        t_read = time.monotonic()
        failed = False
        try:
            packet = next(packets_iter)
        except Exception:  # StopIteration (stream ended), av timeout/exit or I/O error
            packet, failed = None, True
        t_got = time.monotonic()
        elapsed = t_got - t_read
        if not failed and packet is not None and packet.size == 0:
            continue  # FFmpeg's flush packet at the end: the next read says ended
        if failed or classify.is_stalled_read(elapsed, ctx.read_limit):
            ctx.fail(res, classify.classify_read_failure(len(arrivals), elapsed, ctx.read_limit))
            if not arrivals:
                ctx.ended_instead_of_decode_error(res)
            break
        if first_t is None:
            if not packet.is_keyframe:
                continue  # a joining client waits for the next keyframe (the decode path decodes garbage)
            key = _decode_key(stream, packet)
            if key is None:
                ctx.fail(res, classify.classify_read_failure(0, elapsed, ctx.read_limit))
                ctx.ended_instead_of_decode_error(res)
                break
            key_img, res.width, res.height = key
            first_t = t_got
            res.first_frame_ms = ctx.ms_since_start()
            ctx.progress("frames")
        else:
            window.append(packet)
        arrivals.append(t_got - first_t)
        sizes.append(int(packet.size))
        keyflags.append(bool(packet.is_keyframe))
    res.frames_decoded = len(arrivals)  # frames received (each one demuxed, the needed ones decoded)
    res.fps = classify.measured_fps(arrivals)
    if key_img is None:
        return
    span = arrivals[-1] if len(arrivals) >= 2 else 0.0
    profile = profile_of(sizes, keyflags, res.fps, span)
    res.bitrate_kbps = None if profile.bitrate_kbps is None else round(profile.bitrate_kbps, 1)
    res.packet_stats = {
        k: round(float(v), 1)
        for k, v in (
            ("key_bytes", profile.key_bytes),
            ("p_median_bytes", profile.p_median_bytes),
            ("packets", profile.packets),
        )
        if v is not None
    }
    full = depth.full
    res.depth = "full" if full else "light"
    if res.error is None and not full:
        why = looks_different(profile, depth.usual)
        if why is not None:
            full = True
            res.depth = "escalated"
            res.depth_reason = why
    frames: list[tuple[float, Any]] = [(0.0, key_img)]
    if full:  # also after a stall/end: the frames that came before it, as the decode path keeps them
        intra = stream.codec_context.name in INTRA_ONLY
        frames = _decode_window(
            stream, key_img, window, arrivals, settings.window_s, settings.max_frames, intra
        )
    if ctx.keep_frames:
        res.frames = [shrink(img, FRAME_MAX_WIDTH) for _, img in frames]
        res.frame_times = [t for t, _ in frames]
    res.thumbnail_jpeg = thumbnail(frames[-1][1])


def _bgr(frame: Any) -> Any:
    """A decoded frame as BGR, at most ``FRAME_MAX_WIDTH`` wide: scaled and converted in one pass by
    swscale (converting the full 720p picture first and resizing it after cost more than decoding it)."""
    from camsvc.probing.stream import FRAME_MAX_WIDTH

    w, h = int(frame.width), int(frame.height)
    if w <= FRAME_MAX_WIDTH:
        return frame.to_ndarray(format="bgr24")
    nh = max(2, round(h * FRAME_MAX_WIDTH / w))
    return frame.to_ndarray(width=FRAME_MAX_WIDTH, height=nh, format="bgr24", interpolation="AREA")


def _decode_key(stream: Any, packet: Any) -> tuple[Any, int, int] | None:
    """The keyframe as a (BGR array at most 640 px wide, width, height), or None when it does not decode."""
    try:
        for frame in stream.codec_context.decode(packet):
            return _bgr(frame), int(frame.width), int(frame.height)
    except Exception:
        return None
    return None


def _decode_window(
    stream: Any,
    key_img: Any,
    window: list[Any],
    arrivals: list[float],
    window_s: float,
    max_frames: int,
    intra: bool = False,
) -> list[tuple[float, Any]]:
    """Decode the buffered packets after the keyframe; convert only ``max_frames`` spread over the window
    (one per ``window_s / max_frames``), as the decode path keeps them. With an intra-only codec (MJPEG)
    only the kept frames are decoded. A frame that fails to decode ends the decoding (the picture checks
    get what decoded so far)."""
    kept: list[tuple[float, Any]] = [(0.0, key_img)]
    spacing = window_s / max_frames
    for packet, t in zip(window, arrivals[1:], strict=False):
        keep = len(kept) < max_frames and t >= len(kept) * spacing
        if intra and not keep:
            continue
        try:
            for frame in stream.codec_context.decode(packet):
                if keep:
                    kept.append((t, _bgr(frame)))
        except Exception:
            break
    return kept
