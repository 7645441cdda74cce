"""Table tests for the pure health state machine."""

from __future__ import annotations

import datetime as dt

import pytest

from camsvc.enums import HealthState as S
from camsvc.health.state import Health, Observation, Thresholds, step

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def t(sec: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=sec)


OK = ("ok", None)


def run(seq: list[tuple], th: Thresholds = Thresholds()) -> tuple[Health, list]:
    """seq items: ("ok",) / ("fail", err) / ("fault", code) / ("maint", ok?) at 10 s apart."""
    h = Health()
    changes = []
    for i, item in enumerate(seq):
        kind = item[0]
        if kind == "ok":
            obs = Observation(at=t(i * 10), ok=True)
        elif kind == "fail":
            obs = Observation(at=t(i * 10), ok=False, error=item[1])
        elif kind == "fault":
            obs = Observation(at=t(i * 10), ok=True, faults=tuple(item[1:]))
        elif kind == "maint":
            obs = Observation(
                at=t(i * 10), ok=item[1], error=None if item[1] else "refused", in_maintenance=True
            )
        else:  # pragma: no cover
            raise AssertionError(kind)
        s = step(h, obs, th)
        h = s.health
        changes.extend(s.changes)
    return h, changes


@pytest.mark.parametrize(
    ("seq", "final", "transitions"),
    [
        ([("ok",)], S.UP, [(S.UNKNOWN, S.UP)]),
        ([("ok",), ("fail", "refused")], S.UP, [(S.UNKNOWN, S.UP)]),  # one blip is not an outage
        ([("ok",), ("fail", "refused"), ("ok",)], S.UP, [(S.UNKNOWN, S.UP)]),
        ([("ok",), ("fail", "refused"), ("fail", "refused")], S.DOWN, [(S.UNKNOWN, S.UP), (S.UP, S.DOWN)]),
        ([("fail", "timeout"), ("fail", "timeout")], S.DOWN, [(S.UNKNOWN, S.DOWN)]),
        (
            [("ok",), ("fail", "auth"), ("fail", "auth"), ("fail", "auth"), ("ok",)],
            S.UP,
            [(S.UNKNOWN, S.UP), (S.UP, S.DOWN), (S.DOWN, S.UP)],
        ),
        ([("ok",), ("fault", "black")], S.UP, [(S.UNKNOWN, S.UP)]),
        (
            [("ok",), ("fault", "black"), ("fault", "black")],
            S.DEGRADED,
            [(S.UNKNOWN, S.UP), (S.UP, S.DEGRADED)],
        ),
        ([("ok",), ("fault", "black"), ("fault", "blurred")], S.UP, [(S.UNKNOWN, S.UP)]),  # different faults
        (
            [("ok",), ("fault", "covered"), ("fault", "covered"), ("ok",)],
            S.UP,
            [(S.UNKNOWN, S.UP), (S.UP, S.DEGRADED), (S.DEGRADED, S.UP)],
        ),
        (
            [("ok",), ("fault", "frozen"), ("fault", "frozen"), ("fail", "stalled"), ("fail", "stalled")],
            S.DOWN,
            [(S.UNKNOWN, S.UP), (S.UP, S.DEGRADED), (S.DEGRADED, S.DOWN)],
        ),
        (
            [("fail", "refused"), ("fail", "refused"), ("fault", "turned")],
            S.DEGRADED,
            [(S.UNKNOWN, S.DOWN), (S.DOWN, S.DEGRADED)],
        ),
        (
            [("ok",), ("maint", False), ("maint", False), ("fail", "refused"), ("fail", "refused")],
            S.DOWN,
            [(S.UNKNOWN, S.UP), (S.UP, S.MAINTENANCE), (S.MAINTENANCE, S.UNKNOWN), (S.UNKNOWN, S.DOWN)],
        ),
        (
            [("ok",), ("maint", True), ("ok",)],
            S.UP,
            [(S.UNKNOWN, S.UP), (S.UP, S.MAINTENANCE), (S.MAINTENANCE, S.UNKNOWN), (S.UNKNOWN, S.UP)],
        ),
    ],
)
def test_transitions(seq: list[tuple], final: S, transitions: list[tuple[S, S]]) -> None:
    h, changes = run(seq)
    assert h.state is final
    assert [(c.old, c.new) for c in changes] == transitions


def test_outage_starts_at_first_failed_check_not_confirmation() -> None:
    h, changes = run([("ok",), ("fail", "refused"), ("fail", "timeout"), ("fail", "timeout")])
    down = [c for c in changes if c.new is S.DOWN][0]
    assert down.open_outage is S.DOWN
    assert down.outage_started_at == t(10)  # the first failure
    assert down.at == t(20)  # confirmed at the second
    assert down.cause == "timeout"
    assert h.last_error == "timeout"


def test_recovery_closes_outage_at_first_good_check() -> None:
    _, changes = run([("fail", "refused"), ("fail", "refused"), ("fail", "refused"), ("ok",)])
    up = changes[-1]
    assert (up.old, up.new) == (S.DOWN, S.UP)
    assert up.close_outage_at == t(30)


def test_thresholds_are_respected() -> None:
    th = Thresholds(fail=3, recover=2, degrade=3)
    h, _ = run([("ok",), ("fail", "x"), ("fail", "x")], th)
    assert h.state is S.UP and h.pending
    h, _ = run([("ok",), ("fail", "x"), ("fail", "x"), ("fail", "x"), ("ok",)], th)
    assert h.state is S.DOWN  # one good check is not enough with recover=2
    h, _ = run([("ok",), ("fail", "x"), ("fail", "x"), ("fail", "x"), ("ok",), ("ok",)], th)
    assert h.state is S.UP


def test_degraded_outage_starts_at_first_faulty_check() -> None:
    _, changes = run([("ok",), ("fault", "snow"), ("fault", "snow")])
    deg = changes[-1]
    assert deg.open_outage is S.DEGRADED and deg.outage_started_at == t(10) and deg.cause == "snow"


def test_persisting_fault_keeps_its_name_when_others_join() -> None:
    h, changes = run([("ok",), ("fault", "covered"), ("fault", "black", "covered")])
    assert h.state is S.DEGRADED and changes[-1].cause == "covered"


def test_down_to_degraded_closes_one_outage_and_opens_another() -> None:
    _, changes = run([("fail", "refused"), ("fail", "refused"), ("fault", "blurred")])
    c = changes[-1]
    assert c.close_outage_at == t(20) and c.open_outage is S.DEGRADED
