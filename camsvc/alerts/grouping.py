"""Which failures belong together: pure rules (no I/O).

Cameras behind the same upstream (``Camera.upstream``: a shared switch or power line) or, failing that, in the
same hamlet, that go ``down`` while an incident of that group is open, join it: a power cut of 30 cameras is
one incident and one message, not thirty. A picture fault (``degraded``: covered, blurred, turned) is about
one camera, never a shared cause, so it is an incident of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GroupKey:
    key: str
    hamlet: str = ""
    upstream: str = ""

    @property
    def shared(self) -> bool:
        """Can several cameras share this group (a hamlet or an upstream)?"""
        return not self.key.startswith("camera:")


def group_key(camera_id: str, hamlet: str, upstream: str, state: str) -> GroupKey:
    """The incident group of a camera that just went ``state`` (down or degraded)."""
    hamlet = (hamlet or "").strip()
    upstream = (upstream or "").strip()
    if state != "down":
        return GroupKey(f"camera:{camera_id}", hamlet, upstream)
    if upstream:
        return GroupKey(f"upstream:{upstream}", hamlet, upstream)
    if hamlet:
        return GroupKey(f"hamlet:{hamlet}", hamlet, "")
    return GroupKey(f"camera:{camera_id}", "", "")


def likely_shared_cause(key: str, states: list[str]) -> bool:
    """Several cameras of one hamlet/upstream down together: most likely power or the network."""
    return not key.startswith("camera:") and sum(1 for s in states if s == "down") >= 2
