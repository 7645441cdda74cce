"""Waiting in tests: bounded polls that fail the test with what they waited for."""

from __future__ import annotations

import time
from collections.abc import Callable

from camsvc.bench.common import wait_until


def wait_for(
    predicate: Callable[[], object],
    timeout_s: float,
    what: str,
    describe: Callable[[], object] | None = None,
    interval_s: float = 0.5,
) -> float:
    """Poll *predicate* until truthy; the seconds it took. On timeout an AssertionError names *what*
    (and ``describe()``, the state seen last, if given)."""
    t0 = time.monotonic()
    if not wait_until(predicate, timeout_s, interval_s):
        extra = f": {describe()}" if describe else ""
        raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}{extra}")
    return time.monotonic() - t0


class StallWatch:
    """Notices the whole machine stalling (this shared test machine's VM has been seen frozen for ~18 s,
    every process at once): a thread that wakes every 0.1 s and records each wake-up more than
    *threshold_s* late as a (start, end) wall-clock span. A test measuring timing of another process
    allows what the machine lost (``stalled``) and nothing more: a service that misses a check while the
    machine runs still fails it. Use as a context manager; bounded by the test's own duration."""

    def __init__(self, threshold_s: float = 1.0, step_s: float = 0.1) -> None:
        import threading

        self.threshold_s, self.step_s = threshold_s, step_s
        self.spans: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-watch", daemon=True)

    def _run(self) -> None:
        last = time.time()
        while not self._stop.wait(self.step_s):
            now = time.time()
            if now - last > self.step_s + self.threshold_s:
                self.spans.append((last, now))
            last = now

    def stalled(self, start: float, end: float) -> float:
        """Seconds of recorded stalls overlapping the wall-clock span [start, end]."""
        return sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.spans)

    def __enter__(self) -> StallWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
