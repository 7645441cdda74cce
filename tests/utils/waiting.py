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
