"""Tables for the pure parts of recording: policy, gaps, the retention planner, recording_fault."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace as NS

import pytest

from camsvc.config import Settings
from camsvc.enums import RecordingMode
from camsvc.recording import policy
from camsvc.recording.health import recording_fault
from camsvc.recording.index import gaps, merge
from camsvc.recording.retention import Item, floor_bytes, plan
from camsvc.recording.writer import parse_relpath, segment_relpath

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def t(s: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=s)


def cam(**kw: object) -> NS:
    base = dict(
        kind="roadside",
        recording_mode=None,
        recording_stream=None,
        retention_days=None,
        main_url="rtsp://h/main",
        sub_url="rtsp://h/sub",
    )
    base.update(kw)
    return NS(**base)


S = Settings()


@pytest.mark.parametrize(
    "camera, mode",
    [
        (cam(), RecordingMode.CONTINUOUS),
        (cam(kind="household"), RecordingMode.OFF),
        (cam(kind="household", recording_mode="continuous"), RecordingMode.CONTINUOUS),
        (cam(recording_mode="off"), RecordingMode.OFF),
    ],
)
def test_effective_mode(camera: NS, mode: RecordingMode) -> None:
    assert policy.effective_mode(camera, S) == mode


@pytest.mark.parametrize(
    "camera, settings_stream, stream, url",
    [
        (cam(), "main", "main", "rtsp://h/main"),
        (cam(), "sub", "sub", "rtsp://h/sub"),
        (cam(recording_stream="sub"), "main", "sub", "rtsp://h/sub"),
        (cam(recording_stream="sub", sub_url=""), "main", "main", "rtsp://h/main"),  # falls back
        (cam(main_url=""), "main", "sub", "rtsp://h/sub"),
        (cam(main_url="", sub_url=""), "main", "main", ""),
    ],
)
def test_effective_stream(camera: NS, settings_stream: str, stream: str, url: str) -> None:
    s = Settings(recording={"stream": settings_stream})
    got = policy.effective_stream(camera, s)
    assert got == stream
    assert policy.stream_url(camera, got) == url


@pytest.mark.parametrize(
    "camera, days",
    [(cam(), 14.0), (cam(kind="household"), 7.0), (cam(retention_days=30), 30.0)],
)
def test_retention_days(camera: NS, days: float) -> None:
    assert policy.retention_days(camera, S) == days


@pytest.mark.parametrize(
    "stall_s, segment_s, expected", [(0, 60, 150), (0, 10, 120), (0, 4, 120), (20, 4, 20)]
)
def test_stall_rule(stall_s: float, segment_s: float, expected: float) -> None:
    assert policy.stall_seconds(NS(stall_s=stall_s, segment_s=segment_s)) == expected


@pytest.mark.parametrize(
    "intervals, start, end, tol, expected",
    [
        ([], 0, 10, 1, [(0, 10)]),
        ([(0, 10)], 0, 10, 1, []),
        ([(0, 4), (4.3, 10)], 0, 10, 1, []),  # jitter under the tolerance
        ([(0, 4), (6, 10)], 0, 10, 1, [(4, 6)]),
        ([(2, 4), (6, 8)], 0, 10, 0.5, [(0, 2), (4, 6), (8, 10)]),
        ([(6, 8), (2, 4)], 3, 7, 0.5, [(4, 6)]),  # unsorted input, range inside
        ([(-5, 3), (2, 20)], 0, 10, 0, []),  # overlapping, wider than the range
        ([(0, 10)], 10, 10, 0, []),  # empty range
    ],
)
def test_gaps(
    intervals: list[tuple[float, float]],
    start: float,
    end: float,
    tol: float,
    expected: list[tuple[float, float]],
) -> None:
    got = gaps([(t(a), t(b)) for a, b in intervals], t(start), t(end), tol)
    assert got == [(t(a), t(b)) for a, b in expected]


def test_merge() -> None:
    assert merge([(t(0), t(4)), (t(4.2), t(6)), (t(9), t(10))], 0.5) == [(t(0), t(6)), (t(9), t(10))]


DAY = 86400.0


def items(*rows: tuple[int, str, float, int, bool]) -> list[Item]:
    return [Item(i, c, t(end), size, held) for i, c, end, size, held in rows]


@pytest.mark.parametrize(
    "rows, days, now, free, floor, delete, unmet",
    [
        # retention: older than the camera's days go, held ones stay
        ([(1, "a", 0, 10, False), (2, "a", 2 * DAY, 10, False)], {"a": 1}, 2.5 * DAY, 100, 0, [1], False),
        ([(1, "a", 0, 10, True), (2, "a", 2 * DAY, 10, False)], {"a": 1}, 2.5 * DAY, 100, 0, [], False),
        # per-camera retention
        ([(1, "a", 0, 10, False), (2, "b", 0, 10, False)], {"a": 1, "b": 30}, 2 * DAY, 100, 0, [1], False),
        # pressure: oldest first across cameras until the floor is kept
        (
            [(1, "a", 10, 10, False), (2, "b", 5, 10, False), (3, "a", 20, 10, False)],
            {"a": 30, "b": 30},
            30,
            85,
            100,
            [2, 1],
            False,
        ),
        # pressure skips held segments; the floor cannot be kept with only held ones left
        (
            [(1, "a", 5, 10, True), (2, "a", 10, 10, False)],
            {"a": 30},
            30,
            50,
            100,
            [2],
            True,
        ),
        # nothing to do
        ([(1, "a", 5, 10, False)], {"a": 30}, 30, 500, 100, [], False),
    ],
)
def test_retention_plan(
    rows: list[tuple[int, str, float, int, bool]],
    days: dict[str, float],
    now: float,
    free: int,
    floor: int,
    delete: list[int],
    unmet: bool,
) -> None:
    p = plan(items(*rows), days, t(now), free, floor)
    assert p.delete == delete
    assert p.floor_unmet is unmet


def test_floor_bytes() -> None:
    assert floor_bytes(1000, 10, 0.05) == 50
    assert floor_bytes(1000, 100, 0.05) == 100


@pytest.mark.parametrize(
    "expected, since, last_end, now, fault",
    [
        (False, 0, None, 1000, False),  # not expected
        (True, None, None, 1000, False),  # no status yet: no evidence
        (True, 0, None, 100, False),  # within the grace after since
        (True, 0, None, 200, True),  # no segment since start
        (True, 0, 150, 200, False),  # a recent segment
        (True, 0, 150, 400, True),  # stalled
    ],
)
def test_recording_fault(
    expected: bool, since: float | None, last_end: float | None, now: float, fault: bool
) -> None:
    status = None if since is None else NS(since=t(since), last_segment_end=t(last_end) if last_end else None)
    assert recording_fault(expected, status, t(now), 150) is fault


def test_segment_paths_round_trip() -> None:
    start = dt.datetime(2026, 12, 1, 21, 10, 5, 123456, tzinfo=dt.UTC)
    rel = segment_relpath("cam-001", "sub", start)
    assert rel == "cam-001/2026-12-01/21/cam-001-sub-20261201T211005.123Z.mp4"
    assert parse_relpath(rel) == ("cam-001", "sub", start.replace(microsecond=123000))
    assert parse_relpath("cam-001/x.mp4") is None
