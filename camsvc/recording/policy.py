"""What camsvc records of a camera: pure functions of the camera row and the settings (no I/O).

- mode: the camera's ``recording_mode``, else its kind's default (roadside continuous, household off);
- stream: the camera's ``recording_stream``, else ``recording.stream``; ``sub`` falls back to ``main`` when
  the camera has no sub URL (and ``main`` to ``sub`` when it has only a sub URL);
- retention: the camera's ``retention_days``, else ``recording.retention_days[kind]`` (else 14 days).
"""

from __future__ import annotations

from typing import Any, Literal

from camsvc.enums import CameraKind, RecordingMode

Stream = Literal["main", "sub"]

KIND_DEFAULT_MODE: dict[str, RecordingMode] = {
    CameraKind.ROADSIDE.value: RecordingMode.CONTINUOUS,
    CameraKind.HOUSEHOLD.value: RecordingMode.OFF,
}
FALLBACK_RETENTION_DAYS = 14.0


def _kind(camera: Any) -> str:
    kind = getattr(camera, "kind", "")
    return str(getattr(kind, "value", kind))


def effective_mode(camera: Any, settings: Any) -> RecordingMode:
    """The camera's recording mode, else its kind's default (unknown kinds: off)."""
    mode = getattr(camera, "recording_mode", None)
    if mode:
        return RecordingMode(mode)
    return KIND_DEFAULT_MODE.get(_kind(camera), RecordingMode.OFF)


def effective_stream(camera: Any, settings: Any) -> Stream:
    """``main`` or ``sub``: the camera's choice, else the settings'; a stream the camera lacks falls back
    to the other one."""
    wanted = getattr(camera, "recording_stream", None) or _recording(settings).stream
    main, sub = getattr(camera, "main_url", "") or "", getattr(camera, "sub_url", "") or ""
    if wanted == "sub" and not sub and main:
        return "main"
    if wanted == "main" and not main and sub:
        return "sub"
    return "sub" if wanted == "sub" else "main"


def stream_url(camera: Any, stream: str) -> str:
    """The stored URL of *stream* (no credentials: the registry keeps them in CameraSecret)."""
    main, sub = getattr(camera, "main_url", "") or "", getattr(camera, "sub_url", "") or ""
    if stream == "sub":
        return sub or main
    return main or sub


def retention_days(camera: Any, settings: Any) -> float:
    own = getattr(camera, "retention_days", None)
    if own:
        return float(own)
    per_kind: dict[str, float] = _recording(settings).retention_days
    return float(per_kind.get(_kind(camera), FALLBACK_RETENTION_DAYS))


def stall_seconds(recording: Any) -> float:
    """The stall rule: ``recording.stall_s``, or max(120 s, 2 x segment_s + 30 s) when it is 0."""
    if recording.stall_s and recording.stall_s > 0:
        return float(recording.stall_s)
    return max(120.0, 2.0 * float(recording.segment_s) + 30.0)


def _recording(settings: Any) -> Any:
    return getattr(settings, "recording", settings)
