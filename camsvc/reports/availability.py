"""Availability over a period, from outage rows: pure (no I/O, no clock), table-tested.

Definitions (the report prints them; docs/reports.md explains them):

* **period**: ``[start, end)`` in UTC. A month is a calendar month in Asia/Ho_Chi_Minh (UTC+7, no DST):
  ``month_period(2026, 11)`` is 2026-10-31T17:00Z .. 2026-11-30T17:00Z.
* **in service**: the part of the period after the camera was added (``created_at``) and before it was
  deleted (``deleted_at``, soft delete), if either falls inside.
* **maintenance**: the union of the maintenance windows covering the camera and the time it was in the
  ``maintenance`` state (transitions). Counted apart: it is neither up nor down, and it is left out of the
  denominator, so planned work does not count against the commune.
* **monitored** = in service minus maintenance. Every percentage is of monitored time.
* **downtime**: the union of the camera's ``down`` outages (no stream) within monitored time. Overlapping
  rows never count twice. An open outage (no ``ended_at``) lasts until the period's end.
* **picture fault time**: ``degraded`` outages (stream works, picture covered/blurred/...) not already
  down, within monitored time.
* **availability** = 1 - downtime / monitored: the stream works (the headline number; degraded counts as
  available, as ``health.uptime.StateTimes.availability``).
* **good picture** = 1 - (downtime + picture fault time) / monitored: the stream works AND the picture is
  good (as ``health.uptime.StateTimes.uptime``).
* **outages**: outage rows (down or degraded) with some monitored time in the period.
* **longest downtime**: the longest unbroken stretch of downtime in the period (merged rows).
* **MTTR** (mean time to repair): mean ``ended_at - started_at`` of outages that ended in the period
  (whole duration, also the part before the period).
* **MTTA** (mean time to acknowledge): mean ``acknowledged_at - confirmed_at`` (confirmed = when the
  state machine declared the outage and alerts went out) of outages confirmed in the period and
  acknowledged; ``acknowledged`` / ``unacknowledged`` count them.
* **causes**: per cause, the number of outages and their time within monitored time (each row on its own);
  the share is of the sum over causes.

Groups (hamlet, kind, commune) pool camera-seconds: availability = 1 - sum(downtime) / sum(monitored);
MTTR/MTTA are the mean over every outage in the group, not a mean of means.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

TZ = "Asia/Ho_Chi_Minh"
Interval = tuple[dt.datetime, dt.datetime]

DOWN = "down"
DEGRADED = "degraded"
MAINTENANCE = "maintenance"


# ---------------------------------------------------------------------------------------------- periods
def month_period(year: int, month: int, tz: str = TZ) -> Interval:
    """A calendar month in the commune's zone, as UTC ``[start, end)``."""
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1-12, not {month}")
    zone = ZoneInfo(tz)
    start = dt.datetime(year, month, 1, tzinfo=zone)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def parse_month(text: str, tz: str = TZ) -> Interval:
    """'2026-11' -> the month in the commune's zone; ValueError naming the problem otherwise."""
    raw = text.strip()
    parts = raw.split("-")
    if len(parts) != 2 or len(parts[0]) != 4 or not all(p.isdigit() for p in parts) or len(parts[1]) != 2:
        raise ValueError(f"month must be YYYY-MM, not {text!r}")
    year, month = int(parts[0]), int(parts[1])
    if not 1 <= month <= 12:
        raise ValueError(f"month must be YYYY-MM with MM 01-12, not {text!r}")
    return month_period(year, month, tz)


def last_month(now: dt.datetime, tz: str = TZ) -> Interval:
    """The last full calendar month before ``now`` in the commune's zone (the report's default)."""
    local = now.astimezone(ZoneInfo(tz))
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return month_period(year, month, tz)


def month_label(start: dt.datetime, end: dt.datetime, tz: str = TZ) -> str | None:
    """'2026-11' when ``[start, end)`` is exactly that local month, else None."""
    local = start.astimezone(ZoneInfo(tz))
    try:
        if (start, end) == month_period(local.year, local.month, tz):
            return f"{local.year:04d}-{local.month:02d}"
    except ValueError:  # pragma: no cover
        return None
    return None


class PeriodError(ValueError):
    """A period given wrongly; ``param`` names the parameter (month, start, end)."""

    def __init__(self, param: str, msg: str):
        super().__init__(msg)
        self.param = param


MAX_PERIOD = dt.timedelta(days=400)


def parse_bound(text: str, param: str, tz: str = TZ, *, is_end: bool) -> dt.datetime:
    """A local date ('2026-11-15' = midnight in the commune's zone; as the end the day is included, so the
    bound is the next midnight) or an ISO datetime (naive = UTC)."""
    raw = text.strip()
    try:
        if len(raw) == 10 and raw[4] == "-" and raw[7] == "-":
            d = dt.date.fromisoformat(raw)
            if is_end:
                d += dt.timedelta(days=1)
            return dt.datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)
        t = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise PeriodError(
            param, f"{param} must be a date YYYY-MM-DD or an ISO datetime, not {text!r}"
        ) from None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def resolve_period(
    month: str | None, start: str | None, end: str | None, now: dt.datetime, tz: str = TZ
) -> Interval:
    """``month``, or ``start`` and ``end``, or (neither) the last calendar month in the commune's zone."""
    if month and (start or end):
        raise PeriodError("month", "give month or start/end, not both")
    if month:
        try:
            return parse_month(month, tz)
        except ValueError as exc:
            raise PeriodError("month", str(exc)) from None
    if start or end:
        if not (start and end):
            raise PeriodError("end" if start else "start", "start and end go together")
        a = parse_bound(start, "start", tz, is_end=False)
        b = parse_bound(end, "end", tz, is_end=True)
        if b <= a:
            raise PeriodError("end", "end must be after start")
        if b - a > MAX_PERIOD:
            raise PeriodError("end", f"a report covers at most {MAX_PERIOD.days} days")
        return a, b
    return last_month(now, tz)


# ---------------------------------------------------------------------------------------------- intervals
def clip(iv: Interval, lo: dt.datetime, hi: dt.datetime) -> Interval | None:
    a, b = max(iv[0], lo), min(iv[1], hi)
    return (a, b) if a < b else None


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, merged, non-empty intervals (touching ones merged)."""
    out: list[Interval] = []
    for a, b in sorted(i for i in intervals if i[0] < i[1]):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def subtract(base: Sequence[Interval], cut: Sequence[Interval]) -> list[Interval]:
    """``base`` minus ``cut`` (both merged and sorted, as ``union`` gives)."""
    out: list[Interval] = []
    j = 0
    for a, b in base:
        cur = a
        while j < len(cut) and cut[j][1] <= cur:
            j += 1
        k = j
        while k < len(cut) and cut[k][0] < b:
            ca, cb = cut[k]
            if ca > cur:
                out.append((cur, ca))
            cur = max(cur, cb)
            if cur >= b:
                break
            k += 1
        if cur < b:
            out.append((cur, b))
    return out


def intersect(x: Sequence[Interval], y: Sequence[Interval]) -> list[Interval]:
    """Intersection of two merged, sorted interval lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(x) and j < len(y):
        a, b = max(x[i][0], y[j][0]), min(x[i][1], y[j][1])
        if a < b:
            out.append((a, b))
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return out


def seconds(intervals: Iterable[Interval]) -> float:
    return sum((b - a).total_seconds() for a, b in intervals)


# ---------------------------------------------------------------------------------------------- maintenance
def maintenance_from_transitions(
    transitions: Iterable[tuple[dt.datetime, str]], initial: str | None, start: dt.datetime, end: dt.datetime
) -> list[Interval]:
    """Time in the ``maintenance`` state within ``[start, end)`` from (at, new_state) rows; ``initial`` is the
    state at ``start`` (the last transition before it)."""
    out: list[Interval] = []
    cur = start if initial == MAINTENANCE else None
    for at, new in sorted(transitions, key=lambda x: x[0]):
        if at < start:
            cur = start if new == MAINTENANCE else None
            continue
        if at >= end:
            break
        if new == MAINTENANCE and cur is None:
            cur = at
        elif new != MAINTENANCE and cur is not None:
            out.append((cur, at))
            cur = None
    if cur is not None:
        out.append((cur, end))
    return union(out)


@dataclass(frozen=True)
class Window:
    """A maintenance window as stored (camsvc.models.MaintenanceWindow's time fields; scope decided by the
    caller with camsvc.health.maintenance.covers)."""

    starts_at: dt.datetime
    ends_at: dt.datetime | None = None
    weekdays: str | None = None  # "0,1,2" (Monday = 0), None = every day
    daily_start: str | None = None  # "HH:MM" local
    daily_end: str | None = None


def _hhmm(text: str | None, default: int) -> int:
    if not text:
        return default
    h, _, m = text.partition(":")
    try:
        return int(h) * 60 + int(m)
    except ValueError:
        return default


def window_intervals(w: Window, start: dt.datetime, end: dt.datetime, tz: str = TZ) -> list[Interval]:
    """The times ``w`` is in force within ``[start, end)``: the same rule as
    camsvc.health.maintenance.is_active (a daily range past midnight belongs to the day it starts)."""
    lo = max(start, w.starts_at)
    hi = end if w.ends_at is None else min(end, w.ends_at)
    if lo >= hi:
        return []
    if not (w.weekdays or w.daily_start or w.daily_end):
        return [(lo, hi)]
    zone = ZoneInfo(tz)
    days = {int(t) % 7 for t in (w.weekdays or "").split(",") if t.strip().isdigit()} or None
    d0 = (lo.astimezone(zone) - dt.timedelta(days=1)).date()
    d1 = hi.astimezone(zone).date()
    s_min = _hhmm(w.daily_start, 0) if (w.daily_start or w.daily_end) else 0
    e_min = _hhmm(w.daily_end, 24 * 60) if (w.daily_start or w.daily_end) else 24 * 60
    out: list[Interval] = []
    day = d0
    for _ in range(400 * 20):  # bounded: a period is at most years long
        if day > d1:
            break
        if days is None or day.weekday() in days:
            midnight = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
            a = midnight + dt.timedelta(minutes=s_min)
            b = midnight + dt.timedelta(minutes=e_min if e_min > s_min else e_min + 24 * 60)
            iv = clip((a.astimezone(dt.UTC), b.astimezone(dt.UTC)), lo, hi)
            if iv:
                out.append(iv)
        day += dt.timedelta(days=1)
    return union(out)


# ---------------------------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class OutageRow:
    state: str  # "down" or "degraded"
    started_at: dt.datetime
    ended_at: dt.datetime | None
    cause: str
    confirmed_at: dt.datetime | None = None
    acknowledged_at: dt.datetime | None = None


@dataclass(frozen=True)
class CameraInput:
    id: str
    name: str = ""
    hamlet: str = ""
    kind: str = ""
    created_at: dt.datetime | None = None
    deleted_at: dt.datetime | None = None
    outages: tuple[OutageRow, ...] = ()
    maintenance: tuple[Interval, ...] = ()  # any order, may overlap


# ---------------------------------------------------------------------------------------------- results
@dataclass
class Stats:
    """Sums over one camera or a group; the derived numbers are properties."""

    cameras: int = 0
    in_service_s: float = 0.0
    maintenance_s: float = 0.0
    monitored_s: float = 0.0
    down_s: float = 0.0
    degraded_s: float = 0.0
    outages: int = 0
    down_outages: int = 0
    degraded_outages: int = 0
    longest_down_s: float = 0.0
    repaired: int = 0
    repair_sum_s: float = 0.0
    acknowledged: int = 0
    unacknowledged: int = 0
    ack_sum_s: float = 0.0
    causes: dict[str, tuple[int, float]] = field(default_factory=dict)  # cause -> (outages, seconds)

    @property
    def availability(self) -> float | None:
        return None if self.monitored_s <= 0 else max(0.0, 1.0 - self.down_s / self.monitored_s)

    @property
    def good_picture(self) -> float | None:
        if self.monitored_s <= 0:
            return None
        return max(0.0, 1.0 - (self.down_s + self.degraded_s) / self.monitored_s)

    @property
    def mttr_s(self) -> float | None:
        return self.repair_sum_s / self.repaired if self.repaired else None

    @property
    def mtta_s(self) -> float | None:
        return self.ack_sum_s / self.acknowledged if self.acknowledged else None

    def add(self, o: Stats) -> None:
        for name in (
            "cameras",
            "in_service_s",
            "maintenance_s",
            "monitored_s",
            "down_s",
            "degraded_s",
            "outages",
            "down_outages",
            "degraded_outages",
            "repaired",
            "repair_sum_s",
            "acknowledged",
            "unacknowledged",
            "ack_sum_s",
        ):
            setattr(self, name, getattr(self, name) + getattr(o, name))
        self.longest_down_s = max(self.longest_down_s, o.longest_down_s)
        for cause, (n, s) in o.causes.items():
            n0, s0 = self.causes.get(cause, (0, 0.0))
            self.causes[cause] = (n0 + n, s0 + s)

    def cause_shares(self) -> list[tuple[str, int, float, float]]:
        """(cause, outages, seconds, share of the time over all causes), most time first."""
        total = sum(s for _, s in self.causes.values())
        rows = [(c, n, s, (s / total) if total > 0 else 0.0) for c, (n, s) in self.causes.items()]
        return sorted(rows, key=lambda r: (-r[2], -r[1], r[0]))

    def to_dict(self) -> dict[str, object]:
        r6 = lambda v: None if v is None else round(v, 6)  # noqa: E731
        r1 = lambda v: None if v is None else round(v, 1)  # noqa: E731
        return {
            "cameras": self.cameras,
            "availability": r6(self.availability),
            "good_picture": r6(self.good_picture),
            "in_service_s": r1(self.in_service_s),
            "monitored_s": r1(self.monitored_s),
            "maintenance_s": r1(self.maintenance_s),
            "downtime_s": r1(self.down_s),
            "picture_fault_s": r1(self.degraded_s),
            "outages": self.outages,
            "down_outages": self.down_outages,
            "degraded_outages": self.degraded_outages,
            "longest_downtime_s": r1(self.longest_down_s),
            "mttr_s": r1(self.mttr_s),
            "repaired": self.repaired,
            "mtta_s": r1(self.mtta_s),
            "acknowledged": self.acknowledged,
            "unacknowledged": self.unacknowledged,
            "causes": [
                {"cause": c, "outages": n, "seconds": round(s, 1), "share": round(sh, 6)}
                for c, n, s, sh in self.cause_shares()
            ],
        }


def camera_stats(cam: CameraInput, start: dt.datetime, end: dt.datetime) -> Stats:
    """One camera's numbers over ``[start, end)`` (see the module's definitions)."""
    st = Stats(cameras=1)
    lo = max(start, cam.created_at) if cam.created_at else start
    hi = min(end, cam.deleted_at) if cam.deleted_at else end
    if lo >= hi:
        return st
    service = [(lo, hi)]
    maint = intersect(union(cam.maintenance), service)
    monitored = subtract(service, maint)
    st.in_service_s = seconds(service)
    st.maintenance_s = seconds(maint)
    st.monitored_s = seconds(monitored)

    def span(o: OutageRow) -> Interval:
        return (o.started_at, o.ended_at if o.ended_at is not None else end)

    down = intersect(union(span(o) for o in cam.outages if o.state == DOWN), monitored)
    bad = intersect(union(span(o) for o in cam.outages if o.state != DOWN), monitored)
    st.down_s = seconds(down)
    st.degraded_s = seconds(subtract(bad, down))
    st.longest_down_s = max((seconds([iv]) for iv in down), default=0.0)
    for o in cam.outages:
        inside = seconds(intersect([span(o)], monitored)) if o.started_at < span(o)[1] else 0.0
        if inside > 0:
            st.outages += 1
            if o.state == DOWN:
                st.down_outages += 1
            else:
                st.degraded_outages += 1
            n0, s0 = st.causes.get(o.cause, (0, 0.0))
            st.causes[o.cause] = (n0 + 1, s0 + inside)
        if o.ended_at is not None and lo <= o.ended_at < hi:
            st.repaired += 1
            st.repair_sum_s += max(0.0, (o.ended_at - o.started_at).total_seconds())
        confirmed = o.confirmed_at or o.started_at
        if lo <= confirmed < hi:
            if o.acknowledged_at is not None:
                st.acknowledged += 1
                st.ack_sum_s += max(0.0, (o.acknowledged_at - confirmed).total_seconds())
            else:
                st.unacknowledged += 1
    return st


# ---------------------------------------------------------------------------------------------- the report
@dataclass
class CameraResult:
    id: str
    name: str
    hamlet: str
    kind: str
    stats: Stats

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "hamlet": self.hamlet,
            "kind": self.kind,
            **self.stats.to_dict(),
        }


@dataclass
class Summary:
    start: dt.datetime
    end: dt.datetime
    cameras: list[CameraResult]
    hamlets: dict[str, Stats]
    kinds: dict[str, Stats]
    total: Stats
    worst: list[CameraResult]


def _badness(c: CameraResult) -> tuple[float, float, float, str]:
    s = c.stats
    return (s.availability or 0.0, s.good_picture or 0.0, -s.down_s, c.id)


def summarize(
    cameras: Iterable[CameraInput], start: dt.datetime, end: dt.datetime, worst_n: int = 10
) -> Summary:
    """Every camera's numbers, per hamlet, per kind and for the commune, and the worst ``worst_n`` cameras
    (lowest availability, then lowest good-picture share, then most downtime; only cameras with some)."""
    results = [CameraResult(c.id, c.name, c.hamlet, c.kind, camera_stats(c, start, end)) for c in cameras]
    results.sort(key=lambda r: (r.hamlet, r.id))
    hamlets: dict[str, Stats] = {}
    kinds: dict[str, Stats] = {}
    total = Stats()
    for r in results:
        hamlets.setdefault(r.hamlet, Stats()).add(r.stats)
        kinds.setdefault(r.kind, Stats()).add(r.stats)
        total.add(r.stats)
    bad = [r for r in results if r.stats.monitored_s > 0 and (r.stats.down_s + r.stats.degraded_s) > 0]
    worst = sorted(bad, key=_badness)[:worst_n]
    return Summary(
        start, end, results, dict(sorted(hamlets.items())), dict(sorted(kinds.items())), total, worst
    )


def group_by(results: Iterable[CameraResult], key: Callable[[CameraResult], str]) -> dict[str, Stats]:
    out: dict[str, Stats] = {}
    for r in results:
        out.setdefault(key(r), Stats()).add(r.stats)
    return out
