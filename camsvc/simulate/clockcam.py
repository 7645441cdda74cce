"""The clock camera's live encoder: one thread per stream draws the clock and encodes it with libx264 (PyAV).

Each frame is drawn at the wall-clock moment it shows (frames fall on multiples of 200 ms of the epoch at
5 fps), encoded at once (``tune=zerolatency``, no B-frames, a keyframe every ``GOP`` frames, an AUD per
access unit, SPS/PPS before every keyframe) and handed to ``sink(wall_ms, is_key, access_unit)``: the
GStreamer server child pushes it to the mount's live sessions and keeps it for playback. A thread that
falls behind skips frames rather than queueing them (a live camera does the same).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from camsvc.simulate.clock import draw_clock_gray

log = logging.getLogger(__name__)

FPS = 5
GOP = 10  # keyframe every 2 s
SIZES = {"main": (1280, 720), "sub": (640, 360)}

Sink = Callable[[int, bool, bytes], None]


def make_encoder(width: int, height: int, fps: int = FPS, gop: int = GOP) -> object:
    """A libx264 encoder context (Annex-B output, one access unit per frame)."""
    import av

    cc = av.CodecContext.create("libx264", "w")
    cc.width = width
    cc.height = height
    cc.pix_fmt = "yuv420p"
    cc.time_base = Fraction(1, fps)
    cc.framerate = Fraction(fps)
    cc.gop_size = gop
    cc.max_b_frames = 0
    cc.thread_count = 1  # one slice per frame (sliced threads split it), and one core is plenty here
    cc.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "crf": "28",
        "x264-params": f"aud=1:keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1:threads=1:sliced-threads=0",
    }
    cc.open()
    return cc


class ClockStream:
    """One live-encoded clock stream, run by its own daemon thread until ``stop()``."""

    def __init__(self, name: str, width: int, height: int, sink: Sink, fps: int = FPS) -> None:
        self.name = name
        self.width = width
        self.height = height
        self.sink = sink
        self.fps = fps
        self.frames = 0
        self.skipped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"clock-{name}", daemon=True)
        self._chroma = np.full((height // 2, width), 128, dtype=np.uint8)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        import av

        try:
            enc = make_encoder(self.width, self.height, self.fps)
        except Exception:
            log.exception("%s: cannot open the H.264 encoder", self.name)
            return
        step_ms = 1000 // self.fps
        next_ms = (int(time.time() * 1000) // step_ms + 1) * step_ms
        pts = 0
        while not self._stop.is_set():
            wait = next_ms / 1000 - time.time()
            if wait > 0 and self._stop.wait(wait):
                break
            now_ms = int(time.time() * 1000)
            if now_ms - next_ms > 2 * step_ms:  # fell behind (machine busy): skip to the present
                missed = (now_ms - next_ms) // step_ms
                self.skipped += missed
                next_ms += missed * step_ms
            y = draw_clock_gray(next_ms, self.width, self.height)
            frame = av.VideoFrame.from_ndarray(np.concatenate([y, self._chroma]), format="yuv420p")
            frame.pts = pts
            pts += 1
            try:
                packets = enc.encode(frame)  # type: ignore[attr-defined]
                for pkt in packets:
                    self.sink(next_ms, bool(pkt.is_keyframe), bytes(pkt))
            except Exception:
                if self._stop.is_set():
                    break
                log.exception("%s: encode/send failed", self.name)
                break
            self.frames += 1
            next_ms += step_ms


class ClockFrames:
    """The clock camera's HTTP snapshot: the clock now (JPEG, main size), same interface as SceneFrames."""

    fps: float = FPS

    def __init__(self, width: int = 1280, height: int = 720) -> None:
        self.width = width
        self.height = height

    def current(self, phase_s: float, fault: str, now: float | None = None) -> bytes:
        import cv2

        t = time.time() if now is None else now
        step_ms = 1000 // FPS
        ms = int(t * 1000) // step_ms * step_ms
        ok, buf = cv2.imencode(
            ".jpg", draw_clock_gray(ms, self.width, self.height), [cv2.IMWRITE_JPEG_QUALITY, 80]
        )
        if not ok:  # pragma: no cover - OpenCV always encodes a valid array
            raise RuntimeError("JPEG encode failed")
        return bytes(buf.tobytes())
