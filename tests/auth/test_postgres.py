"""The same audit chain, triggers and throttle on PostgreSQL (skipped when no server on 127.0.0.1:5432)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from camsvc.auth import audit, throttle
from camsvc.db import make_engine, session_scope, upgrade
from tests.api.test_postgres import pg_url  # noqa: F401  (fixture)
from tests.auth.conftest import at

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


@pytest.fixture
def pg(pg_url: str) -> Iterator[Engine]:  # noqa: F811
    eng = make_engine(pg_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def test_audit_chain_on_postgres(pg: Engine) -> None:
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(10):
                with session_scope(pg) as db:
                    audit.append(db, at(i), f"w{w}", "10.0.0.1", "test.append", str(i), {"token": "x"})
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(pg) as db:
        assert audit.verify(db) == []
    for stmt in ["UPDATE auditevent SET username = 'x'", "DELETE FROM auditevent", "TRUNCATE auditevent"]:
        with pg.begin() as conn, pytest.raises(sa.exc.DBAPIError, match="append-only"):
            conn.execute(sa.text(stmt))
    with pg.begin() as conn:  # someone with the owner's rights
        conn.execute(sa.text("ALTER TABLE auditevent DISABLE TRIGGER USER"))
        conn.execute(sa.text("UPDATE auditevent SET details = '{}' WHERE id = 7"))
    with session_scope(pg) as db:
        assert [(p.row_id, p.kind) for p in audit.verify(db)] == [(7, "changed")]


def test_throttle_on_postgres(pg: Engine) -> None:
    keys = throttle.keys_for("lan", "10.0.0.5")
    for i in range(6):
        with session_scope(pg) as db:
            locked = throttle.record_failure(db, keys, at(i))
    assert locked == 60.0
    with session_scope(pg) as db:
        assert throttle.check_locked(db, keys, at(5)) == 60.0
        throttle.record_success(db, keys, at(6))
        assert throttle.check_locked(db, ["user:lan"], at(6)) == 0.0


def test_downgrade_removes_the_trigger_function(pg: Engine) -> None:
    from alembic import command

    from camsvc.db import alembic_config

    cfg = alembic_config(pg.url.render_as_string(hide_password=False))
    with pg.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003_picture_thresholds")
    with pg.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM pg_proc WHERE proname = 'auditevent_append_only'")
            ).scalar()
            == 0
        )
    upgrade(pg)
