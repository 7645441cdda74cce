"""Materialise one case clip as one MP4 (stream copy with PyAV, video only, ``+faststart``).

Two sources:

- ``recorded``: camsvc's own segments overlapping the range (fragmented MP4, pts from 0, packet UTC =
  ``Segment.start + pts * time_base``; see /work CONTRACTS "Segment files"). The clip starts at the keyframe
  at or before the requested start (or at the first segment's first packet when the recording begins later)
  and ends with the first packet at or after the requested end; timestamps are made continuous across
  segments (a gap between segments is a jump in time, not a pause); gaps inside the range are listed.
- ``device``: the camera's own storage, replayed over RTSP by its vendor's playback template
  (``Settings.recording.playback`` keyed by the lower-case vendor). Credentials go only into the URL handed
  to PyAV; the stored and shown URL has none. Packets are read until the media passes the range's length, the
  device ends the stream, or a time budget (range length + margin) runs out. The device's own clock is not
  exposed over RTSP playback, so a device clip's times are anchored at the requested start.

A camera with neither gets ``no_source`` and a plain English sentence in ``detail`` (the UI translates by
status). ``plan_*`` / ``playback_url`` / ``gaps`` are pure; ``remux_recorded`` / ``fetch_device`` do the I/O;
``materialise`` reads and updates the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import av
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from camsvc import timefmt
from camsvc.cases.models import CaseClip
from camsvc.config import Settings
from camsvc.models import Camera, CameraSecret, utcnow
from camsvc.recording.index import gaps, segments_between
from camsvc.recording.models import Segment
from camsvc.redact import redact_text, redact_url, with_credentials

log = logging.getLogger(__name__)

# Our own segments carry their codec parameters in the moov: no stream analysis needed to copy their packets
# (an fMP4 open took 22 ms with it, 6 ms without; an export opens every segment of its range).
SEGMENT_OPEN = {"probesize": "32", "analyzeduration": "0"}
GAP_TOLERANCE_S = 1.0  # a hole shorter than this between segments is not a gap (frame jitter)
DEVICE_MARGIN_S = 30.0  # time budget of a device fetch beyond the range's length
DEVICE_TAIL_S = 10.0  # read at most this much media beyond the range's length (a device that never stops)
OPEN_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 10.0


class ClipError(RuntimeError):
    """Materialisation failed; the message is safe to show (no credentials)."""


@dataclass
class ClipOutcome:
    status: str  # ready | no_source | failed
    source: str  # recorded | device
    detail: str | None = None
    actual_start: dt.datetime | None = None
    actual_end: dt.datetime | None = None
    size: int | None = None
    sha256: str | None = None
    segments: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, str]] = field(default_factory=list)
    playback_url: str | None = None  # without credentials


# ---------------------------------------------------------------------------------------------- pure parts
def _secs(td: dt.timedelta) -> Fraction:
    """Exact seconds of a timedelta (microsecond resolution)."""
    return Fraction(td // dt.timedelta(microseconds=1), 1_000_000)


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fmt_time(t: dt.datetime, fmt: str, clock: str) -> str:
    t = t.astimezone(dt.UTC)
    if clock == "local":
        t = t.astimezone(ZoneInfo(timefmt.DEFAULT_TZ))
    return t.strftime(fmt)


def playback_url(
    camera: Camera,
    templates: dict[str, dict[str, str]],
    start: dt.datetime,
    end: dt.datetime,
    stream: str = "main",
) -> str | None:
    """The vendor playback URL for the range (no credentials), or None when the vendor has no template."""
    tpl = templates.get((camera.vendor or "").strip().lower())
    base = camera.main_url or camera.sub_url
    if not tpl or not tpl.get("template") or not base:
        return None
    parts = urlsplit(base)
    scheme = parts.scheme or "rtsp"
    port = parts.port or (554 if scheme.startswith("rtsp") else 80)
    fmt = tpl.get("time_format", "%Y%m%dT%H%M%SZ")
    clock = tpl.get("clock", "utc")
    try:
        return _fill(tpl["template"], scheme, parts.hostname or "", port, stream, start, end, fmt, clock)
    except (KeyError, IndexError, ValueError) as exc:
        raise ClipError(
            f"the playback template for vendor {camera.vendor!r} is invalid ({type(exc).__name__}: {exc}); "
            "placeholders: {scheme} {host} {port} {channel} {track} {subtype} {start} {end}"
        ) from None


def _fill(
    template: str,
    scheme: str,
    host: str,
    port: int,
    stream: str,
    start: dt.datetime,
    end: dt.datetime,
    fmt: str,
    clock: str,
) -> str:
    return template.format(
        scheme=scheme,
        host=host,
        port=port,
        channel=1,
        track=101 if stream == "main" else 102,
        subtype=0 if stream == "main" else 1,
        start=_fmt_time(start.replace(microsecond=0), fmt, clock),  # whole seconds: the start floored,
        end=_fmt_time(
            _ceil_s(end), fmt, clock
        ),  # the end rounded up, so the range asked covers the one wanted
    )


def _ceil_s(t: dt.datetime) -> dt.datetime:
    return t if t.microsecond == 0 else t.replace(microsecond=0) + dt.timedelta(seconds=1)


# ---------------------------------------------------------------------------------------------- I/O: remux
@dataclass
class SegmentFile:
    path: Path
    rel: str
    start: dt.datetime
    end: dt.datetime
    sha256: str
    size: int


@dataclass
class Written:
    actual_start: dt.datetime
    actual_end: dt.datetime
    used: list[SegmentFile]
    packets: int


def _sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


class _Muxer:
    """One output MP4; packets are given with their time in seconds from the clip's origin."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.container: Any = av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"})
        self.stream: Any = None
        self.tb = Fraction(1, 90000)
        self.last_dts: int | None = None
        self.packets = 0

    def add(self, template: Any) -> None:
        if self.stream is None:
            self.stream = self.container.add_stream_from_template(template)

    def write(self, packet: Any, pts_s: Fraction, dts_s: Fraction, dur_s: Fraction | None) -> None:
        pts = round(pts_s / self.tb)
        dts = round(dts_s / self.tb)
        if self.last_dts is not None and dts <= self.last_dts:
            dts = self.last_dts + 1
            pts = max(pts, dts)
        packet.stream = self.stream
        packet.time_base = self.tb
        packet.pts = pts
        packet.dts = dts
        if dur_s is not None:
            packet.duration = round(dur_s / self.tb)
        self.container.mux(packet)
        self.last_dts = dts
        self.packets += 1

    def close(self) -> None:
        self.container.close()


def _video(container: Any) -> Any:
    if not container.streams.video:
        raise ClipError("no video stream")
    return container.streams.video[0]


def _first_packet_index(seg: SegmentFile, start: dt.datetime) -> int:
    """Index (among packets with a dts) of the keyframe at or before *start* in the segment (0 if none)."""
    off = _secs(seg.start - start)
    best = 0
    with av.open(str(seg.path), options=SEGMENT_OPEN) as c:
        vs = _video(c)
        tb = vs.time_base
        i = -1
        for pkt in c.demux(vs):
            if pkt.dts is None:
                continue
            i += 1
            if pkt.pts is None:
                continue
            if off + pkt.pts * tb > 0:
                break
            if pkt.is_keyframe:
                best = i
    return best


def remux_recorded(
    segments: Sequence[SegmentFile], start: dt.datetime, end: dt.datetime, out: Path
) -> Written:
    """Copy the packets of *segments* covering [start, end] into *out* (see the module's rules)."""
    if not segments:
        raise ClipError("no segments")
    span = _secs(end - start)
    skip = _first_packet_index(segments[0], start) if segments[0].start <= start else 0
    mux = _Muxer(out)
    origin: Fraction | None = None  # seconds from *start* of the first packet written
    last_end: Fraction | None = None
    used: list[SegmentFile] = []
    done = False
    try:
        for n, seg in enumerate(segments):
            off = _secs(seg.start - start)
            with av.open(str(seg.path), options=SEGMENT_OPEN) as c:
                vs = _video(c)
                mux.add(vs)
                tb = vs.time_base
                i = -1
                wrote = False
                for pkt in c.demux(vs):
                    if pkt.dts is None or pkt.pts is None:
                        continue
                    i += 1
                    if n == 0 and i < skip:
                        continue
                    t = off + pkt.pts * tb
                    td = off + pkt.dts * tb
                    if last_end is not None and t < last_end - Fraction(1, 1000) and origin is not None:
                        continue  # overlaps what is already written (segments should not overlap)
                    if origin is None:
                        if not pkt.is_keyframe:
                            continue
                        origin = t
                    dur = pkt.duration * tb if pkt.duration else None
                    mux.write(pkt, t - origin, td - origin, dur)
                    wrote = True
                    last_end = t + (dur or 0)
                    if t >= span:
                        done = True
                        break
                if wrote:
                    used.append(seg)
            if done:
                break
    finally:
        mux.close()
    if origin is None or last_end is None:
        out.unlink(missing_ok=True)
        raise ClipError("the segments hold no packet for this range")
    return Written(
        actual_start=start + dt.timedelta(seconds=float(origin)),
        actual_end=start + dt.timedelta(seconds=float(last_end)),
        used=used,
        packets=mux.packets,
    )


# ---------------------------------------------------------------------------------------------- I/O: device
def _not_found(exc: Exception) -> bool:
    name = type(exc).__name__
    return "NotFound" in name or "404" in str(exc)


def fetch_device(
    url: str,
    start: dt.datetime,
    end: dt.datetime,
    out: Path,
    *,
    secrets: Sequence[str] = (),
    budget_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    stop: Callable[[], bool] = lambda: False,
    tail_s: float = DEVICE_TAIL_S,
) -> tuple[Written | None, str | None]:
    """Read the device's playback of [start, end] into *out*. Returns (written, None) or (None, reason) when
    the device answers with nothing (404, no packets). Other errors raise ClipError (redacted)."""
    span = _secs(end - start)
    budget = budget_s if budget_s is not None else float(span) + DEVICE_MARGIN_S
    deadline = clock() + budget
    try:
        c: Any = av.open(url, options={"rtsp_transport": "tcp"}, timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S))
    except av.error.FFmpegError as exc:
        if _not_found(exc):
            return None, "the camera has no recording for this time range (it answered 404 Not Found)"
        raise ClipError(
            f"the camera's playback could not be opened: {redact_text(str(exc), secrets)}"
        ) from None
    mux: _Muxer | None = None
    origin: Fraction | None = None
    last_end: Fraction | None = None
    try:
        with c:
            if not c.streams.video:
                return None, "the camera's playback has no video"
            vs = c.streams.video[0]
            tb = vs.time_base
            mux = _Muxer(out)
            mux.add(vs)
            try:
                for pkt in c.demux(vs):
                    if clock() > deadline:
                        log.info("device fetch stopped at its time budget (%.0f s)", budget)
                        break
                    if stop():
                        raise ClipError("the service stopped during the fetch")
                    if pkt.dts is None or pkt.pts is None:
                        continue
                    t = Fraction(pkt.pts) * tb
                    if origin is None:
                        if not pkt.is_keyframe:
                            continue
                        origin = t
                    rel = t - origin
                    dur = pkt.duration * tb if pkt.duration else None
                    mux.write(pkt, rel, Fraction(pkt.dts) * tb - origin, dur)
                    last_end = rel + (dur or 0)
                    if rel >= span + Fraction(tail_s):
                        break
            except av.error.FFmpegError as exc:  # the device dropped the stream: keep what came
                if origin is None:
                    raise ClipError(
                        f"the camera's playback failed: {redact_text(str(exc), secrets)}"
                    ) from None
                log.info("device playback ended with an error after data: %s", redact_text(str(exc), secrets))
    finally:
        if mux is not None:
            mux.close()
    if origin is None or last_end is None:
        out.unlink(missing_ok=True)
        return None, "the camera returned no footage for this time range"
    return (
        Written(
            actual_start=start,
            actual_end=start + dt.timedelta(seconds=float(last_end)),
            used=[],
            packets=mux.packets if mux else 0,
        ),
        None,
    )


# ---------------------------------------------------------------------------------------------- materialise
def clip_path(settings: Settings, clip: CaseClip) -> tuple[Path, str]:
    rel = f"{clip.case_id}/clip-{clip.id}-{clip.camera_id}.mp4"
    return settings.cases_dir / rel, rel


def _is_recorded(camera: Camera, settings: Settings) -> bool:
    try:
        from camsvc.recording.policy import effective_mode  # owner: rec (CONTRACTS)

        return str(getattr(effective_mode(camera, settings), "value", effective_mode(camera, settings))) == (
            "continuous"
        )
    except ImportError:  # until rec's policy lands: the kind's default
        mode = camera.recording_mode
        if mode is not None:
            return str(getattr(mode, "value", mode)) == "continuous"
        return str(getattr(camera.kind, "value", camera.kind)) == "roadside"


def wait_for_segments(
    engine: Engine,
    settings: Settings,
    camera_id: str,
    end: dt.datetime,
    *,
    stop: Callable[[], bool] = lambda: False,
    poll_s: float = 2.0,
) -> bool:
    """For a recorded camera whose range is still being recorded: wait (bounded by two segment lengths plus
    30 s after *end*) until a closed segment reaches *end*. True when one does."""
    deadline_utc = end + dt.timedelta(seconds=2 * settings.recording.segment_s + 30)
    limit = time.monotonic() + max(0.0, (deadline_utc - utcnow()).total_seconds())
    while True:
        with Session(engine) as s:
            newest = s.exec(
                select(Segment.end).where(Segment.camera_id == camera_id).order_by(col(Segment.end).desc())
            ).first()
        if newest is not None and newest >= end:
            return True
        if time.monotonic() >= limit or stop():
            return False
        time.sleep(min(poll_s, max(0.05, limit - time.monotonic())))


def materialise(
    engine: Engine, settings: Settings, clip_id: int, stop: Callable[[], bool] = lambda: False
) -> str:
    """Make the clip's MP4 and record the outcome on its row; returns the final status."""
    with Session(engine) as s:
        clip = s.get(CaseClip, clip_id)
        if clip is None:
            return "gone"
        cam = s.get(Camera, clip.camera_id)
        if cam is None:
            return _finish(engine, clip_id, ClipOutcome("no_source", "recorded", detail="the camera is gone"))
        start, end = clip.start, clip.end
        out, rel = clip_path(settings, clip)
        recorded = _is_recorded(cam, settings)
    if recorded and end > utcnow() - dt.timedelta(seconds=5):
        _set(engine, clip_id, status="pending", detail="waiting for the recording of this range to close")
    if recorded:
        wait_for_segments(engine, settings, cam.id, end, stop=stop)
    with Session(engine) as s:
        segs = segments_between(s, cam.id, start, end)
        secret = s.get(CameraSecret, cam.id)
        user, password = (secret.username, secret.password) if secret else ("", "")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    try:
        if segs:
            outcome = _from_segments(settings, segs, start, end, tmp)
        else:
            outcome = _from_device(engine, settings, clip_id, cam, start, end, tmp, user, password, stop)
        if outcome.status == "ready":
            os.replace(tmp, out)
            outcome.sha256, outcome.size = _sha256(out)
    except ClipError as exc:
        if stop():  # the service is stopping: queued again at the next start (JobRunner.start)
            outcome = ClipOutcome(
                "pending", "recorded" if segs else "device", detail="interrupted: retried at start"
            )
        else:
            outcome = ClipOutcome("failed", "recorded" if segs else "device", detail=str(exc))
    except Exception as exc:
        detail = redact_text(f"{type(exc).__name__}: {exc}", [password])
        log.error("clip %s failed: %s", clip_id, detail)  # no traceback: its frames could hold the URL
        outcome = ClipOutcome("failed", "recorded" if segs else "device", detail=detail)
    finally:
        tmp.unlink(missing_ok=True)
    return _finish(engine, clip_id, outcome, rel if outcome.status == "ready" else None)


def _from_segments(
    settings: Settings, segs: Sequence[Segment], start: dt.datetime, end: dt.datetime, tmp: Path
) -> ClipOutcome:
    files = [
        SegmentFile(settings.recording_dir / s.path, s.path, s.start, s.end, s.sha256, s.size)
        for s in segs
        if (settings.recording_dir / s.path).exists()
    ]
    holes = [{"start": iso(a), "end": iso(b)} for a, b in gaps([(f.start, f.end) for f in files], start, end)]
    if not files:
        raise ClipError("the recorded segments for this range are missing on disk")
    for f in files:  # the chain of custody: each source is the file the recorder closed and hashed
        digest, size = _sha256(f.path)
        if f.sha256 and (digest != f.sha256 or size != f.size):
            raise ClipError(
                f"segment {f.rel} changed on disk since it was recorded (sha256 {digest}, indexed {f.sha256})"
            )
    w = remux_recorded(files, start, end, tmp)
    return ClipOutcome(
        "ready",
        "recorded",
        actual_start=w.actual_start,
        actual_end=w.actual_end,
        segments=[
            {"path": f.rel, "start": iso(f.start), "end": iso(f.end), "sha256": f.sha256, "size": f.size}
            for f in w.used
        ],
        gaps=holes,
    )


def _from_device(
    engine: Engine,
    settings: Settings,
    clip_id: int,
    cam: Camera,
    start: dt.datetime,
    end: dt.datetime,
    tmp: Path,
    user: str,
    password: str,
    stop: Callable[[], bool] = lambda: False,
) -> ClipOutcome:
    stream = cam.recording_stream or "main"
    url = playback_url(cam, settings.recording.playback, start, end, stream)
    if url is None:
        vendor = cam.vendor or "unknown"
        return ClipOutcome(
            "no_source",
            "device",
            detail=f"not recorded by camsvc for this range, and no playback template for vendor {vendor!r}: "
            "the camera's own storage cannot be fetched",
        )
    shown = redact_url(url)
    _set(engine, clip_id, status="fetching", source="device", detail=None)
    w, reason = fetch_device(
        with_credentials(url, user, password), start, end, tmp, secrets=[password], stop=stop
    )
    if w is None:
        return ClipOutcome("no_source", "device", detail=reason, playback_url=shown)
    holes = [{"start": iso(a), "end": iso(b)} for a, b in gaps([(w.actual_start, w.actual_end)], start, end)]
    return ClipOutcome(
        "ready",
        "device",
        actual_start=w.actual_start,
        actual_end=w.actual_end,
        gaps=holes,
        playback_url=shown,
    )


def _set(engine: Engine, clip_id: int, **values: Any) -> None:
    from camsvc.cases.service import update_row

    update_row(engine, CaseClip, clip_id, **values)


def _finish(engine: Engine, clip_id: int, o: ClipOutcome, rel: str | None = None) -> str:
    segments: Any = o.segments
    if o.playback_url:
        segments = {"playback_url": o.playback_url}
    _set(
        engine,
        clip_id,
        status=o.status,
        source=o.source,
        detail=o.detail,
        path=rel,
        actual_start=o.actual_start,
        actual_end=o.actual_end,
        size=o.size,
        sha256=o.sha256,
        segments_json=json.dumps(segments),
        gaps_json=json.dumps(o.gaps),
        ready_at=utcnow() if o.status == "ready" else None,
    )
    return o.status
