"""From the checks of one camera and one UTC hour, its :class:`CheckRollup` (pure: no I/O, no clock).

What an hour keeps after its raw checks are pruned: how many checks, how many got no picture (failures) and
how many had a picture fault, the availability (share of checks that got a picture), the medians of the open
time, fps, brightness and sharpness (over the checks that measured them; non-finite values ignored), and the
counts of each error class and each picture fault as JSON objects (keys sorted, so equal hours give equal
text). ``merge`` adds late checks to an hour whose raw checks are gone.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from camsvc.rollup.models import CheckRollup

HOUR = dt.timedelta(hours=1)
UNKNOWN_ERROR = "unknown"  # a failed check that named no error class


@dataclass(frozen=True)
class CheckSample:
    """The columns of a ``Check`` row a rollup reads."""

    at: dt.datetime
    ok: bool
    error: str | None = None
    open_ms: float | None = None
    fps: float | None = None
    metrics_json: str | None = None
    faults: str | None = None  # comma-separated picture faults


def hour_of(t: dt.datetime) -> dt.datetime:
    """The start of the UTC hour holding *t* (aware UTC; a naive time is refused)."""
    if t.tzinfo is None:
        raise ValueError("naive datetime given to hour_of (times are aware UTC)")
    return t.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def last_complete_hour_end(now: dt.datetime) -> dt.datetime:
    """Hours that end at or before this are complete at *now*: the start of the current hour."""
    return hour_of(now)


def _finite(x: object) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def _median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in (_finite(x) for x in values) if v is not None]
    return float(statistics.median(vals)) if vals else None


def _metric(metrics_json: str | None, name: str) -> float | None:
    """One number of a check's metrics JSON; missing, not a number or unreadable JSON give None."""
    if not metrics_json:
        return None
    try:
        d = json.loads(metrics_json)
    except (ValueError, TypeError):
        return None
    return _finite(d.get(name)) if isinstance(d, dict) else None


def _faults_of(s: CheckSample) -> list[str]:
    return [f.strip() for f in (s.faults or "").split(",") if f.strip()]


def _counts_json(c: Counter[str]) -> str | None:
    return json.dumps(dict(sorted(c.items())), separators=(",", ":")) if c else None


def rollup_hour(camera_id: str, hour: dt.datetime, samples: Sequence[CheckSample]) -> CheckRollup:
    """The rollup of *camera_id*'s checks in the UTC hour starting at *hour*. Every sample must lie in that
    hour (a sample outside it is a caller's bug: ValueError naming it). No samples: an empty hour (checks 0,
    availability None)."""
    if hour != hour_of(hour):
        raise ValueError(f"hour must be the start of a UTC hour, not {hour.isoformat()}")
    end = hour + HOUR
    for s in samples:
        if not hour <= s.at < end:
            raise ValueError(f"check at {s.at.isoformat()} is outside the hour {hour.isoformat()}")
    n = len(samples)
    failed = [s for s in samples if not s.ok]
    faulted = [s for s in samples if _faults_of(s)]
    errors: Counter[str] = Counter((s.error or UNKNOWN_ERROR) for s in failed)
    faults: Counter[str] = Counter(f for s in samples for f in _faults_of(s))
    return CheckRollup(
        camera_id=camera_id,
        hour=hour,
        checks=n,
        failures=len(failed),
        faults=len(faulted),
        availability=(n - len(failed)) / n if n else None,
        open_ms_p50=_median(s.open_ms for s in samples),
        fps_p50=_median(s.fps for s in samples),
        brightness_p50=_median(_metric(s.metrics_json, "brightness") for s in samples),
        sharpness_p50=_median(_metric(s.metrics_json, "sharpness") for s in samples),
        errors_json=_counts_json(errors),
        faults_json=_counts_json(faults),
    )


def _load_counts(text: str | None) -> Counter[str]:
    if not text:
        return Counter()
    try:
        d = json.loads(text)
    except (ValueError, TypeError):
        return Counter()
    if not isinstance(d, dict):
        return Counter()
    return Counter({str(k): int(v) for k, v in d.items() if isinstance(v, int) and not isinstance(v, bool)})


def _weighted(a: float | None, na: int, b: float | None, nb: int) -> float | None:
    """Two medians combined as their check-weighted mean (the raw values of *a* are gone)."""
    if a is None:
        return b
    if b is None:
        return a
    return (a * na + b * nb) / (na + nb) if na + nb else None


def merge(old: CheckRollup, late: CheckRollup) -> CheckRollup:
    """*old* (whose raw checks were pruned) plus *late*: checks of the same hour recorded afterwards (a
    node's spool replayed late). Counts add up; medians become the check-weighted mean of both."""
    if (old.camera_id, old.hour) != (late.camera_id, late.hour):
        raise ValueError(
            f"cannot merge the rollup of {late.camera_id} {late.hour.isoformat()} "
            f"into {old.camera_id} {old.hour.isoformat()}"
        )
    n = old.checks + late.checks
    failures = old.failures + late.failures
    return CheckRollup(
        camera_id=old.camera_id,
        hour=old.hour,
        checks=n,
        failures=failures,
        faults=old.faults + late.faults,
        availability=(n - failures) / n if n else None,
        open_ms_p50=_weighted(old.open_ms_p50, old.checks, late.open_ms_p50, late.checks),
        fps_p50=_weighted(old.fps_p50, old.checks, late.fps_p50, late.checks),
        brightness_p50=_weighted(old.brightness_p50, old.checks, late.brightness_p50, late.checks),
        sharpness_p50=_weighted(old.sharpness_p50, old.checks, late.sharpness_p50, late.checks),
        errors_json=_counts_json(_load_counts(old.errors_json) + _load_counts(late.errors_json)),
        faults_json=_counts_json(_load_counts(old.faults_json) + _load_counts(late.faults_json)),
    )


ROLLUP_VALUES = (
    "checks",
    "failures",
    "faults",
    "availability",
    "open_ms_p50",
    "fps_p50",
    "brightness_p50",
    "sharpness_p50",
    "errors_json",
    "faults_json",
)


def values_of(r: CheckRollup) -> dict[str, Any]:
    """The row's columns (for an upsert)."""
    return {"camera_id": r.camera_id, "hour": r.hour, **{k: getattr(r, k) for k in ROLLUP_VALUES}}
