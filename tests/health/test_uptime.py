import datetime as dt

from camsvc.enums import HealthState as S
from camsvc.health.uptime import state_times

T0 = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)


def h(x: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=x)


def test_times_per_state_and_uptime() -> None:
    tr = [(h(0), S.UP), (h(10), S.DOWN), (h(12), S.UP), (h(20), S.MAINTENANCE), (h(22), S.UP)]
    st = state_times(tr, h(0), h(24))
    assert st.seconds["up"] == 20 * 3600
    assert st.seconds["down"] == 2 * 3600
    assert st.seconds["maintenance"] == 2 * 3600
    assert st.uptime == 20 / 22  # maintenance excluded


def test_state_before_period_carries_in_and_unordered_input() -> None:
    tr = [(h(30), S.UP), (h(-5), S.DOWN)]
    st = state_times(tr, h(0), h(24), initial=S.UP)
    assert st.seconds["down"] == 24 * 3600 and st.uptime == 0.0


def test_degraded_counts_as_available_not_up() -> None:
    st = state_times([(h(0), S.UP), (h(6), S.DEGRADED)], h(0), h(12))
    assert st.uptime == 0.5 and st.availability == 1.0


def test_nothing_monitored() -> None:
    st = state_times([], h(0), h(1))
    assert st.seconds["unknown"] == 3600 and st.uptime is None
