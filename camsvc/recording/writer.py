"""One camera's recorder: packets copied from the stream into fragmented MP4 segments (no decoding).

A session opens the URL with PyAV (RTSP over TCP, open and read timeouts), waits for the first keyframe and
copies every video packet into ``<root>/<camera>/<YYYY-MM-DD>/<HH>/<camera>-<stream>-<UTC>.mp4``
(fragmented MP4: ``frag_keyframe+empty_moov+default_base_moof``, so a SIGKILL loses at most the fragment
being written). A segment is cut at the first keyframe after ``segment_s``; inside each file timestamps
start at 0.

Times: the wall clock is read once, at the first packet after connecting (the *anchor*); a packet's UTC is
``anchor + (pts - anchor_pts) * time_base``. When that drifts from the wall clock by more than
``DRIFT_LIMIT_S`` (a camera whose clock runs fast or slow, a stream that stalled and resumed) the session
re-anchors at the next keyframe, which also starts a new segment, so every file keeps one linear mapping.

The session ends (returns its error) on a read timeout, the end of the stream or a write failure; the
supervisor restarts it with backoff. Nothing here sees a credential-free URL except through ``redacted``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from camsvc.redact import redact_text

log = logging.getLogger(__name__)

MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
DRIFT_LIMIT_S = 2.0
HEARTBEAT_S = 2.0
DEFAULT_FRAME_S = 0.2  # when neither the packet nor the stream says (5 fps)


@dataclass
class SegmentInfo:
    camera_id: str
    stream: str
    path: str  # relative to the recording root
    start: str  # ISO UTC
    end: str
    duration_s: float
    size: int
    sha256: str
    frames: int
    keyframes: int
    codec: str
    width: int | None
    height: int | None
    recovered: bool = False

    def as_event(self) -> dict[str, Any]:
        return {"event": "segment", **asdict(self)}


def utc_stamp(t: dt.datetime) -> str:
    t = t.astimezone(dt.UTC)
    return t.strftime("%Y%m%dT%H%M%S.") + f"{t.microsecond // 1000:03d}Z"


def segment_relpath(camera_id: str, stream: str, start: dt.datetime) -> str:
    """``<camera>/<YYYY-MM-DD>/<HH>/<camera>-<stream>-<YYYYMMDDTHHMMSS.mmmZ>.mp4`` (UTC of the first packet)."""
    t = start.astimezone(dt.UTC)
    return f"{camera_id}/{t:%Y-%m-%d}/{t:%H}/{camera_id}-{stream}-{utc_stamp(t)}.mp4"


def parse_relpath(rel: str) -> tuple[str, str, dt.datetime] | None:
    """(camera, stream, start) from a segment path; None when it is not one."""
    name = Path(rel).name
    if not name.endswith(".mp4"):
        return None
    stem = name[:-4]
    try:
        rest, stamp = stem.rsplit("-", 1)
        camera_id, stream = rest.rsplit("-", 1)
        start = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    if stream not in ("main", "sub"):
        return None
    return camera_id, stream, start


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class WriteFailed(Exception):
    """The segment could not be written (directory missing, not writable, disk full)."""


class _Segment:
    """One open segment file. Its UTC range is decided when it closes (the anchor may have been refined
    meanwhile); the file is then renamed to the UTC of its first packet if that moved."""

    def __init__(self, root: Path, camera_id: str, stream: str, start: dt.datetime, template: Any) -> None:
        import av

        self.root = root
        self.camera_id = camera_id
        self.stream = stream
        self.rel = segment_relpath(camera_id, stream, start)
        self.path = root / self.rel
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.out = av.open(
                str(self.path), "w", format="mp4", options={"movflags": MOVFLAGS, "flush_packets": "1"}
            )
        except (OSError, av.FFmpegError) as exc:
            raise WriteFailed(f"cannot write {self.rel}: {type(exc).__name__}: {exc}") from None
        try:
            self.ostream = self.out.add_stream_from_template(template)
        except Exception:
            self.out.close()
            raise
        self.base: int | None = None  # pts of the first packet (file timestamps start at 0)
        self.end_pts_s = 0.0  # seconds after the first packet where the last one ends
        self.frames = 0
        self.keyframes = 0

    def write(self, packet: Any, tb_s: float, dur_s: float) -> None:
        """*tb_s*: the stream's time base as a float (Fraction arithmetic per packet costs CPU)."""
        import av

        if self.base is None:
            self.base = packet.pts
        packet.pts -= self.base
        if packet.dts is not None:
            packet.dts -= self.base
        self.end_pts_s = max(self.end_pts_s, packet.pts * tb_s + dur_s)
        packet.stream = self.ostream
        try:
            self.out.mux(packet)
        except (OSError, av.FFmpegError) as exc:
            raise WriteFailed(f"cannot write {self.rel}: {type(exc).__name__}: {exc}") from None
        self.frames += 1
        self.keyframes += 1 if packet.is_keyframe else 0

    def close(self, start: dt.datetime, codec: str, width: int | None, height: int | None) -> SegmentInfo:
        import av

        try:
            self.out.close()
            rel = segment_relpath(self.camera_id, self.stream, start)
            if rel != self.rel:
                (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
                self.path.rename(self.root / rel)
                self.rel, self.path = rel, self.root / rel
        except (OSError, av.FFmpegError) as exc:
            raise WriteFailed(f"cannot close {self.rel}: {exc}") from None
        end = start + dt.timedelta(seconds=self.end_pts_s)
        return SegmentInfo(
            camera_id=self.camera_id,
            stream=self.stream,
            path=self.rel,
            start=start.isoformat(),
            end=end.isoformat(),
            duration_s=self.end_pts_s,
            size=self.path.stat().st_size,
            sha256=sha256_file(self.path),
            frames=self.frames,
            keyframes=self.keyframes,
            codec=codec,
            width=width,
            height=height,
        )

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            self.out.close()
        with contextlib.suppress(OSError):
            if self.frames == 0:
                self.path.unlink()


class Recorder:
    """One recording session of one camera (run in a thread by the worker).

    ``emit`` receives events (dicts, JSON-safe, no credentials): ``segment``, ``status`` (connected /
    heartbeat with ``last_packet_at`` and ``bytes``) and ``log``."""

    def __init__(
        self,
        camera_id: str,
        url: str,
        stream: str,
        root: Path,
        *,
        segment_s: float,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 15.0,
        emit: Callable[[dict[str, Any]], None],
        secrets: Iterable[str] = (),
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.camera_id = camera_id
        self._url = url
        self.stream = stream
        self.root = Path(root)
        self.segment_s = segment_s
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.emit = emit
        self.secrets = tuple(s for s in secrets if s)
        self.stop = stop or threading.Event()
        self.clock = clock

    def scrub(self, text: str) -> str:
        return redact_text(text, self.secrets)

    def run(self) -> str | None:
        """Record until stopped (returns None) or the stream/disk fails (returns the error, redacted)."""
        try:
            self._record()
        except WriteFailed as exc:
            return "write failed: " + self.scrub(str(exc))
        except Exception as exc:
            return self.scrub(f"{type(exc).__name__}: {exc}")
        return None if self.stop.is_set() else "stream ended"

    def _record(self) -> None:
        import av

        # Timeouts are FFmpeg's own socket options, not PyAV's ``timeout=`` (an interrupt callback into
        # Python, taking the GIL many times a second per camera: measured 50 % more CPU per camera).
        io_us = str(int(self.read_timeout_s * 1e6))
        options = {"analyzeduration": "1000000", "fflags": "nobuffer"}
        if self._url.lower().startswith("rtsp"):
            options.update({"rtsp_transport": "tcp", "timeout": io_us})
        else:
            options.update({"rw_timeout": io_us, "timeout": str(int(self.open_timeout_s * 1e6))})
        container = av.open(self._url, options=options)
        self._seg: _Segment | None = None
        self._prev_end: dt.datetime | None = None
        try:
            video = next((s for s in container.streams if s.type == "video"), None)
            if video is None:
                raise RuntimeError("no video stream")
            self._loop(container, video)
        finally:
            seg, self._seg = self._seg, None
            if seg is not None:  # stopped or failed mid-segment: close what was written, it stays valid
                try:
                    if seg.frames and seg.base is not None:
                        self._close(seg)
                    else:
                        seg.abandon()
                except Exception:
                    seg.abandon()
            container.close()

    def _close(self, seg: _Segment) -> None:
        assert seg.base is not None
        start = _utc(self._origin + seg.base * self._tb)
        if self._prev_end is not None and abs((start - self._prev_end).total_seconds()) < 1.0:
            start = self._prev_end  # the anchor was refined between the two: keep the run contiguous
        info = seg.close(start, self._codec, self._width, self._height)
        self._prev_end = dt.datetime.fromisoformat(info.end)
        self.emit(info.as_event())

    def _loop(self, container: Any, video: Any) -> None:
        """Copy packets. The anchor (``origin``: the wall clock of pts 0, epoch seconds) is the earliest that
        every packet's arrival allows, ``min(arrival - pts * tb)``: packets buffered while the stream was
        being opened arrive in a burst and would otherwise place the stream too late. A stream falling
        behind the wall clock by more than DRIFT_LIMIT_S is re-anchored (forward) at the next keyframe, in
        a new segment. Per packet only floats are used (no datetime, no Fraction): this loop runs for every
        packet of every camera."""
        tb = float(video.time_base or Fraction(1, 90000))
        self._tb = tb
        back_limit = int(5 / tb)
        self._codec = video.codec_context.name
        self._width = video.codec_context.width or None
        self._height = video.codec_context.height or None
        rate = video.average_rate or video.guessed_rate
        frame_s = float(1 / rate) if rate else DEFAULT_FRAME_S
        self.emit(
            {
                "event": "status",
                "camera_id": self.camera_id,
                "state": "connected",
                "codec": self._codec,
                "width": self._width,
                "height": self._height,
            }
        )
        self._origin = self.clock()
        anchored = False
        reanchor = False
        last_pts: int | None = None
        nbytes = 0
        last_beat = 0.0
        segment_s = self.segment_s
        stop = self.stop
        for packet in container.demux(video):
            if stop.is_set():
                break
            pts = packet.pts
            if pts is None or packet.size == 0:
                continue
            now = self.clock()
            nbytes += packet.size
            offset = pts * tb
            if last_pts is None:
                last_pts = pts
            elif pts < last_pts - back_limit:
                log.info("camera %s: stream timestamps went back: re-anchoring", self.camera_id)
                reanchor = True
            elif pts > last_pts:
                last_pts = pts
            if not anchored:
                self._origin, anchored = now - offset, True
            elif now - offset < self._origin and not reanchor:
                self._origin = now - offset  # arrived earlier than the anchor allowed: refine it
            lag = now - (self._origin + offset)
            if lag > DRIFT_LIMIT_S and not reanchor:
                log.info(
                    "camera %s: stream %.1f s behind the wall clock: re-anchoring at the next keyframe",
                    self.camera_id,
                    lag,
                )
                reanchor = True
            if packet.is_keyframe:
                seg = self._seg
                if seg is not None and (reanchor or (pts - (seg.base or pts)) * tb >= segment_s):
                    self._seg = None
                    self._close(seg)
                if reanchor:
                    self._origin, reanchor, last_pts = now - offset, False, pts
                    self._prev_end = None
                if self._seg is None:
                    self._seg = _Segment(
                        self.root, self.camera_id, self.stream, _utc(self._origin + offset), video
                    )
            if self._seg is None:
                continue  # waiting for the first keyframe
            self._seg.write(packet, tb, packet.duration * tb if packet.duration else frame_s)
            if now - last_beat >= HEARTBEAT_S:
                last_beat = now
                self.emit(
                    {
                        "event": "status",
                        "camera_id": self.camera_id,
                        "state": "recording",
                        "last_packet_at": _utc(now).isoformat(),
                        "bytes": nbytes,
                    }
                )


def _utc(epoch_s: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC)


def probe_file(root: Path, rel: str) -> SegmentInfo:
    """Index a segment file nobody closed (its recorder died): read its packets back (no decoding).

    Raises when the file cannot be read (e.g. killed before the first fragment was complete)."""
    import av

    parsed = parse_relpath(rel)
    if parsed is None:
        raise ValueError(f"not a segment file name: {rel}")
    camera_id, stream, start = parsed
    path = root / rel
    frames = keyframes = 0
    last_end = 0.0
    with av.open(str(path)) as c:
        video = c.streams.video[0]
        tb = video.time_base or Fraction(1, 90000)
        rate = video.average_rate or video.guessed_rate
        frame_s = float(1 / rate) if rate else DEFAULT_FRAME_S
        codec = video.codec_context.name
        width, height = video.codec_context.width or None, video.codec_context.height or None
        for p in c.demux(video):
            if p.pts is None or p.size == 0:
                continue
            frames += 1
            keyframes += 1 if p.is_keyframe else 0
            dur = float(p.duration * tb) if p.duration else frame_s
            last_end = max(last_end, float(p.pts * tb) + dur)
    if frames == 0:
        raise ValueError("no packets")
    end = start + dt.timedelta(seconds=last_end)
    return SegmentInfo(
        camera_id=camera_id,
        stream=stream,
        path=rel,
        start=start.isoformat(),
        end=end.isoformat(),
        duration_s=last_end,
        size=path.stat().st_size,
        sha256=sha256_file(path),
        frames=frames,
        keyframes=keyframes,
        codec=codec,
        width=width,
        height=height,
        recovered=True,
    )
