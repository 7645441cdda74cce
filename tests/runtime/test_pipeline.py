"""The pure pipeline evaluation, the alert decision and the heartbeat target, as tables."""

from __future__ import annotations

import datetime as dt

import pytest

from camsvc.runtime.heartbeat import redacted, target
from camsvc.runtime.pipeline import ErrorWindow, Facts, Limits, decide, evaluate

NOW = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)
L = Limits(interval_s=60, window_intervals=3, degraded_ratio=0.5, stopped_intervals=3, grace_s=120)


def ago(s: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=s)


BASE = dict(
    now=NOW,
    enabled_cameras=100,
    expected_checks=300,
    checks_in_window=290,
    newest_check_at=ago(2),
    write_errors=0,
    is_leader=True,
    started_at=ago(3600),
)

CASES = [
    # (name, changes, status, reasons, leader)
    ("healthy", {}, "ok", [], "this"),
    (
        "no cameras, no checks",
        dict(enabled_cameras=0, expected_checks=0, newest_check_at=None),
        "ok",
        [],
        "this",
    ),
    (
        "stopped 10 min",
        dict(newest_check_at=ago(600), checks_in_window=0),
        "failing",
        ["checks_stopped"],
        "this",
    ),
    ("never checked", dict(newest_check_at=None, checks_in_window=0), "failing", ["checks_stopped"], "this"),
    (
        "just started",
        dict(newest_check_at=ago(3600), checks_in_window=0, started_at=ago(30)),
        "ok",
        ["starting"],
        "this",
    ),
    ("behind", dict(checks_in_window=100), "degraded", ["checks_behind"], "this"),
    ("behind at the edge", dict(checks_in_window=150), "ok", [], "this"),
    ("write errors", dict(write_errors=3), "degraded", ["write_errors"], "this"),
    (
        "a worker dead",
        dict(dead_workers=("alerts (start failed: OSError; restarts 2)",)),
        "degraded",
        ["worker_dead"],
        "this",
    ),
    ("another leads", dict(is_leader=False), "ok", [], "other"),
    (
        "nobody leads",
        dict(is_leader=False, newest_check_at=ago(900), checks_in_window=0),
        "failing",
        ["checks_stopped", "no_leader"],
        "none",
    ),
    (
        "old alert waiting",
        dict(outbox_pending=3, outbox_oldest_at=ago(1200)),
        "degraded",
        ["alert_backlog"],
        "this",
    ),
    ("young alerts waiting", dict(outbox_pending=3, outbox_oldest_at=ago(10)), "ok", [], "this"),
    (
        "many alerts",
        dict(outbox_pending=5000, outbox_oldest_at=ago(10)),
        "degraded",
        ["alert_backlog_size"],
        "this",
    ),
    ("naive timestamps (SQLite)", dict(newest_check_at=ago(2).replace(tzinfo=None)), "ok", [], "this"),
    ("database unreadable", dict(database_error="OperationalError"), "failing", ["database"], "unknown"),
    (
        "stopped and errors",
        dict(newest_check_at=ago(400), checks_in_window=0, write_errors=40),
        "failing",
        ["checks_stopped", "write_errors"],
        "this",
    ),
]


@pytest.mark.parametrize(("name", "changes", "status", "reasons", "leader"), CASES, ids=[c[0] for c in CASES])
def test_evaluate(name: str, changes: dict, status: str, reasons: list[str], leader: str) -> None:
    h = evaluate(Facts(**{**BASE, **changes}), L)  # type: ignore[arg-type]
    assert (h.status, h.reasons) == (status, reasons)
    assert len(h.messages) == len(h.reasons)
    if status != "failing" or reasons == ["database"]:
        assert h.stopped_since is None
    if reasons != ["database"]:
        assert h.leader == leader


class _Runtime:
    is_leader = True

    def __init__(self, infos: list[dict]) -> None:
        self.infos = infos

    def workers(self) -> list[dict]:
        return self.infos


def test_dead_workers_are_the_wanted_ones_not_alive() -> None:
    from camsvc.runtime.pipeline import dead_workers

    infos = [
        {"name": "pool", "alive": True, "wanted": True, "restarts": 0, "last_error": None},
        {"name": "alerts", "alive": False, "wanted": True, "restarts": 3, "last_error": "boom"},
        {"name": "recorders", "alive": False, "wanted": False, "restarts": 0, "last_error": None},
    ]
    assert dead_workers(_Runtime(infos)) == ("alerts (boom; restarts 3)",)
    assert dead_workers(None) == ()


def test_stopped_since_is_the_newest_check_or_the_start() -> None:
    h = evaluate(Facts(**{**BASE, "newest_check_at": ago(600), "checks_in_window": 0}), L)  # type: ignore[arg-type]
    assert h.stopped_since == ago(600)
    assert "since 2026-12-02T05:50:00Z" in h.messages[0]
    h = evaluate(Facts(**{**BASE, "newest_check_at": None, "checks_in_window": 0}), L)  # type: ignore[arg-type]
    assert h.stopped_since == ago(3600)
    assert h.as_dict()["stopped_since"] == "2026-12-02T05:00:00Z"


@pytest.mark.parametrize(
    ("previous", "current", "reasons", "action"),
    [
        (None, "ok", [], None),
        (None, "degraded", ["checks_behind"], None),
        (None, "failing", ["checks_stopped"], "failing"),
        ("ok", "failing", ["checks_stopped"], "failing"),
        ("ok", "failing", ["database"], "failing"),
        ("failing", "failing", ["checks_stopped"], None),
        ("failing", "degraded", ["checks_behind"], None),  # resumed, the window still filling: not yet
        ("failing", "ok", ["starting"], None),
        ("failing", "ok", [], "recovered"),
        ("failing", "degraded", ["alert_backlog"], "recovered"),  # the stop's own alert may still wait
        ("failing", "degraded", ["write_errors"], "recovered"),
        ("ok", "ok", [], None),
    ],
)
def test_decide(previous: str | None, current: str, reasons: list[str], action: str | None) -> None:
    assert decide(previous, current, reasons) == action  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "status", "fail", "to"),
    [
        ("", "ok", True, None),
        ("https://hc.example/ping/abc", "ok", True, "https://hc.example/ping/abc"),
        ("https://hc.example/ping/abc", "degraded", True, "https://hc.example/ping/abc"),
        ("https://hc.example/ping/abc", "failing", True, "https://hc.example/ping/abc/fail"),
        ("https://hc.example/ping/abc/", "failing", True, "https://hc.example/ping/abc/fail"),
        ("https://hc.example/ping/abc?x=1", "failing", True, "https://hc.example/ping/abc/fail?x=1"),
        ("https://hc.example/ping/abc", "failing", False, None),
    ],
)
def test_heartbeat_target(url: str, status: str, fail: bool, to: str | None) -> None:
    assert target(url, status, fail) == to


def test_redacted_keeps_only_scheme_and_host() -> None:
    assert redacted("https://hc.example:8443/ping/SECRETKEY") == "https://hc.example:8443/…"
    assert "SECRET" not in redacted("http://127.0.0.1/SECRET")


def test_error_window() -> None:
    w = ErrorWindow()
    assert w.observe(0, 5, 180) == 0  # the first sample is the baseline
    assert w.observe(60, 8, 180) == 3
    assert w.observe(200, 8, 180) == 3  # baseline moves to t=60 (t=0 left the window)
    assert w.observe(300, 9, 180) == 1  # baseline now t=200
    assert w.observe(1000, 9, 180) == 0


def test_heartbeat_refused_by_the_allow_list_and_never_logs_the_key(caplog: pytest.LogCaptureFixture) -> None:
    from camsvc.config import Settings
    from camsvc.runtime.heartbeat import Heartbeat
    from camsvc.runtime.pipeline import Health

    s = Settings(pipeline={"heartbeat_url": "http://169.254.169.254/ping/SECRETKEY"})  # type: ignore[arg-type]
    hb = Heartbeat(s, lambda: Health(status="ok"))
    assert hb.beat(Health(status="ok")) is False
    assert (hb.sent, hb.failed, hb.last_error) == (0, 1, "Refused")
    assert "169.254.169.254" in caplog.text and "SECRETKEY" not in caplog.text


def test_heartbeat_url_must_be_http() -> None:
    from pydantic import ValidationError

    from camsvc.config import PipelineSettings

    with pytest.raises(ValidationError):
        PipelineSettings(heartbeat_url="ftp://x/y")
    assert (
        PipelineSettings(heartbeat_url=" https://hc.example/p/k ").heartbeat_url == "https://hc.example/p/k"
    )
