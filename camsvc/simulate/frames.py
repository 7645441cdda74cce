"""JPEG frames for the HTTP side of cameras (MJPEG streams, snapshot URLs), picture faults applied per frame."""

from __future__ import annotations

import time

import cv2
import numpy as np

from camsvc.simulate.faults import LOWFPS, apply_picture_fault

FROZEN_INDEX = 12  # the frame a frozen camera keeps sending (same as the RTSP variant)
_CACHEABLE = ("black", "blurred", "covered", "turned")


class SceneFrames:
    """A scene's looped JPEG frames; faulted versions are made on demand and cached when deterministic."""

    def __init__(self, frames: list[bytes], fps: float) -> None:
        if not frames:
            raise ValueError("a scene needs at least one frame")
        self.frames = frames
        self.fps = fps
        self._cache: dict[tuple[str, int], bytes] = {}
        self._rng = np.random.default_rng(7)

    def index_at(self, t: float, phase_s: float, fault: str) -> int:
        if fault == "frozen":
            return FROZEN_INDEX % len(self.frames)
        if fault == "lowfps":  # one new picture per second
            return int(int(t + phase_s) * LOWFPS * self.fps) % len(self.frames)
        return int((t + phase_s) * self.fps) % len(self.frames)

    def jpeg(self, index: int, fault: str) -> bytes:
        if fault in ("normal", "frozen", "lowfps") or fault not in (*_CACHEABLE, "snow"):
            return self.frames[index]
        key = (fault, index)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        frame = cv2.imdecode(np.frombuffer(self.frames[index], np.uint8), cv2.IMREAD_COLOR)
        if frame is None:  # pragma: no cover - frames come from ffmpeg's own JPEG encoder
            return self.frames[index]
        out = apply_picture_fault(frame, fault, self._rng)
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if not ok:  # pragma: no cover - OpenCV always encodes a valid array
            return self.frames[index]
        data = buf.tobytes()
        if fault in _CACHEABLE:
            self._cache[key] = data
        return data

    def current(self, phase_s: float, fault: str, now: float | None = None) -> bytes:
        t = time.time() if now is None else now
        return self.jpeg(self.index_at(t, phase_s, fault), fault)
