"""When a camera's shown state is out of date ("stale", issue 11). Pure: no I/O, no clock.

An enabled camera whose last check is older than ``factor`` check intervals (its own ``check_interval_s``,
else ``checks.interval_s``; ``dashboard.stale_after_intervals``, default 3) is stale: the scheduler checks
every enabled camera at its interval (maintenance and down ones too), so a check that old means the camera
is not being monitored (scheduler stopped, probe pool stuck, the camera's checks failing to record) and its
last state may no longer be true. A camera never checked is "unknown", not stale; a disabled camera is
"disabled", never stale.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class StaleRule:
    default_interval_s: float
    factor: float

    def limit_s(self, interval_s: float | None) -> float:
        """Seconds without a check after which a camera is stale."""
        return self.factor * (interval_s or self.default_interval_s)

    def is_stale(
        self,
        last_check_at: dt.datetime | None,
        now: dt.datetime,
        interval_s: float | None,
        enabled: bool = True,
    ) -> bool:
        if not enabled or last_check_at is None:
            return False
        if last_check_at.tzinfo is None:  # stored naive UTC (SQLite)
            last_check_at = last_check_at.replace(tzinfo=dt.UTC)
        return (now - last_check_at).total_seconds() > self.limit_s(interval_s)

    def cutoff(self, now: dt.datetime, shortest_interval_s: float) -> dt.datetime:
        """No camera whose last check is at or after this time can be stale (a cheap SQL pre-filter)."""
        return now - dt.timedelta(seconds=self.factor * shortest_interval_s)


def rule_of(settings: object) -> StaleRule:
    """The rule from Settings (``checks.interval_s``, ``dashboard.stale_after_intervals``)."""
    return StaleRule(
        float(settings.checks.interval_s),  # type: ignore[attr-defined]
        float(settings.dashboard.stale_after_intervals),  # type: ignore[attr-defined]
    )
