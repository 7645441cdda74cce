"""The alert tables built by the migrations are exactly the models (an ``alembic check`` for issue 5)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from camsvc.alerts import models as alert_models

ALERT_TABLES = {
    t.name
    for t in SQLModel.metadata.sorted_tables
    if any(
        getattr(cls, "__tablename__", None) == t.name
        for cls in vars(alert_models).values()
        if isinstance(cls, type)
    )
}


def _table_of(diff: Any) -> str | None:
    """The table a diff entry is about (entries are tuples, or lists of tuples for column changes)."""
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None and getattr(table, "name", None):
            return str(table.name)
        if isinstance(part, str) and part in ALERT_TABLES:
            return part
        if name in ALERT_TABLES and hasattr(part, "columns"):
            return str(name)
    return None


def test_alert_tables_match_their_migration(engine: Engine) -> None:
    assert {
        "contact",
        "contactchannel",
        "routingrule",
        "incident",
        "incidentmember",
        "outboxmessage",
    } <= ALERT_TABLES
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        diffs = compare_metadata(ctx, SQLModel.metadata)
    mine = [d for d in diffs if _table_of(d) in ALERT_TABLES]
    assert mine == [], f"models and migration 0002_alerts differ: {mine}"
    present = set(engine.dialect.get_table_names(engine.connect()))
    assert present >= ALERT_TABLES
