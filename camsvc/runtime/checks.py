"""Turn one probe result into recorded health: picture analysis, maintenance, state machine, one transaction."""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.health.outages import Recorded, get_status, record_check
from camsvc.health.state import Observation, Thresholds
from camsvc.models import Check, MaintenanceWindow
from camsvc.picture.judge import Thresholds as PictureThresholds
from camsvc.picture.store import analyse, thresholds_for
from camsvc.probing.result import ProbeResult
from camsvc.timefmt import local

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraEntry:
    """What the scheduler needs to check one camera (credentials already inserted into ``url``)."""

    id: str
    url: str = field(repr=False)
    url_kind: str  # main | snapshot | sub
    stream_kind: str | None  # rtsp | mjpeg | snapshot | None (guess)
    interval_s: float
    hamlet: str
    kind: str
    version: str  # changes when the registry row changes
    picture_thresholds: str | None = None  # per-camera overrides (JSON), over the per-kind ones


def in_maintenance(
    windows: list[MaintenanceWindow], cam: CameraEntry, now: dt.datetime, tz: str
) -> MaintenanceWindow | None:
    from camsvc.health.maintenance import active_for

    found: MaintenanceWindow | None = active_for(windows, cam.id, cam.hamlet, now, tz)
    return found


DUE_KEY = "ux_check_camera_due"


def is_duplicate_due(exc: BaseException) -> bool:
    """Whether an IntegrityError is the unique (camera, due time) key, i.e. this check was recorded
    already (by another node, or an earlier replay), rather than some other refusal of the write
    (another constraint, a trigger's ABORT) that must count as a write error."""
    text = str(getattr(exc, "orig", None) or exc)
    return DUE_KEY in text or "check.camera_id, check.due_at" in text


class CheckProcessor:
    def __init__(self, settings: Settings, engine: Engine):
        self.settings = settings
        self.engine = engine
        c = settings.checks
        self.thresholds = Thresholds(
            fail=c.fail_threshold, recover=c.recover_threshold, degrade=c.degrade_threshold
        )
        self._bad_thresholds: dict[str, str | None] = {}  # camera -> the bad value already logged
        # camera -> (time, faults) of the latest thumbnail this process stored: the refresh period
        self._thumb: dict[str, tuple[dt.datetime, tuple[str, ...]]] = {}
        # camera -> (registry version, whether it should be recorded continuously): read once per version
        self._recorded: dict[str, tuple[str, bool]] = {}

    def forget(self, camera_id: str) -> None:
        """Drop what this process remembers of a camera that left the registry (or this node)."""
        self._bad_thresholds.pop(camera_id, None)
        self._thumb.pop(camera_id, None)
        self._recorded.pop(camera_id, None)

    def process(
        self,
        cam: CameraEntry,
        result: ProbeResult,
        windows: list[MaintenanceWindow] | None = None,
        *,
        due_at: float | None = None,
        node: str | None = None,
    ) -> Recorded:
        """Record one check in one transaction. *due_at* (epoch seconds): when the scheduler had it due;
        with it a second recording of the same due time fails on the unique key (IntegrityError) and
        changes nothing. *node*: the node that ran it."""
        at = (
            dt.datetime.fromtimestamp(result.started_at, dt.UTC)
            if result.started_at
            else dt.datetime.now(dt.UTC)
        )
        hour = local(at, self.settings.timezone).hour  # type: ignore[union-attr]
        with session_scope(self.engine) as session:
            status = get_status(session, cam.id)
            # read before the analysis changes the status row: a query after it would flush that change
            # in a statement of its own (record_check writes it with the state, in one UPDATE)
            not_recording = result.ok and self._not_recording(session, cam, at)
            th = self._thresholds(cam)
            picture = analyse(status, result, hour=hour, at=at, thresholds=th)
            window = in_maintenance(windows or [], cam, at, self.settings.timezone)
            faults = list(picture.faults)
            if not_recording:
                faults.append("not_recording")  # after the picture faults: a bad picture names the cause
            check = _check_row(cam, result, at, picture.metrics, faults)
            check.due_at = dt.datetime.fromtimestamp(due_at, dt.UTC) if due_at is not None else None
            check.node = node
            obs = Observation(
                at=at,
                ok=result.ok,
                error=result.error.value if result.error else None,
                detail=result.detail,
                faults=tuple(faults),
                in_maintenance=window is not None,
            )
            rec = record_check(
                session,
                check,
                obs,
                self.thresholds,
                thumbnail_jpeg=result.thumbnail_jpeg,
                refresh_thumbnail=self._thumbnail_due(cam.id, at, obs.faults),
            )
        if rec.thumbnail_stored:  # committed
            self._thumb[cam.id] = (at, obs.faults)
        return rec

    def _thumbnail_due(self, camera_id: str, at: dt.datetime, faults: tuple[str, ...]) -> bool:
        """Whether this check replaces the camera's latest picture: the first this process records, once
        checks.thumbnail_refresh_s has passed, and whenever the picture faults differ from the stored
        picture's (a fault is seen before it is confirmed as a state change)."""
        refresh = self.settings.checks.thumbnail_refresh_s
        last = self._thumb.get(camera_id)
        if refresh <= 0 or last is None or last[1] != faults:
            return True
        age = (at - last[0]).total_seconds()
        return age >= refresh or age < 0

    def _thresholds(self, cam: CameraEntry) -> PictureThresholds:
        """The camera's picture thresholds; a stored override that cannot be applied (written before the
        API checked them) falls back to the kind's defaults, logged once per camera and value: a bad
        setting never stops the camera's checks from being recorded."""
        try:
            return thresholds_for(cam.kind, self.settings.picture_thresholds, cam.picture_thresholds)
        except (ValueError, TypeError) as exc:
            if self._bad_thresholds.get(cam.id) != cam.picture_thresholds:
                self._bad_thresholds[cam.id] = cam.picture_thresholds
                log.warning(
                    "camera %s: stored picture_thresholds cannot be applied (%s); using the defaults "
                    "until it is corrected",
                    cam.id,
                    str(exc)[:200],
                )
            return thresholds_for(cam.kind, self.settings.picture_thresholds, None)

    def _not_recording(self, session: Session, cam: CameraEntry, at: dt.datetime) -> bool:
        """The camera should be recorded and its recorder wrote no new segment within the stall window
        (docs/recording.md). Whether it should be recorded is read from the registry once per version of
        its row; a camera that is not recorded costs no query."""
        rec = self.settings.recording
        if not rec.enabled:
            return False
        from camsvc.enums import RecordingMode
        from camsvc.models import Camera
        from camsvc.recording.health import recording_fault
        from camsvc.recording.models import RecorderStatus
        from camsvc.recording.policy import effective_mode, effective_stream, stall_seconds, stream_url

        known = self._recorded.get(cam.id)
        if known is not None and known[0] == cam.version:
            expected = known[1]
        else:
            camera = session.get(Camera, cam.id)
            if camera is None:
                return False
            expected = effective_mode(camera, self.settings) == RecordingMode.CONTINUOUS and bool(
                stream_url(camera, effective_stream(camera, self.settings))
            )
            self._recorded[cam.id] = (cam.version, expected)
        if not expected:
            return False
        status = session.get(RecorderStatus, cam.id)
        return recording_fault(expected, status, at, stall_seconds(rec))


def _check_row(
    cam: CameraEntry, r: ProbeResult, at: dt.datetime, metrics: dict[str, Any], faults: list[str]
) -> Check:
    return Check(
        camera_id=cam.id,
        at=at,
        ok=r.ok,
        error=r.error.value if r.error else None,
        detail=r.detail,
        url_kind=cam.url_kind,
        open_ms=r.open_ms,
        first_frame_ms=r.first_frame_ms,
        total_ms=r.total_ms,
        frames=r.frames_decoded,
        width=r.width,
        height=r.height,
        fps=r.fps,
        metrics_json=json.dumps(metrics) if metrics else None,
        faults=",".join(faults) if faults else None,
    )


def load_windows(session: Session) -> list[MaintenanceWindow]:
    from sqlmodel import select

    return list(session.exec(select(MaintenanceWindow)).all())
