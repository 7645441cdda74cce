"""The pure rollup of one camera-hour: counts, availability, medians, error and fault counts; merging late
checks; bad input named."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from camsvc.rollup.compute import CheckSample, hour_of, merge, rollup_hour

H = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)


def ok(
    minute: int,
    open_ms: float,
    fps: float = 25.0,
    br: float = 100.0,
    sh: float = 20.0,
    faults: str | None = None,
) -> CheckSample:
    return CheckSample(
        at=H + dt.timedelta(minutes=minute),
        ok=True,
        open_ms=open_ms,
        fps=fps,
        metrics_json=json.dumps({"brightness": br, "sharpness": sh}),
        faults=faults,
    )


def bad(minute: int, error: str | None) -> CheckSample:
    return CheckSample(at=H + dt.timedelta(minutes=minute), ok=False, error=error)


CASES = [
    # (name, samples, expected columns)
    (
        "empty hour",
        [],
        dict(
            checks=0,
            failures=0,
            faults=0,
            availability=None,
            open_ms_p50=None,
            errors_json=None,
            faults_json=None,
        ),
    ),
    (
        "all good, odd count",
        [ok(0, 40), ok(1, 60), ok(2, 50)],
        dict(
            checks=3,
            failures=0,
            availability=1.0,
            open_ms_p50=50.0,
            fps_p50=25.0,
            brightness_p50=100.0,
            errors_json=None,
        ),
    ),
    (
        "even count: mean of the middle two",
        [ok(0, 40, br=90), ok(1, 60, br=110)],
        dict(open_ms_p50=50.0, brightness_p50=100.0, sharpness_p50=20.0),
    ),
    (
        "failures counted by class, unnamed as unknown",
        [ok(0, 40), bad(1, "refused"), bad(2, "refused"), bad(3, None)],
        dict(
            checks=4, failures=3, availability=0.25, open_ms_p50=40.0, errors_json='{"refused":2,"unknown":1}'
        ),
    ),
    (
        "picture faults: checks with any, and each fault",
        [ok(0, 40, faults="dark,frozen"), ok(1, 40, faults="dark"), ok(2, 40)],
        dict(checks=3, failures=0, faults=2, availability=1.0, faults_json='{"dark":2,"frozen":1}'),
    ),
    (
        "all failed: no medians",
        [bad(0, "timeout"), bad(5, "timeout")],
        dict(
            availability=0.0, open_ms_p50=None, fps_p50=None, brightness_p50=None, errors_json='{"timeout":2}'
        ),
    ),
    (
        "non-finite and unreadable metrics ignored",
        [
            ok(0, float("nan"), fps=float("inf")),
            ok(1, 30.0),
            CheckSample(at=H + dt.timedelta(minutes=2), ok=True, open_ms=None, metrics_json="{not json"),
            CheckSample(at=H + dt.timedelta(minutes=3), ok=True, metrics_json='{"brightness": "x"}'),
        ],
        dict(checks=4, open_ms_p50=30.0, fps_p50=25.0, brightness_p50=100.0),
    ),
]


@pytest.mark.parametrize("name,samples,expected", CASES, ids=[c[0] for c in CASES])
def test_rollup_hour(name: str, samples: list[CheckSample], expected: dict[str, object]) -> None:
    r = rollup_hour("cam-1", H, samples)
    assert (r.camera_id, r.hour) == ("cam-1", H)
    for k, v in expected.items():
        assert getattr(r, k) == (pytest.approx(v) if isinstance(v, float) else v), k


def test_rollup_refuses_checks_outside_the_hour_and_a_hour_not_on_the_hour() -> None:
    with pytest.raises(ValueError, match="outside the hour"):
        rollup_hour("c", H, [ok(0, 1), CheckSample(at=H + dt.timedelta(hours=1), ok=True)])
    with pytest.raises(ValueError, match="start of a UTC hour"):
        rollup_hour("c", H + dt.timedelta(minutes=1), [])


@pytest.mark.parametrize(
    "t,expected",
    [
        (dt.datetime(2026, 3, 1, 10, 59, 59, 999, tzinfo=dt.UTC), H),
        (H, H),
        (dt.datetime(2026, 3, 1, 17, 30, tzinfo=dt.timezone(dt.timedelta(hours=7))), H),
    ],
)
def test_hour_of(t: dt.datetime, expected: dt.datetime) -> None:
    assert hour_of(t) == expected


def test_hour_of_refuses_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        hour_of(dt.datetime(2026, 3, 1, 10))


def test_merge_adds_late_checks() -> None:
    old = rollup_hour("c", H, [ok(0, 40), ok(1, 40), bad(2, "refused")])
    late = rollup_hour("c", H, [bad(30, "refused"), bad(31, "auth")])
    m = merge(old, late)
    assert (m.checks, m.failures, m.faults) == (5, 3, 0)
    assert m.availability == pytest.approx(0.4)
    assert m.open_ms_p50 == 40.0  # the late ones measured none
    assert json.loads(m.errors_json or "") == {"auth": 1, "refused": 2}
    with pytest.raises(ValueError, match="cannot merge"):
        merge(old, rollup_hour("other", H, []))
