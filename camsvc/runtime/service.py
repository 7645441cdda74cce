"""The runtime of one service process: probe pool, check scheduler, recorders and alert dispatcher.

Started by the app's lifespan in order (pool, scheduler, recorders and their retention, alerts) and
stopped with the recorders first (each closes its segment), then the rest in reverse. Only the process
holding the leader lock runs them; other API workers serve requests only.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import Engine

from camsvc.config import Settings
from camsvc.metrics import Metrics
from camsvc.runtime.leader import LeaderLock

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, engine: Engine, metrics: Metrics):
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.leader = LeaderLock(engine, settings.data_dir)
        self.is_leader = False
        self.pool: Any = None
        self.scheduler: Any = None
        self.alerts: Any = None
        self.recorders: Any = None
        self.retention: Any = None

    def start(self) -> None:
        if not self.settings.run_scheduler:
            log.info("run_scheduler is off: this process serves the API only")
            return
        if not self.leader.acquire():
            log.info("another camsvc process runs the checks (leader lock held): serving the API only")
            return
        self.is_leader = True
        from camsvc.probing.pool import ProbePool
        from camsvc.runtime.scheduler import CheckScheduler

        # frames are measured in the worker; only metrics and the last frame come back (docs/probing.md)
        self.pool = ProbePool(self.settings.probe, postprocess="camsvc.picture.measure:postprocess")
        self.pool.start()
        self.scheduler = CheckScheduler(self.settings, self.engine, self.pool, self.metrics)
        self.scheduler.start()
        if self.settings.recording.enabled:
            self._start_recording()
        from camsvc.alerts.runtime import AlertRuntime

        self.alerts = AlertRuntime(self.settings, self.engine)
        self.alerts.start()

    def _start_recording(self) -> None:
        from camsvc.recording.retention import RetentionWorker
        from camsvc.recording.supervisor import RecorderSupervisor

        try:
            self.recorders = RecorderSupervisor(self.settings, self.engine)
            self.recorders.start()
            self.retention = RetentionWorker(self.settings, self.engine)
            self.retention.start()
        except Exception:  # checks and alerts must run even when recording cannot
            log.exception("recording could not start")

    def stop(self) -> None:
        for name, part in (
            ("recorders", self.recorders),
            ("retention", self.retention),
            ("alerts", self.alerts),
            ("scheduler", self.scheduler),
        ):
            if part is not None:
                try:
                    part.stop(5.0)
                except Exception:
                    log.exception("stopping %s failed", name)
        if self.pool is not None:
            try:
                self.pool.close(5.0)
            except Exception:
                log.exception("stopping the probe pool failed")
        self.leader.release()

    def registry_changed(self) -> None:
        if self.scheduler is not None:
            self.scheduler.registry_changed()
        if self.recorders is not None:
            self.recorders.registry_changed()

    def pool_stats(self) -> dict[str, float]:
        if self.pool is None:
            return {}
        return {k: float(v) for k, v in self.pool.stats().items() if isinstance(v, int | float)}
