"""The local spool of check results: the pure summarising policy (tables), the SQLite file (real files,
a real SIGKILL), and the writer's path on a real SQLite database held locked by another connection."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from camsvc.config import Settings
from camsvc.enums import ErrorClass
from camsvc.models import Camera
from camsvc.probing.result import ProbeResult
from camsvc.runtime.checks import CameraEntry
from camsvc.runtime.spool import SPOOL_FILE, Item, Spool, Spooled, decode, encode, outcome_of, plan_summary
from tests.utils.waiting import wait_for


def items(spec: str, nbytes: int = 10) -> list[Item]:
    """'a+ a+ b- a-': camera letter, outcome + (ok) or - (failed); ids 1, 2, ..."""
    return [
        Item(i + 1, tok[0], "ok" if tok[1] == "+" else "fail", nbytes) for i, tok in enumerate(spec.split())
    ]


@pytest.mark.parametrize(
    ("spec", "excess", "head", "summarised", "counts", "dropped"),
    [
        ("a+ a+ a+", 0, 1, (), {}, ()),  # under the bound: nothing
        ("a+ a+ a+", 5, 1, (2,), {3: 2}, ()),  # first and last kept, the last stands for 2
        ("a+ a+ a+ a+ a+", 5, 1, (2, 3, 4), {5: 4}, ()),
        ("a+ a+ a+ a+ a+", 5, 2, (3, 4), {5: 3}, ()),  # the head is the state machine's threshold
        # another camera in between does not break a run; runs are taken oldest first and stop when enough
        ("a- b+ a- b+ a- b+ a- b+", 15, 1, (3, 5), {7: 3}, ()),
        ("a- b+ a- b+ a- b+ a- b+", 25, 1, (3, 5, 4, 6), {7: 3, 8: 3}, ()),
        # an outage inside good checks: its first failure and the first good check after it survive
        ("a+ a+ a+ a- a- a- a- a+ a+ a+", 40, 1, (2, 5, 6, 9), {3: 2, 7: 3, 10: 2}, ()),
        # alternating outcomes cannot be summarised: the oldest are dropped whole
        ("a+ a- a+ a- a+", 15, 1, (), {}, (1, 2)),
        # summarising first, then dropping the oldest remaining (its count goes with it)
        ("a+ a+ a+ b- b+", 25, 1, (2,), {}, (1, 3)),
    ],
)
def test_plan_summary(
    spec: str,
    excess: int,
    head: int,
    summarised: tuple[int, ...],
    counts: dict[int, int],
    dropped: tuple[int, ...],
) -> None:
    plan = plan_summary(items(spec), excess, head)
    assert plan.summarised == summarised
    assert plan.counts == counts
    assert plan.dropped == dropped
    if excess > 0:
        assert plan.freed >= excess


def test_plan_summary_keeps_what_each_check_stood_for() -> None:
    """Counts already summarised move to the new last record: no check is counted twice or forgotten."""
    its = [Item(1, "a", "fail", 10), Item(2, "a", "fail", 10, count=5), Item(3, "a", "fail", 10)]
    plan = plan_summary(its, 1, 1)
    assert plan.summarised == (2,) and plan.counts == {3: 6}
    plan = plan_summary(its, 30, 1)  # everything must go: the checks dropped are all 7
    assert plan.dropped_checks == 7


def entry(cid: str = "c1") -> CameraEntry:
    return CameraEntry(
        id=cid,
        url="rtsp://admin:s3cret@127.0.0.1:9/a",
        url_kind="main",
        stream_kind=None,
        interval_s=60.0,
        hamlet="X",
        kind="roadside",
        version="v1",
    )


def result(ok: bool, at: float) -> ProbeResult:
    return ProbeResult(
        url="rtsp://127.0.0.1:9/a",
        ok=ok,
        error=None if ok else ErrorClass.REFUSED,
        started_at=at,
        total_ms=12.5,
        metrics={"sharpness": 600.0},
        thumbnail_jpeg=b"\xff\xd8" + b"x" * 1000,
    )


def test_encode_decode_round_trip_without_url_or_thumbnail() -> None:
    rec = Spooled(entry(), result(False, 1000.0), due_at=999.5)
    e, r = encode(rec)
    assert "s3cret" not in e + r and "rtsp://admin" not in e
    back = decode(e, r, 999.5, 1)
    assert back.entry.id == "c1" and back.entry.url == "" and back.entry.interval_s == 60.0
    assert back.result.error is ErrorClass.REFUSED and back.result.started_at == 1000.0
    assert back.result.metrics == {"sharpness": 600.0} and back.result.thumbnail_jpeg is None
    assert outcome_of(back.result) == "fail:refused"


def test_spool_appends_in_order_and_survives_reopening(tmp_path: Path) -> None:
    sp = Spool(tmp_path, 10_000_000)
    sp.append([Spooled(entry(), result(i % 2 == 0, 1000.0 + i), 1000.0 + i) for i in range(10)])
    got = sp.peek(4)
    assert [r.at for _, r in got] == [1000.0, 1001.0, 1002.0, 1003.0]
    sp.remove([rid for rid, _ in got[:2]], replayed=2)
    st = sp.stats()
    assert st["spooled"] == 8 and st["replayed"] == 2
    assert st["oldest_spooled_at"].timestamp() == 1002.0 and st["oldest_spooled_at"].tzinfo is not None
    sp.close()
    again = Spool(tmp_path, 10_000_000)
    assert len(again) == 8 and [r.at for _, r in again.peek(100)] == [1002.0 + i for i in range(8)]
    assert "s3cret" not in (tmp_path / SPOOL_FILE).read_bytes().decode("latin-1")


def test_results_spooled_before_a_sigkill_are_there_after(tmp_path: Path) -> None:
    """A process appends and is killed at once (no close, no clean exit): every append it finished is
    on disk for the next process."""
    code = f"""
import sys, time
sys.path.insert(0, {str(Path(__file__).parents[2])!r})
from camsvc.runtime.spool import Spool, Spooled
from tests.runtime.test_spool import entry, result
sp = Spool(__import__('pathlib').Path({str(tmp_path)!r}), 10_000_000)
for i in range(50):
    sp.append([Spooled(entry(), result(False, 1000.0 + i), 1000.0 + i)])
print('appended', flush=True)
time.sleep(60)
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "appended"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    sp = Spool(tmp_path, 10_000_000)
    assert len(sp) == 50 and sp.peek(1)[0][1].at == 1000.0


def test_over_the_bound_the_oldest_are_summarised_keeping_the_outage_start(tmp_path: Path) -> None:
    one = sum(len(x) for x in encode(Spooled(entry(), result(False, 0.0), 0.0))) + 64
    sp = Spool(tmp_path, max_bytes=40 * one, keep_head=2)
    recs = [Spooled(entry(), result(True, 1000.0 + i), None) for i in range(5)]  # up
    recs += [Spooled(entry(), result(False, 1005.0 + i), None) for i in range(60)]  # down since 1005
    for r in recs:
        sp.append([r])
    st = sp.stats()
    assert st["bytes"] <= 40 * one and st["summarised"] > 0 and st["dropped"] == 0
    left = [r for _, r in sp.peek(1000)]
    # checks represented are all there: none lost, only summarised
    assert sum(r.count for r in left) == 65
    fails = [r for r in left if not r.result.ok]
    assert [r.at for r in fails[:2]] == [1005.0, 1006.0]  # the outage's first failures, the head
    assert fails[-1].at == 1064.0  # and the newest
    assert [r.at for r in left if r.result.ok] == [1000.0, 1001.0, 1004.0]


def test_a_bad_bound_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="spool bound"):
        Spool(tmp_path, 0)


# ---------------------------------------------------------------------------------------------- the writer
@pytest.fixture
def quick_locked_engine(settings: Settings, engine: Any) -> Any:
    """The migrated SQLite engine, its busy timeout shortened so a held lock fails a write in 0.3 s."""

    @sa.event.listens_for(engine, "connect")
    def _short(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=300")

    engine.dispose()
    with Session(engine) as s:
        for cid in ("c1", "c2"):
            s.add(Camera(id=cid, name=cid, kind="roadside", hamlet="X", main_url=f"rtsp://127.0.0.1:9/{cid}"))
        s.commit()
    return engine


def _checks(engine: Any) -> list[tuple[str, float, bool]]:
    with engine.connect() as c:
        rows = c.execute(sa.text('SELECT camera_id, due_at, ok FROM "check" ORDER BY id')).all()
    out = []
    for cid, due, ok in rows:
        import datetime as dt

        d = dt.datetime.fromisoformat(due) if isinstance(due, str) else due
        out.append((cid, round(d.replace(tzinfo=dt.UTC).timestamp(), 3), bool(ok)))
    return out


def test_writer_spools_while_locked_and_replays_in_order(
    settings: Settings, quick_locked_engine: Any
) -> None:
    from camsvc.runtime.scheduler import CheckScheduler

    engine = quick_locked_engine
    sched = CheckScheduler(settings, engine, None, node="n1")
    sched._writer.start()  # the writer alone: results are put on its queue as the probe callbacks do
    t0 = time.time() - 100
    try:
        sched._results.put((entry("c1"), result(True, t0), t0))
        wait_for(lambda: len(_checks(engine)) == 1, 10, "the first check recorded directly")
        lock = sqlite3.connect(settings.data_dir / "camsvc.db", isolation_level=None, timeout=5)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            for i in range(1, 11):
                cid = "c1" if i % 2 else "c2"
                sched._results.put((entry(cid), result(i < 5, t0 + i), t0 + i))
            wait_for(
                lambda: sched.spool_stats()["spooled"] == 10, 20, "10 results spooled", sched.spool_stats
            )
            st = sched.spool_stats()
            assert st["oldest_spooled_at"].timestamp() == pytest.approx(t0 + 1)
            assert st["replayed"] == 0
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        wait_for(lambda: sched.spool_stats()["spooled"] == 0, 20, "the spool replayed", sched.spool_stats)
        sched._results.put((entry("c1"), result(True, t0 + 20), t0 + 20))  # direct again
        wait_for(lambda: len(_checks(engine)) == 12, 10, "every check recorded")
        got = _checks(engine)
        assert [d for _, d, _ in got] == [round(t0 + i, 3) for i in [*range(11), 20]]  # in order, none lost
        assert sched.spool_stats()["replayed"] == 10 and sched.spool_stats()["dropped"] == 0
    finally:
        sched.stop()


def test_replay_skips_what_was_recorded_already(settings: Settings, quick_locked_engine: Any) -> None:
    """Spooled results from before a restart replay first; one whose due time is recorded (a crash after
    the write, before its removal) is skipped, not a write error."""
    from camsvc.runtime.checks import CheckProcessor
    from camsvc.runtime.scheduler import CheckScheduler

    engine = quick_locked_engine
    t0 = time.time() - 100
    sp = Spool(settings.spool_dir, 10_000_000)
    sp.append([Spooled(entry("c1"), result(False, t0 + i), t0 + i) for i in range(4)])
    sp.close()
    CheckProcessor(settings, engine).process(entry("c1"), result(False, t0), due_at=t0)  # the first, recorded
    sched = CheckScheduler(settings, engine, None)  # a new process finds the spool file
    assert sched.spool_stats()["spooled"] == 4
    sched._writer.start()
    try:
        wait_for(lambda: sched.spool_stats()["spooled"] == 0, 20, "the spool replayed", sched.spool_stats)
        assert [d for _, d, _ in _checks(engine)] == [round(t0 + i, 3) for i in range(4)]
        assert sched.spool_stats()["replayed"] == 3
    finally:
        sched.stop()
