"""The watchdog: the backoff table, one pass over real threads, and the real runtime's probe pool broken by a
real fault (its worker processes SIGKILLed while they start, until the pool gives up) and replaced, with
checks going on through the new pool and the death logged once."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from camsvc.runtime.watchdog import Watchdog, Worker, restart_delay
from tests.utils.simulator import simulator_fixture
from tests.utils.waiting import wait_for


@pytest.mark.parametrize(
    ("deaths", "max_s", "delay"),
    [(0, 60, 1), (1, 60, 1), (2, 60, 2), (3, 60, 4), (6, 60, 32), (7, 60, 60), (50, 60, 60), (3, 0.5, 0.5)],
)
def test_restart_delay(deaths: int, max_s: float, delay: float) -> None:
    assert restart_delay(deaths, max_s) == delay


class JsonReader:
    """A real worker thread that parses what it is given and dies on bad input (an uncaught exception)."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.parsed: list[Any] = []
        self.thread: threading.Thread | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.thread = threading.Thread(target=self._run, name="json-reader", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.lines:
            self.parsed.append(json.loads(self.lines.pop(0)))  # a bad line raises: the thread dies

    def stop(self, timeout_s: float) -> None:
        if self.thread is not None:
            self.thread.join(timeout_s)

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # it dies on purpose
def test_a_dead_thread_is_restarted_with_backoff_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    gate = threading.Event()
    reader = JsonReader(["1", "{bad", "2"])
    w = Worker("reader", reader.start, reader.stop, reader.alive)
    original_run = reader._run

    def run_after_gate() -> None:  # the thread dies once the test has seen it start
        gate.wait(5)
        original_run()

    reader._run = run_after_gate  # type: ignore[method-assign]
    dog = Watchdog(lambda: [w], backoff_max_s=8)
    caplog.set_level(logging.INFO, logger="camsvc.runtime.watchdog")
    assert dog.start_worker(w, now=0.0)
    assert dog.check(now=0.5) == []  # alive
    gate.set()
    reader.thread.join(5)  # type: ignore[union-attr]
    assert not reader.alive() and reader.parsed == [1]
    # dead: logged at once, restarted after 1 s, not before
    for t in (1.0, 1.5, 1.9):
        assert dog.check(now=t) == []
    assert dog.check(now=2.0) == ["reader"]
    wait_for(lambda: not reader.alive(), 5, "the restarted reader to finish its input")
    assert reader.parsed == [1, 2]
    # it ended again (no more input): a second death, restarted after 2 s
    assert dog.check(now=3.0) == []
    assert dog.check(now=4.9) == []
    assert dog.check(now=5.0) == ["reader"]
    info = w.info()
    assert info["restarts"] == 2 and info["name"] == "reader"
    died = [r for r in caplog.records if "is not running" in r.getMessage()]
    assert len(died) == 2  # once per death, not once per pass
    assert reader.starts == 3


def test_a_restart_that_keeps_failing_is_logged_once_and_retried_on_the_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts: list[float] = []

    def start() -> None:
        attempts.append(1)
        Path("/nonexistent-dir/for-camsvc").mkdir()  # a real failure: no such parent directory

    w = Worker("disk", start, lambda _t: None, lambda: False)
    dog = Watchdog(lambda: [w], backoff_max_s=4)
    caplog.set_level(logging.DEBUG, logger="camsvc.runtime.watchdog")
    assert not dog.start_worker(w, now=0.0)
    assert "FileNotFoundError" in str(w.info()["last_error"])
    for t in range(0, 40):
        dog.check(now=t * 0.5)
    # tries at 1 (then +2), 3, 7, 11, 15, 19: the backoff grows to its 4 s cap
    assert len(attempts) == 1 + 6
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, [r.getMessage() for r in warnings]  # the death, the first failed restart


# ---------------------------------------------------------------------------------------- the real runtime
sim = simulator_fixture(1, 1)


@pytest.fixture
def runtime(sim: Any, tmp_path: Path) -> Iterator[Any]:
    from camsvc.bench.common import import_fleet
    from camsvc.config import Settings
    from camsvc.db import make_engine
    from camsvc.metrics import Metrics
    from camsvc.runtime.service import Runtime

    import_fleet(tmp_path, sim.fleet_csv)
    settings = Settings(
        data_dir=tmp_path,
        probe={"workers": 1, "budget_s": 4, "open_timeout_s": 3, "read_timeout_s": 2},
        checks={"interval_s": 2, "retry_interval_s": 1, "jitter_fraction": 0.2},
        runtime={"watchdog_interval_s": 0.2, "restart_backoff_max_s": 2},
    )
    engine = make_engine(settings.db_url, tmp_path)
    rt = Runtime(settings, engine, Metrics())
    rt.start()
    try:
        yield rt
    finally:
        rt.stop()
        engine.dispose()


def _pool(rt: Any) -> dict[str, Any]:
    return next(w for w in rt.workers() if w["name"] == "pool")


def _ok_checks_since(rt: Any, t: float) -> int:
    import datetime as dt

    since = dt.datetime.fromtimestamp(t, dt.UTC).replace(tzinfo=None)
    with rt.engine.connect() as c:
        return int(
            c.execute(sa.text('SELECT count(*) FROM "check" WHERE ok AND at > :t'), {"t": since}).scalar()
        )


@pytest.mark.integration
def test_a_pool_whose_workers_cannot_start_is_replaced(
    runtime: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rt = runtime
    assert rt.is_leader
    names = [w["name"] for w in rt.workers()]
    assert (
        names[:6] == ["leader-lock", "watchdog", "pool", "node", "scheduler", "writer"] and "alerts" in names
    )
    wait_for(lambda: _ok_checks_since(rt, 0) >= 1, 30, "a first good check")
    old = rt.pool
    # the fault: every worker process killed as it starts; after 3 failed starts the pool gives up and would
    # fail every probe with decode_error from then on
    killed: set[int] = set()
    deadline = time.monotonic() + 30
    while _pool(rt)["alive"] and rt.pool is old and time.monotonic() < deadline:
        for pid in old.worker_pids():
            if pid not in killed:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                killed.add(pid)
        time.sleep(0.002)  # poll interval of a bounded loop racing the worker's start-up
    assert len(killed) >= 4, killed
    t_broken = time.time()
    wait_for(
        lambda: rt.pool is not old and _pool(rt)["alive"] and _pool(rt)["restarts"] == 1,
        30,
        "the watchdog to replace the probe pool",
        lambda: _pool(rt),
    )
    assert "cannot start" in str(_pool(rt)["last_error"])
    # checks go on through the new pool (the scheduler was given it)
    wait_for(lambda: _ok_checks_since(rt, t_broken) >= 1, 30, "a good check through the new pool")
    died = [
        r
        for r in caplog.records
        if r.name == "camsvc.runtime.watchdog" and "is not running" in r.getMessage()
    ]
    assert len(died) == 1, [r.getMessage() for r in died]
    assert any("worker pool restarted" in r.getMessage() for r in caplog.records)
