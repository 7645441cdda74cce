"""A camera's picture memory (``CameraStatus``: baseline, reference views, last metrics) and the check
pipeline's one picture step, :func:`analyse`. The only place that reads or writes that memory.

The frames were measured in the probe worker (:func:`camsvc.picture.measure.postprocess`): only the
metrics and the last frame come back. :func:`analyse` reads the stored state, judges the check
(:func:`camsvc.picture.judge.judge`), learns from a check without a fault
(:func:`camsvc.picture.baseline.update_baseline`, :func:`camsvc.picture.views.add_reference_view`) and
stores the state again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from camsvc.models import CameraStatus
from camsvc.picture.baseline import Baseline, update_baseline
from camsvc.picture.judge import Thresholds, judge
from camsvc.picture.measure import FrameMetrics, downscale, measure
from camsvc.picture.views import add_reference_view
from camsvc.probing.result import ProbeResult

log = logging.getLogger(__name__)

PREVIOUS_MAX_AGE = dt.timedelta(minutes=10)  # older previous checks do not inform `frozen`


@dataclass
class Analysis:
    metrics: dict[str, Any] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


def thresholds_for(
    kind: str, per_kind: dict[str, dict[str, Any]] | None, per_camera: str | None
) -> Thresholds:
    th = Thresholds().merge((per_kind or {}).get(kind))
    if per_camera:
        th = th.merge(json.loads(per_camera))
    return th


def analyse(
    status: CameraStatus,
    result: ProbeResult,
    *,
    hour: int,
    at: dt.datetime,
    thresholds: Thresholds | None = None,
) -> Analysis:
    """Judge the check's picture against the camera's own normal; learn from healthy checks.

    Mutates ``status`` (baseline, reference views, last metrics); the caller persists it in the check's
    transaction. A failure inside analysis is logged and treated as "no picture verdict": it never loses
    the check.
    """
    if not result.ok or not (result.frames or result.metrics):
        return Analysis()
    try:
        return _analyse(status, result, hour=hour, at=at, thresholds=thresholds or Thresholds())
    except Exception:
        log.exception(
            "picture analysis failed for camera %s; check recorded without picture verdict", status.camera_id
        )
        return Analysis()


def _analyse(
    status: CameraStatus, result: ProbeResult, *, hour: int, at: dt.datetime, thresholds: Thresholds
) -> Analysis:
    if result.metrics:
        metrics = FrameMetrics.from_dict(result.metrics)
    else:
        metrics = measure(result.frames, result.frame_times)
    frame = result.frames[-1] if result.frames else None
    baseline = Baseline.from_dict(json.loads(status.baseline_json)) if status.baseline_json else None
    previous = None
    if status.last_metrics_json and status.last_check_at and at - status.last_check_at <= PREVIOUS_MAX_AGE:
        try:
            previous = FrameMetrics.from_dict(json.loads(status.last_metrics_json))
        except (TypeError, ValueError, KeyError):
            previous = None
    faults = judge(
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
        baseline = update_baseline(
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
            status.reference = add_reference_view(status.reference, frame, metrics)
            if first:
                _set_reference_picture(status, frame, at)
    flat = metrics.flat()
    status.last_metrics_json = json.dumps(flat)
    return Analysis(metrics=flat, faults=[f.code for f in faults], details=[f.detail for f in faults])


def _set_reference_picture(status: CameraStatus, frame: Any, at: dt.datetime) -> None:
    import cv2

    ok, buf = cv2.imencode(".jpg", downscale(frame, 320), [cv2.IMWRITE_JPEG_QUALITY, 80])
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
