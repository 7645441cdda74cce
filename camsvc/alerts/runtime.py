"""``AlertRuntime``: the dispatcher running in the background of the service (or of ``camsvc alerts run``).

One thread runs a pass every ``alerts.dispatch_interval_s`` (sooner when a send finishes and the next
message of that channel may be due); sends run in the dispatcher's bounded pool. ``stop`` is bounded too.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.engine import Engine

from camsvc.alerts.dispatch import Dispatcher
from camsvc.config import Settings

log = logging.getLogger(__name__)


class AlertRuntime:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        pool_size: int = 4,
        attempt_timeout_s: float = 20.0,
    ):
        self.settings = settings
        self.engine = engine
        self.pool_size = pool_size
        self.attempt_timeout_s = attempt_timeout_s
        self.dispatcher: Dispatcher | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0
        self.errors = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self.dispatcher = Dispatcher(
            self.settings, self.engine, pool_size=self.pool_size, attempt_timeout_s=self.attempt_timeout_s
        )
        self._thread = threading.Thread(target=self._loop, name="camsvc-alerts", daemon=True)
        self._thread.start()
        log.info(
            "alert dispatcher running (group wait %.0f s, reminders every %.0f s, escalation after %.0f s)",
            self.settings.alerts.group_wait_s,
            self.settings.alerts.reminder_interval_s,
            self.settings.alerts.escalate_after_s,
        )

    def _loop(self) -> None:
        d = self.dispatcher
        assert d is not None
        interval = self.settings.alerts.dispatch_interval_s
        while not self._stop.is_set():
            try:
                d.run_once()
                self.passes += 1
            except Exception:  # the database was busy or gone: log, wait, try again
                self.errors += 1
                log.exception("alert dispatch pass failed; retrying in %.1f s", interval)
            d.wake.wait(interval)
            d.wake.clear()

    def stop(self, timeout_s: float = 5.0) -> None:
        end = time.monotonic() + max(0.0, timeout_s)
        self._stop.set()
        if self.dispatcher is not None:
            self.dispatcher.wake.set()
        if self._thread is not None:
            self._thread.join(max(0.1, end - time.monotonic()))
            if self._thread.is_alive():
                log.warning("alert dispatcher thread did not stop within %.1f s", timeout_s)
            self._thread = None
        if self.dispatcher is not None:
            self.dispatcher.close(max(0.1, end - time.monotonic()))
        log.info("alert dispatcher stopped")

    def alive(self) -> bool:
        """The dispatcher's thread runs (the watchdog restarts the worker when it does not)."""
        return self._thread is not None and self._thread.is_alive()

    def stats(self) -> dict[str, float]:
        d = self.dispatcher
        return {
            "passes": float(self.passes),
            "errors": float(self.errors),
            "in_flight": float(d.in_flight() if d else 0),
        }
