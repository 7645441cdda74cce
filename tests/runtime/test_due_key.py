"""A check's (camera, due time) is recorded once: the unique key refuses a second recording, and only
that refusal counts as "already recorded"; any other refusal of the write is a write error."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from camsvc.config import Settings
from camsvc.enums import ErrorClass
from camsvc.models import Camera, Check
from camsvc.probing.result import ProbeResult
from camsvc.runtime.checks import CheckProcessor, is_duplicate_due
from camsvc.runtime.scheduler import camera_entries


def _processor(settings: Settings, engine: Any) -> tuple[CheckProcessor, Any]:
    with Session(engine) as s:
        s.add(Camera(id="c1", name="c1", kind="roadside", hamlet="X", main_url="rtsp://127.0.0.1:9/a"))
        s.commit()
        cam = camera_entries(s, 60.0)["c1"]
    return CheckProcessor(settings, engine), cam


def _result() -> ProbeResult:
    return ProbeResult(url="rtsp://127.0.0.1:9/a", ok=False, error=ErrorClass.REFUSED, started_at=time.time())


def test_a_due_time_is_recorded_once(settings: Settings, engine: Any) -> None:
    proc, cam = _processor(settings, engine)
    due = time.time()
    proc.process(cam, _result(), due_at=due, node="n1")
    with pytest.raises(sa.exc.IntegrityError) as err:
        proc.process(cam, _result(), due_at=due, node="n2")
    assert is_duplicate_due(err.value)
    proc.process(cam, _result(), due_at=due + 60, node="n2")
    proc.process(cam, _result())  # checks run by hand have no due time, and any number are kept
    proc.process(cam, _result())
    with Session(engine) as s:
        rows = s.exec(select(Check).where(Check.camera_id == "c1")).all()
    assert sorted(r.node or "-" for r in rows) == ["-", "-", "n1", "n2"]


def test_another_refusal_is_not_taken_for_a_duplicate(settings: Settings, engine: Any) -> None:
    proc, cam = _processor(settings, engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER no_checks BEFORE INSERT ON \"check\" BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    with pytest.raises(sa.exc.IntegrityError) as err:
        proc.process(cam, _result(), due_at=time.time())
    assert not is_duplicate_due(err.value)


def test_the_key_holds_on_postgresql(tmp_path: Any) -> None:
    from tests.utils.postgres import fresh_database
    from tests.utils.service import migrated_engine

    with fresh_database() as url:
        settings = Settings(data_dir=tmp_path / "data", database_url=url)
        with migrated_engine(settings) as engine:
            proc, cam = _processor(settings, engine)
            due = time.time()
            proc.process(cam, _result(), due_at=due)
            with pytest.raises(sa.exc.IntegrityError) as err:
                proc.process(cam, _result(), due_at=due)
            assert is_duplicate_due(err.value)
