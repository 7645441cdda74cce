"""The hash-chained audit trail: pure verification as tables, then the database with rows tampered through
sqlite3 (as someone with the file would)."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from camsvc.auth import audit
from camsvc.auth.audit import GENESIS, Problem, Row, chain, clean_details, verify_rows
from camsvc.config import Settings
from camsvc.db import session_scope
from tests.auth.conftest import at


def _rows(n: int = 6) -> list[Row]:
    rows = [
        Row(i, at(i), f"user{i % 2}", "10.0.0.1", "camera.update", f"camera:c{i}", f'{{"n":{i}}}', "", "")
        for i in range(1, n + 1)
    ]
    chain(rows)
    return rows


def _kinds(problems: list[Problem]) -> list[tuple[int, str]]:
    return [(p.row_id, p.kind) for p in problems]


def test_intact_chain() -> None:
    rows = _rows()
    assert rows[0].prev_hash == GENESIS and rows[1].prev_hash == rows[0].hash
    assert verify_rows(rows) == []
    assert verify_rows([]) == []


def _edit(rows: list[Row]) -> list[Row]:
    rows[2] = dataclasses.replace(rows[2], details='{"n":999}')
    return rows


def _edit_and_rehash(rows: list[Row]) -> list[Row]:
    r = dataclasses.replace(rows[2], username="someone-else")
    r.hash = audit.hash_of(r)
    rows[2] = r
    return rows


def _edit_time(rows: list[Row]) -> list[Row]:
    rows[4] = dataclasses.replace(rows[4], at=at(-100))
    return rows


def _delete_middle(rows: list[Row]) -> list[Row]:
    del rows[2]
    return rows


def _delete_two(rows: list[Row]) -> list[Row]:
    del rows[2:4]
    return rows


def _delete_first(rows: list[Row]) -> list[Row]:
    del rows[0]
    return rows


def _swap_ids(rows: list[Row]) -> list[Row]:
    """Rows 3 and 4 swap places (their ids exchanged): the order in the table changes."""
    a, b = rows[2], rows[3]
    rows[2], rows[3] = dataclasses.replace(b, id=3), dataclasses.replace(a, id=4)
    return rows


TAMPERING = [
    (_edit, [(3, "changed")]),
    (_edit_and_rehash, [(3, "changed")]),  # reported on row 3 through row 4's link
    (_edit_time, [(5, "changed")]),
    (_delete_middle, [(4, "removed")]),
    (_delete_two, [(5, "removed")]),
    (_delete_first, [(2, "removed")]),
    (_swap_ids, [(3, "reordered"), (4, "reordered"), (5, "reordered")]),
]


@pytest.mark.parametrize("tamper,expected", TAMPERING, ids=[t.__name__ for t, _ in TAMPERING])
def test_tampering_is_found_and_named(tamper: object, expected: list[tuple[int, str]]) -> None:
    problems = verify_rows(tamper(_rows()))  # type: ignore[operator]
    assert _kinds(problems) == expected
    assert all(str(p).startswith(f"row {p.row_id}: ") for p in problems)


def test_removed_rows_are_named() -> None:
    (p,) = verify_rows(_delete_two(_rows()))
    assert "3..4" in p.message


def test_truncation_needs_a_reference() -> None:
    rows = _rows()
    head = (rows[-1].id or 0, rows[-1].hash)
    cut = rows[:-2]
    assert verify_rows(cut) == []  # a chain cut at the end looks whole by itself
    assert _kinds(verify_rows(cut, expected_head=head)) == [(6, "truncated")]
    assert _kinds(verify_rows(cut, last_id_issued=6)) == [(5, "truncated")]
    assert verify_rows(rows, expected_head=head, last_id_issued=6) == []


@pytest.mark.parametrize(
    "details,expected",
    [
        ({"name": "Cổng chợ"}, {"name": "Cổng chợ"}),
        ({"password": "hunter2", "name": "x"}, {"name": "x", "redacted": ["password"]}),
        ({"changes": {"password": "a", "main_url": "rtsp://admin:pw@10.0.0.9/s"}},
         {"changes": {"main_url": "rtsp://admin:***@10.0.0.9/s"}, "redacted": ["changes.password"]}),
        ({"url": "http://h/cgi?usr=a&pwd=secret1"}, {"url": "http://h/cgi?usr=***&pwd=***"}),
        ({"api_token": "cs_x", "Signing_Key": "k", "csrf_token": "t", "Authorization": "Basic x"},
         {"redacted": ["Authorization", "Signing_Key", "api_token", "csrf_token"]}),
        ({"note": "failed on rtsp://u:p4ss@cam/x"}, {"note": "failed on rtsp://u:***@cam/x"}),
        ({"fields": ["name", "password"]}, {"fields": ["name", "password"]}),  # names of fields are fine
        ({"n": 1, "ok": True, "none": None}, {"n": 1, "ok": True, "none": None}),
    ],
)  # fmt: skip
def test_details_never_hold_secrets(details: dict[str, object], expected: dict[str, object]) -> None:
    assert clean_details(details) == expected


def test_known_secrets_are_scrubbed_from_text() -> None:
    assert clean_details({"error": "login as lan with s3cr3t!! refused"}, secrets=["s3cr3t!!"]) == {
        "error": "login as lan with *** refused"
    }


# ---------------------------------------------------------------------------------------------- database
def _append_some(engine: Engine, n: int = 5) -> None:
    for i in range(1, n + 1):
        with session_scope(engine) as db:
            audit.append(db, at(i), "lan", "10.0.0.5", "camera.update", f"camera:c{i}",
                         {"changed": ["name"], "password": "never-stored"})  # fmt: skip


def _sql(settings: Settings, *stmts: str) -> None:
    con = sqlite3.connect(settings.data_dir / "camsvc.db")
    try:
        for s in stmts:
            con.execute(s)
        con.commit()
    finally:
        con.close()


def test_append_and_verify(engine: Engine, settings: Settings) -> None:
    _append_some(engine)
    with session_scope(engine) as db:
        assert audit.verify(db) == []
        events = audit.list_events(db, action="camera.*", limit=3)
        assert [e.id for e in events] == [5, 4, 3]
        assert audit.head(db) == (5, events[0].hash)
        assert '"redacted":["password"]' in events[0].details
    assert b"never-stored" not in (settings.data_dir / "camsvc.db").read_bytes()


def test_database_refuses_update_and_delete(engine: Engine, settings: Settings) -> None:
    _append_some(engine, 2)
    for stmt in ["UPDATE auditevent SET username = 'x' WHERE id = 1", "DELETE FROM auditevent WHERE id = 2"]:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            _sql(settings, stmt)
    with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError, match="append-only"):
        conn.execute(sa.text("DELETE FROM auditevent"))


DROP_TRIGGERS = ("DROP TRIGGER auditevent_no_update", "DROP TRIGGER auditevent_no_delete")


@pytest.mark.parametrize(
    "stmts,expected",
    [
        (["UPDATE auditevent SET details = '{}' WHERE id = 3"], [(3, "changed")]),
        (["UPDATE auditevent SET at = '2020-01-01 00:00:00.000000' WHERE id = 2"], [(2, "changed")]),
        (["DELETE FROM auditevent WHERE id = 3"], [(4, "removed")]),
        (["DELETE FROM auditevent WHERE id = 5"], [(5, "truncated")]),
        (["UPDATE auditevent SET id = 100 WHERE id = 2", "UPDATE auditevent SET id = 2 WHERE id = 3",
          "UPDATE auditevent SET id = 3 WHERE id = 100"], [(2, "reordered"), (3, "reordered"), (4, "reordered")]),
    ],
    ids=["edit", "edit-time", "delete", "delete-newest", "swap"],
)  # fmt: skip
def test_tampering_through_sqlite3(engine: Engine, settings: Settings, stmts: list[str],
                                   expected: list[tuple[int, str]]) -> None:  # fmt: skip
    _append_some(engine)
    _sql(settings, *DROP_TRIGGERS, *stmts)
    with session_scope(engine) as db:
        assert _kinds(audit.verify(db)) == expected


def test_concurrent_appends_keep_one_chain(engine: Engine) -> None:
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(10):
                with session_scope(engine) as db:
                    audit.append(db, at(i), f"w{w}", "", "test.append", str(i))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(engine) as db:
        assert audit.verify(db) == []
        assert len(audit.list_events(db)) == 40


def test_append_needs_an_action(engine: Engine) -> None:
    with session_scope(engine) as db, pytest.raises(ValueError):
        audit.append(db, at(0), "lan", "", "")


def test_migration_downgrades_and_upgrades_again(engine: Engine) -> None:
    from alembic import command

    from camsvc.db import alembic_config, upgrade

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003_picture_thresholds")
    assert "auditevent" not in sa.inspect(engine).get_table_names()
    upgrade(engine)
    _append_some(engine, 2)
    with session_scope(engine) as db:
        assert audit.verify(db) == []
