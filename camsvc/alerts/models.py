"""Alert tables (issue 5) and their API schemas.

Who hears what: ``Contact`` (a person) with ``ContactChannel`` rows (Apprise URLs, which hold secrets and are
never returned unredacted) and ``RoutingRule`` rows (which cameras, states, causes and hours; ``level`` 0 hears
at once, level *n* only after ``n * escalate_after_s`` without an acknowledgement).

What happened: ``Incident`` groups cameras failing together (same hamlet or same upstream); each camera's run
in it is an ``IncidentMember`` (pointing at its ``Outage``).

What was sent: ``OutboxMessage`` is the durable outbox (one row per message per channel), each send attempt
is a ``DeliveryAttempt``. ``AlertKV`` holds the generated signing key for acknowledge links.

Every time column is ``UTCDateTime`` (aware UTC in Python). Enum-like columns are plain strings (validated in
the schemas), so adding a value never needs a migration.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field, SQLModel

from camsvc.crypto import EncryptedText
from camsvc.models import UTCDateTime, utcnow

ROLES = ("technician", "duty", "owner", "other")
LANGUAGES = ("vi", "en")
ALERT_STATES = ("down", "degraded")
CAMERA_KINDS = ("roadside", "household")

# message kinds
ALERT = "alert"  # first message about an incident
UPDATE = "update"  # more cameras joined an incident already announced
REMINDER = "reminder"  # still unresolved and unacknowledged
ESCALATION = "escalation"  # nobody acknowledged in time: the next level hears
RECOVERY = "recovery"  # every camera of the incident is back (or in maintenance)
KINDS = (ALERT, UPDATE, REMINDER, ESCALATION, RECOVERY)

# message statuses
PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
CANCELLED = "cancelled"
MESSAGE_STATUSES = (PENDING, SENDING, SENT, FAILED, CANCELLED)


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


def _json_list() -> Any:
    return Field(default_factory=list, sa_type=sa.JSON)


# ---------------------------------------------------------------------------------------------- contacts
class Contact(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    role: str = Field(default="technician", max_length=20)
    language: str = Field(default="vi", max_length=5)
    enabled: bool = True
    notes: str = Field(default="", max_length=2000)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    updated_at: dt.datetime = _ts(default_factory=utcnow)


class ContactChannel(SQLModel, table=True):
    """One way to reach a contact: an Apprise URL (mailto://, tgram://, json://, ntfy://, ...). Secret."""

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE", index=True)
    url: str = Field(sa_type=EncryptedText)  # encrypted at rest (camsvc/crypto.py); input limited to 2000
    label: str = Field(default="", max_length=200)
    enabled: bool = True
    created_at: dt.datetime = _ts(default_factory=utcnow)


class RoutingRule(SQLModel, table=True):
    """Contact ``contact_id`` hears about cameras matching every non-empty filter."""

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", ondelete="CASCADE", index=True)
    name: str = Field(default="", max_length=200)
    hamlets: list[str] = _json_list()
    kinds: list[str] = _json_list()
    camera_ids: list[str] = _json_list()
    states: list[str] = _json_list()
    causes: list[str] = _json_list()
    hour_start: int | None = None  # local hour, inclusive; with hour_end (exclusive), may wrap midnight
    hour_end: int | None = None
    level: int = 0
    recovery: bool = True
    reminders: bool = True
    enabled: bool = True
    created_at: dt.datetime = _ts(default_factory=utcnow)


# ---------------------------------------------------------------------------------------------- incidents
class Incident(SQLModel, table=True):
    """Cameras failing together. ``open_key`` is the group key while new failures may join (open and not
    acknowledged), NULL otherwise: the unique index keeps one joinable incident per group."""

    id: int | None = Field(default=None, primary_key=True)
    group_key: str = Field(max_length=300, index=True)
    open_key: str | None = Field(default=None, max_length=300, sa_column_kwargs={"unique": True})
    hamlet: str = Field(default="", max_length=100)
    upstream: str = Field(default="", max_length=200)
    status: str = Field(default="open", max_length=20, index=True)  # open | resolved
    opened_at: dt.datetime = _ts()
    started_at: dt.datetime = _ts()
    notify_at: dt.datetime = _ts()
    alerted_at: dt.datetime | None = _ts(default=None)
    pending_since: dt.datetime | None = _ts(default=None)  # members joined after the alert, not yet announced
    escalation_level: int = 0
    next_reminder_at: dt.datetime | None = _ts(default=None)
    reminders_sent: int = 0
    updates_sent: int = 0
    acknowledged_by: str | None = Field(default=None, max_length=200)
    acknowledged_at: dt.datetime | None = _ts(default=None)
    resolved_at: dt.datetime | None = _ts(default=None)


class IncidentMember(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", ondelete="CASCADE", index=True)
    camera_id: str = Field(foreign_key="camera.id", ondelete="CASCADE", index=True, max_length=64)
    outage_id: int | None = Field(default=None, index=True)
    state: str = Field(max_length=20)  # down | degraded
    cause: str | None = Field(default=None, max_length=100)
    detail: str | None = Field(default=None, max_length=1000)
    started_at: dt.datetime = _ts()  # the outage's first failed check
    joined_at: dt.datetime = _ts()  # when the failure was confirmed
    announced: bool = False
    ended_at: dt.datetime | None = _ts(default=None)
    end_reason: str | None = Field(default=None, max_length=20)  # recovered | maintenance | changed | removed
    end_state: str | None = Field(default=None, max_length=20)


# ---------------------------------------------------------------------------------------------- outbox
class OutboxMessage(SQLModel, table=True):
    """One message to one channel. Rendered when queued, so a restart sends exactly what was decided."""

    __table_args__ = (
        sa.Index("ix_outbox_status_next", "status", "next_attempt_at"),
        sa.Index("ix_outbox_channel_status", "channel_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    incident_id: int | None = Field(default=None, foreign_key="incident.id", ondelete="SET NULL", index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="SET NULL", index=True)
    channel_id: int | None = Field(default=None, foreign_key="contactchannel.id", ondelete="SET NULL")
    contact_name: str = Field(default="", max_length=200)
    channel_label: str = Field(default="", max_length=2000)  # redacted URL or label, for history
    kind: str = Field(max_length=20)
    language: str = Field(default="vi", max_length=5)
    camera_ids: list[str] = _json_list()
    subject: str = Field(max_length=500)
    body: str = Field(sa_type=sa.Text)
    thumbnail_id: int | None = None
    status: str = Field(default=PENDING, max_length=20)
    attempts: int = 0
    created_at: dt.datetime = _ts(default_factory=utcnow)
    next_attempt_at: dt.datetime = _ts(default_factory=utcnow)
    lease_until: dt.datetime | None = _ts(default=None)
    claim: str | None = Field(default=None, max_length=64)
    sent_at: dt.datetime | None = _ts(default=None)
    last_error: str | None = Field(default=None, max_length=1000)


class DeliveryAttempt(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="outboxmessage.id", ondelete="CASCADE", index=True)
    at: dt.datetime = _ts()
    duration_ms: float = 0.0
    ok: bool
    error: str | None = Field(default=None, max_length=1000)
    worker: str = Field(default="", max_length=100)


class AlertKV(SQLModel, table=True):
    """Small persistent values of the alert subsystem (the generated signing key), encrypted at rest."""

    key: str = Field(primary_key=True, max_length=100)
    value: str = Field(sa_type=EncryptedText)


# ---------------------------------------------------------------------------------------------- schemas
# The one validation path for contact and rule input: the API's create and update schemas and the contacts
# file (camsvc/alerts/contacts.py) all call these. ``None`` (a field an update leaves alone) passes.
def check_choices(values: list[str], allowed: tuple[str, ...], what: str) -> list[str]:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ValueError(f"unknown {what} {', '.join(map(repr, bad))}; allowed: {', '.join(allowed)}")
    return values


def check_kinds(values: list[str] | None) -> list[str] | None:
    return None if values is None else check_choices(values, CAMERA_KINDS, "camera kind")


def check_states(values: list[str] | None) -> list[str] | None:
    return None if values is None else check_choices(values, ALERT_STATES, "state")


def check_role(v: str | None) -> str | None:
    if v is not None and v not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {v!r}")
    return v


def check_language(v: str | None) -> str | None:
    if v is not None and v not in LANGUAGES:
        raise ValueError(f"language must be 'vi' or 'en', not {v!r}")
    return v


def _clean(values: list[str] | None) -> list[str] | None:
    return None if values is None else [v.strip() for v in values if v and v.strip()]


def _check_url(v: str) -> str:
    from camsvc.alerts.channels import check_url

    return check_url(v)


class ChannelCreate(SQLModel):
    url: str = Field(min_length=3, max_length=2000, description="Apprise URL (holds secrets)")
    label: str = Field(default="", max_length=200)
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_url(v)


class ChannelUpdate(SQLModel):
    url: str | None = Field(default=None, max_length=2000)
    label: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return _check_url(v) if v is not None else v


class ChannelPublic(SQLModel):
    id: int
    contact_id: int
    url: str = Field(description="Redacted: secrets shown as ****")
    service: str = ""
    label: str
    enabled: bool
    attachments: bool = False


class RuleBase(SQLModel):
    name: str = Field(default="", max_length=200)
    hamlets: list[str] = Field(default_factory=list, description="Empty: any hamlet")
    kinds: list[str] = Field(default_factory=list, description="roadside / household; empty: any")
    camera_ids: list[str] = Field(default_factory=list, description="Empty: any camera")
    states: list[str] = Field(default_factory=list, description="down / degraded; empty: both")
    causes: list[str] = Field(default_factory=list, description="Error classes or picture faults; empty: any")
    hour_start: int | None = Field(default=None, ge=0, le=23, description="Local hour, inclusive")
    hour_end: int | None = Field(default=None, ge=0, le=24, description="Local hour, exclusive; may wrap")
    level: int = Field(default=0, ge=0, le=10, description="0: at once; n: after n x escalate_after_s")
    recovery: bool = True
    reminders: bool = True
    enabled: bool = True

    _strip = field_validator("hamlets", "camera_ids", "causes")(_clean)
    _kinds = field_validator("kinds")(lambda v: check_kinds(_clean(v)))
    _states = field_validator("states")(lambda v: check_states(_clean(v)))


class RuleCreate(RuleBase):
    contact_id: int


class RuleUpdate(SQLModel):
    name: str | None = None
    hamlets: list[str] | None = None
    kinds: list[str] | None = None
    camera_ids: list[str] | None = None
    states: list[str] | None = None
    causes: list[str] | None = None
    hour_start: int | None = Field(default=None, ge=0, le=23)
    hour_end: int | None = Field(default=None, ge=0, le=24)
    level: int | None = Field(default=None, ge=0, le=10)
    recovery: bool | None = None
    reminders: bool | None = None
    enabled: bool | None = None

    _kinds = field_validator("kinds")(lambda v: check_kinds(_clean(v)))
    _states = field_validator("states")(lambda v: check_states(_clean(v)))


class RulePublic(RuleBase):
    id: int
    contact_id: int


class ContactBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    role: str = "technician"
    language: str = "vi"
    enabled: bool = True
    notes: str = Field(default="", max_length=2000)

    _role = field_validator("role")(check_role)
    _lang = field_validator("language")(check_language)


class ContactCreate(ContactBase):
    channels: list[ChannelCreate] = Field(default_factory=list)


class ContactUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: str | None = None
    language: str | None = None
    enabled: bool | None = None
    notes: str | None = None

    _role = field_validator("role")(check_role)
    _lang = field_validator("language")(check_language)


class ContactPublic(ContactBase):
    id: int
    channels: list[ChannelPublic] = Field(default_factory=list)
    rules: list[RulePublic] = Field(default_factory=list)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class MemberPublic(SQLModel):
    camera_id: str
    camera_name: str = ""
    camera_hamlet: str = ""
    outage_id: int | None
    state: str
    cause: str | None
    cause_text: str = ""
    started_at: dt.datetime
    joined_at: dt.datetime
    announced: bool
    ended_at: dt.datetime | None
    end_reason: str | None


class IncidentPublic(SQLModel):
    id: int
    group_key: str
    hamlet: str
    upstream: str
    status: str
    opened_at: dt.datetime
    started_at: dt.datetime
    notify_at: dt.datetime
    alerted_at: dt.datetime | None
    escalation_level: int
    reminders_sent: int
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    resolved_at: dt.datetime | None
    cameras_open: int = 0
    members: list[MemberPublic] = Field(default_factory=list)


class AttemptPublic(SQLModel):
    at: dt.datetime
    duration_ms: float
    ok: bool
    error: str | None
    worker: str


class MessagePublic(SQLModel):
    id: int
    incident_id: int | None
    contact_id: int | None
    contact_name: str
    channel_id: int | None
    channel: str
    kind: str
    language: str
    camera_ids: list[str]
    subject: str
    body: str
    status: str
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
    last_error: str | None
    attempt_log: list[AttemptPublic] = Field(default_factory=list)
    body_hidden: bool = Field(
        default=False, description="Subject and body left out: the caller's role lacks messages.view"
    )


class AckRequest(SQLModel):
    by: str = Field(
        default="",
        max_length=200,
        description="Ignored: the signed-in user is who acknowledges (kept for old scripts)",
    )


class AckResult(SQLModel):
    incident_id: int | None
    acknowledged_by: str
    acknowledged_at: dt.datetime
    already: bool = False
    outage_ids: list[int] = Field(default_factory=list)


class ChannelTestResult(SQLModel):
    channel_id: int
    channel: str
    ok: bool
    error: str | None = None
    duration_ms: float = 0.0
