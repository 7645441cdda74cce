"""Times are stored in UTC and shown in the commune's zone (Asia/Ho_Chi_Minh)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Asia/Ho_Chi_Minh"


def local(t: dt.datetime | None, tz: str = DEFAULT_TZ) -> dt.datetime | None:
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(ZoneInfo(tz))


def local_str(t: dt.datetime | None, tz: str = DEFAULT_TZ, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    lt = local(t, tz)
    return lt.strftime(fmt) if lt else ""


def parse_utc(text: str) -> dt.datetime:
    """ISO 8601 in; naive input is taken as UTC."""
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)
