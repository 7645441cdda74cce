"""The watchdog: the runtime's named workers, and one thread that restarts a dead one with backoff.

A :class:`Worker` is a name and three callables (start, stop, alive) over one part of the runtime: the probe
pool, the check scheduler, its writer thread, the alert dispatcher, the recorder supervisor... The
:class:`Watchdog` thread looks at every *wanted* worker every ``runtime.watchdog_interval_s``. A worker found
dead is logged once (a warning naming it and why), then restarted after :func:`restart_delay` (1, 2, 4 ...
seconds after each death in a row, capped at ``runtime.restart_backoff_max_s``); a restart that fails
again is retried on the same backoff without logging again. A worker that then stays alive for
``HEALTHY_AFTER_S`` (or the cap, if longer) has its backoff reset.

``check`` is one pass with the time passed in (what the thread runs, and what tests drive).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

HEALTHY_AFTER_S = 60.0  # alive this long after a restart: the next death starts the backoff again at 1 s


def restart_delay(deaths: int, max_s: float) -> float:
    """Seconds to wait before restarting a worker that died *deaths* times in a row (1, 2, 4 ..., capped)."""
    if deaths <= 1:
        return min(1.0, max_s)
    return float(min(max_s, 2.0 ** min(deaths - 1, 30)))


@dataclass(eq=False)
class Worker:
    """One named part of the runtime. ``start`` raises when it cannot start; ``stop`` takes a timeout."""

    name: str
    start: Callable[[], None]
    stop: Callable[[float], None]
    alive: Callable[[], bool]
    why: Callable[[], str | None] | None = None  # what killed it, when it can tell
    wanted: bool = False  # started and meant to run (the watchdog looks only at wanted workers)
    restarts: int = 0
    last_error: str | None = None
    deaths: int = 0  # deaths in a row (reset after HEALTHY_AFTER_S alive)
    dead_since: float | None = None  # monotonic; None while alive
    retry_at: float = 0.0
    alive_since: float = 0.0
    quiet: bool = False  # this death's failed restarts were logged once already
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def info(self) -> dict[str, object]:
        with self.lock:
            return {
                "name": self.name,
                "alive": bool(self.wanted and self.dead_since is None and _safe_alive(self)),
                "wanted": self.wanted,
                "restarts": self.restarts,
                "last_error": self.last_error,
            }

    def launch(self, now: float) -> bool:
        """Start it (the lock held by the caller). True when it started."""
        try:
            self.start()
        except Exception as exc:
            self.last_error = f"start failed: {type(exc).__name__}: {exc}"[:500]
            return False
        self.dead_since = None
        self.alive_since = now
        return True


def _safe_alive(w: Worker) -> bool:
    try:
        return bool(w.alive())
    except Exception:
        return False


class Watchdog:
    def __init__(
        self,
        workers: Callable[[], list[Worker]],
        *,
        interval_s: float = 1.0,
        backoff_max_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.workers = workers
        self.interval_s = interval_s
        self.backoff_max_s = backoff_max_s
        self.clock = clock
        self.passes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ one pass
    def check(self, now: float | None = None) -> list[str]:
        """Look at every wanted worker once; restart the dead ones whose backoff has passed. Returns the
        names restarted in this pass."""
        now = self.clock() if now is None else now
        restarted = []
        for w in self.workers():
            if self._stop.is_set():
                break
            with w.lock:
                if not w.wanted:
                    continue
                if w.dead_since is None:
                    if _safe_alive(w):
                        if w.deaths and now - w.alive_since > max(HEALTHY_AFTER_S, self.backoff_max_s):
                            w.deaths = 0
                        continue
                    self._died(w, now)
                if now < w.retry_at:
                    continue
                with_stop(w)
                if w.launch(now):
                    w.restarts += 1
                    restarted.append(w.name)
                    log.info("worker %s restarted (restart %d)", w.name, w.restarts)
                else:
                    w.deaths += 1
                    w.retry_at = now + restart_delay(w.deaths, self.backoff_max_s)
                    log.log(
                        logging.DEBUG if w.quiet else logging.WARNING,
                        "worker %s could not restart (%s); next try in %.0f s",
                        w.name,
                        w.last_error,
                        w.retry_at - now,
                    )
                    w.quiet = True
        self.passes += 1
        return restarted

    def start_worker(self, w: Worker, now: float | None = None) -> bool:
        """Start *w* and watch it from now on. A start that fails counts as a death: logged once, retried
        on the backoff. True when it started."""
        now = self.clock() if now is None else now
        with w.lock:
            w.wanted, w.deaths, w.last_error = True, 0, None
            if w.launch(now):
                return True
            self._died(w, now, w.last_error)
            return False

    def stop_worker(self, w: Worker, timeout_s: float) -> None:
        """Stop *w* and stop watching it."""
        with w.lock:
            w.wanted = False
            w.dead_since = None
            try:
                w.stop(timeout_s)
            except Exception:
                log.exception("stopping worker %s failed", w.name)

    def _died(self, w: Worker, now: float, error: str | None = None) -> None:
        w.deaths += 1
        w.dead_since = now
        w.retry_at = now + restart_delay(w.deaths, self.backoff_max_s)
        w.quiet = False
        why = None
        if w.why is not None:
            try:
                why = w.why()
            except Exception:
                why = None
        w.last_error = error or why or "stopped running"
        log.warning(
            "worker %s is not running (%s); restarting in %.0f s", w.name, w.last_error, w.retry_at - now
        )

    # ------------------------------------------------------------------ thread
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="camsvc-watchdog", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:  # the watchdog must survive its own bugs
                log.exception("watchdog pass failed")

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None


def with_stop(w: Worker) -> None:
    """Stop what is left of a dead worker before starting it again (its threads, its processes)."""
    try:
        w.stop(2.0)
    except Exception:
        log.debug("stopping the dead worker %s failed", w.name, exc_info=True)
