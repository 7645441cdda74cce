"""The schema the migrations build is exactly the models (an `alembic check` over every table)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from camsvc.db import table_metadata


def test_migrations_match_models(engine: Any) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, table_metadata())
    assert diffs == []


def test_upgrade_is_idempotent(engine: Any) -> None:
    from camsvc.db import upgrade

    upgrade(engine)  # already at head: nothing to do, no error
