"""The faults a simulated camera can show, and how each looks at the protocol and picture level.

Protocol faults are played by the per-camera front (proxy.py): ``down`` closes the listener (connection
refused), ``hang`` accepts and never answers, ``stall`` stops sending mid-stream with the connection open,
``ended`` ends the stream (RTSP: EOS -> RTCP BYE from the server; HTTP: the server closes), ``auth`` refuses
every credential with 401. Picture faults change the pixels: RTSP cameras switch to a pre-encoded variant
(ffmpeg filters below, no re-encoding while serving), HTTP cameras get the same effect per frame with
OpenCV (:func:`apply_picture_fault`). Pure: no I/O.
"""

from __future__ import annotations

import cv2
import numpy as np

NORMAL = "normal"
PROTOCOL_FAULTS = ("down", "hang", "stall", "ended", "auth")
PICTURE_FAULTS = ("black", "frozen", "blurred", "covered", "snow", "turned", "lowfps")
FAULTS: tuple[str, ...] = (NORMAL, *PROTOCOL_FAULTS, *PICTURE_FAULTS)

DESCRIPTIONS: dict[str, str] = {
    "normal": "healthy camera",
    "down": "port closed: connection refused (power cut, camera off)",
    "hang": "accepts the TCP connection, never answers",
    "stall": "stream starts, then stops mid-way; the connection stays open",
    "ended": "the server ends the stream after about a second",
    "auth": "credentials refused: 401",
    "black": "black picture",
    "frozen": "the same frame over and over",
    "blurred": "out of focus (gaussian blur)",
    "covered": "lens covered: dark grey with noise",
    "snow": "analog snow / noise",
    "turned": "camera knocked: view shifted and rotated",
    "lowfps": "1 frame per second",
}

# Seconds a session plays before ``stall`` / ``ended`` take effect on it.
STALL_AFTER_S = 1.0
ENDED_AFTER_S = 1.0
LOWFPS = 1.0

# ffmpeg filter (applied to the scene's 1280x720 frames) and output frame rate of each RTSP picture fault.
RTSP_PICTURE_FILTERS: dict[str, tuple[str, float]] = {
    "black": ("lutyuv=y=18:u=128:v=128,noise=alls=3:allf=t", 5.0),
    "frozen": ("trim=start_frame=12:end_frame=13,loop=loop=-1:size=1:start=0,setpts=N/5/TB", 5.0),
    "blurred": ("gblur=sigma=10", 5.0),
    "covered": ("drawbox=x=0:y=0:w=iw:h=ih:color=0x303030@0.97:t=fill,noise=alls=10:allf=t", 5.0),
    "snow": ("geq=lum='random(1)*255':cb=128:cr=128", 5.0),
    "turned": ("crop=iw*0.72:ih*0.72:iw*0.28:ih*0.04,scale=1280:720,rotate=0.12:fillcolor=black", 5.0),
    "lowfps": (f"fps={LOWFPS:g}", LOWFPS),
}


def check_fault(name: str) -> str:
    """*name* if it is a known fault, else ValueError listing the valid ones."""
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; valid faults: {', '.join(FAULTS)}")
    return name


def apply_picture_fault(frame: np.ndarray, fault: str, rng: np.random.Generator) -> np.ndarray:
    """The frame as a camera with picture *fault* would send it (BGR uint8). ``frozen``/``lowfps`` are
    about timing and are handled by the caller; they return the frame unchanged."""
    if fault == "black":
        noise = rng.integers(0, 4, size=frame.shape[:2], dtype=np.uint8)
        return cv2.merge([noise + 12, noise + 12, noise + 12])
    if fault == "blurred":
        return cv2.GaussianBlur(frame, (0, 0), sigmaX=10)
    if fault == "covered":
        grey = np.full(frame.shape, 0x30, dtype=np.int16)
        grey = (grey * 0.97 + frame.astype(np.int16) * 0.03).astype(np.int16)
        grey += rng.normal(0, 3, size=frame.shape[:2]).astype(np.int16)[..., None]
        return np.clip(grey, 0, 255).astype(np.uint8)
    if fault == "snow":
        lum = rng.integers(0, 256, size=frame.shape[:2], dtype=np.uint8)
        return cv2.merge([lum, lum, lum])
    if fault == "turned":
        h, w = frame.shape[:2]
        crop = frame[int(h * 0.04) : int(h * 0.76), int(w * 0.28) :]
        crop = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), np.degrees(0.12), 1.0)
        return cv2.warpAffine(crop, m, (w, h), borderValue=(0, 0, 0))
    return frame
