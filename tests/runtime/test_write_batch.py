"""Check results waiting for the writer are recorded in one transaction on PostgreSQL (checks.write_batch),
one savepoint each: a refused check (its due time already recorded) is refused alone, a batch the database
refuses as a whole is recorded again one by one, and the state machine sees every check in order."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from camsvc.config import Settings
from camsvc.enums import ErrorClass, HealthState
from camsvc.models import Camera, CameraStatus, Check, Outage, Transition
from camsvc.probing.result import ProbeResult
from camsvc.runtime.checks import CameraEntry, CheckProcessor, is_duplicate_due
from camsvc.runtime.scheduler import CheckScheduler, camera_entries

CAMS = ("c1", "c2", "c3")


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[tuple[Settings, Any, dict[str, CameraEntry]]]:
    from tests.utils.postgres import fresh_database
    from tests.utils.service import migrated_engine

    with fresh_database() as url:
        settings = Settings(data_dir=tmp_path / "data", database_url=url)
        with migrated_engine(settings) as engine:
            with Session(engine) as s:
                for cid in CAMS:
                    s.add(
                        Camera(
                            id=cid,
                            name=cid,
                            kind="roadside",
                            hamlet="X",
                            main_url=f"rtsp://127.0.0.1:9/{cid}",
                        )
                    )
                s.commit()
                cams = camera_entries(s, 60.0)
            yield settings, engine, cams


def _result(ok: bool, at: float) -> ProbeResult:
    if ok:
        return ProbeResult(
            url="rtsp://127.0.0.1:9/a", ok=True, started_at=at, frames_decoded=5, width=640, height=360
        )
    return ProbeResult(url="rtsp://127.0.0.1:9/a", ok=False, error=ErrorClass.REFUSED, started_at=at)


class Commits:
    """Counts the transactions the engine commits (SQLAlchemy's own commit event, not a guess)."""

    def __init__(self, engine: Any) -> None:
        self.n = 0
        self.engine = engine
        sa.event.listen(engine, "commit", self._one)

    def _one(self, _conn: Any) -> None:
        self.n += 1

    def close(self) -> None:
        sa.event.remove(self.engine, "commit", self._one)


def _checks(engine: Any) -> list[tuple[str, float | None]]:
    with Session(engine) as s:
        rows = s.exec(select(Check).order_by(Check.camera_id, Check.at)).all()  # type: ignore[arg-type]
        return [(r.camera_id, r.due_at.timestamp() if r.due_at else None) for r in rows]


def test_a_batch_is_one_commit_and_a_duplicate_is_refused_alone(pg: tuple[Settings, Any, dict]) -> None:
    settings, engine, cams = pg
    proc = CheckProcessor(settings, engine)
    t0 = time.time() - 300
    proc.process(cams["c2"], _result(True, t0), due_at=t0)  # c2's first due time: already recorded
    items = [
        (cams["c1"], _result(False, t0 + 1), t0 + 1),
        (cams["c2"], _result(True, t0 + 2), t0),  # the same due time again (a takeover's second run)
        (cams["c3"], _result(True, t0 + 3), t0 + 3),
        (cams["c1"], _result(False, t0 + 61), t0 + 61),  # c1's second failure: down (fail_threshold 2)
    ]
    commits = Commits(engine)
    try:
        outcomes = proc.process_many(items, [], node="n1")
    finally:
        commits.close()
    assert commits.n == 1
    assert isinstance(outcomes[1], sa.exc.IntegrityError) and is_duplicate_due(outcomes[1])
    recorded = [o for o in outcomes if not isinstance(o, Exception)]
    assert [r.check.camera_id for r in recorded] == ["c1", "c3", "c1"]
    assert [(t.camera_id, t.new_state) for r in recorded for t in r.transitions] == [
        ("c3", HealthState.UP),
        ("c1", HealthState.DOWN),
    ]
    assert _checks(engine) == [
        ("c1", pytest.approx(t0 + 1)),
        ("c1", pytest.approx(t0 + 61)),
        ("c2", pytest.approx(t0)),
        ("c3", pytest.approx(t0 + 3)),
    ]
    with Session(engine) as s:
        status = s.get(CameraStatus, "c1")
        assert status is not None and status.state == HealthState.DOWN and status.open_outage_id is not None
        outage = s.get(Outage, status.open_outage_id)
        assert outage is not None and outage.started_at.timestamp() == pytest.approx(t0 + 1)


def test_the_scheduler_records_a_queue_in_one_transaction_and_falls_back_one_by_one(
    pg: tuple[Settings, Any, dict],
) -> None:
    settings, engine, cams = pg
    seen: list[tuple[str, HealthState]] = []
    sched = CheckScheduler(
        settings,
        engine,
        None,
        node="n1",
        on_transitions=lambda trs: seen.extend((t.camera_id, t.new_state) for t in trs),
    )
    t0 = time.time() - 300
    commits = Commits(engine)
    try:
        sched._write_chunk([(cams[c], _result(True, t0 + i), t0 + i) for i, c in enumerate(CAMS)])
        assert commits.n == 1
        assert sorted(seen) == [(c, HealthState.UP) for c in CAMS]
        # a refusal of the whole transaction (not a constraint of one check): each check again, alone
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_c2() RETURNS trigger AS $$ BEGIN IF NEW.camera_id = 'c2' THEN "
                "RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                'CREATE TRIGGER refuse_c2 BEFORE INSERT ON "check" FOR EACH ROW EXECUTE FUNCTION refuse_c2()'
            )
        commits.n = 0
        sched._write_chunk([(cams[c], _result(True, t0 + 60 + i), t0 + 60 + i) for i, c in enumerate(CAMS)])
        assert commits.n == 2  # c1 and c3 alone; c2 refused
    finally:
        commits.close()
    got = _checks(engine)
    assert [c for c, _ in got] == ["c1", "c1", "c2", "c3", "c3"]
    assert sched.stats()["checks_written"] == 5


def test_sqlite_records_one_check_per_transaction(settings: Settings, engine: Any) -> None:
    """pysqlite's RELEASE of a first savepoint commits: SQLite keeps one transaction per check."""
    with Session(engine) as s:
        s.add(Camera(id="c1", name="c1", kind="roadside", hamlet="X", main_url="rtsp://127.0.0.1:9/c1"))
        s.commit()
        cam = camera_entries(s, 60.0)["c1"]
    sched = CheckScheduler(settings, engine, None)
    t0 = time.time() - 300
    commits = Commits(engine)
    try:
        sched._write_chunk([(cam, _result(True, t0 + 60 * i), t0 + 60 * i) for i in range(3)])
    finally:
        commits.close()
    assert commits.n == 3
    with Session(engine) as s:
        assert len(s.exec(select(Transition).where(Transition.camera_id == "c1")).all()) == 1
