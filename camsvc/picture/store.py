"""Glue between picture analysis (pure: camsvc.probing.analysis, camsvc.health.picture) and a camera's
stored memory (CameraStatus: baseline, reference views, last metrics). The only place that reads/writes them.

The frames are measured inside the probe worker (``worker_postprocess``): only the metrics and the last
frame cross back to the service, which judges them against the camera's own history here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from camsvc.health import picture
from camsvc.models import CameraStatus
from camsvc.probing import analysis
from camsvc.probing.result import ProbeResult

log = logging.getLogger(__name__)

PREVIOUS_MAX_AGE = dt.timedelta(minutes=10)  # older previous checks do not inform `frozen`


@dataclass
class Analysis:
    metrics: dict[str, Any] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


def worker_postprocess(result: ProbeResult) -> None:
    """Run in the probe worker: measure every frame, then keep only the last one (turned, thumbnail)."""
    analysis.postprocess(result)
    if len(result.frames) > 1:
        result.frames = result.frames[-1:]
        result.frame_times = result.frame_times[-1:]


def thresholds_for(
    kind: str, per_kind: dict[str, dict[str, Any]] | None, per_camera: str | None
) -> picture.Thresholds:
    th = picture.Thresholds().merge((per_kind or {}).get(kind))
    if per_camera:
        th = th.merge(json.loads(per_camera))
    return th


def analyse(
    status: CameraStatus,
    result: ProbeResult,
    *,
    hour: int,
    at: dt.datetime,
    thresholds: picture.Thresholds | None = None,
) -> Analysis:
    """Judge the check's picture against the camera's own normal; learn from healthy checks.

    Mutates ``status`` (baseline, reference views, last metrics); the caller persists it in the check's
    transaction. A failure inside analysis is logged and treated as "no picture verdict": it never loses
    the check.
    """
    if not result.ok or not (result.frames or result.metrics):
        return Analysis()
    try:
        return _analyse(status, result, hour=hour, at=at, thresholds=thresholds or picture.Thresholds())
    except Exception:
        log.exception(
            "picture analysis failed for camera %s; check recorded without picture verdict", status.camera_id
        )
        return Analysis()


def _analyse(
    status: CameraStatus, result: ProbeResult, *, hour: int, at: dt.datetime, thresholds: picture.Thresholds
) -> Analysis:
    if result.metrics:
        metrics = analysis.FrameMetrics.from_dict(result.metrics)
    else:
        metrics = analysis.measure(result.frames, result.frame_times)
    frame = result.frames[-1] if result.frames else None
    baseline = picture.Baseline.from_dict(json.loads(status.baseline_json)) if status.baseline_json else None
    previous = None
    if status.last_metrics_json and status.last_check_at and at - status.last_check_at <= PREVIOUS_MAX_AGE:
        try:
            previous = analysis.FrameMetrics.from_dict(json.loads(status.last_metrics_json))
        except (TypeError, ValueError, KeyError):
            previous = None
    faults = picture.judge(
        metrics,
        baseline=baseline,
        reference=status.reference,
        frame=frame,
        hour=hour,
        fps=result.fps,
        width=result.width,
        height=result.height,
        previous=previous,
        thresholds=thresholds,
    )
    if not faults:
        baseline = picture.update_baseline(
            baseline,
            metrics,
            hour=hour,
            fps=result.fps,
            width=result.width,
            height=result.height,
            previous=previous,
        )
        status.baseline_json = json.dumps(baseline.to_dict())
        if frame is not None:
            first = status.reference is None
            status.reference = picture.add_reference_view(status.reference, frame, metrics)
            if first:
                _set_reference_picture(status, frame, at)
    flat = metrics.flat() if hasattr(metrics, "flat") else metrics.to_dict()
    status.last_metrics_json = json.dumps(flat)
    return Analysis(metrics=flat, faults=[f.code for f in faults], details=[f.detail for f in faults])


def _set_reference_picture(status: CameraStatus, frame: Any, at: dt.datetime) -> None:
    import cv2

    ok, buf = cv2.imencode(".jpg", analysis.downscale(frame, 320), [cv2.IMWRITE_JPEG_QUALITY, 80])
    status.reference_jpeg = buf.tobytes() if ok else None
    status.reference_set_at = at


def reset_reference(status: CameraStatus) -> None:
    """A technician re-aimed the camera on purpose: the next good check becomes the reference view.

    The camera's `turned` fault count restarts so the deliberate change is not confirmed as a fault."""
    status.reference = None
    status.reference_jpeg = None
    status.reference_set_at = None
    if status.fault == "turned":
        status.fault_streak = 0
        status.fault = None


def reference_jpeg(status: CameraStatus) -> bytes | None:
    return status.reference_jpeg
