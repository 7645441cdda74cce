"""Uptime from the transition log: pure, time passed in.

A camera's timeline is the list of its transitions; time in each state over a period is summed from it.
``uptime`` = up / (up + degraded + down): maintenance and unknown (not yet checked, service stopped before the
first check) are counted separately and excluded, so planned work does not count against the commune.
``availability`` counts degraded as available (the stream works, the picture does not).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from camsvc.enums import HealthState


@dataclass
class StateTimes:
    seconds: dict[str, float] = field(default_factory=lambda: {s.value: 0.0 for s in HealthState})

    def add(self, other: StateTimes) -> None:
        for k, v in other.seconds.items():
            self.seconds[k] = self.seconds.get(k, 0.0) + v

    @property
    def monitored_s(self) -> float:
        s = self.seconds
        return s["up"] + s["degraded"] + s["down"]

    @property
    def uptime(self) -> float | None:
        m = self.monitored_s
        return self.seconds["up"] / m if m > 0 else None

    @property
    def availability(self) -> float | None:
        m = self.monitored_s
        return (self.seconds["up"] + self.seconds["degraded"]) / m if m > 0 else None

    def to_dict(self) -> dict[str, object]:
        return {
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "uptime": None if self.uptime is None else round(self.uptime, 6),
            "availability": None if self.availability is None else round(self.availability, 6),
        }


def state_times(
    transitions: Iterable[tuple[dt.datetime, HealthState]],
    start: dt.datetime,
    end: dt.datetime,
    initial: HealthState = HealthState.UNKNOWN,
) -> StateTimes:
    """Seconds spent in each state within [start, end). ``transitions`` are (at, new_state), any order;
    ``initial`` is the state before the first transition given."""
    out = StateTimes()
    if end <= start:
        return out
    state, cursor = initial, start
    for at, new in sorted(transitions, key=lambda x: x[0]):
        if at <= start:
            state = new
            continue
        if at >= end:
            break
        out.seconds[state.value] += (at - cursor).total_seconds()
        state, cursor = new, at
    out.seconds[state.value] += (end - cursor).total_seconds()
    return out


PERIODS = {"day": dt.timedelta(days=1), "week": dt.timedelta(days=7), "month": dt.timedelta(days=30)}
