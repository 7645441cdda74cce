"""The camera page's availability bars and series downsampling (camsvc.health.bars): pure, table-tested."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from camsvc.enums import HealthState as S
from camsvc.health.bars import (
    Bar,
    bars,
    day_buckets,
    downsample,
    hour_buckets,
    range_buckets,
    totals,
)

UTC = dt.UTC
ICT = dt.timezone(dt.timedelta(hours=7))


def u(h: int, m: int = 0, s: int = 0, day: int = 2) -> dt.datetime:
    """A UTC time on 2026-12-<day>."""
    return dt.datetime(2026, 12, day, h, m, s, tzinfo=UTC)


# three whole UTC hours 08:00-11:00 (15:00-18:00 in Hanoi)
HOURS = [(u(8), u(9)), (u(9), u(10)), (u(10), u(11))]


def states(bs: list[Bar]) -> list[str]:
    return [b.state for b in bs]


def secs(bs: list[Bar]) -> list[dict[str, float]]:
    return [{k: round(v) for k, v in b.seconds.items()} for b in bs]


CASES: list[Any] = [
    pytest.param(
        [(u(7), S.UP), (u(9, 10), S.DOWN), (u(9, 12), S.UP)],
        S.UNKNOWN,
        None,
        None,
        ["up", "down", "up"],
        [{"up": 3600}, {"up": 3480, "down": 120}, {"up": 3600}],
        id="short-outage-inside-one-bucket",
    ),
    pytest.param(
        [(u(7), S.UP), (u(8, 50), S.DOWN), (u(9, 20), S.UP)],
        S.UNKNOWN,
        None,
        None,
        ["down", "down", "up"],
        [{"up": 3000, "down": 600}, {"down": 1200, "up": 2400}, {"up": 3600}],
        id="outage-spanning-two-buckets",
    ),
    pytest.param(
        # initial state carries in: down since before the range, back up at 08:30
        [(u(8, 30), S.UP)],
        S.DOWN,
        None,
        None,
        ["down", "up", "up"],
        [{"down": 1800, "up": 1800}, {"up": 3600}, {"up": 3600}],
        id="down-before-the-range",
    ),
    pytest.param(
        [
            (u(7), S.UP),
            (u(9), S.MAINTENANCE),
            (u(10, 30), S.UNKNOWN),
            (u(10, 30), S.UP),  # the first check after the window: unknown for 0 s leaves no trace
        ],
        S.UNKNOWN,
        None,
        None,
        ["up", "maintenance", "maintenance"],
        [{"up": 3600}, {"maintenance": 3600}, {"maintenance": 1800, "up": 1800}],
        id="maintenance",
    ),
    pytest.param(
        [(u(9, 40), S.MAINTENANCE), (u(9, 50), S.DEGRADED), (u(9, 55), S.UP)],
        S.UP,
        None,
        None,
        ["up", "degraded", "up"],
        [{"up": 3600}, {"up": 2700, "maintenance": 600, "degraded": 300}, {"up": 3600}],
        id="degraded-beats-maintenance-in-one-bucket",
    ),
    pytest.param(
        # added at 09:15, first check 09:20 (no data before it), a 2-minute unknown stretch after restart
        [(u(9, 20), S.UP), (u(10, 5), S.UNKNOWN), (u(10, 7), S.UP)],
        S.UNKNOWN,
        u(9, 20),
        None,
        ["none", "up", "unknown"],
        [{"none": 3600}, {"none": 1200, "up": 2400}, {"up": 3480, "unknown": 120}],
        id="camera-created-mid-range",
    ),
    pytest.param(
        [],
        S.UNKNOWN,
        u(8, 30),
        None,
        ["unknown", "unknown", "unknown"],
        [{"none": 1800, "unknown": 1800}, {"unknown": 3600}, {"unknown": 3600}],
        id="no-transitions-never-checked-since-added",
    ),
    pytest.param(
        [],
        S.UP,
        None,
        None,
        ["up", "up", "up"],
        [{"up": 3600}, {"up": 3600}, {"up": 3600}],
        id="no-transitions-up-all-along",
    ),
    pytest.param(
        [(u(7), S.UP), (u(10, 45), S.DOWN)],
        S.UNKNOWN,
        None,
        u(10, 30),  # "now": the last bucket is only half over
        ["up", "up", "up"],
        [{"up": 3600}, {"up": 3600}, {"up": 1800, "none": 1800}],
        id="after-now-is-no-data",
    ),
    pytest.param(
        # unsorted input, and transitions after the range are ignored
        [(u(12), S.DOWN), (u(9, 30), S.DEGRADED), (u(6), S.UP), (u(9, 45), S.UP)],
        S.UNKNOWN,
        None,
        None,
        ["up", "degraded", "up"],
        [{"up": 3600}, {"up": 2700, "degraded": 900}, {"up": 3600}],
        id="any-order",
    ),
]


@pytest.mark.parametrize(("transitions", "initial", "data_from", "data_until", "want", "want_s"), CASES)
def test_bars(
    transitions: list[tuple[dt.datetime, S]],
    initial: S,
    data_from: dt.datetime | None,
    data_until: dt.datetime | None,
    want: list[str],
    want_s: list[dict[str, float]],
) -> None:
    got = bars(transitions, HOURS, initial, data_from=data_from, data_until=data_until)
    assert states(got) == want
    assert secs(got) == want_s
    # every second of every bucket is accounted for, once
    for b in got:
        assert sum(b.seconds.values()) == pytest.approx((b.end - b.start).total_seconds())


# -------------------------------------------------------------------------------------------- buckets
BUCKET_CASES: list[Any] = [
    pytest.param(
        "24h",
        u(10, 37),  # 17:37 in Hanoi
        24,
        u(11, day=1),  # 18:00 the day before, Hanoi
        (u(10), u(10, 37)),
        id="24h-hours-end-at-now",
    ),
    pytest.param(
        "7d",
        u(10, 37),  # 2026-12-02 17:37 Hanoi
        7,
        dt.datetime(2026, 11, 26, tzinfo=ICT),  # 6 days before today, from local midnight
        (dt.datetime(2026, 12, 2, tzinfo=ICT), u(10, 37)),
        id="7d-local-days",
    ),
    pytest.param(
        "7d",
        u(17, 30),  # 00:30 on 2026-12-03 in Hanoi: a new local day, still the 2nd in UTC
        7,
        dt.datetime(2026, 11, 27, tzinfo=ICT),
        (dt.datetime(2026, 12, 3, tzinfo=ICT), u(17, 30)),
        id="7d-just-after-local-midnight",
    ),
    pytest.param(
        "30d",
        u(16, 59, 59),  # 23:59:59 Hanoi on the 2nd
        30,
        dt.datetime(2026, 11, 3, tzinfo=ICT),
        (dt.datetime(2026, 12, 2, tzinfo=ICT), u(16, 59, 59)),
        id="30d-across-a-month-boundary",
    ),
]


@pytest.mark.parametrize(("name", "now", "n", "first_start", "last"), BUCKET_CASES)
def test_range_buckets(
    name: str, now: dt.datetime, n: int, first_start: dt.datetime, last: tuple[dt.datetime, dt.datetime]
) -> None:
    bs = range_buckets(name, now)
    assert len(bs) == n
    assert bs[0][0] == first_start
    assert bs[-1] == last
    for (a0, a1), (b0, _) in zip(bs, bs[1:], strict=False):
        assert a1 == b0 and a0 < a1  # contiguous, in order
    if name != "24h":  # each day starts at local midnight
        assert all(s.astimezone(ICT).time() == dt.time() for s, _ in bs)


def test_day_bucket_boundary_is_local_midnight_not_utc() -> None:
    """An outage 16:30-17:30 UTC is 23:30-00:30 in Hanoi: it shows on both local days."""
    now = u(20)  # 03:00 on the 3rd, Hanoi
    days = day_buckets(now, 2)
    got = bars([(u(1), S.UP), (u(16, 30), S.DOWN), (u(17, 30), S.UP)], days)
    assert states(got) == ["down", "down"]
    assert secs(got)[0]["down"] == 1800 and secs(got)[1]["down"] == 1800


def test_hour_buckets_half_hour_zone() -> None:
    """A zone half an hour from UTC gets its own clock's hours (the code does not assume whole hours)."""
    bs = hour_buckets(u(10, 40), 2, "Asia/Kolkata")  # 16:10 in India
    assert bs == [(u(9, 30), u(10, 30)), (u(10, 30), u(10, 40))]


def test_unknown_range() -> None:
    with pytest.raises(ValueError, match="24h, 7d, 30d"):
        range_buckets("1y", u(10))


def test_totals_exclude_maintenance_and_no_data() -> None:
    got = bars(
        [(u(8, 30), S.UP), (u(9), S.DOWN), (u(9, 6), S.UP), (u(10), S.MAINTENANCE)],
        HOURS,
        data_from=u(8, 30),
    )
    t = totals(got)
    seconds = t["seconds"]
    assert isinstance(seconds, dict)
    assert seconds["none"] == 1800 and seconds["maintenance"] == 3600 and seconds["down"] == 360
    assert t["availability"] == pytest.approx(1 - 360 / (1800 + 3600))
    assert t["uptime"] == t["availability"]  # no picture fault here
    assert totals([Bar(u(8), u(9), {"none": 3600.0})])["availability"] is None


# -------------------------------------------------------------------------------------------- series
def test_series_small_is_kept_as_is() -> None:
    rows = [(100.0, 50.0, 25.0, 120.0, 30.0, True), (160.0, None, None, None, None, False)]
    s = downsample(rows, 0, 200, max_points=10).to_dict()
    assert s == {
        "t": [100.0, 160.0],
        "open_ms": [50.0, None],
        "fps": [25.0, None],
        "brightness": [120.0, None],
        "sharpness": [30.0, None],
        "ok": [1, 0],
    }


def test_series_downsampled_keeps_the_worst() -> None:
    # 1000 checks a second apart, into 10 buckets of 100 s; one failure and one slow open in bucket 3
    rows = [(float(i), 40.0, 25.0, 100.0 + (i % 2), 20.0, True) for i in range(1000)]
    rows[345] = (345.0, None, None, None, None, False)
    rows[350] = (350.0, 900.0, 5.0, 100.0, 20.0, True)
    s = downsample(rows, 0, 1000, max_points=10)
    assert len(s) == 10
    assert s.ok == [1, 1, 1, 0, 1, 1, 1, 1, 1, 1]
    assert s.open_ms[3] == 900.0 and s.open_ms[2] == 40.0
    assert s.fps[3] == 5.0
    assert s.brightness[0] == pytest.approx(100.5)
    assert s.t[0] == pytest.approx(49.5)
    assert s.t == sorted(s.t)


def test_series_ignores_non_finite_values() -> None:
    s = downsample([(1.0, float("nan"), float("inf"), 5.0, 1.0, True)], 0, 10)
    assert s.open_ms == [None] and s.fps == [None]


def test_bars_module_is_pure() -> None:
    """No ORM, no I/O, no clock (the layering rules of tests/test_import_rules.py, applied to this module)."""
    from tests.test_import_rules import PURE, ROOT, violations

    source = (ROOT / "camsvc" / "health" / "bars.py").read_text(encoding="utf-8")
    assert violations(source, PURE) == []
