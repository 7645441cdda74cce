"""The health state machine: pure, no I/O, no clock (the time of each check is passed in).

    unknown --ok--> up --fail x N--> down --ok x M--> up
                     \\--picture fault x K--> degraded --clean x M--> up
    any --maintenance window--> maintenance --window ends--> unknown (next check decides, and alerts)

A single failed check is not an outage: the camera stays in its state, counting (``fail_streak``), and the
scheduler re-checks it at the shorter retry interval. When the count reaches the threshold the camera goes
``down`` and the outage starts at the *first* failed check of the run. Picture faults (issue 4) need
``degrade_threshold`` consecutive checks showing the same fault.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from camsvc.enums import HealthState


@dataclass(frozen=True)
class Thresholds:
    fail: int = 2
    recover: int = 1
    degrade: int = 2


@dataclass(frozen=True)
class Health:
    """What the machine remembers of one camera between checks."""

    state: HealthState = HealthState.UNKNOWN
    since: dt.datetime | None = None
    cause: str | None = None
    fail_streak: int = 0
    ok_streak: int = 0
    fault_streak: int = 0
    fault: str | None = None
    first_fail_at: dt.datetime | None = None
    first_fault_at: dt.datetime | None = None
    last_error: str | None = None

    @property
    def pending(self) -> bool:
        """A failure (or picture fault) is being counted but not yet confirmed: re-check sooner."""
        return (self.fail_streak > 0 and self.state is not HealthState.DOWN) or (
            self.fault_streak > 0 and self.state is not HealthState.DEGRADED
        )


@dataclass(frozen=True)
class Observation:
    """One check, reduced to what the machine needs."""

    at: dt.datetime
    ok: bool  # the stream delivered decodable frames
    error: str | None = None  # error class when not ok
    detail: str | None = None
    faults: tuple[str, ...] = ()  # picture faults found (ordered by severity, first = main)
    in_maintenance: bool = False


@dataclass(frozen=True)
class Change:
    """A state change the caller must record (transition row; outage opened/closed)."""

    old: HealthState
    new: HealthState
    at: dt.datetime
    cause: str | None
    detail: str | None = None
    # outage bookkeeping
    close_outage_at: dt.datetime | None = None  # close the open outage (end = this time)
    open_outage: HealthState | None = None  # open an outage of this kind (down/degraded)
    outage_started_at: dt.datetime | None = None


@dataclass(frozen=True)
class Step:
    health: Health
    changes: tuple[Change, ...] = field(default_factory=tuple)


def _to(h: Health, new: HealthState, at: dt.datetime, cause: str | None, **kw: object) -> Health:
    return replace(h, state=new, since=at, cause=cause, **kw)  # type: ignore[arg-type]


def step(h: Health, obs: Observation, t: Thresholds = Thresholds()) -> Step:
    """Apply one check to a camera's health; return the new health and the changes to record."""
    at = obs.at
    changes: list[Change] = []

    # --- maintenance windows override everything: no outage, no alert.
    if obs.in_maintenance:
        if h.state is HealthState.MAINTENANCE:
            return Step(replace(h, last_error=obs.error or h.last_error))
        close = at if h.state in (HealthState.DOWN, HealthState.DEGRADED) else None
        changes.append(Change(h.state, HealthState.MAINTENANCE, at, "maintenance", close_outage_at=close))
        return Step(Health(state=HealthState.MAINTENANCE, since=at, cause="maintenance"), tuple(changes))
    if h.state is HealthState.MAINTENANCE:
        # The window ended: judge afresh; a camera still broken is alerted now (counts restart from here).
        h = Health(state=HealthState.UNKNOWN, since=h.since, cause=None)
        changes.append(Change(HealthState.MAINTENANCE, HealthState.UNKNOWN, at, "maintenance_ended"))
        # fall through: this check is the first one after the window

    if not obs.ok:
        first = h.first_fail_at if h.fail_streak > 0 and h.first_fail_at else at
        h = replace(
            h,
            fail_streak=h.fail_streak + 1,
            ok_streak=0,
            fault_streak=0,
            fault=None,
            first_fault_at=None,
            first_fail_at=first,
            last_error=obs.error,
        )
        if h.state is not HealthState.DOWN and h.fail_streak >= t.fail:
            old: HealthState = h.state
            close = at if old is HealthState.DEGRADED else None
            h = _to(h, HealthState.DOWN, at, obs.error)
            changes.append(
                Change(
                    old,
                    HealthState.DOWN,
                    at,
                    obs.error,
                    obs.detail,
                    close_outage_at=close,
                    open_outage=HealthState.DOWN,
                    outage_started_at=first,
                )
            )
        return Step(h, tuple(changes))

    # --- the stream works; is the picture any good?
    fault = obs.faults[0] if obs.faults else None
    if fault is None:
        h = replace(
            h,
            ok_streak=h.ok_streak + 1,
            fail_streak=0,
            first_fail_at=None,
            fault_streak=0,
            fault=None,
            first_fault_at=None,
        )
        if h.state in (HealthState.DOWN, HealthState.DEGRADED):
            if h.ok_streak >= t.recover:
                old = h.state
                h = _to(h, HealthState.UP, at, None)
                changes.append(Change(old, HealthState.UP, at, "recovered", close_outage_at=at))
        elif h.state is not HealthState.UP:
            old = h.state
            h = _to(h, HealthState.UP, at, None)
            changes.append(Change(old, HealthState.UP, at, None))
        return Step(h, tuple(changes))

    # picture fault: a working stream showing a useless picture
    same = fault == h.fault or (h.fault is not None and h.fault in obs.faults)
    if same and h.fault is not None:
        fault = h.fault  # keep naming the fault being counted while it persists
    streak = h.fault_streak + 1 if same else 1
    first_fault = h.first_fault_at if same and h.first_fault_at else at
    h = replace(
        h,
        fail_streak=0,
        first_fail_at=None,
        ok_streak=0,
        fault=fault,
        fault_streak=streak,
        first_fault_at=first_fault,
    )
    if h.state is HealthState.DEGRADED:
        return Step(h, tuple(changes))
    if h.state is HealthState.DOWN:
        # back from down straight into degraded: one outage ends, another begins
        if streak >= t.recover:
            h = _to(h, HealthState.DEGRADED, at, fault)
            changes.append(
                Change(
                    HealthState.DOWN,
                    HealthState.DEGRADED,
                    at,
                    fault,
                    close_outage_at=at,
                    open_outage=HealthState.DEGRADED,
                    outage_started_at=at,
                )
            )
        return Step(h, tuple(changes))
    if streak >= t.degrade:
        old = h.state
        h = _to(h, HealthState.DEGRADED, at, fault)
        changes.append(
            Change(
                old,
                HealthState.DEGRADED,
                at,
                fault,
                open_outage=HealthState.DEGRADED,
                outage_started_at=first_fault,
            )
        )
    elif h.state is HealthState.UNKNOWN:
        # the stream answers: it is up until the fault is confirmed
        h = _to(h, HealthState.UP, at, None)
        changes.append(Change(HealthState.UNKNOWN, HealthState.UP, at, None))
    return Step(h, tuple(changes))
