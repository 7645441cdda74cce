"""The runtime of one service process: named workers, the leader lock, the watchdog.

By role (``node.role``, docs/nodes.md):

- ``all`` (default): only the process holding the leader lock (:mod:`camsvc.runtime.leader`) runs the
  leader workers, in this order: ``pool`` (probe worker processes), ``node`` (the node agent: its
  ``probe_node`` row and camera leases), ``scheduler`` (APScheduler: tick, refresh), ``writer`` (the thread
  recording check results), ``recorders`` and ``retention`` (when ``recording.enabled``), then the central
  ones: ``alerts`` (the dispatcher), ``coverage`` (cameras no live node can reach) and ``rollup`` (hourly
  rollups and pruning). They stop in reverse, the recorders first (each closes its segment).
- ``api``: the leader runs only the central workers; every API process keeps a ``node`` row (no leases).
- ``probe``: no leader lock and no API: the probing workers run from the start, watched by the watchdog.

Every process that may run checks (``run_scheduler``) also runs two threads of its own:

- ``camsvc-leader``: while not the leader, it tries the lock again every :attr:`Runtime.retry_s`
  (``runtime.takeover_s`` / 3, at most 5 s) and starts the leader workers when it gets it, so a running
  process takes over within ``runtime.takeover_s`` of the leader dying. The new leader's scheduler resumes
  each camera from its last recorded check (:func:`camsvc.runtime.scheduler.resume_due`) and the
  dispatcher from the outbox (claims and leases: docs/alerts.md). While the leader, it asks the lock
  whether it still holds it (a PostgreSQL connection that failed lost it) and, if not, stops the leader
  workers at once and goes back to retrying.
- the watchdog (:mod:`camsvc.runtime.watchdog`): restarts a leader worker that died, with backoff, logged
  once per death.

:meth:`Runtime.workers` lists every worker with its state (for ``/healthz``); :attr:`Runtime.is_leader`
says whether this process runs the checks now.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy.engine import Engine

from camsvc.config import Settings
from camsvc.metrics import Metrics
from camsvc.runtime.leader import LeaderLock
from camsvc.runtime.watchdog import Watchdog, Worker

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0


def _thread_alive(obj: Any, attr: str = "_thread") -> bool:
    t = getattr(obj, attr, None) if obj is not None else None
    return bool(t is not None and t.is_alive())


class Runtime:
    def __init__(self, settings: Settings, engine: Engine, metrics: Metrics):
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.leader = LeaderLock(engine, settings.data_dir)
        self.is_leader = False
        self.became_leader_at: float | None = None  # time.time() of the last takeover
        self.pool: Any = None
        self.scheduler: Any = None
        self.alerts: Any = None
        self.recorders: Any = None
        self.retention: Any = None
        self.coverage: Any = None  # central: cameras no live node can reach (camsvc.nodes.coverage)
        self.rollup: Any = None  # central: hourly rollups and pruning (camsvc.rollup.worker)
        from camsvc.runtime.heartbeat import PipelineJobs

        # every process, leader or not: notices when checks stop (docs/operations.md)
        self.pipeline = PipelineJobs(settings, engine, metrics, runtime=lambda: self)
        rt = settings.runtime
        self.retry_s = min(5.0, rt.takeover_s / 3.0)
        self.watchdog = Watchdog(
            self._leader_workers, interval_s=rt.watchdog_interval_s, backoff_max_s=rt.restart_backoff_max_s
        )
        self.role = settings.node.role
        self.agent: Any = None
        self._workers = self._make_workers()
        self._node_workers = self._make_node_workers()
        self._switch = threading.Lock()  # becoming / ceasing to be the leader
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ the workers
    def _make_workers(self) -> list[Worker]:
        """The workers the leader lock gates: role ``all`` probes and runs the central work; role ``api``
        only the central work; role ``probe`` nothing (its workers run without the lock)."""
        if self.role == "probe":
            return []
        central = [
            Worker("alerts", self._start_alerts, self._stop_alerts, self._alerts_alive),
            Worker("coverage", self._start_coverage, self._stop_coverage, self._coverage_alive),
            Worker("rollup", self._start_rollup, self._stop_rollup, self._rollup_alive),
        ]
        return (self._probe_workers() if self.role == "all" else []) + central

    def _make_node_workers(self) -> list[Worker]:
        """The workers this process runs whether it leads or not: a probe node's probing, an API node's
        heartbeat row (it claims no cameras)."""
        if self.role == "probe":
            return self._probe_workers()
        if self.role == "api" and self.settings.run_scheduler:
            return [Worker("node", self._start_agent, self._stop_agent, self._agent_alive)]
        return []

    def _probe_workers(self) -> list[Worker]:
        ws = [
            Worker("pool", self._start_pool, self._stop_pool, self._pool_alive, why=self._pool_why),
            Worker("node", self._start_agent, self._stop_agent, self._agent_alive),
            Worker("scheduler", self._start_scheduler, self._stop_scheduler, self._scheduler_alive),
            Worker("writer", self._start_writer, lambda _t: None, self._writer_alive),
        ]
        if self.settings.recording.enabled:
            ws += [
                Worker("recorders", self._start_recorders, self._stop_recorders, self._recorders_alive),
                Worker("retention", self._start_retention, self._stop_retention, self._retention_alive),
            ]
        return ws

    def _leader_workers(self) -> list[Worker]:
        return list(self._workers) + list(self._node_workers)

    def workers(self) -> list[dict[str, Any]]:
        """Each worker: name, alive, restarts, last_error (and wanted: whether this process runs it now).
        The leader thread and the watchdog come first; a process that is not the leader lists its leader
        workers as not wanted."""
        own = [
            {
                "name": "leader-lock",
                "alive": _thread_alive(self),
                "wanted": self._thread is not None,
                "restarts": 0,
                "last_error": None,
            },
            {
                "name": "watchdog",
                "alive": self.watchdog.alive(),
                "wanted": self._thread is not None,
                "restarts": 0,
                "last_error": None,
            },
        ]
        return own + [w.info() for w in self._node_workers] + [w.info() for w in self._workers]

    def _start_pool(self) -> None:
        from camsvc.probing.pool import ProbePool

        # frames are measured in the worker; only metrics and the last frame come back (docs/probing.md)
        pool = ProbePool(self.settings.probe, postprocess="camsvc.picture.measure:postprocess")
        try:
            pool.start()
        except Exception:
            pool.close(1.0)
            raise
        self.pool = pool
        if self.scheduler is not None:
            self.scheduler.use_pool(pool)

    def _stop_pool(self, timeout_s: float) -> None:
        if self.pool is not None:
            self.pool.close(timeout_s)

    def _pool_alive(self) -> bool:
        # ProbePool restarts its own worker processes; it is dead when its manager thread ended or it gave
        # up on workers that exit at start-up (every probe would then fail with decode_error)
        p = self.pool
        if p is not None and callable(getattr(p, "alive", None)):
            return bool(p.alive())
        return p is not None and _thread_alive(p, "_manager") and not getattr(p, "_broken", None)

    def _pool_why(self) -> str | None:
        broken = getattr(self.pool, "_broken", None)
        return f"probe workers cannot start: {broken}" if broken else None

    def _start_agent(self) -> None:
        from camsvc.nodes.agent import NodeAgent

        agent = NodeAgent(
            self.settings,
            self.engine,
            claims=self.role != "api",
            stats=self._node_stats,
            on_change=self._leases_changed,
            adopt_all=self.role == "all",
        )
        agent.start()
        self.agent = agent

    def _stop_agent(self, timeout_s: float) -> None:
        if self.agent is not None:
            self.agent.stop(timeout_s)

    def _agent_alive(self) -> bool:
        return self.agent is not None and self.agent.alive()

    def _owned(self) -> set[str]:
        """The cameras this node holds leases for (none while its agent is down: it cannot know)."""
        agent = self.agent
        return agent.owned() if agent is not None else set()

    def _leases_changed(self) -> None:
        if self.scheduler is not None:
            self.scheduler.registry_changed()
        if self.recorders is not None:
            self.recorders.registry_changed()

    def _node_stats(self) -> dict[str, Any]:
        sched = self.scheduler
        if sched is None:
            return {}
        st: dict[str, Any] = dict(sched.stats())
        st["capacity"] = sched.capacity
        spool = getattr(sched, "spool_stats", None)
        if callable(spool):
            st.update(spool())
        return st

    def _start_scheduler(self) -> None:
        from camsvc.runtime.scheduler import CheckScheduler

        sched = CheckScheduler(
            self.settings,
            self.engine,
            self.pool,
            self.metrics,
            owned=self._owned,
            node=self.agent.name if self.agent is not None else None,
        )
        sched.start()
        self.scheduler = sched

    def _stop_scheduler(self, timeout_s: float) -> None:
        if self.scheduler is not None:
            self.scheduler.stop(timeout_s)

    def _scheduler_alive(self) -> bool:
        return self.scheduler is not None and self.scheduler.alive()

    def _start_writer(self) -> None:
        if self.scheduler is None:
            raise RuntimeError("no scheduler")
        self.scheduler.restart_writer()

    def _writer_alive(self) -> bool:
        return self.scheduler is not None and self.scheduler.writer_alive()

    def _start_recorders(self) -> None:
        from camsvc.recording.supervisor import RecorderSupervisor

        rec = RecorderSupervisor(self.settings, self.engine, owned=self._owned)
        rec.start()
        self.recorders = rec

    def _stop_recorders(self, timeout_s: float) -> None:
        if self.recorders is not None:
            self.recorders.stop(timeout_s)

    def _recorders_alive(self) -> bool:
        return _thread_alive(self.recorders)

    def _start_retention(self) -> None:
        from camsvc.recording.retention import RetentionWorker

        ret = RetentionWorker(self.settings, self.engine)
        ret.start()
        self.retention = ret

    def _stop_retention(self, timeout_s: float) -> None:
        if self.retention is not None:
            self.retention.stop(timeout_s)

    def _retention_alive(self) -> bool:
        return _thread_alive(self.retention)

    def _start_alerts(self) -> None:
        from camsvc.alerts.runtime import AlertRuntime

        alerts = AlertRuntime(self.settings, self.engine)
        alerts.start()
        self.alerts = alerts

    def _stop_alerts(self, timeout_s: float) -> None:
        if self.alerts is not None:
            self.alerts.stop(timeout_s)

    def _alerts_alive(self) -> bool:
        return _thread_alive(self.alerts)

    def _start_coverage(self) -> None:
        from camsvc.nodes.coverage import CoverageWorker

        cov = CoverageWorker(self.settings, self.engine)
        cov.start()
        self.coverage = cov

    def _stop_coverage(self, timeout_s: float) -> None:
        if self.coverage is not None:
            self.coverage.stop(timeout_s)

    def _coverage_alive(self) -> bool:
        return self.coverage is not None and self.coverage.alive()

    def _start_rollup(self) -> None:
        from camsvc.rollup.worker import RollupWorker

        roll = RollupWorker(self.settings, self.engine)
        roll.start()
        self.rollup = roll

    def _stop_rollup(self, timeout_s: float) -> None:
        if self.rollup is not None:
            self.rollup.stop(timeout_s)

    def _rollup_alive(self) -> bool:
        return self.rollup is not None and self.rollup.alive()

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        if self.role != "probe":  # the pipeline's monitor and dead-man ping are the central service's
            self.pipeline.start()
        if self._node_workers:
            self.watchdog.start()
            for w in self._node_workers:
                if self._stop.is_set():
                    break
                self.watchdog.start_worker(w)
        if self.role == "probe":
            log.info(
                "probe node %s: checking the cameras of site %r it holds leases for",
                self._node_name(),
                self.settings.node.site or "any",
            )
            return
        if not self.settings.run_scheduler:
            log.info("run_scheduler is off: this process serves the API only")
            return
        if not self._try_lead():
            log.info(
                "another camsvc process runs the checks (leader lock held): serving the API, "
                "retrying the lock every %.1f s to take over",
                self.retry_s,
            )
        self.watchdog.start()
        self._thread = threading.Thread(target=self._leader_loop, name="camsvc-leader", daemon=True)
        self._thread.start()

    def _node_name(self) -> str:
        return self.agent.name if self.agent is not None else (self.settings.node.name or self.role)

    def _try_lead(self) -> bool:
        with self._switch:
            if self.is_leader or self._stop.is_set():
                return self.is_leader
            try:
                got = self.leader.acquire()
            except Exception as exc:  # the database is away: try again on the next round
                log.debug("leader lock not tried: %s", exc)
                return False
            if not got:
                return False
            self.is_leader = True
            self.became_leader_at = time.time()
            log.info("this process is the leader: starting the checks, recorders and alerts")
            for w in self._workers:
                if self._stop.is_set():
                    break
                self.watchdog.start_worker(w)
            return True

    def _resign(self, why: str) -> None:
        with self._switch:
            if not self.is_leader:
                return
            log.warning("%s: stopping the checks, recorders and alerts of this process", why)
            self._stop_workers()
            self.is_leader = False
            self.leader.release()

    @staticmethod
    def _ordered(workers: list[Worker]) -> list[Worker]:
        """Stop order: the recorders first (each closes its segment), then the rest in reverse."""
        order = [w for w in workers if w.name == "recorders"]
        return order + [w for w in reversed(workers) if w.name != "recorders"]

    def _stop_workers(self) -> None:
        for w in self._ordered(self._workers):
            self.watchdog.stop_worker(w, STOP_TIMEOUT_S)
        self.alerts = self.coverage = self.rollup = None
        if self.role == "all":
            self.pool = self.scheduler = self.recorders = self.retention = self.agent = None

    def _leader_loop(self) -> None:
        while not self._stop.wait(self.retry_s):
            try:
                if self.is_leader:
                    if not self.leader.held():
                        self._resign("the leader lock was lost")
                elif self._try_lead():
                    log.info("took over as the leader (the previous leader is gone)")
            except Exception:  # never let the loop die: it is the takeover
                log.exception("leader loop error")

    def stop(self) -> None:
        if self.role != "probe":
            self.pipeline.stop(5.0)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S + 1)
        self.watchdog.stop()
        with self._switch:
            if self.is_leader or self._node_workers:
                log.info("stopping this process's workers")
            if self.is_leader:
                self._stop_workers()
                self.is_leader = False
            self.leader.release()
        for w in self._ordered(self._node_workers):
            self.watchdog.stop_worker(w, STOP_TIMEOUT_S)
        self.pool = self.scheduler = self.recorders = self.retention = self.agent = None

    def registry_changed(self) -> None:
        if self.agent is not None:
            self.agent.kick()  # a new camera is leased at once, not at the next heartbeat
        if self.scheduler is not None and self.is_leader:
            self.scheduler.registry_changed()
        if self.recorders is not None and self.is_leader:
            self.recorders.registry_changed()

    def pool_stats(self) -> dict[str, float]:
        if self.pool is None or not self.is_leader:
            return {}
        return {k: float(v) for k, v in self.pool.stats().items() if isinstance(v, int | float)}
