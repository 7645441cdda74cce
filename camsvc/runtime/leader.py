"""Only one process runs the checks, however many API workers serve.

SQLite: an exclusive ``flock`` on ``<data_dir>/scheduler.lock``. PostgreSQL: a session-level advisory lock
held on a dedicated connection. The lock dies with its process, so a killed leader never blocks the next:
a process that is not the leader calls :meth:`LeaderLock.acquire` again every few seconds
(:class:`camsvc.runtime.service.Runtime`) and takes over when it succeeds.

The leader asks :meth:`LeaderLock.held` as often: on PostgreSQL the lock lives as long as its connection,
so a connection that fails (server restarted, backend terminated, network cut) means another process may
hold the lock now, and the leader must stop its leader work. On SQLite the flock cannot be taken away,
but the file can be deleted (then a new process would lock a new file): the leader checks that its file
is still the one at the path.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

_PG_LOCK_KEY = 0x63616D737663  # "camsvc"


class LeaderLock:
    def __init__(self, engine: Engine, data_dir: Path):
        self.engine = engine
        self.path = data_dir / "scheduler.lock"
        self._fd: int | None = None
        self._conn: Any = None
        self._away = False  # the lock's connection failed with the server unreachable (see held)

    def acquire(self) -> bool:
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _PG_LOCK_KEY}).scalar())
            conn.commit()  # not left idle in a transaction (idle_in_transaction_session_timeout)
            if got:
                self._conn = conn
            else:
                conn.close()
            return got
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    @property
    def is_held(self) -> bool:
        return self._conn is not None or self._fd is not None or self._away

    def held(self) -> bool:
        """Still the leader? Asks the database (PostgreSQL) or the file system (SQLite); a lock found lost
        is dropped, so the next :meth:`acquire` starts afresh.

        PostgreSQL: when the lock's connection fails because the server cannot be reached at all, this
        process keeps leading (its checks go on, their results to the local spool: docs/spool.md) and
        takes the lock again as soon as the server answers; another process got it first: lost. A server
        that answers while the lock's connection failed (backend terminated): lost at once, as before."""
        if self._conn is not None:
            try:
                self._conn.execute(sa.text("SELECT 1")).scalar()
                self._conn.commit()
                return True
            except Exception as exc:
                with contextlib.suppress(Exception):
                    self._conn.invalidate()
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None
                if self._server_away():
                    self._away = True
                    log.warning(
                        "the PostgreSQL server cannot be reached (%s): going on with the checks until it "
                        "answers, then taking the leader lock again",
                        type(exc).__name__,
                    )
                    return True
                log.warning(
                    "the leader lock's PostgreSQL connection failed (%s): lock lost", type(exc).__name__
                )
                return False
        if self._away:
            if self._server_away():
                return True
            self._away = False
            try:
                got = self.acquire()
            except Exception:
                got = False
            log.warning(
                "the PostgreSQL server answers again: leader lock %s",
                "taken again" if got else "held by another process now: lock lost",
            )
            return got
        if self._fd is not None:
            try:
                same = os.fstat(self._fd).st_ino == os.stat(self.path).st_ino
            except OSError:
                same = False
            if not same:
                log.warning("the leader lock file %s was removed or replaced: lock lost", self.path)
                self.release()
            return same
        return False

    def _server_away(self) -> bool:
        """The server refuses or drops a new connection (as opposed to answering)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return False
        except (sa.exc.OperationalError, sa.exc.InterfaceError):
            return True
        except Exception:
            return False

    def release(self) -> None:
        self._away = False
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                self._conn.close()
            self._conn = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
            self._fd = None
