"""The project's shared vocabularies: plain enums, no ORM, no I/O.

The lowest module of the tree: the pure core (``health/state.py``, ``health/uptime.py``), the prober, the
tables (``camsvc.models``) and the API all take their states and kinds from here.
"""

from __future__ import annotations

from enum import StrEnum


class CameraKind(StrEnum):
    ROADSIDE = "roadside"
    HOUSEHOLD = "household"


class HealthState(StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    MAINTENANCE = "maintenance"


class ErrorClass(StrEnum):
    """Why a probe failed, in classes a technician can act on."""

    REFUSED = "refused"  # nothing listens: camera off, port closed, power cut
    TIMEOUT = "timeout"  # no answer in time: no route, hung device
    AUTH = "auth"  # wrong username/password
    NOT_FOUND = "not_found"  # wrong path / channel
    NO_VIDEO = "no_video"  # connected, but no video stream in it
    STALLED = "stalled"  # stream started, then stopped delivering frames, connection open
    ENDED = "ended"  # server ended the stream
    DECODE_ERROR = "decode_error"  # bytes arrived but frames do not decode (or the decoder crashed)
    INVALID_URL = "invalid_url"  # not rtsp/rtsps/http/https, or malformed


class StreamKind(StrEnum):
    RTSP = "rtsp"
    MJPEG = "mjpeg"
    SNAPSHOT = "snapshot"


class RecordingMode(StrEnum):
    """What camsvc records of a camera (issue 10). A camera with none set takes its kind's default."""

    CONTINUOUS = "continuous"
    OFF = "off"


class ClipSource(StrEnum):
    """Where a case clip's footage comes from."""

    RECORDED = "recorded"  # camsvc's own segments
    DEVICE = "device"  # the camera's own storage, replayed over RTSP (vendor playback template)
