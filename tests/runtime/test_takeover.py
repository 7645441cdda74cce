"""Leader takeover with real processes: two `camsvc serve` on one database (SQLite, and PostgreSQL when one
answers on 127.0.0.1:5432) checking the real simulator; the leader is SIGKILLed (its whole process group,
probe workers too) and the other process takes over the checks within ``runtime.takeover_s``, each camera
resumed from its last recorded check (none checked twice for one due time, none skipped), and an outage
begun before the kill continues as the same row."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from camsvc.bench.common import ServiceProcess, free_port
from tests.utils.postgres import fresh_database
from tests.utils.service import quick_checks_env
from tests.utils.simulator import simulator_fixture
from tests.utils.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INTERVAL, RETRY, BUDGET = 3.0, 1.0, 4.0
TAKEOVER_S = 5.0
ENV = {
    **quick_checks_env(INTERVAL, RETRY, BUDGET),
    "CAMSVC_RUNTIME__TAKEOVER_S": str(TAKEOVER_S),
    "CAMSVC_PROBE__WORKERS": "1",
}

sim = simulator_fixture(2, 4)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        yield "sqlite"  # the default: camsvc.db in the data directory
        return
    with fresh_database("camsvc_takeover") as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database("camsvc_takeover") as url:
        yield url


def _engine(data_dir: Path, url: str) -> Engine:
    from camsvc.db import make_engine, upgrade

    engine = make_engine(url, data_dir)
    upgrade(engine)
    return engine


def _import(engine: Engine, fleet_csv: Path) -> None:
    from camsvc.cameras import import_cameras
    from camsvc.db import session_scope
    from camsvc.models import Camera

    with session_scope(engine) as s:
        import_cameras(s, fleet_csv.read_bytes(), "csv")
        s.execute(sa.update(Camera).values(check_interval_s=None))


def _checks(engine: Engine) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    with engine.connect() as c:
        for cid, at in c.execute(sa.text('SELECT camera_id, at FROM "check" ORDER BY camera_id, at')):
            out.setdefault(cid, []).append(_epoch(at))
    return out


def _epoch(at: Any) -> float:
    import datetime as dt

    if isinstance(at, str):
        at = dt.datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return float(at.timestamp())


def _status(engine: Engine, cid: str) -> tuple[str, int | None]:
    with engine.connect() as c:
        row = c.execute(
            sa.text("SELECT state, open_outage_id FROM camerastatus WHERE camera_id = :c"), {"c": cid}
        ).first()
    return (str(row[0]).lower(), row[1]) if row else ("unknown", None)


def _leader(svc: ServiceProcess) -> bool | None:
    try:
        return bool(httpx.get(f"{svc.base}/healthz", timeout=3).json()["leader"])
    except (httpx.HTTPError, ValueError, KeyError):
        return None


def test_sigkill_leader_the_other_process_takes_over(sim: Any, db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    from camsvc.config import Settings

    url = Settings(data_dir=data).db_url if db_url == "sqlite" else db_url
    engine = _engine(data, url)
    try:
        _import(engine, sim.fleet_csv)
        enabled = [c.id for c in sim.fleet if c.enabled]
        env = dict(ENV) if db_url == "sqlite" else {**ENV, "CAMSVC_DATABASE_URL": db_url}
        first = ServiceProcess(data, free_port(), env, log_path=tmp_path / "first.log")
        second = ServiceProcess(data, free_port(), env, log_path=tmp_path / "second.log")
        for p in (first, second):
            p.headers = {"X-Test": "no API calls"}  # only /healthz (public) and the database are read
        first.start()
        try:
            assert _leader(first) is True
            second.start()
            assert _leader(second) is False
            wait_for(
                lambda: all(_status(engine, c)[0] == "up" for c in enabled),
                60,
                "every camera up",
                lambda: {c: _status(engine, c) for c in enabled},
            )
            victim = enabled[0]
            sim.fault(victim, "down")
            wait_for(lambda: _status(engine, victim)[0] == "down", 30, f"{victim} down")
            outage = _status(engine, victim)[1]
            assert outage is not None
            before = _checks(engine)

            t_kill = time.time()
            first.kill()  # SIGKILL, its probe workers too
            killed_in = time.time() - t_kill
            took = wait_for(
                lambda: _leader(second) is True, TAKEOVER_S + 10, "the second process leads", interval_s=0.1
            )
            # every enabled camera is checked again by the new leader, the dead one included
            wait_for(
                lambda: all(len([t for t in _checks(engine).get(c, []) if t > t_kill]) >= 2 for c in enabled),
                TAKEOVER_S + 2 * INTERVAL + 2 * BUDGET + 10,
                "two checks of every camera after the kill",
            )
            after = _checks(engine)
            first_new = min(t for c in enabled for t in after[c] if t > t_kill) - t_kill
            print(
                f"takeover ({db_url.split(':')[0].split('+')[0]}): leader after {took:.2f} s, first new check after "
                f"{first_new:.2f} s (takeover_s={TAKEOVER_S}; the kill itself took {killed_in:.2f} s)"
            )
            assert took <= TAKEOVER_S + 0.5, took
            # the first check after the kill: when each camera was due, not before (no check twice for one
            # due time) and not much later than the takeover (none skipped)
            for c in enabled:
                last_before = max(before[c])
                nxt = min(t for t in after[c] if t > t_kill)
                assert nxt - last_before >= 0.9 * RETRY, (c, last_before, nxt)
                assert nxt - t_kill <= TAKEOVER_S + INTERVAL * 1.05 + BUDGET + 3, (c, nxt - t_kill)
            # no two checks of one camera closer than the shortest schedule (retry interval, -5 % jitter)
            for c, times in after.items():
                gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
                assert not gaps or min(gaps) >= 0.9 * RETRY, (c, gaps)
            # the outage begun under the old leader goes on as the same row
            state, still = _status(engine, victim)
            assert state == "down" and still == outage
            with engine.connect() as c:
                n = c.execute(
                    sa.text("SELECT count(*) FROM outage WHERE camera_id = :c"), {"c": victim}
                ).scalar()
            assert n == 1
            log = second.log_text()
            assert "took over as the leader" in log
            assert "probe pool started" in log
        finally:
            sim.fault(enabled[0], "normal")
            first.kill()
            second.stop()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_leader_that_loses_its_postgres_lock_stops_its_leader_work(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The lock's connection is cut (its backend terminated, as a server restart or a network cut would):
    the leader stops its checks and alerts within the retry period and the other process takes over."""
    import logging

    from camsvc.config import Settings
    from camsvc.metrics import Metrics
    from camsvc.runtime.service import Runtime

    caplog.set_level(logging.INFO)
    settings = Settings(
        data_dir=tmp_path, database_url=pg_url, probe={"workers": 1}, runtime={"takeover_s": 3}
    )
    engine = _engine(tmp_path, pg_url)
    a, b = Runtime(settings, engine, Metrics()), Runtime(settings, engine, Metrics())
    try:
        a.start()
        b.start()
        assert a.is_leader and not b.is_leader
        with engine.connect() as c:
            pids = [
                r[0]
                for r in c.execute(
                    sa.text(
                        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database())"
                    )
                )
            ]
            assert len(pids) == 1
            t0 = time.monotonic()
            c.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pids[0]})
        took = wait_for(lambda: b.is_leader and not a.is_leader, 10, "the other runtime to lead")
        print(f"lock lost -> other leader after {took:.2f} s")
        assert time.monotonic() - t0 <= 3 * a.retry_s + 2
        assert a.pool is None and a.scheduler is None and a.alerts is None  # its leader workers stopped
        assert not any(w["alive"] for w in a.workers() if w["name"] in ("pool", "scheduler", "alerts"))
        assert any("lock was lost" in r.getMessage() for r in caplog.records)
        wait_for(lambda: all(w["alive"] for w in b.workers()), 20, "the new leader's workers", b.workers)
    finally:
        b.stop()
        a.stop()
        engine.dispose()


def test_sqlite_leader_whose_lock_file_is_removed_steps_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An flock cannot be taken away, but its file can be deleted (a clean-up script, an operator): a new
    process would then lock a new file. The leader notices within the retry period; one leader remains."""
    import logging

    from camsvc.config import Settings
    from camsvc.metrics import Metrics
    from camsvc.runtime.service import Runtime

    caplog.set_level(logging.INFO)
    settings = Settings(data_dir=tmp_path, probe={"workers": 1}, runtime={"takeover_s": 3})
    engine = _engine(tmp_path, settings.db_url)
    a, b = Runtime(settings, engine, Metrics()), Runtime(settings, engine, Metrics())
    try:
        a.start()
        b.start()
        assert a.is_leader and not b.is_leader
        (tmp_path / "scheduler.lock").unlink()
        wait_for(
            lambda: any("removed or replaced" in r.getMessage() for r in caplog.records),
            3 * a.retry_s + 2,
            "the leader to notice its lock file is gone",
        )

        # is_leader stays true while a process that lost its lock stops its workers (it still runs leader
        # work until they are stopped), so wait until one process leads and holds the lock it leads by.
        def one_leader_holding() -> bool:
            leaders = [r for r in (a, b) if r.is_leader]
            return len(leaders) == 1 and leaders[0].leader.held()

        wait_for(one_leader_holding, 10, "exactly one leader, holding the new lock file")
        leader = a if a.is_leader else b
        assert not (a if leader is b else b).is_leader
        wait_for(
            lambda: all(w["alive"] for w in leader.workers()), 20, "the leader's workers", leader.workers
        )
    finally:
        b.stop()
        a.stop()
        engine.dispose()
