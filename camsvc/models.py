"""Tables and their API schemas, in one place.

Conventions: every time is timezone-aware UTC in Python and stored as naive UTC (``UTCDateTime``); the
dashboard and messages convert to Asia/Ho_Chi_Minh. Secrets live in ``CameraSecret`` only, which no public
schema includes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationInfo, field_validator
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from camsvc.crypto import EncryptedText
from camsvc.enums import CameraKind, HealthState, RecordingMode


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC, returns aware UTC; refuses naive input (a naive time is a bug)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


# ---------------------------------------------------------------------------------------------- cameras
class CameraBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    kind: CameraKind
    hamlet: str = Field(default="", max_length=100, index=True)
    address: str = Field(default="", max_length=300)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    owner_name: str = Field(default="", max_length=200)
    owner_phone: str = Field(default="", max_length=50)
    owner_consent: bool = Field(
        default=False, description="Household: the owner agreed that officers may view the pictures"
    )
    vendor: str = Field(default="", max_length=100)
    model: str = Field(default="", max_length=100)
    main_url: str = Field(default="", max_length=1000)
    sub_url: str = Field(default="", max_length=1000)
    snapshot_url: str = Field(default="", max_length=1000)
    upstream: str = Field(default="", max_length=200, description="Shared switch / power line, for grouping")
    site: str = Field(
        default="",
        max_length=100,
        index=True,
        description="The network the camera is reached from: only probe nodes of this site check it; "
        "empty: any node",
    )
    check_interval_s: float | None = Field(default=None, gt=0, description="Empty: the service default")
    enabled: bool = True
    notes: str = Field(default="", max_length=2000)
    installed_on: dt.date | None = None
    picture_thresholds: str | None = Field(
        default=None,
        max_length=4000,
        description="JSON overrides of picture-fault thresholds for this camera",
    )
    recording_mode: RecordingMode | None = Field(
        default=None,
        # stored as its value ("continuous") in a VARCHAR, so a new mode needs no migration
        sa_type=sa.Enum(
            RecordingMode, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
        ),
        description="continuous or off; empty: the kind's default (roadside continuous, household off)",
    )
    recording_stream: str | None = Field(
        default=None,
        max_length=10,
        regex=r"^(main|sub)$",
        description="Stream recorded: main or sub; empty: settings",
    )
    retention_days: float | None = Field(
        default=None, gt=0, le=3650, description="Days recordings are kept; empty: the kind's default"
    )

    @field_validator("main_url", "sub_url", "snapshot_url")
    @classmethod
    def _url(cls, v: str) -> str:
        from camsvc.urls import check_stream_url

        return check_stream_url(v) if v else v


# Bounds of per-camera settings that the scheduler uses as they are (validated where they come in).
CHECK_INTERVAL_MIN_S = 5.0  # the scheduler ticks each second and a probe takes up to its budget
CHECK_INTERVAL_MAX_S = 86_400.0  # a camera checked less than daily is not monitored
SNAPSHOT_SCHEMES = ("http", "https")  # a snapshot is fetched with an HTTP GET


def check_picture_thresholds(v: Any) -> str | None:
    """A camera's picture-threshold overrides (a JSON object, as text or as a mapping) as canonical JSON
    text; ValueError naming every bad key (``picture_thresholds.blurred_ratio: must be ...``)."""
    import json
    import math

    from camsvc.picture.judge import threshold_errors

    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, str):
        try:
            data = json.loads(v, parse_constant=lambda c: math.nan)  # NaN/Infinity: refused below
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"picture_thresholds: not valid JSON ({exc.msg} at character {exc.pos})"
            ) from None
    else:
        data = v
    errors = threshold_errors(data)
    if errors:
        # "key: what" -> "picture_thresholds.key: what"; a whole-value problem -> "picture_thresholds: what"
        raise ValueError(
            "; ".join(f"picture_thresholds{': ' if e.startswith('must ') else '.'}{e}" for e in errors)
        )
    text = json.dumps(data, sort_keys=True)
    if len(text) > 4000:
        raise ValueError("picture_thresholds: longer than 4000 characters")
    return text or None


def check_interval(v: float | None) -> float | None:
    import math

    if v is None:
        return None
    if not math.isfinite(v) or not CHECK_INTERVAL_MIN_S <= v <= CHECK_INTERVAL_MAX_S:
        raise ValueError(
            f"check_interval_s: must be between {CHECK_INTERVAL_MIN_S:g} and {CHECK_INTERVAL_MAX_S:g} "
            "seconds (empty: the service default)"
        )
    return v


CAMERA_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"  # also a directory name (recordings, cases)
RECORDING_STREAMS = ("main", "sub")


def check_camera_id(v: str) -> str:
    import re

    if not re.fullmatch(CAMERA_ID_PATTERN, v):
        raise ValueError("id: letters, digits, '_', '.' and '-' only, starting with a letter or digit")
    return v


def check_recording_stream(v: str | None) -> str | None:
    # (the Field's ``regex=`` is not applied by this SQLModel/pydantic: checked here)
    if v is not None and v not in RECORDING_STREAMS:
        raise ValueError("recording_stream: main or sub (empty: settings)")
    return v


def check_snapshot_url(v: str | None) -> str | None:
    if v and v.strip().split(":", 1)[0].lower() not in SNAPSHOT_SCHEMES:
        raise ValueError("snapshot_url: a snapshot is fetched over HTTP: use http:// or https://")
    return v


class CameraValueChecks(SQLModel):
    """The per-camera settings' checks shared by CameraCreate and CameraUpdate (one place for each rule;
    the fields themselves are declared by each model)."""

    @field_validator("picture_thresholds", mode="before", check_fields=False)
    @classmethod
    def _thresholds(cls, v: Any) -> str | None:
        return check_picture_thresholds(v)

    @field_validator("check_interval_s", check_fields=False)
    @classmethod
    def _interval(cls, v: float | None) -> float | None:
        return check_interval(v)

    @field_validator("snapshot_url", check_fields=False)
    @classmethod
    def _snapshot(cls, v: str | None) -> str | None:
        return check_snapshot_url(v)

    @field_validator("recording_stream", check_fields=False)
    @classmethod
    def _recording_stream(cls, v: str | None) -> str | None:
        return check_recording_stream(v)


class Camera(CameraBase, table=True):
    id: str = Field(primary_key=True, max_length=64)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    updated_at: dt.datetime = _ts(default_factory=utcnow)
    # soft delete: a deleted camera is disabled and hidden, its outages and transitions stay (the history)
    deleted_at: dt.datetime | None = _ts(default=None)


class CameraCreate(CameraBase, CameraValueChecks):
    id: str = Field(min_length=1, max_length=64, regex=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=200)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return check_camera_id(v)


# Fields of a camera that cannot be emptied with null (the row has no NULL for them).
NOT_NULL_FIELDS = (
    "name",
    "kind",
    "hamlet",
    "address",
    "owner_name",
    "owner_phone",
    "owner_consent",
    "vendor",
    "model",
    "main_url",
    "sub_url",
    "snapshot_url",
    "upstream",
    "site",
    "enabled",
    "notes",
)


class CameraUpdate(CameraValueChecks):
    """A partial change (PATCH and PUT): only the fields given change, with the limits of CameraBase."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: CameraKind | None = None
    hamlet: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=300)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    owner_name: str | None = Field(default=None, max_length=200)
    owner_phone: str | None = Field(default=None, max_length=50)
    owner_consent: bool | None = None
    vendor: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=100)
    main_url: str | None = Field(default=None, max_length=1000)
    sub_url: str | None = Field(default=None, max_length=1000)
    snapshot_url: str | None = Field(default=None, max_length=1000)
    upstream: str | None = Field(default=None, max_length=200)
    site: str | None = Field(default=None, max_length=100)
    check_interval_s: float | None = Field(default=None, gt=0)
    enabled: bool | None = None
    notes: str | None = Field(default=None, max_length=2000)
    installed_on: dt.date | None = None
    picture_thresholds: str | None = None
    recording_mode: RecordingMode | None = None
    recording_stream: str | None = Field(default=None, regex=r"^(main|sub)$")
    retention_days: float | None = Field(default=None, gt=0, le=3650)
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=200)

    @field_validator(*NOT_NULL_FIELDS)
    @classmethod
    def _not_null(cls, v: Any, info: ValidationInfo) -> Any:
        if v is None:  # only reached when null was sent: an omitted field is not validated
            raise ValueError(f'{info.field_name}: cannot be null (leave it out to keep it, or send "")')
        return v

    @field_validator("main_url", "sub_url", "snapshot_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        from camsvc.urls import check_stream_url

        return check_stream_url(v) if v else v


class CameraSecret(SQLModel, table=True):
    """Credentials, apart from URLs. Never returned by the API, never exported without an explicit flag."""

    camera_id: str = Field(primary_key=True, foreign_key="camera.id", ondelete="CASCADE")
    username: str = ""
    password: str = Field(default="", sa_type=EncryptedText)  # encrypted at rest (camsvc/crypto.py)


class CameraPublic(CameraBase):
    id: str
    has_credentials: bool = False
    can_view_pictures: bool = Field(default=False, description="The caller may see this camera's pictures")
    state: HealthState = HealthState.UNKNOWN
    state_since: dt.datetime | None = None
    cause: str | None = None
    last_check_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


# ---------------------------------------------------------------------------------------------- health
class CameraStatus(SQLModel, table=True):
    """The current health of one camera: what the state machine remembers between checks."""

    camera_id: str = Field(primary_key=True, foreign_key="camera.id", ondelete="CASCADE")
    state: HealthState = Field(default=HealthState.UNKNOWN, index=True)
    since: dt.datetime | None = _ts(default=None)
    cause: str | None = None
    fail_streak: int = 0
    ok_streak: int = 0
    fault_streak: int = 0
    fault: str | None = None  # picture fault being counted
    first_fail_at: dt.datetime | None = _ts(default=None)
    first_fault_at: dt.datetime | None = _ts(default=None)
    last_check_at: dt.datetime | None = _ts(default=None)
    last_ok_at: dt.datetime | None = _ts(default=None)
    last_error: str | None = None
    open_outage_id: int | None = None
    version: int = 0  # conditional updates: several writers never both flip one camera
    # picture health memory (issue 4): read and written by camsvc.picture.store only
    baseline_json: str | None = None
    reference: bytes | None = None  # signature of the reference view(s) (camsvc.picture.views)
    reference_jpeg: bytes | None = None  # the reference view itself, shown beside the latest thumbnail
    reference_set_at: dt.datetime | None = _ts(default=None)
    last_metrics_json: str | None = None


class Check(SQLModel, table=True):
    __table_args__ = (
        sa.Index("ix_check_camera_at", "camera_id", "at"),
        # one check per camera and due time: a takeover, a replay from a node's spool or two nodes briefly
        # holding one camera never record the same scheduled check twice
        sa.Index("ux_check_camera_due", "camera_id", "due_at", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    camera_id: str = Field(foreign_key="camera.id", ondelete="CASCADE")
    at: dt.datetime = _ts(index=True)
    ok: bool
    error: str | None = None
    detail: str | None = None
    url_kind: str = "main"
    open_ms: float | None = None
    first_frame_ms: float | None = None
    total_ms: float = 0.0
    frames: int = 0
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    metrics_json: str | None = None
    faults: str | None = None  # comma-separated picture faults found in this check
    due_at: dt.datetime | None = _ts(default=None)  # when the scheduler had it due (None: an ad-hoc check)
    node: str | None = Field(default=None, max_length=100)  # the probe node that ran it


class Transition(SQLModel, table=True):
    """Every state change is a row: the audit trail and the alert queue (``processed_at`` NULL = pending)."""

    __table_args__ = (sa.Index("ix_transition_pending", "processed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    camera_id: str = Field(foreign_key="camera.id", ondelete="CASCADE", index=True)
    at: dt.datetime = _ts(index=True)
    old_state: HealthState
    new_state: HealthState
    cause: str | None = None
    detail: str | None = None
    outage_id: int | None = None
    processed_at: dt.datetime | None = _ts(default=None)


class Outage(SQLModel, table=True):
    """A run of ``down`` or ``degraded``: start is the first failed check, not the moment it was confirmed."""

    __table_args__ = (sa.Index("ix_outage_camera_start", "camera_id", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    camera_id: str = Field(foreign_key="camera.id", ondelete="CASCADE")
    state: HealthState  # down or degraded
    started_at: dt.datetime = _ts(index=True)
    confirmed_at: dt.datetime = _ts()
    ended_at: dt.datetime | None = _ts(default=None, index=True)
    cause: str
    last_error: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: dt.datetime | None = _ts(default=None)

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class MaintenanceWindow(SQLModel, table=True):
    """No alerts inside; cameras in it show ``maintenance``. Scope: a camera, a hamlet, or everything.

    One-off (starts_at..ends_at) or recurring: ``weekdays`` (e.g. "0,1,2,3,4,5,6", Monday = 0) with a daily
    local time range ``daily_start``..``daily_end`` ("HH:MM", Asia/Ho_Chi_Minh) between starts_at and ends_at.
    """

    id: int | None = Field(default=None, primary_key=True)
    camera_id: str | None = Field(default=None, index=True)
    hamlet: str | None = None
    starts_at: dt.datetime = _ts()
    ends_at: dt.datetime | None = _ts(default=None)
    weekdays: str | None = None
    daily_start: str | None = None
    daily_end: str | None = None
    reason: str = ""
    created_by: str = ""
    created_at: dt.datetime = _ts(default_factory=utcnow)


class Thumbnail(SQLModel, table=True):
    """Small JPEGs: the latest per camera (``at_transition`` False, replaced) and a bounded history kept at
    state changes so a technician sees what the camera saw when it went wrong."""

    id: int | None = Field(default=None, primary_key=True)
    camera_id: str = Field(foreign_key="camera.id", ondelete="CASCADE", index=True)
    at: dt.datetime = _ts()
    at_transition: bool = False
    state: HealthState | None = None
    jpeg: bytes
