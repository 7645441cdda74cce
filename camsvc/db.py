"""Engine, sessions and schema upgrades. SQLite by default (WAL, foreign keys), PostgreSQL unchanged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from camsvc import crypto

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def table_metadata() -> sa.MetaData:
    """Every table: imports each module that defines tables (add new ones here), so that the metadata
    Alembic compares and migrates against holds them all."""
    from camsvc import models  # noqa: F401
    from camsvc.alerts import models as alert_models  # noqa: F401
    from camsvc.auth import models as auth_models  # noqa: F401
    from camsvc.cases import models as case_models  # noqa: F401
    from camsvc.nodes import models as node_models  # noqa: F401
    from camsvc.recording import models as recording_models  # noqa: F401
    from camsvc.rollup import models as rollup_models  # noqa: F401

    return SQLModel.metadata


def make_engine(url: str, data_dir: Path | str | None = None) -> Engine:
    """An engine on *url*, with the secret keyring of *data_dir* installed (default: the SQLite file's
    directory; camsvc.crypto.ensure_keyring), so encrypted columns read and write on it."""
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            data_dir = Path(path).parent if data_dir is None else data_dir
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=20)
        if url.startswith("postgresql"):
            # libpq TCP keepalives and a send timeout: a connection to a server that vanished (power cut,
            # cable) fails within ~25 s instead of the kernel's 2 hours, so the leader lock's connection
            # notices it lost the lock and a node's writer turns to its spool (docs/nodes.md)
            kwargs["connect_args"] = {
                "connect_timeout": 10,
                "keepalives": 1,
                "keepalives_idle": 10,
                "keepalives_interval": 5,
                "keepalives_count": 3,
                "tcp_user_timeout": 25_000,
            }
    if data_dir is not None:
        crypto.ensure_keyring(data_dir)
    engine = sa.create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _rec: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    return engine


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (the service does this at start)."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
