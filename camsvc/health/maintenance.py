"""Maintenance windows and silences: pure rules (no I/O, no clock), plus the schemas that validate them.

A window covers one camera (``camera_id``), one hamlet (``hamlet``) or everything (neither). It is either
one-off (``starts_at`` .. ``ends_at``, open-ended when ``ends_at`` is empty) or recurring: inside
``starts_at`` .. ``ends_at``, on the given ``weekdays`` (Monday = 0), during the daily local time range
``daily_start`` .. ``daily_end`` ("HH:MM" in the commune's zone; a range such as 22:00-06:00 runs past
midnight and belongs to the day it starts). A silence is a window with a reason, usually one-off.

The check processing asks :func:`active_for` at every check; inside a window the camera is ``maintenance``
and nothing is alerted; when the window ends the state machine starts afresh and a camera still broken is
alerted then.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from pydantic import field_validator, model_validator
from sqlmodel import Field, SQLModel

from camsvc.models import MaintenanceWindow

_HHMM_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DAY_NAMES = {
    "mon": 0,
    "tue": 1,
    "wed": 2,
    "thu": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
    # Vietnamese: thứ hai (T2) = Monday ... chủ nhật (CN) = Sunday
    "t2": 0,
    "t3": 1,
    "t4": 2,
    "t5": 3,
    "t6": 4,
    "t7": 5,
    "cn": 6,
}


def _zone(tz: str | dt.tzinfo) -> dt.tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def parse_hhmm(text: str) -> int:
    """'HH:MM' -> minutes after midnight; ValueError naming the problem otherwise."""
    m = _HHMM_RE.match(text.strip())
    if not m:
        raise ValueError(f"time of day must be HH:MM (00:00-23:59), not {text!r}")
    return int(m.group(1)) * 60 + int(m.group(2))


def parse_weekdays(text: str) -> list[int]:
    """'0,1,2' / 'mon,tue' / 'mon-fri' / 't2-t6' / 'cn' -> sorted weekday numbers (Monday = 0)."""
    days: set[int] = set()
    for raw in text.replace(" ", "").lower().split(","):
        if not raw:
            continue
        lo, sep, hi = raw.partition("-")
        a = _day(lo)
        b = _day(hi) if sep else a
        if b < a:
            days.update(range(a, 7))
            days.update(range(0, b + 1))
        else:
            days.update(range(a, b + 1))
    if not days:
        raise ValueError("weekdays is empty")
    return sorted(days)


def _day(token: str) -> int:
    if token.isdigit() and 0 <= int(token) <= 6:
        return int(token)
    if token in _DAY_NAMES:
        return _DAY_NAMES[token]
    if len(token) > 3 and token[:3] in _DAY_NAMES:  # monday, tuesday, ...
        return _DAY_NAMES[token[:3]]
    raise ValueError(f"unknown weekday {token!r} (use 0-6 with Monday = 0, mon..sun, or t2..t7/cn)")


def _weekday_set(text: str | None) -> set[int] | None:
    """Lenient parse for stored values (already validated): None means every day."""
    if not text:
        return None
    out: set[int] = set()
    for tok in text.split(","):
        tok = tok.strip()
        if tok.isdigit():
            out.add(int(tok) % 7)
    return out or None


def _minutes(text: str | None, default: int) -> int:
    if not text:
        return default
    try:
        return parse_hhmm(text)
    except ValueError:
        return default


def is_recurring(w: MaintenanceWindow) -> bool:
    return bool(w.weekdays or w.daily_start or w.daily_end)


def covers(w: MaintenanceWindow, camera_id: str, hamlet: str | None) -> bool:
    """Does the window's scope include this camera?"""
    if w.camera_id:
        return w.camera_id == camera_id
    if w.hamlet:
        return bool(hamlet) and w.hamlet == hamlet
    return True


def is_active(w: MaintenanceWindow, now_utc: dt.datetime, tz: str | dt.tzinfo) -> bool:
    """Is the window in force at ``now_utc`` (aware)?"""
    if now_utc < w.starts_at:
        return False
    if w.ends_at is not None and now_utc >= w.ends_at:
        return False
    if not is_recurring(w):
        return True
    local = now_utc.astimezone(_zone(tz))
    days = _weekday_set(w.weekdays)
    wd = local.weekday()
    if not (w.daily_start or w.daily_end):
        return days is None or wd in days
    start = _minutes(w.daily_start, 0)
    end = _minutes(w.daily_end, 24 * 60)
    m = local.hour * 60 + local.minute

    def day_ok(d: int) -> bool:
        return days is None or d in days

    if start < end:
        return start <= m < end and day_ok(wd)
    # runs past midnight (or a full day when start == end): the part after midnight belongs to yesterday
    return (m >= start and day_ok(wd)) or (m < end and day_ok((wd - 1) % 7))


def active_for(
    windows: Iterable[MaintenanceWindow],
    camera_id: str,
    hamlet: str | None,
    now_utc: dt.datetime,
    tz: str | dt.tzinfo,
) -> MaintenanceWindow | None:
    """The first window (lowest id) that covers this camera at ``now_utc``, or None."""
    found: MaintenanceWindow | None = None
    for w in windows:
        earlier = found is None or (w.id or 0) < (found.id or 0)
        if earlier and covers(w, camera_id, hamlet) and is_active(w, now_utc, tz):
            found = w
    return found


def describe(w: MaintenanceWindow, tz: str | dt.tzinfo) -> str:
    """A short English description: scope and time, for listings and logs."""
    zone = _zone(tz)
    scope = f"camera {w.camera_id}" if w.camera_id else f"hamlet {w.hamlet}" if w.hamlet else "all cameras"
    fmt = "%Y-%m-%d %H:%M"
    span = f"from {w.starts_at.astimezone(zone).strftime(fmt)}"
    span += f" to {w.ends_at.astimezone(zone).strftime(fmt)}" if w.ends_at else " (no end)"
    if is_recurring(w):
        days = _weekday_set(w.weekdays)
        names = "every day" if days is None else ",".join(list(_DAY_NAMES)[d] for d in sorted(days))
        span += f", {names} {w.daily_start or '00:00'}-{w.daily_end or '24:00'}"
    return f"{scope} {span}"


# ---------------------------------------------------------------------------------------------- schemas
class WindowBase(SQLModel):
    camera_id: str | None = Field(
        default=None, max_length=64, description="One camera (or hamlet, or neither)"
    )
    hamlet: str | None = Field(default=None, max_length=100, description="Every camera of a hamlet")
    starts_at: dt.datetime | None = Field(default=None, description="Default: now. Naive = local time")
    ends_at: dt.datetime | None = Field(default=None, description="Empty: until removed. Naive = local time")
    weekdays: str | None = Field(default=None, description="Recurring: '0-4', 'mon,wed', 't2-t6' (Mon = 0)")
    daily_start: str | None = Field(default=None, description="Recurring: local HH:MM")
    daily_end: str | None = Field(default=None, description="Recurring: local HH:MM (may be past midnight)")
    reason: str = Field(default="", max_length=500)
    created_by: str = Field(default="", max_length=200)

    @field_validator("camera_id", "hamlet", "weekdays", "daily_start", "daily_end")
    @classmethod
    def _blank(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, v: str | None) -> str | None:
        return ",".join(map(str, parse_weekdays(v))) if v else None

    @field_validator("daily_start", "daily_end")
    @classmethod
    def _hhmm(cls, v: str | None) -> str | None:
        if v is None:
            return None
        minutes = parse_hhmm(v)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    @model_validator(mode="after")
    def _consistent(self) -> WindowBase:
        if self.camera_id and self.hamlet:
            raise ValueError("give camera_id or hamlet (or neither, for all cameras), not both")
        if bool(self.daily_start) != bool(self.daily_end):
            raise ValueError("daily_start and daily_end go together")
        if self.daily_start and self.daily_start == self.daily_end:
            raise ValueError("daily_start equals daily_end: leave both empty for whole days")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class WindowCreate(WindowBase):
    pass


class WindowUpdate(WindowBase):
    """Every field replaces the stored one (send the full window)."""


class WindowPublic(SQLModel):
    id: int
    camera_id: str | None
    hamlet: str | None
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    weekdays: str | None
    daily_start: str | None
    daily_end: str | None
    reason: str
    created_by: str
    created_at: dt.datetime
    recurring: bool = False
    active_now: bool = False
    description: str = ""


def missing_required(data: WindowBase) -> str | None:
    """What a window made through the API lacks (create and replace alike), naming the field, or None:
    a reason (what is being done, by whom) and an end (nothing is silenced for ever)."""
    if not (data.reason or "").strip():
        return "reason: a maintenance window needs a reason (what is being done, by whom)"
    if data.ends_at is None:
        return "ends_at: a maintenance window needs an end: silences never last for ever"
    return None


def to_utc(t: dt.datetime, tz: str | dt.tzinfo) -> dt.datetime:
    """Aware -> UTC; naive is taken as local time in ``tz`` (what a person typing a time means)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=_zone(tz))
    return t.astimezone(dt.UTC)


def build_window(data: WindowBase, now_utc: dt.datetime, tz: str | dt.tzinfo) -> MaintenanceWindow:
    """A validated schema -> a table row (times converted to UTC)."""
    starts = to_utc(data.starts_at, tz) if data.starts_at else now_utc
    ends = to_utc(data.ends_at, tz) if data.ends_at else None
    if ends is not None and ends <= starts:
        raise ValueError("ends_at must be after starts_at")
    return MaintenanceWindow(
        camera_id=data.camera_id,
        hamlet=data.hamlet,
        starts_at=starts,
        ends_at=ends,
        weekdays=data.weekdays,
        daily_start=data.daily_start,
        daily_end=data.daily_end,
        reason=data.reason,
        created_by=data.created_by,
        created_at=now_utc,
    )


def public(w: MaintenanceWindow, now_utc: dt.datetime, tz: str | dt.tzinfo) -> WindowPublic:
    assert w.id is not None
    return WindowPublic(
        id=w.id,
        camera_id=w.camera_id,
        hamlet=w.hamlet,
        starts_at=w.starts_at,
        ends_at=w.ends_at,
        weekdays=w.weekdays,
        daily_start=w.daily_start,
        daily_end=w.daily_end,
        reason=w.reason,
        created_by=w.created_by,
        created_at=w.created_at,
        recurring=is_recurring(w),
        active_now=is_active(w, now_utc, tz),
        description=describe(w, tz),
    )
