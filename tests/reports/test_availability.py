"""The report's numbers: a table of outage rows, maintenance and camera lifetimes -> expected seconds."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from camsvc.reports.availability import (
    CameraInput,
    OutageRow,
    Window,
    camera_stats,
    last_month,
    maintenance_from_transitions,
    month_period,
    parse_month,
    subtract,
    summarize,
    union,
    window_intervals,
)

UTC = dt.UTC
S = dt.datetime(2026, 10, 31, 17, tzinfo=UTC)  # 2026-11 in Asia/Ho_Chi_Minh
E = dt.datetime(2026, 11, 30, 17, tzinfo=UTC)
MONTH_S = 30 * 86400.0
H = 3600.0


def t(hours: float) -> dt.datetime:
    """Hours after the period's start."""
    return S + dt.timedelta(hours=hours)


def down(a: float, b: float | None, cause: str = "timeout", **kw: Any) -> OutageRow:
    return OutageRow("down", t(a), None if b is None else t(b), cause, **kw)


def degraded(a: float, b: float | None, cause: str = "covered") -> OutageRow:
    return OutageRow("degraded", t(a), None if b is None else t(b), cause)


CASES: list[Any] = [
    pytest.param(
        CameraInput("c"), dict(monitored_s=MONTH_S, down_s=0, outages=0, availability=1.0), id="no-outages"
    ),
    pytest.param(
        CameraInput("c", outages=(down(10, 12), down(11, 14))),
        dict(down_s=4 * H, outages=2, longest_down_s=4 * H, repaired=2, mttr_s=2.5 * H),
        id="overlapping-outages-counted-once",
    ),
    pytest.param(
        CameraInput("c", outages=(down(1, 2), down(1.5, 1.75), down(5, 6))),
        dict(down_s=2 * H, longest_down_s=H, outages=3),
        id="contained-and-separate",
    ),
    pytest.param(
        CameraInput("c", outages=(OutageRow("down", S - dt.timedelta(hours=5), t(2), "refused"),)),
        dict(down_s=2 * H, outages=1, repaired=1, mttr_s=7 * H),
        id="spans-period-start",
    ),
    pytest.param(
        CameraInput("c", outages=(down(719, 725),)),  # period is 720 h long
        dict(down_s=H, outages=1, repaired=0, mttr_s=None),
        id="spans-period-end",
    ),
    pytest.param(
        CameraInput("c", outages=(down(700, None),)),
        dict(down_s=20 * H, outages=1, repaired=0, longest_down_s=20 * H),
        id="open-outage-until-period-end",
    ),
    pytest.param(
        CameraInput("c", outages=(down(10, 20),), maintenance=((t(15), t(30)),)),
        dict(
            monitored_s=MONTH_S - 15 * H,
            maintenance_s=15 * H,
            down_s=5 * H,
            availability=1 - 5 * H / (MONTH_S - 15 * H),
        ),
        id="maintenance-overlapping-outage",
    ),
    pytest.param(
        CameraInput("c", maintenance=((t(1), t(3)), (t(2), t(4)))),
        dict(maintenance_s=3 * H, monitored_s=MONTH_S - 3 * H),
        id="overlapping-maintenance-once",
    ),
    pytest.param(
        CameraInput("c", created_at=t(360), outages=(down(300, 370),)),
        dict(in_service_s=360 * H, monitored_s=360 * H, down_s=10 * H, availability=1 - 10 / 360),
        id="camera-added-mid-month",
    ),
    pytest.param(
        CameraInput("c", deleted_at=t(24), outages=(down(20, None),)),
        dict(monitored_s=24 * H, down_s=4 * H),
        id="camera-deleted-mid-month",
    ),
    pytest.param(
        CameraInput("c", created_at=E + dt.timedelta(days=1)),
        dict(monitored_s=0, availability=None, good_picture=None, outages=0),
        id="zero-monitored-added-after",
    ),
    pytest.param(
        CameraInput(
            "c", maintenance=((S - dt.timedelta(days=1), E + dt.timedelta(days=1)),), outages=(down(1, 2),)
        ),
        dict(monitored_s=0, maintenance_s=MONTH_S, availability=None, down_s=0, outages=0),
        id="zero-monitored-all-maintenance",
    ),
    pytest.param(
        CameraInput("c", outages=(down(10, 12), degraded(11, 15), degraded(100, 101, "blurred"))),
        dict(
            down_s=2 * H, degraded_s=4 * H, availability=1 - 2 * H / MONTH_S, good_picture=1 - 6 * H / MONTH_S
        ),
        id="degraded-counts-apart",
    ),
    pytest.param(
        CameraInput(
            "c",
            outages=(
                down(1, 2, confirmed_at=t(1.1), acknowledged_at=t(1.6)),
                down(5, 9, confirmed_at=t(5.1), acknowledged_at=t(5.3)),
                down(20, 21, confirmed_at=t(20.1)),
            ),
        ),
        dict(acknowledged=2, unacknowledged=1, mtta_s=0.35 * H, mttr_s=2 * H),
        id="mtta-confirmed-to-acknowledged",
    ),
]


@pytest.mark.parametrize(("cam", "expected"), CASES)
def test_camera_stats(cam: CameraInput, expected: dict[str, Any]) -> None:
    st = camera_stats(cam, S, E)
    for key, want in expected.items():
        got = getattr(st, key)
        if (
            want is None
            or isinstance(want, int)
            and not isinstance(want, bool)
            and key in ("outages", "repaired")
        ):
            assert got == want, key
        else:
            assert got == pytest.approx(want), key


def test_causes_by_share() -> None:
    st = camera_stats(
        CameraInput("c", outages=(down(0, 3, "timeout"), down(10, 11, "refused"), down(20, 21, "timeout"))),
        S,
        E,
    )
    shares = st.cause_shares()
    assert [(c, n) for c, n, _, _ in shares] == [("timeout", 2), ("refused", 1)]
    assert shares[0][3] == pytest.approx(0.8) and shares[1][3] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("month", "start", "end"),
    [
        pytest.param("2026-11", "2026-10-31T17:00:00+00:00", "2026-11-30T17:00:00+00:00", id="november"),
        pytest.param(
            "2026-12", "2026-11-30T17:00:00+00:00", "2026-12-31T17:00:00+00:00", id="december-to-next-year"
        ),
        pytest.param("2027-01", "2026-12-31T17:00:00+00:00", "2027-01-31T17:00:00+00:00", id="january"),
        pytest.param("2028-02", "2028-01-31T17:00:00+00:00", "2028-02-29T17:00:00+00:00", id="leap-february"),
        pytest.param("2026-03", "2026-02-28T17:00:00+00:00", "2026-03-31T17:00:00+00:00", id="march-no-dst"),
    ],
)
def test_month_boundaries_in_ho_chi_minh(month: str, start: str, end: str) -> None:
    a, b = parse_month(month)
    assert (a.isoformat(), b.isoformat()) == (start, end)
    assert (a, b) == month_period(int(month[:4]), int(month[5:]))


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "2026-1", "26-11", "2026/11", "", "abcd-ef"])
def test_bad_month(bad: str) -> None:
    with pytest.raises(ValueError, match="month"):
        parse_month(bad)


@pytest.mark.parametrize(
    ("now", "month"),
    [
        pytest.param("2026-12-02T05:00:00+00:00", "2026-11", id="december"),
        pytest.param("2026-11-30T17:30:00+00:00", "2026-11", id="already-december-locally"),
        pytest.param("2026-11-30T16:30:00+00:00", "2026-10", id="still-november-locally"),
        pytest.param("2027-01-05T00:00:00+00:00", "2026-12", id="january-gives-december"),
    ],
)
def test_last_month_is_local(now: str, month: str) -> None:
    assert last_month(dt.datetime.fromisoformat(now)) == parse_month(month)


def test_interval_helpers() -> None:
    assert union([(t(3), t(4)), (t(1), t(2)), (t(2), t(3))]) == [(t(1), t(4))]
    assert subtract([(t(0), t(10))], [(t(1), t(2)), (t(5), t(12))]) == [(t(0), t(1)), (t(2), t(5))]
    assert subtract([(t(0), t(1)), (t(3), t(4))], [(t(0.5), t(3.5))]) == [(t(0), t(0.5)), (t(3.5), t(4))]


def test_maintenance_from_transitions() -> None:
    rows = [
        (t(-5), "maintenance"),
        (t(2), "unknown"),
        (t(2.1), "up"),
        (t(10), "maintenance"),
        (t(11), "unknown"),
        (t(700), "maintenance"),
    ]
    got = maintenance_from_transitions(rows, None, S, E)
    assert got == [(S, t(2)), (t(10), t(11)), (t(700), E)]


def test_recurring_window_nightly_local() -> None:
    """22:00-06:00 local every night, from local midnight of Nov 2 for 3 days; agrees with is_active."""
    from camsvc.health.maintenance import is_active
    from camsvc.models import MaintenanceWindow

    w = Window(starts_at=t(24), ends_at=t(24 + 72), weekdays=None, daily_start="22:00", daily_end="06:00")
    ivs = window_intervals(w, S, E)
    # the night of Nov 1 (its tail after 00:00), two whole nights, the start of the Nov 4 night
    assert [(b - a) / dt.timedelta(hours=1) for a, b in ivs] == [6, 8, 8, 2]
    assert ivs[1][0] == dt.datetime(2026, 11, 2, 15, tzinfo=UTC)  # 22:00 on 2026-11-02 local
    row = MaintenanceWindow(starts_at=w.starts_at, ends_at=w.ends_at, daily_start="22:00", daily_end="06:00")
    for k in range(0, 24 * 6 * 2):  # every 10 min over 6 days
        at = t(k / 6)
        inside = any(a <= at < b for a, b in ivs)
        assert inside == is_active(row, at, "Asia/Ho_Chi_Minh"), at


def test_weekday_window_whole_days() -> None:
    w = Window(starts_at=S, ends_at=None, weekdays="6")  # Sundays, local
    ivs = window_intervals(w, S, E)
    assert len(ivs) == 5 and all((b - a) == dt.timedelta(days=1) for a, b in ivs)  # Nov 2026: 5 Sundays


def test_summary_groups_pool_camera_seconds() -> None:
    cams = [
        CameraInput("a1", hamlet="A", kind="roadside", outages=(down(0, 72),)),
        CameraInput("a2", hamlet="A", kind="household"),
        CameraInput("b1", hamlet="B", kind="household", outages=(degraded(0, 1),)),
        CameraInput("b2", hamlet="B", kind="household", created_at=t(360)),
    ]
    s = summarize(cams, S, E)
    assert s.hamlets["A"].availability == pytest.approx(1 - 72 * H / (2 * MONTH_S))
    assert s.hamlets["B"].monitored_s == pytest.approx(MONTH_S + 360 * H)
    assert s.total.availability == pytest.approx(1 - 72 * H / (3 * MONTH_S + 360 * H))
    assert s.kinds["household"].cameras == 3
    assert [c.id for c in s.worst] == ["a1", "b1"]
