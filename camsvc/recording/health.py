"""Recording health (pure): is a camera that should be recorded not being recorded?"""

from __future__ import annotations

import datetime as dt
from typing import Any


def recording_fault(expected: bool, status: Any, now: dt.datetime, stall_s: float) -> bool:
    """True when recording is *expected* and the recorder has written no new segment within *stall_s*.

    *status* is the camera's RecorderStatus (or None: no recorder has reported yet, e.g. just after start:
    no evidence, no fault). The window starts at the later of ``since`` (when recording of this camera
    began: the grace) and ``last_segment_end``; restarts after failures do not move ``since``."""
    if not expected or status is None:
        return False
    marks = [t for t in (getattr(status, "since", None), getattr(status, "last_segment_end", None)) if t]
    if not marks:
        return False
    return (now - max(marks)).total_seconds() > stall_s
