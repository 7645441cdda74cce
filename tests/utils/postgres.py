"""A fresh database on the local PostgreSQL server for one test, dropped afterwards; the test is skipped
when no server answers on 127.0.0.1:5432 (CI's machine runs one)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def fresh_database(prefix: str = "camsvc_test") -> Iterator[str]:
    """Yields the SQLAlchemy URL of a new, empty database named ``<prefix>_<random>``."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432 ({exc})")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()
