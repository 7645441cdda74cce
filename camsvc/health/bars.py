"""A camera's availability bars (issue 11) and its check series, downsampled: pure (no I/O, no clock).

Bars, like Uptime Kuma's: the period is cut into buckets (hours for the last 24 h; days in the commune's
zone, Asia/Ho_Chi_Minh, for 7 and 30 days) and each bucket shows the **worst** state the camera was in
during it, with the seconds spent in each state so a tooltip can say "up 58 min, down 2 min".

* Order, worst first: ``down`` > ``degraded`` > ``unknown`` > ``maintenance`` > ``up``. A state counts
  only if it lasted more than zero seconds inside the bucket (two transitions at the same instant, such as
  maintenance -> unknown -> up at the first check after a window, leave no trace).
* ``maintenance`` is a state of its own (the state machine puts a camera in it during a window): a bucket
  with some maintenance and otherwise up shows maintenance (grey-blue, pause glyph); any down or degraded
  time in the same bucket wins over it, as it should (it happened outside the window).
* ``none`` ("no data", Uptime Kuma's empty grey bar) is time when nothing was known: before ``data_from``
  (the camera's first observation, or when it was added if it never was checked) and after ``data_until``
  (now: the current hour or day is only partly over). ``none`` is never a state of the camera: a bucket is
  ``none`` only when it holds no other second. ``none`` seconds are reported apart.
* Totals per range: ``availability`` = (up + degraded) / (up + degraded + down) and ``uptime`` (good
  picture) = up / (up + degraded + down), as :class:`camsvc.health.uptime.StateTimes` and the monthly
  report define them; maintenance, unknown and no data are left out of the denominator.

Series: :func:`downsample` cuts a long check series to at most ``max_points`` time buckets: per bucket the
worst open time (max), the worst frame rate (min), the mean brightness and sharpness, and ``ok`` = 0 when
any check in it failed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from camsvc.enums import HealthState
from camsvc.health.uptime import StateTimes

NONE = "none"
WORST_FIRST: tuple[str, ...] = (
    HealthState.DOWN.value,
    HealthState.DEGRADED.value,
    HealthState.UNKNOWN.value,
    HealthState.MAINTENANCE.value,
    HealthState.UP.value,
)
Bucket = tuple[dt.datetime, dt.datetime]

RANGES: dict[str, tuple[str, int]] = {"24h": ("hour", 24), "7d": ("day", 7), "30d": ("day", 30)}
"""Range name -> (bucket size, number of buckets)."""


# ---------------------------------------------------------------------------------------------- buckets
def hour_buckets(now: dt.datetime, n: int = 24, tz: str = "Asia/Ho_Chi_Minh") -> list[Bucket]:
    """The last *n* hours on the local clock of *tz*: the hour holding *now* (partial, ending at *now*) and
    the n-1 whole hours before it, as UTC."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    top = local.astimezone(dt.UTC)
    starts = [top - dt.timedelta(hours=i) for i in range(n - 1, -1, -1)]
    return [(s, min(s + dt.timedelta(hours=1), now)) for s in starts]


def day_buckets(now: dt.datetime, n: int, tz: str = "Asia/Ho_Chi_Minh") -> list[Bucket]:
    """The last *n* calendar days in *tz*: today (partial, ending at *now*) and the n-1 days before, each
    from local midnight to local midnight, as UTC."""
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    out: list[Bucket] = []
    for i in range(n - 1, -1, -1):
        d = today - dt.timedelta(days=i)
        s = dt.datetime(d.year, d.month, d.day, tzinfo=zone).astimezone(dt.UTC)
        e = dt.datetime.combine(d + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(dt.UTC)
        out.append((s, min(e, now)))
    return out


def range_buckets(name: str, now: dt.datetime, tz: str = "Asia/Ho_Chi_Minh") -> list[Bucket]:
    """Buckets of a range name (``24h``, ``7d``, ``30d``); ValueError for another name."""
    if name not in RANGES:
        raise ValueError(f"range must be one of {', '.join(RANGES)}, not {name!r}")
    size, n = RANGES[name]
    return hour_buckets(now, n, tz) if size == "hour" else day_buckets(now, n, tz)


# ---------------------------------------------------------------------------------------------- bars
@dataclass
class Bar:
    start: dt.datetime
    end: dt.datetime
    seconds: dict[str, float] = field(default_factory=dict)  # state value (or "none") -> seconds

    @property
    def state(self) -> str:
        for s in WORST_FIRST:
            if self.seconds.get(s, 0.0) > 0:
                return s
        return NONE

    def to_dict(self) -> dict[str, object]:
        return {
            "start": self.start,
            "end": self.end,
            "state": self.state,
            "seconds": {k: round(v, 1) for k, v in self.seconds.items() if v > 0},
        }


def _timeline(
    transitions: Iterable[tuple[dt.datetime, HealthState]],
    initial: HealthState,
    start: dt.datetime,
    end: dt.datetime,
    data_from: dt.datetime | None,
    data_until: dt.datetime | None,
) -> list[tuple[dt.datetime, dt.datetime, str]]:
    """Pieces [a, b) covering [start, end) with the state held (``none`` outside the data)."""
    lo = max(start, data_from) if data_from else start
    hi = min(end, data_until) if data_until else end
    pieces: list[tuple[dt.datetime, dt.datetime, str]] = []
    if lo > start:
        pieces.append((start, min(lo, end), NONE))
    if hi > lo:
        state, cursor = initial, lo
        for at, new in sorted(transitions, key=lambda x: x[0]):
            if at <= lo:
                state = new
                continue
            if at >= hi:
                break
            pieces.append((cursor, at, state.value))
            state, cursor = new, at
        pieces.append((cursor, hi, state.value))
    if hi < end:
        pieces.append((max(hi, start), end, NONE))
    return [p for p in pieces if p[1] > p[0]]


def bars(
    transitions: Iterable[tuple[dt.datetime, HealthState]],
    buckets: Sequence[Bucket],
    initial: HealthState = HealthState.UNKNOWN,
    data_from: dt.datetime | None = None,
    data_until: dt.datetime | None = None,
) -> list[Bar]:
    """One :class:`Bar` per bucket (buckets in time order, not overlapping). ``transitions`` are
    (at, new_state) in any order; ``initial`` is the state before the first one; time before ``data_from``
    and after ``data_until`` is ``none`` (no data)."""
    if not buckets:
        return []
    pieces = _timeline(transitions, initial, buckets[0][0], buckets[-1][1], data_from, data_until)
    out: list[Bar] = []
    i = 0
    for b0, b1 in buckets:
        bar = Bar(b0, b1)
        while i < len(pieces) and pieces[i][1] <= b0:
            i += 1
        j = i
        while j < len(pieces) and pieces[j][0] < b1:
            a, b, st = pieces[j]
            s = (min(b, b1) - max(a, b0)).total_seconds()
            if s > 0:
                bar.seconds[st] = bar.seconds.get(st, 0.0) + s
            j += 1
        out.append(bar)
    return out


def totals(items: Iterable[Bar]) -> dict[str, object]:
    """Seconds per state over the bars, availability and uptime (good picture) of the monitored time."""
    st = StateTimes()
    none = 0.0
    for b in items:
        for k, v in b.seconds.items():
            if k == NONE:
                none += v
            else:
                st.seconds[k] = st.seconds.get(k, 0.0) + v
    d = st.to_dict()
    seconds = d["seconds"]
    assert isinstance(seconds, dict)
    seconds[NONE] = round(none, 3)
    return d


# ---------------------------------------------------------------------------------------------- series
SERIES_FIELDS = ("open_ms", "fps", "brightness", "sharpness")


@dataclass
class Series:
    """Columnar check series, as uPlot takes it: ``t`` in epoch seconds, one list per field (None = no
    value: a failed check has no frame rate), ``ok`` 1/0."""

    t: list[float] = field(default_factory=list)
    open_ms: list[float | None] = field(default_factory=list)
    fps: list[float | None] = field(default_factory=list)
    brightness: list[float | None] = field(default_factory=list)
    sharpness: list[float | None] = field(default_factory=list)
    ok: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.t)

    def to_dict(self) -> dict[str, list[float | None] | list[float] | list[int]]:
        def r(xs: list[float | None], nd: int) -> list[float | None]:
            return [None if x is None else round(x, nd) for x in xs]

        return {
            "t": [round(x, 3) for x in self.t],
            "open_ms": r(self.open_ms, 1),
            "fps": r(self.fps, 2),
            "brightness": r(self.brightness, 1),
            "sharpness": r(self.sharpness, 1),
            "ok": self.ok,
        }


Row = tuple[float, float | None, float | None, float | None, float | None, bool]
"""(epoch seconds, open_ms, fps, brightness, sharpness, ok)."""


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def downsample(rows: Iterable[Row], start_s: float, end_s: float, max_points: int = 2000) -> Series:
    """Rows in time order as a :class:`Series`; when there are more than *max_points*, one point per time
    bucket of (end - start) / max_points seconds (placed at the mean time of its checks): the max open
    time, the min fps, the mean brightness and sharpness, ok = 0 if any check failed."""
    data = [(t, _finite(a), _finite(b), _finite(c), _finite(d), ok) for t, a, b, c, d, ok in rows]
    out = Series()
    if len(data) <= max_points:
        for t, a, b, c, d, ok in data:
            out.t.append(t)
            out.open_ms.append(a)
            out.fps.append(b)
            out.brightness.append(c)
            out.sharpness.append(d)
            out.ok.append(1 if ok else 0)
        return out
    step = max((end_s - start_s) / max_points, 1e-9)
    groups: dict[int, list[Row]] = {}
    for row in data:
        k = min(max(int((row[0] - start_s) // step), 0), max_points - 1)
        groups.setdefault(k, []).append(row)

    def vals(g: list[Row], i: int) -> list[float]:
        return [x for x in (r[i] for r in g) if x is not None]  # type: ignore[misc]

    for k in sorted(groups):
        g = groups[k]
        opens, fpss, br, sh = vals(g, 1), vals(g, 2), vals(g, 3), vals(g, 4)
        out.t.append(sum(r[0] for r in g) / len(g))
        out.open_ms.append(max(opens) if opens else None)
        out.fps.append(min(fpss) if fpss else None)
        out.brightness.append(sum(br) / len(br) if br else None)
        out.sharpness.append(sum(sh) / len(sh) if sh else None)
        out.ok.append(1 if all(r[5] for r in g) else 0)
    return out
