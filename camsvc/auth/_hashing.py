"""Small shared helpers: random secrets, their stored digest, and taking a write lock before a read."""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from sqlmodel import Session


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(raw: str) -> str:
    """SHA-256 hex of a high-entropy secret (a session cookie, an API token). No salt or slow hash needed:
    the secret is 256 random bits, not a password."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def lock_for_write(db: Session, table: str, advisory_key: int) -> None:
    """Serialise writers of *table* for the rest of the transaction, before anything is read.

    PostgreSQL: a transaction-scoped advisory lock (works on an empty table, unlike ``FOR UPDATE``).
    SQLite: a no-op UPDATE takes the database write lock at once, so the reads that follow see every
    committed row and no other writer can come between (WAL would otherwise let two transactions read the
    same "last" row).
    """
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        db.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_key})
    elif dialect == "sqlite":
        db.execute(sa.text(f"UPDATE {table} SET rowid = rowid WHERE 0"))
