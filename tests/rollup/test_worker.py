"""The rollup worker against real databases (SQLite and the local PostgreSQL): checks recorded through the
real recording path are rolled up per camera-hour (idempotently), raw checks older than the retention are
deleted only with their hour's rollup (late checks counted), final outbox messages and their attempts are
pruned after their retention (pending ones never), old rollups are deleted, transitions and outages kept;
the thread survives a failing pass."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from camsvc.alerts.models import DeliveryAttempt, OutboxMessage
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.health.outages import record_check
from camsvc.health.state import Observation, Thresholds
from camsvc.models import Camera, Check, Outage, Transition
from camsvc.rollup.models import CheckRollup
from camsvc.rollup.worker import RollupWorker
from tests.utils.postgres import fresh_database
from tests.utils.service import migrated_engine
from tests.utils.waiting import wait_for

NOW = dt.datetime(2026, 3, 20, 12, 20, tzinfo=dt.UTC)
START = NOW - dt.timedelta(days=9, minutes=20)  # 9 days of checks, from 12:00
STEP = dt.timedelta(minutes=20)
OUTAGE = dt.datetime(2026, 3, 12, 5, tzinfo=dt.UTC)  # the hour 05:00 of day -8 fails (refused)

DBS = ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.integration])]


@contextlib.contextmanager
def database(kind: str, tmp_path: Path, **sections: Any) -> Iterator[tuple[Settings, sa.Engine]]:
    if kind == "sqlite":
        settings = Settings(data_dir=tmp_path / "data", **sections)
        with migrated_engine(settings) as engine:
            yield settings, engine
    else:
        with fresh_database() as url:
            settings = Settings(data_dir=tmp_path / "data", database_url=url, **sections)
            with migrated_engine(settings) as engine:
                yield settings, engine


def add_cameras(engine: sa.Engine, *ids: str) -> None:
    with session_scope(engine) as s:
        for cid in ids:
            s.add(Camera(id=cid, name=cid, kind="roadside", hamlet="X", main_url=f"rtsp://127.0.0.1:9/{cid}"))


def drive(engine: sa.Engine, camera_id: str, times: list[dt.datetime]) -> None:
    """Checks through the real recording path; those in the OUTAGE hour fail."""
    with Session(engine, expire_on_commit=False) as s:
        for i, at in enumerate(times):
            good = not (OUTAGE <= at < OUTAGE + dt.timedelta(hours=1))
            record_check(
                s,
                Check(
                    camera_id=camera_id,
                    at=at,
                    ok=good,
                    error=None if good else "refused",
                    open_ms=40.0 + i % 5 if good else None,
                    fps=25.0 if good else None,
                    metrics_json=json.dumps({"brightness": 100.0, "sharpness": 20.0}) if good else None,
                    faults="dark" if good and i % 7 == 0 else None,
                ),
                Observation(at=at, ok=good, error=None if good else "refused"),
                Thresholds(),
            )
            s.commit()


def count(engine: sa.Engine, model: Any, *where: Any) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(model).where(*where)).one())


def rollups(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with Session(engine) as s:
        return [
            (
                r.camera_id,
                r.hour,
                r.checks,
                r.failures,
                r.faults,
                r.availability,
                r.open_ms_p50,
                r.errors_json,
            )
            for r in s.exec(select(CheckRollup).order_by(CheckRollup.camera_id, CheckRollup.hour)).all()
        ]


@pytest.mark.parametrize("kind", DBS)
def test_rollup_then_prune_keeps_every_check_counted(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with database(kind, tmp_path) as (settings, engine):
        add_cameras(engine, "c1", "c2", "idle")
        times = [START + i * STEP for i in range(int((NOW - START) / STEP) + 1)]
        drive(engine, "c1", times)
        drive(engine, "c2", times[-10:])  # only the last 3 hours
        total = len(times) + 10
        transitions, outages = count(engine, Transition), count(engine, Outage)
        assert transitions >= 2 and outages == 1

        worker = RollupWorker(settings, engine)
        caplog.set_level(logging.INFO, logger="camsvc.rollup.worker")
        first = worker.run_pass(NOW)

        current = NOW.replace(minute=0)
        cutoff = NOW - dt.timedelta(days=7)
        hours_c1 = {t.replace(minute=0) for t in times if t < current}
        got = rollups(engine)
        assert {h for c, h, *_ in got if c == "c1"} == hours_c1  # every complete hour, not the current one
        assert {h for c, h, *_ in got if c == "c2"} == {
            t.replace(minute=0) for t in times[-10:] if t < current
        }
        assert not [r for r in got if r[0] == "idle"]
        assert first.rolled_hours == len(got) and first.complete
        outage_hour = next(r for r in got if r[0] == "c1" and r[1] == OUTAGE)
        assert outage_hour[2:6] == (3, 3, 0, 0.0) and json.loads(outage_hour[7]) == {"refused": 3}
        assert all(r[5] == 1.0 for r in got if r[1] != OUTAGE)

        # raw checks: gone in whole hours ending at or before the cutoff, kept after
        left = count(engine, Check)
        deleted = sum(1 for t in times if t.replace(minute=0) + dt.timedelta(hours=1) <= cutoff)
        assert first.checks_deleted == deleted == total - left and deleted > 0
        with Session(engine) as s:
            oldest = s.exec(select(func.min(Check.at))).one()
        assert oldest is not None and oldest.replace(tzinfo=dt.UTC) >= cutoff.replace(minute=0)
        # nothing lost: the rollups count every check ever recorded, the current hour still raw
        in_current = sum(1 for t in times if t >= current) + sum(1 for t in times[-10:] if t >= current)
        assert sum(r[2] for r in got) + in_current == total
        # the record is kept
        assert (count(engine, Transition), count(engine, Outage)) == (transitions, outages)
        assert [r.message for r in caplog.records if r.message.startswith("retention:")] == [
            f"retention: rolled up {len(got)} camera-hours; deleted {deleted} checks "
            f"({first.pruned_hours} camera-hours), 0 alert messages with 0 delivery attempts, 0 rollups"
        ]

        # idempotent: a second pass writes and deletes nothing, logs nothing
        caplog.clear()
        again = worker.run_pass(NOW)
        assert (again.rolled_hours, again.deleted) == (0, 0) and rollups(engine) == got
        assert not [r for r in caplog.records if r.message.startswith("retention:")]

        # a late check (a node's spool replayed) in an hour already pruned is added to its rollup
        late_hour = START.replace(minute=0) + dt.timedelta(hours=3)
        with session_scope(engine) as s:
            s.add(Check(camera_id="c1", at=late_hour + dt.timedelta(minutes=59), ok=False, error="timeout"))
        late = worker.run_pass(NOW)
        assert late.checks_deleted == 1
        row = next(r for r in rollups(engine) if r[0] == "c1" and r[1] == late_hour)
        assert row[2:4] == (4, 1) and json.loads(row[7]) == {"timeout": 1}

        # an hour later: the next hour is rolled up, and one more hour of raw checks goes
        later = worker.run_pass(NOW + dt.timedelta(hours=1))
        assert later.rolled_hours == 2 and later.pruned_hours == 1  # c1 and c2's hour 12:00; one old hour


@pytest.mark.parametrize("kind", DBS)
def test_outbox_and_old_rollups_pruned(kind: str, tmp_path: Path) -> None:
    with database(kind, tmp_path, checks={"rollup_retention_days": 30}) as (settings, engine):
        add_cameras(engine, "c1")
        old = NOW - dt.timedelta(days=181)
        recent = NOW - dt.timedelta(days=10)
        cases = {  # key -> (status, created, sent): survives?
            "sent-old": ("sent", old, old, False),
            "sent-old-created-recently-sent": ("sent", old, recent, True),
            "failed-old": ("failed", old, None, False),
            "cancelled-old": ("cancelled", old, None, False),
            "pending-old": ("pending", old, None, True),
            "sending-old": ("sending", old, None, True),
            "sent-recent": ("sent", recent, recent, True),
        }
        with session_scope(engine) as s:
            for key, (status, created, sent, _) in cases.items():
                m = OutboxMessage(
                    dedup_key=key,
                    kind="alert",
                    subject=key,
                    body="b",
                    status=status,
                    created_at=created,
                    sent_at=sent,
                )
                s.add(m)
                s.flush()
                for _ in range(2):
                    s.add(DeliveryAttempt(message_id=m.id, at=created, ok=status == "sent"))
            for days in (40, 31, 29, 1):
                s.add(
                    CheckRollup(
                        camera_id="c1", hour=(NOW - dt.timedelta(days=days)).replace(minute=0), checks=1
                    )
                )
        counts = RollupWorker(settings, engine).run_pass(NOW)
        with Session(engine) as s:
            kept = set(s.exec(select(OutboxMessage.dedup_key)).all())
            attempts = int(s.exec(select(func.count()).select_from(DeliveryAttempt)).one())
            hours = list(s.exec(select(CheckRollup.hour).order_by(CheckRollup.hour)).all())
        assert kept == {k for k, v in cases.items() if v[3]}
        assert attempts == 2 * len(kept)
        assert (counts.messages_deleted, counts.attempts_deleted, counts.rollups_deleted) == (3, 6, 2)
        assert [NOW - h.replace(tzinfo=dt.UTC) < dt.timedelta(days=30) for h in hours] == [True, True]


def test_thread_survives_a_failing_pass(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with database("sqlite", tmp_path) as (settings, engine):
        add_cameras(engine, "c1")
        drive(engine, "c1", [NOW - dt.timedelta(days=8, minutes=m) for m in (10, 20)])
        with engine.begin() as conn:  # a real fault: the table the pass writes is gone
            conn.execute(sa.text("ALTER TABLE check_rollup RENAME TO check_rollup_away"))
        caplog.set_level(logging.INFO, logger="camsvc.rollup.worker")
        worker = RollupWorker(settings, engine, interval_s=0.2, clock=lambda: NOW)
        worker.start()
        try:
            wait_for(lambda: worker.errors >= 2, 20, "two failed passes")
            assert worker.alive()
            assert any(r.message.startswith("rollup pass failed") and r.exc_info for r in caplog.records)
            assert count(engine, Check) == 2  # nothing deleted without its rollup
            with engine.begin() as conn:
                conn.execute(sa.text("ALTER TABLE check_rollup_away RENAME TO check_rollup"))
            wait_for(lambda: count(engine, Check) == 0, 20, "a pass that prunes after the fault is gone")
            assert count(engine, CheckRollup) == 1 and worker.alive()
        finally:
            worker.stop(10)
        assert not worker.alive()
