"""Login throttling (pure policy as tables, persistence across a restart) and CSRF helpers."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine

from camsvc.auth import csrf, throttle
from camsvc.auth.models import UserSession
from camsvc.auth.throttle import ADDR_POLICY, USER_POLICY, Policy, State, after_failure, lock_seconds
from camsvc.config import Settings
from camsvc.db import make_engine, session_scope
from tests.auth.conftest import T0, at


@pytest.mark.parametrize(
    "failures,user_lock,addr_lock",
    [(0, 0, 0), (1, 0, 0), (4, 0, 0), (5, 30, 0), (6, 60, 0), (7, 120, 0), (8, 240, 0), (9, 480, 0),
     (10, 900, 0), (11, 900, 0), (19, 900, 0), (20, 900, 30), (21, 900, 60), (1000, 900, 900)],
)  # fmt: skip
def test_lock_grows_and_is_capped(failures: int, user_lock: float, addr_lock: float) -> None:
    assert lock_seconds(failures, USER_POLICY) == user_lock
    assert lock_seconds(failures, ADDR_POLICY) == addr_lock


def test_after_failure_counts_and_forgets() -> None:
    p = Policy(free_failures=2, base_s=10, max_s=100, forget_after_s=600)
    s = State()
    s = after_failure(s, T0, p)
    assert (s.failures, s.locked_until) == (1, None)
    s = after_failure(s, at(1), p)
    assert s.failures == 2 and s.locked_until == at(11) and s.first_failure_at == T0
    s = after_failure(s, at(20), p)
    assert s.failures == 3 and s.locked_until == at(40)
    s = after_failure(s, at(20 + 601), p)  # quiet for longer than forget_after_s: starts over
    assert s.failures == 1 and s.locked_until is None and s.first_failure_at == at(621)


def test_keys() -> None:
    assert throttle.keys_for(" Lan ", "10.0.0.5") == ["user:lan", "ip:10.0.0.5"]
    assert throttle.keys_for("", "10.0.0.5") == ["ip:10.0.0.5"]
    assert throttle.keys_for("lan", None) == ["user:lan"]


def test_lock_survives_a_restart(settings: Settings, engine: Engine) -> None:
    keys = throttle.keys_for("lan", "10.0.0.5")
    locked = 0.0
    for i in range(5):
        with session_scope(engine) as db:
            assert throttle.check_locked(db, keys, at(i)) == 0.0
            locked = throttle.record_failure(db, keys, at(i))
    assert locked == 30.0
    engine.dispose()

    fresh = make_engine(settings.db_url)  # the service restarted
    try:
        with session_scope(fresh) as db:
            assert throttle.check_locked(db, keys, at(4)) == 30.0
            assert throttle.check_locked(db, keys, at(20)) == 14.0
            assert throttle.check_locked(db, ["user:lan"], at(34)) == 0.0
            assert throttle.check_locked(db, ["user:someone-else", "ip:10.0.0.6"], at(5)) == 0.0
            assert throttle.record_failure(db, keys, at(40)) == 60.0  # 6th failure
    finally:
        fresh.dispose()


def test_success_clears_the_user_not_the_address(engine: Engine) -> None:
    keys = throttle.keys_for("lan", "10.0.0.5")
    with session_scope(engine) as db:
        for i in range(21):
            throttle.record_failure(db, keys, at(i))
        assert throttle.check_locked(db, ["ip:10.0.0.5"], at(21)) > 0
        throttle.record_success(db, keys, at(22))
        assert throttle.check_locked(db, ["user:lan"], at(22)) == 0.0
        assert throttle.check_locked(db, ["ip:10.0.0.5"], at(22)) > 0
        assert throttle.record_failure(db, ["user:lan"], at(23)) == 0.0  # counts from zero again


def test_purge_forgotten_rows(engine: Engine) -> None:
    with session_scope(engine) as db:
        throttle.record_failure(db, ["user:a"], at(0))
        throttle.record_failure(db, ["user:b"], at(3000))
    with session_scope(engine) as db:
        assert throttle.purge(db, at(3700)) == 1
        assert throttle.purge(db, at(3700)) == 0


# ---------------------------------------------------------------------------------------------- csrf
@pytest.mark.parametrize(
    "method,cookie,needed",
    [("GET", True, False), ("HEAD", True, False), ("OPTIONS", True, False), ("post", True, True),
     ("PUT", True, True), ("PATCH", True, True), ("DELETE", True, True), ("POST", False, False)],
)  # fmt: skip
def test_needs_csrf(method: str, cookie: bool, needed: bool) -> None:
    assert csrf.needs_csrf(method, cookie) is needed


def test_check_token() -> None:
    s = UserSession(token_hash="h", user_id=1, csrf_token=csrf.new_token(), created_at=T0, last_seen_at=T0,
                    idle_s=60, expires_at=T0 + dt.timedelta(hours=1))  # fmt: skip
    assert csrf.check(s, s.csrf_token)
    assert not csrf.check(s, s.csrf_token[:-1] + "x")
    assert not csrf.check(s, "")
    assert not csrf.check(s, None)
    assert not csrf.check(s, "é" * 10)


@pytest.mark.parametrize(
    "origin,referer,ok",
    [
        ("https://cam.example.vn", None, True),
        ("https://cam.example.vn:443", None, True),
        ("https://CAM.example.vn", None, True),
        ("http://cam.example.vn", None, False),
        ("https://evil.example", None, False),
        (None, "https://cam.example.vn/cameras/1", True),
        (None, "https://evil.example/x", False),
        ("null", None, False),
        (None, None, True),
        ("garbage", None, False),
    ],
)
def test_origin_ok(origin: str | None, referer: str | None, ok: bool) -> None:
    assert csrf.origin_ok(origin, referer, "https://cam.example.vn/") is ok
