"""Who hears about which camera: pure matching of routing rules (no I/O, no clock; the hour is passed in).

A rule names one contact and filters: hamlets, camera kinds, camera ids, states (down/degraded), causes (error
classes such as ``auth`` or picture faults such as ``covered``) and an hour range in local time. An empty
filter matches everything. ``level`` orders escalation: level 0 hears at once, level 1 when nobody has
acknowledged after ``escalate_after_s``, level 2 after twice that, and so on.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


class RuleLike(Protocol):
    contact_id: int
    hamlets: list[str]
    kinds: list[str]
    camera_ids: list[str]
    states: list[str]
    causes: list[str]
    hour_start: int | None
    hour_end: int | None
    level: int
    recovery: bool
    reminders: bool
    enabled: bool


@dataclass(frozen=True)
class Subject:
    """One failing camera, as rules see it."""

    camera_id: str
    hamlet: str
    kind: str
    state: str
    cause: str | None


def hour_ok(rule: RuleLike, hour: int) -> bool:
    """Is local ``hour`` (0-23) inside the rule's range? Start inclusive, end exclusive, may wrap midnight."""
    if rule.hour_start is None and rule.hour_end is None:
        return True
    start = rule.hour_start if rule.hour_start is not None else 0
    end = rule.hour_end if rule.hour_end is not None else 24
    if start == end:
        return True
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end


def matches(rule: RuleLike, s: Subject, hour: int | None) -> bool:
    """Does the rule cover this camera? ``hour`` None ignores the rule's hours (recoveries)."""
    if not rule.enabled:
        return False
    if rule.hamlets and s.hamlet not in rule.hamlets:
        return False
    if rule.kinds and s.kind not in rule.kinds:
        return False
    if rule.camera_ids and s.camera_id not in rule.camera_ids:
        return False
    if rule.states and s.state not in rule.states:
        return False
    if rule.causes and (s.cause or "") not in rule.causes:
        return False
    return hour is None or hour_ok(rule, hour)


def route(
    rules: Iterable[RuleLike],
    subjects: Sequence[Subject],
    *,
    levels: Collection[int],
    hour: int | None,
    purpose: str = "alert",
) -> dict[int, list[int]]:
    """contact id -> indices of the subjects it hears about, for rules whose level is in ``levels``.

    ``purpose`` "reminder" keeps only rules with ``reminders``; "recovery" only rules with ``recovery``.
    """
    out: dict[int, set[int]] = {}
    for rule in rules:
        if rule.level not in levels:
            continue
        if purpose == "reminder" and not rule.reminders:
            continue
        if purpose == "recovery" and not rule.recovery:
            continue
        for i, s in enumerate(subjects):
            if matches(rule, s, hour):
                out.setdefault(rule.contact_id, set()).add(i)
    return {cid: sorted(idx) for cid, idx in out.items()}


def max_level(rules: Iterable[RuleLike]) -> int:
    return max((r.level for r in rules if r.enabled), default=0)
