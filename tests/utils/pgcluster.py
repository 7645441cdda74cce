"""A private PostgreSQL cluster for one test, which the test may stop and start (a database outage)
without disturbing anyone else's server: initdb + pg_ctl from /usr/lib/postgresql/15/bin, run as the
``postgres`` user (initdb refuses root), on a free port of 127.0.0.1 with its socket in its own
directory. The test is skipped when those programs (or the user) are absent.

pytest's tmp_path lives under a root-only directory (0700) the ``postgres`` user cannot enter, so the
cluster's directory is a fresh one of its own under the system temporary directory, removed by
:meth:`PgCluster.remove` (the fixture does it)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from camsvc.bench.common import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
WAIT_S = 30  # pg_ctl's own bounded wait for start and stop


class PgCluster:
    def __init__(self, root: Path, port: int):
        self.root = root
        self.data = root / "data"
        self.port = port
        self.log = root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = WAIT_S + 15) -> subprocess.CompletedProcess[str]:
        cmd = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if out.returncode != 0:
            raise RuntimeError(
                f"{Path(args[0]).name} failed ({out.returncode}): {out.stderr.strip()[-800:]}\n"
                f"{self.log.read_text(errors='replace')[-800:] if self.log.exists() else ''}"
            )
        return out

    def init(self) -> PgCluster:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nfsync = off\nshared_buffers = 16MB\n"
                "max_connections = 60\n"
            )
        return self

    def start(self) -> None:
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            str(WAIT_S),
            "start",
        )

    def stop(self) -> None:
        """A fast shutdown: every client connection is cut, new ones refused until :meth:`start`."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", str(WAIT_S), "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def running(self) -> bool:
        st = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"]
            if os.geteuid() == 0
            else [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
            timeout=15,
        )
        return st.returncode == 0

    def remove(self) -> None:
        with contextlib.suppress(Exception):
            if self.running():
                self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def pg_cluster() -> Iterator[PgCluster]:
    """A started private cluster; stopped and removed afterwards. Skips when PostgreSQL 15's programs or
    the ``postgres`` user are missing."""
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        pytest.skip(f"no PostgreSQL programs in {PG_BIN}")
    pytest.importorskip("psycopg")
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user to run a private cluster as")
    root = Path(tempfile.mkdtemp(prefix="camsvc-pg-"))
    os.chmod(root, 0o755)
    if os.geteuid() == 0:
        os.chown(root, pw.pw_uid, pw.pw_gid)
    cluster = PgCluster(root, free_port())
    try:
        cluster.init().start()
        yield cluster
    finally:
        cluster.remove()
