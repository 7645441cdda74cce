"""The node agent: this process's row in ``probe_node`` and its camera leases.

Every ``node.heartbeat_s`` it renews its row (last seen, cameras, load, spool) and, on a node that probes,
runs one lease round (:func:`camsvc.nodes.leases.claim_round`); when the set of cameras it holds changes it
calls ``on_change`` (the scheduler and the recorders reload at once). The scheduler asks :meth:`owned`
at each refresh.

When the database is away the agent keeps the cameras it holds (the node goes on probing and spools its
results: :mod:`camsvc.runtime.spool`) and logs once; when the database answers again it renews its row
and claims as before. If it was away longer than ``node.dead_after_s`` other nodes may have taken some of
its cameras meanwhile; the next round shows which it still holds.

A clean stop releases every lease and marks the row stopped, so other nodes take over on their next round
rather than after ``dead_after_s``. The role-``all`` leader adopts (marks stopped) the rows of other
role-``all`` processes when it takes the leader lock: only the lock holder probes, so a process that lost
the lock (killed, cut off) cannot still be checking.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from camsvc import __version__
from camsvc.config import Settings
from camsvc.models import utcnow
from camsvc.nodes.leases import claim_round, release_all
from camsvc.nodes.models import ProbeNode

log = logging.getLogger(__name__)


class NodeNameTaken(RuntimeError):
    pass


def default_node_name(role: str, site: str) -> str:
    """``<host>-<role>[-<site>]``: stable across restarts, so a restarted node keeps its row."""
    name = f"{socket.gethostname()}-{role}" + (f"-{site}" if site else "")
    return name[:100]


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class NodeAgent:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        claims: bool = True,
        stats: Callable[[], dict[str, Any]] | None = None,
        on_change: Callable[[], None] | None = None,
        adopt_all: bool = False,
        clock: Callable[[], dt.datetime] = utcnow,
    ):
        n = settings.node
        self.settings = settings
        self.engine = engine
        self.role = n.role
        self.site = n.site
        self.name = n.name or default_node_name(n.role, n.site)
        self.host = socket.gethostname()
        self.claims = claims
        self.stats = stats
        self.on_change = on_change
        self.adopt_all = adopt_all
        self.clock = clock
        self.heartbeat_s = n.heartbeat_s
        self.dead_after_s = n.dead_after_s
        self._owned: frozenset[str] = frozenset()
        self._db_ok = True
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0
        self.last_error: str | None = None
        self._probes_mark: tuple[float, float] | None = None  # (monotonic, checks written) a minute ago

    # ------------------------------------------------------------------ what the scheduler asks
    def owned(self) -> set[str]:
        return set(self._owned)

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Register (refusing a name a live process on this host already uses), adopt, first round."""
        now = self.clock()
        with Session(self.engine) as s:
            row = s.get(ProbeNode, self.name)
            if (
                row is not None
                and row.stopped_at is None
                and row.host == self.host
                and row.pid != os.getpid()
                and _pid_alive(row.pid)
                and row.last_seen > now - dt.timedelta(seconds=self.dead_after_s)
            ):
                raise NodeNameTaken(
                    f"another camsvc node named {self.name!r} runs on this host (pid {row.pid}); give this "
                    "one its own name (--node-name or node.name)"
                )
            if row is None:
                row = ProbeNode(name=self.name)
            row.site, row.role, row.host, row.pid, row.version = (
                self.site,
                self.role,
                self.host,
                os.getpid(),
                __version__,
            )
            row.started_at, row.last_seen, row.stopped_at, row.detail = now, now, None, None
            s.add(row)
            if self.adopt_all:
                s.execute(
                    sa.update(ProbeNode)
                    .where(
                        col(ProbeNode.role) == "all",
                        col(ProbeNode.name) != self.name,
                        col(ProbeNode.stopped_at).is_(None),
                    )
                    .values(stopped_at=now, detail="lost the leader lock")
                )
            s.commit()
        self._round(now)
        log.info(
            "node %s (role %s, site %s) started: %d cameras",
            self.name,
            self.role,
            self.site or "any",
            len(self._owned),
        )
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="node-agent", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        try:
            with Session(self.engine) as s:
                n = release_all(s, self.name)
                s.execute(
                    sa.update(ProbeNode)
                    .where(col(ProbeNode.name) == self.name, col(ProbeNode.pid) == os.getpid())
                    .values(stopped_at=self.clock(), cameras=0, in_flight=0)
                )
                s.commit()
            log.info("node %s stopped: %d leases released", self.name, n)
        except Exception as exc:  # the database is away: other nodes take over after dead_after_s
            log.warning("node %s stopped without releasing its leases: %s", self.name, type(exc).__name__)
        self._owned = frozenset()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def kick(self) -> None:
        """Run a round now (the registry changed)."""
        self._kick.set()

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> None:
        while not self._stop.is_set():
            self._kick.wait(self.heartbeat_s)
            self._kick.clear()
            if self._stop.is_set():
                return
            try:
                self.beat()
            except Exception:  # never let the heartbeat die of its own bug
                log.exception("node agent round failed")

    def beat(self) -> None:
        now = self.clock()
        try:
            self._renew(now)
            self._round(now)
        except sa.exc.SQLAlchemyError as exc:
            self.last_error = f"{type(exc).__name__}"
            if self._db_ok:
                log.warning(
                    "node %s cannot reach the database (%s): keeping its %d cameras",
                    self.name,
                    type(exc).__name__,
                    len(self._owned),
                )
            self._db_ok = False
            return
        if not self._db_ok:
            log.info("node %s reaches the database again: %d cameras", self.name, len(self._owned))
        self._db_ok = True
        self.last_error = None

    def _load(self) -> dict[str, Any]:
        st: dict[str, Any] = {}
        if self.stats is not None:
            with contextlib.suppress(Exception):
                st = dict(self.stats())
        written = float(st.get("checks_written", 0.0))
        mono = time.monotonic()
        ppm = 0.0
        if self._probes_mark is not None and mono > self._probes_mark[0]:
            ppm = max(0.0, (written - self._probes_mark[1]) * 60.0 / (mono - self._probes_mark[0]))
        if self._probes_mark is None or mono - self._probes_mark[0] >= 60.0:
            self._probes_mark = (mono, written)
        if ppm:
            st["probes_per_min"] = ppm
        return st

    def _renew(self, now: dt.datetime) -> None:
        st = self._load()
        cap = int(st.get("capacity", 0) or 0)
        inflight = int(st.get("in_flight", 0) or 0)
        values: dict[str, Any] = {
            "last_seen": now,
            "stopped_at": None,
            "cameras": len(self._owned),
            "capacity": cap,
            "in_flight": inflight,
            "saturation": round(inflight / cap, 3) if cap else 0.0,
            "spooled": int(st.get("spooled", 0) or 0),
            "oldest_spooled_at": st.get("oldest_spooled_at"),
        }
        if "probes_per_min" in st:
            values["probes_per_min"] = round(float(st["probes_per_min"]), 1)
        with Session(self.engine) as s:
            res = s.execute(
                sa.update(ProbeNode)
                .where(col(ProbeNode.name) == self.name, col(ProbeNode.pid) == os.getpid())
                .values(**values)
            )
            if not res.rowcount:  # type: ignore[attr-defined]
                # our row was taken by a process of the same name elsewhere, or deleted: claim it back
                s.merge(
                    ProbeNode(
                        name=self.name,
                        site=self.site,
                        role=self.role,
                        host=self.host,
                        pid=os.getpid(),
                        version=__version__,
                        started_at=now,
                        **values,
                    )
                )
            s.commit()

    def _round(self, now: dt.datetime) -> None:
        if not self.claims:
            return
        with Session(self.engine) as s:
            r = claim_round(s, self.name, now, self.dead_after_s)
        self.rounds += 1
        changed = r.owned != self._owned
        self._owned = r.owned
        if r.claimed or r.released:
            log.info(
                "node %s: %d cameras (%d claimed, %d released; %d live nodes)",
                self.name,
                len(r.owned),
                r.claimed,
                r.released,
                r.live_nodes,
            )
        if changed and self.on_change is not None:
            try:
                self.on_change()
            except Exception:
                log.exception("node %s: reloading after a lease change failed", self.name)
