"""Alembic environment: SQLModel's metadata, the URL from camsvc's settings (or the caller's connection)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from camsvc.db import table_metadata

config = context.config
target_metadata = table_metadata()


def _configure(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite ALTER TABLE
        compare_type=True,
    )


connection = config.attributes.get("connection")
if connection is not None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()
else:
    if not config.get_main_option("sqlalchemy.url"):
        from camsvc.config import load_settings

        config.set_main_option("sqlalchemy.url", load_settings().db_url)
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
