"""Vendor playback URLs the simulated cameras answer (pure: parsing and the kept-window check).

* Hikvision ``/Streaming/tracks/101?starttime=20261201T121000Z&endtime=20261201T124000Z`` (101 main,
  102 sub; UTC with ``Z``, or device local time without it).
* Dahua ``/cam/playback?channel=1&subtype=0&starttime=2026_12_01_19_10_00&endtime=...`` (subtype 0 main,
  1 sub; device local time).

The simulated devices' local time is Asia/Ho_Chi_Minh (the commune's). ``parse_playback`` returns None for a
path that is no playback URL at all, raises ``PlaybackError`` (-> 400) for a playback URL with a bad or
missing time, channel or track, and otherwise the stream and the UTC range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

DEVICE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HIK_PREFIX = "/Streaming/tracks/"
DAHUA_PATH = "/cam/playback"
_HIK_TRACKS = {"101": "main", "102": "sub"}
_DAHUA_SUBTYPES = {"0": "main", "1": "sub"}

__all__ = ["PlaybackError", "PlaybackRequest", "kept_overlap", "parse_playback"]


class PlaybackError(ValueError):
    """A playback URL with a malformed part (answered 400 Bad Request)."""


@dataclass(frozen=True)
class PlaybackRequest:
    vendor: str  # "hikvision" | "dahua"
    stream: str  # "main" | "sub"
    start: datetime  # aware UTC
    end: datetime

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


def _one(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name)
    if not values or len(values) != 1 or not values[0]:
        raise PlaybackError(f"{name} missing")
    return values[0]


def _hik_time(value: str) -> datetime:
    m = re.fullmatch(r"(\d{8}T\d{6})(Z?)", value)
    if not m:
        raise PlaybackError(f"bad time {value!r}: expected YYYYMMDDTHHMMSSZ")
    try:
        naive = datetime.strptime(m.group(1), "%Y%m%dT%H%M%S")
    except ValueError:
        raise PlaybackError(f"bad time {value!r}") from None
    aware = naive.replace(tzinfo=UTC) if m.group(2) else naive.replace(tzinfo=DEVICE_TZ)
    return aware.astimezone(UTC)


def _dahua_time(value: str) -> datetime:
    if not re.fullmatch(r"\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}", value):
        raise PlaybackError(f"bad time {value!r}: expected YYYY_MM_DD_HH_MM_SS")
    try:
        naive = datetime.strptime(value, "%Y_%m_%d_%H_%M_%S")
    except ValueError:
        raise PlaybackError(f"bad time {value!r}") from None
    return naive.replace(tzinfo=DEVICE_TZ).astimezone(UTC)


def parse_playback(path: str, query: str) -> PlaybackRequest | None:
    """The playback request in a URL's *path* and *query*; None when the path is no playback path."""
    q = parse_qs(query, keep_blank_values=True)
    if path.rstrip("/") == DAHUA_PATH:
        if _one(q, "channel") != "1":
            raise PlaybackError("only channel=1 exists")
        stream = _DAHUA_SUBTYPES.get(q.get("subtype", ["0"])[0])
        if stream is None:
            raise PlaybackError("subtype must be 0 (main) or 1 (sub)")
        vendor, parse = "dahua", _dahua_time
    elif path.startswith(HIK_PREFIX):
        track = path[len(HIK_PREFIX) :].rstrip("/")
        stream = _HIK_TRACKS.get(track)
        if stream is None:
            raise PlaybackError("track must be 101 (main) or 102 (sub)")
        vendor, parse = "hikvision", _hik_time
    else:
        return None
    start = parse(_one(q, "starttime"))
    end = parse(_one(q, "endtime"))
    if end <= start:
        raise PlaybackError("endtime must be after starttime")
    return PlaybackRequest(vendor, stream, start, end)


def kept_overlap(req: PlaybackRequest, kept_from_ms: int, now_ms: int) -> bool:
    """Whether any of the requested range lies in what the camera kept, [kept_from, now]."""
    return req.end_ms > kept_from_ms and req.start_ms < now_ms
