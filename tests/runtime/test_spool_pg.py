"""The database goes away for 60 s in the middle of camera outages (issue 12): the real service on a
PRIVATE PostgreSQL cluster (stopped and started by the test, nobody else's server) checking the real
simulator. While the server is down the service keeps probing and spools its results; when it returns
they are replayed in order: one outage that began while the database was away starts at its true time
(not the restart), one that began and ended meanwhile keeps both ends, no check of the period is
missing, none is recorded twice. Then the same across a SIGKILL of the service: what it had spooled is
replayed by the next process."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from camsvc.bench.common import ServiceProcess, free_port
from camsvc.runtime.spool import SPOOL_FILE
from tests.utils.pgcluster import PgCluster, pg_cluster
from tests.utils.service import quick_checks_env
from tests.utils.simulator import simulator_fixture
from tests.utils.waiting import StallWatch, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.postgres]

INTERVAL, RETRY, BUDGET = 3.0, 1.0, 4.0
OUTAGE_S = 60.0  # the database's outage (the duration)
# the longest a camera may go between two checks: its interval (+5 % jitter) plus one probe, plus slack
# for a loaded 2-core machine
MAX_GAP = INTERVAL * 1.05 + BUDGET + 3.0
# a check's time is when its probe started: one already reading when the fault was switched fails and
# counts from its own start, up to a probe's budget before the switch
EARLY = BUDGET
ENV = {**quick_checks_env(INTERVAL, RETRY, BUDGET), "CAMSVC_PROBE__WORKERS": "1"}

sim = simulator_fixture(2, 2)


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    with pg_cluster() as c:
        yield c


def _engine(data_dir: Path, url: str, fleet_csv: Path) -> Engine:
    from camsvc.cameras import import_cameras
    from camsvc.db import make_engine, session_scope, upgrade
    from camsvc.models import Camera

    engine = make_engine(url, data_dir)
    upgrade(engine)
    with session_scope(engine) as s:
        import_cameras(s, fleet_csv.read_bytes(), "csv")
        s.execute(sa.update(Camera).values(check_interval_s=None))
    return engine


def _epoch(at: Any) -> float:
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return float(at.timestamp())


def _checks(engine: Engine) -> dict[str, list[tuple[float, bool]]]:
    out: dict[str, list[tuple[float, bool]]] = {}
    with engine.connect() as c:
        for cid, at, ok in c.execute(sa.text('SELECT camera_id, at, ok FROM "check" ORDER BY camera_id, at')):
            out.setdefault(cid, []).append((_epoch(at), bool(ok)))
    return out


def _outages(engine: Engine, cid: str) -> list[tuple[float, float | None]]:
    with engine.connect() as c:
        rows = c.execute(
            sa.text("SELECT started_at, ended_at FROM outage WHERE camera_id = :c ORDER BY started_at"),
            {"c": cid},
        ).all()
    return [(_epoch(s), _epoch(e) if e is not None else None) for s, e in rows]


def _state(engine: Engine, cid: str) -> str:
    with engine.connect() as c:
        row = c.execute(sa.text("SELECT state FROM camerastatus WHERE camera_id = :c"), {"c": cid}).first()
    return str(row[0]).lower() if row else "unknown"


def _duplicates(engine: Engine) -> list[Any]:
    with engine.connect() as c:
        return list(
            c.execute(
                sa.text(
                    'SELECT camera_id, due_at, count(*) FROM "check" WHERE due_at IS NOT NULL '
                    "GROUP BY camera_id, due_at HAVING count(*) > 1"
                )
            ).all()
        )


def _spooled(data_dir: Path) -> list[tuple[str, float, str]]:
    path = data_dir / "spool" / SPOOL_FILE
    if not path.exists():
        return []
    db = sqlite3.connect(path, timeout=5)
    try:
        return list(db.execute("SELECT camera_id, at, outcome FROM spooled ORDER BY id"))
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []  # the writer has created the file and not yet its table
        raise
    finally:
        db.close()


def _service(data: Path, url: str, log: Path) -> ServiceProcess:
    svc = ServiceProcess(data, free_port(), {**ENV, "CAMSVC_DATABASE_URL": url}, log_path=log)
    svc.headers = {"X-Test": "no API calls"}  # the database is read directly
    return svc


def _pause_until(t: float) -> None:
    """The scenario's clock (how long a fault lasts), not a wait for something to happen."""
    time.sleep(max(0.0, t - time.time()))


def test_database_away_60s_outages_keep_their_true_start_and_end(
    sim: Any, cluster: PgCluster, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    engine = _engine(data, cluster.url, sim.fleet_csv)
    enabled = [c.id for c in sim.fleet if c.enabled]
    stays, recovers = enabled[0], enabled[1]
    svc = _service(data, cluster.url, tmp_path / "service.log")
    svc.start()
    with StallWatch() as watch:  # a frozen machine delays checks without losing them
        try:
            wait_for(
                lambda: all(_state(engine, c) == "up" for c in enabled),
                60,
                "every camera up",
                lambda: {c: _state(engine, c) for c in enabled},
            )
            engine.dispose()
            t_stop = time.time()
            cluster.stop()
            _pause_until(t_stop + 10)
            t_fault = time.time()
            sim.fault(stays, "down")
            sim.fault(recovers, "down")
            _pause_until(t_stop + 40)
            t_back = time.time()
            sim.fault(recovers, "normal")
            _pause_until(t_stop + OUTAGE_S)
            cluster.start()
            t_restart = time.time()
            print(f"database away {t_restart - t_stop:.1f} s; spool: {len(_spooled(data))} results")

            def replayed() -> bool:
                got = _checks(engine)
                return all(
                    any(t > t_restart + 1 for t, _ in got.get(c, [])) for c in enabled
                ) and not _spooled(data)

            took = wait_for(
                replayed,
                60,
                "the spool replayed and live checks after the restart",
                lambda: _spooled(data)[:3],
            )
            print(f"replayed and live again {took:.1f} s after the restart")

            # the outage begun while the database was away starts at its first failed check, not the restart
            (start, end), *more = _outages(engine, stays)
            assert not more and end is None and _state(engine, stays) == "down"
            late = MAX_GAP + watch.stalled(t_fault, t_fault + 2 * MAX_GAP)
            assert t_fault - EARLY <= start <= t_fault + late, (
                start - t_fault,
                t_restart - t_fault,
                watch.spans,
            )
            # the one that began and ended meanwhile keeps both ends
            (start_r, end_r), *more_r = _outages(engine, recovers)
            assert not more_r and end_r is not None, _outages(engine, recovers)
            assert t_fault - EARLY <= start_r <= t_fault + late, start_r - t_fault
            late_back = MAX_GAP + watch.stalled(t_back, t_back + 2 * MAX_GAP)
            assert t_back - EARLY <= end_r <= t_back + late_back, end_r - t_back
            assert _state(engine, recovers) == "up"
            # nothing lost: every camera was checked at its interval right through the database's outage
            got = _checks(engine)
            for c in enabled:
                times = [t for t, _ in got[c] if t_stop - MAX_GAP <= t <= t_restart + MAX_GAP]
                # a gap beyond the interval only as long as the whole machine was frozen within it
                gaps = [(b - a) - watch.stalled(a, b) for a, b in zip(times, times[1:], strict=False)]
                lost = watch.stalled(t_stop, t_restart)
                assert len(times) >= (t_restart - t_stop - lost) / MAX_GAP, (c, len(times), watch.spans)
                assert max(gaps) <= MAX_GAP, (c, max(gaps), watch.spans)
                # and the checks of the fault period say what the camera did
                if c == stays:
                    assert not any(ok for t, ok in got[c] if t_fault + MAX_GAP < t <= t_restart), c
            assert _duplicates(engine) == []
            log = svc.log_text()
            assert "go to the local spool" in log and "spool replayed" in log
            assert "lock lost" not in log  # the leader went on while the server was away
        finally:
            sim.fault(stays, "normal")
            sim.fault(recovers, "normal")
            svc.stop()
        engine.dispose()


def test_what_was_spooled_before_a_sigkill_is_replayed_by_the_next_process(
    sim: Any, cluster: PgCluster, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    engine = _engine(data, cluster.url, sim.fleet_csv)
    enabled = [c.id for c in sim.fleet if c.enabled]
    victim = enabled[0]
    first = _service(data, cluster.url, tmp_path / "first.log")
    second = _service(data, cluster.url, tmp_path / "second.log")
    first.start()
    try:
        wait_for(lambda: all(_state(engine, c) == "up" for c in enabled), 60, "every camera up")
        engine.dispose()
        cluster.stop()
        t_fault = time.time()
        sim.fault(victim, "down")
        wait_for(
            lambda: sum(1 for c, _at, o in _spooled(data) if c == victim and o.startswith("fail")) >= 3,
            30,
            "three failed checks of the victim spooled",
            lambda: _spooled(data)[-5:],
        )
        first.kill()  # SIGKILL, probe workers too: nothing flushed, nothing cleaned up
        spooled = _spooled(data)
        cluster.start()
        second.start()
        wait_for(
            lambda: not _spooled(data), 60, "the next process replays the spool", lambda: _spooled(data)[:3]
        )
        got = _checks(engine)
        recorded = {(c, round(t, 3)) for c, ts in got.items() for t, _ in ts}
        missing = [(c, at) for c, at, _o in spooled if (c, round(at, 3)) not in recorded]
        assert missing == [], missing
        (start, _end), *more = _outages(engine, victim)
        assert not more and t_fault - EARLY <= start <= t_fault + MAX_GAP, start - t_fault
        assert _duplicates(engine) == []
        assert "holds" in second.log_text() and "spool replayed" in second.log_text()
    finally:
        sim.fault(victim, "normal")
        first.kill()
        second.stop()
        engine.dispose()
