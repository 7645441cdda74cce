"""Glue between picture analysis (pure: camsvc.probing.analysis, camsvc.health.picture) and a camera's
stored memory (CameraStatus: baseline, reference view, last metrics). The only place that reads/writes them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from camsvc.models import CameraStatus, HealthState
from camsvc.probing.result import ProbeResult

log = logging.getLogger(__name__)


@dataclass
class Analysis:
    metrics: dict[str, Any] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


def analyse(status: CameraStatus, result: ProbeResult, *, kind: str, hour: int, at: dt.datetime) -> Analysis:
    """Measure the check's frames, judge them against the camera's own normal, learn from healthy checks.

    Mutates ``status`` (baseline, reference, last metrics); the caller persists it in the check's transaction.
    A failure inside analysis is logged and treated as "no picture verdict": it never loses the check.
    """
    if not result.ok or not result.frames:
        return Analysis()
    try:
        return _analyse(status, result, kind=kind, hour=hour, at=at)
    except Exception:
        log.exception(
            "picture analysis failed for camera %s; check recorded without picture verdict", status.camera_id
        )
        return Analysis()


def _analyse(status: CameraStatus, result: ProbeResult, *, kind: str, hour: int, at: dt.datetime) -> Analysis:
    try:
        from camsvc.health import picture
        from camsvc.probing import analysis
    except ImportError:  # pragma: no cover - during development of issue 4
        return Analysis()
    metrics = analysis.measure(result.frames, result.frame_times)
    baseline = picture.Baseline.from_dict(json.loads(status.baseline_json)) if status.baseline_json else None
    previous = None
    if status.last_metrics_json:
        try:
            previous = analysis.FrameMetrics.from_dict(json.loads(status.last_metrics_json))
        except Exception:
            previous = None
    thresholds = picture.thresholds_for(kind)
    faults = picture.judge(
        metrics,
        baseline=baseline,
        reference=status.reference,
        frame=result.frames[-1],
        hour=hour,
        fps=result.fps,
        width=result.width,
        height=result.height,
        previous=previous,
        thresholds=thresholds,
    )
    codes = [f.code for f in faults]
    if not faults:
        baseline = picture.update_baseline(
            baseline, metrics, hour=hour, fps=result.fps, width=result.width, height=result.height
        )
        status.baseline_json = json.dumps(baseline.to_dict())
        if status.reference is None and picture.ready_for_reference(baseline):
            set_reference(status, result.frames[-1], at)
    status.last_metrics_json = json.dumps(metrics.to_dict())
    return Analysis(metrics=metrics.to_dict(), faults=codes, details=[f.detail for f in faults])


def set_reference(status: CameraStatus, frame: Any, at: dt.datetime) -> None:
    import cv2

    from camsvc.probing import analysis

    status.reference = analysis.signature(frame)
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
    status.reference_jpeg = buf.tobytes() if ok else None
    status.reference_set_at = at


def reset_reference(status: CameraStatus) -> None:
    """A technician re-aimed the camera on purpose: learn the reference view again."""
    status.reference = None
    status.reference_jpeg = None
    status.reference_set_at = None
    if status.state is HealthState.DEGRADED and status.cause == "turned":
        status.fault_streak = 0


def reference_jpeg(status: CameraStatus) -> bytes | None:
    return status.reference_jpeg
