"""Contacts, channels and routing rules: the operations behind the API and the CLI, and YAML import/export.

The YAML file (see ``config/contacts.example.yaml``) lists contacts, each with its channels and the routes
(rules) saying what it hears. Import is all-or-nothing: the whole file is validated first (every error is
reported with its key path, never with a channel URL's secrets), then applied in one transaction. Contacts
are matched by name; a contact in the file gets exactly the file's channels and routes. ``prune`` also
removes contacts the file does not name.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic import Field as PField
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from camsvc.alerts import channels as chans
from camsvc.alerts.models import (
    ChannelCreate,
    ChannelPublic,
    ChannelTestResult,
    ChannelUpdate,
    Contact,
    ContactChannel,
    ContactCreate,
    ContactPublic,
    ContactUpdate,
    RoutingRule,
    RuleCreate,
    RulePublic,
    RuleUpdate,
    check_kinds,
    check_language,
    check_role,
    check_states,
)
from camsvc.errors import NotFound, get_or_raise
from camsvc.models import Camera
from camsvc.safeyaml import safe_load

R = TypeVar("R", Contact, ContactChannel, RoutingRule)


class ConfigError(ValueError):
    """A contacts file or request that cannot be applied; ``errors`` lists 'key.path: problem' lines."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors))


# ---------------------------------------------------------------------------------------------- public views
def channel_public(ch: ContactChannel) -> ChannelPublic:
    assert ch.id is not None
    return ChannelPublic(
        id=ch.id,
        contact_id=ch.contact_id,
        url=chans.redacted(ch.url),
        service=chans.service_name(ch.url),
        label=ch.label,
        enabled=ch.enabled,
        attachments=chans.supports_attachments(ch.url),
    )


def rule_public(r: RoutingRule) -> RulePublic:
    assert r.id is not None
    return RulePublic(
        id=r.id,
        contact_id=r.contact_id,
        name=r.name,
        hamlets=list(r.hamlets or []),
        kinds=list(r.kinds or []),
        camera_ids=list(r.camera_ids or []),
        states=list(r.states or []),
        causes=list(r.causes or []),
        hour_start=r.hour_start,
        hour_end=r.hour_end,
        level=r.level,
        recovery=r.recovery,
        reminders=r.reminders,
        enabled=r.enabled,
    )


def contact_public(s: Session, c: Contact) -> ContactPublic:
    assert c.id is not None
    channels = s.exec(
        select(ContactChannel).where(ContactChannel.contact_id == c.id).order_by(col(ContactChannel.id))
    ).all()
    rules = s.exec(
        select(RoutingRule).where(RoutingRule.contact_id == c.id).order_by(col(RoutingRule.id))
    ).all()
    return ContactPublic(
        id=c.id,
        name=c.name,
        role=c.role,
        language=c.language,
        enabled=c.enabled,
        notes=c.notes,
        channels=[channel_public(ch) for ch in channels],
        rules=[rule_public(r) for r in rules],
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


# ---------------------------------------------------------------------------------------------- CRUD
def get_contact(s: Session, ref: int | str) -> Contact:
    """By id (int or digits) or by exact name."""
    c: Contact | None = None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        c = s.get(Contact, int(ref))
    if c is None and isinstance(ref, str):
        c = s.exec(select(Contact).where(Contact.name == ref)).first()
    if c is None:
        raise NotFound(f"contact {ref!r} not found")
    return c


def create_contact(s: Session, data: ContactCreate, now: dt.datetime) -> Contact:
    c = _save_contact(s, Contact(name="", created_at=now), data.model_dump(exclude={"channels"}), now)
    for ch in data.channels:
        add_channel(s, c, ch, now)
    return c


def update_contact(s: Session, c: Contact, data: ContactUpdate, now: dt.datetime) -> Contact:
    return _save_contact(s, c, data.model_dump(exclude_unset=True), now)


def _save_contact(s: Session, c: Contact, values: dict[str, Any], now: dt.datetime) -> Contact:
    """The one path create and update share: the name stays unique, then the fields given are set."""
    name = values.get("name")
    if name and name != c.name and s.exec(select(Contact).where(Contact.name == name)).first():
        raise ConfigError([f"name: a contact named {name!r} already exists"])
    c.updated_at = now
    return _apply(s, c, values)


def delete_contact(s: Session, c: Contact) -> None:
    """Removes its channels and rules too; its message history stays (contact name kept on each message)."""
    s.delete(c)
    s.flush()


def add_channel(s: Session, c: Contact, data: ChannelCreate, now: dt.datetime) -> ContactChannel:
    assert c.id is not None
    ch = ContactChannel(contact_id=c.id, url=data.url, label=data.label, enabled=data.enabled, created_at=now)
    s.add(ch)
    s.flush()
    return ch


def get_channel(s: Session, channel_id: int) -> ContactChannel:
    return get_or_raise(s, ContactChannel, channel_id, "channel")


def update_channel(s: Session, ch: ContactChannel, data: ChannelUpdate) -> ContactChannel:
    return _apply(s, ch, data.model_dump(exclude_unset=True))


def add_rule(s: Session, data: RuleCreate, now: dt.datetime) -> RoutingRule:
    get_or_raise(s, Contact, data.contact_id, "contact")
    r = RoutingRule(**data.model_dump(), created_at=now)
    s.add(r)
    s.flush()
    return r


def get_rule(s: Session, rule_id: int) -> RoutingRule:
    return get_or_raise(s, RoutingRule, rule_id, "routing rule")


def update_rule(s: Session, r: RoutingRule, data: RuleUpdate) -> RoutingRule:
    # an hour bound set to null means "no bound"; any other null leaves the field alone
    return _apply(s, r, data.model_dump(exclude_unset=True), nullable=("hour_start", "hour_end"))


def _apply(s: Session, row: R, values: dict[str, Any], nullable: tuple[str, ...] = ()) -> R:
    """Set the fields an update gives (None leaves a field alone unless it is ``nullable``) and flush."""
    for k, v in values.items():
        if v is not None or k in nullable:
            setattr(row, k, v)
    s.add(row)
    s.flush()
    return row


def test_channel(ch: ContactChannel, language: str = "vi", timeout_s: float = 20.0) -> ChannelTestResult:
    """Send a test message now (not through the outbox) and report the channel's answer."""
    assert ch.id is not None
    if language == "en":
        title, body = "[Camera] Test message", "Test message from camsvc: this channel works."
    else:
        title, body = "[Camera] Tin nhắn thử", "Tin nhắn thử từ hệ thống giám sát camera: kênh này hoạt động."
    out = chans.send(ch.url, title, body, timeout_s=timeout_s)
    return ChannelTestResult(
        channel_id=ch.id,
        channel=chans.redacted(ch.url),
        ok=out.ok,
        error=out.error,
        duration_ms=out.duration_ms,
    )


# ---------------------------------------------------------------------------------------------- YAML
_HOURS_RE = re.compile(r"^\s*(\d{1,2})(?::00)?\s*-\s*(\d{1,2})(?::00)?\s*$")


def parse_hours(text: str) -> tuple[int, int]:
    """'7-22' / '07:00-22:00' / '22-6' (past midnight) -> (start, end) hours, end exclusive."""
    m = _HOURS_RE.match(text)
    if not m:
        raise ValueError(f"hours must look like 7-22 or 22:00-06:00 (whole hours), not {text!r}")
    a, b = int(m.group(1)), int(m.group(2))
    if not (0 <= a <= 23 and 0 <= b <= 24):
        raise ValueError(f"hours out of range in {text!r}")
    if a == b:
        raise ValueError(f"hours {text!r} is empty: leave it out for all day")
    return a, b


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RouteFile(_Strict):
    name: str = ""
    hamlets: list[str] = PField(default_factory=list)
    kinds: list[str] = PField(default_factory=list)
    cameras: list[str] = PField(default_factory=list)
    states: list[str] = PField(default_factory=list)
    causes: list[str] = PField(default_factory=list)
    hours: str | None = None
    level: int = PField(0, ge=0, le=10)
    recovery: bool = True
    reminders: bool = True
    enabled: bool = True

    _kinds = field_validator("kinds")(check_kinds)
    _states = field_validator("states")(check_states)

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: str | None) -> str | None:
        if v is not None:
            parse_hours(str(v))
        return v


class ChannelFile(_Strict):
    url: str
    label: str = ""
    enabled: bool = True


class ContactFile(_Strict):
    name: str = PField(min_length=1, max_length=200)
    role: str = "technician"
    language: str = "vi"
    enabled: bool = True
    notes: str = ""
    channels: list[ChannelFile | str] = PField(default_factory=list)
    routes: list[RouteFile] = PField(default_factory=list)

    _role = field_validator("role")(check_role)
    _lang = field_validator("language")(check_language)


class ContactsFile(_Strict):
    contacts: list[ContactFile] = PField(default_factory=list)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("ChannelFile", "str"):  # union branch names add nothing for a person
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def parse_contacts_yaml(text: str) -> ContactsFile:
    """Validate a contacts file completely; ConfigError lists every problem with its key path."""
    try:
        data = safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            [f"not valid YAML{where}: {getattr(exc, 'problem', None) or 'syntax error'}"]
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(["top level must be a mapping with a 'contacts' list"])
    problems: list[str] = []
    doc: ContactsFile | None = None
    try:
        doc = ContactsFile.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors(include_input=False, include_url=False):
            if e["type"] == "string_type" and e["loc"] and e["loc"][-1] == "str":
                continue  # the other union branch failed too; its message is the useful one
            problems.append(f"{_loc(e['loc'])}: {e['msg']}")
    # checked on the raw data too, so one run reports every problem in the file
    raw = data.get("contacts")
    raw_contacts: list[Any] = raw if isinstance(raw, list) else []
    seen: set[str] = set()
    for i, c in enumerate(raw_contacts):
        if not isinstance(c, dict):
            continue
        name = c.get("name")
        if isinstance(name, str):
            if name in seen:
                problems.append(f"contacts[{i}].name: duplicate contact {name!r}")
            seen.add(name)
        raw_ch = c.get("channels")
        channels: list[Any] = raw_ch if isinstance(raw_ch, list) else []
        for j, ch in enumerate(channels):
            url = ch.get("url") if isinstance(ch, dict) else ch
            if not isinstance(url, str):
                continue
            try:
                chans.check_url(url)
            except chans.InvalidChannel as exc:
                problems.append(f"contacts[{i}].channels[{j}]: {exc}")
    if problems or doc is None:
        raise ConfigError(problems or ["invalid contacts file"])
    return doc


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    channels: int = 0
    rules: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.created)} contacts created, {len(self.updated)} updated, {len(self.removed)} removed; "
            f"{self.channels} channels, {self.rules} routes"
        )


def import_contacts(s: Session, doc: ContactsFile, now: dt.datetime, *, prune: bool = False) -> ImportReport:
    """Apply a validated file inside the caller's transaction (the caller commits, or rolls back on error)."""
    report = ImportReport()
    hamlets = {h for h in s.exec(select(Camera.hamlet)).all() if h}
    camera_ids = set(s.exec(select(Camera.id)).all())
    names = {c.name for c in doc.contacts}
    for i, cf in enumerate(doc.contacts):
        c = s.exec(select(Contact).where(Contact.name == cf.name)).first()
        if c is None:
            c = Contact(name=cf.name, created_at=now)
            report.created.append(cf.name)
        else:
            report.updated.append(cf.name)
        c.role, c.language, c.enabled, c.notes, c.updated_at = cf.role, cf.language, cf.enabled, cf.notes, now
        s.add(c)
        s.flush()
        assert c.id is not None
        # channels: keep rows whose URL is unchanged (history and pending messages stay attached)
        existing = {
            ch.url: ch for ch in s.exec(select(ContactChannel).where(ContactChannel.contact_id == c.id)).all()
        }
        wanted: list[ChannelFile] = [ChannelFile(url=ch) if isinstance(ch, str) else ch for ch in cf.channels]
        for chf in wanted:
            url = chans.check_url(chf.url)
            row = existing.pop(url, None)
            if row is None:
                row = ContactChannel(contact_id=c.id, url=url, created_at=now)
            row.label, row.enabled = chf.label, chf.enabled
            s.add(row)
            report.channels += 1
        for row in existing.values():
            s.delete(row)
        for r in s.exec(select(RoutingRule).where(RoutingRule.contact_id == c.id)).all():
            s.delete(r)
        for j, rf in enumerate(cf.routes):
            start, end = parse_hours(rf.hours) if rf.hours else (None, None)
            s.add(
                RoutingRule(
                    contact_id=c.id,
                    name=rf.name or f"{cf.name} #{j + 1}",
                    hamlets=rf.hamlets,
                    kinds=rf.kinds,
                    camera_ids=rf.cameras,
                    states=rf.states,
                    causes=rf.causes,
                    hour_start=start,
                    hour_end=end,
                    level=rf.level,
                    recovery=rf.recovery,
                    reminders=rf.reminders,
                    enabled=rf.enabled,
                    created_at=now,
                )
            )
            report.rules += 1
            for h in rf.hamlets:
                if hamlets and h not in hamlets:
                    report.warnings.append(f"contacts[{i}].routes[{j}]: no camera is in hamlet {h!r} (yet)")
            for cam in rf.cameras:
                if camera_ids and cam not in camera_ids:
                    report.warnings.append(
                        f"contacts[{i}].routes[{j}]: camera {cam!r} is not registered (yet)"
                    )
        if not cf.channels:
            report.warnings.append(f"contacts[{i}] ({cf.name}): no channel, will not receive anything")
    if prune:
        for c in s.exec(select(Contact)).all():
            if c.name not in names:
                report.removed.append(c.name)
                s.delete(c)
    try:
        s.flush()
    except IntegrityError as exc:  # pragma: no cover - validated above
        raise ConfigError([f"database refused the import: {exc.orig}"]) from None
    return report


def export_contacts(s: Session, *, with_secrets: bool = False) -> str:
    """YAML in the import format. Channel URLs are redacted unless ``with_secrets`` (a backup, keep it safe)."""
    out: list[dict[str, Any]] = []
    for c in s.exec(select(Contact).order_by(col(Contact.name))).all():
        chs = s.exec(
            select(ContactChannel).where(ContactChannel.contact_id == c.id).order_by(col(ContactChannel.id))
        )
        rules = s.exec(
            select(RoutingRule).where(RoutingRule.contact_id == c.id).order_by(col(RoutingRule.id))
        )
        entry: dict[str, Any] = {"name": c.name, "role": c.role, "language": c.language}
        if not c.enabled:
            entry["enabled"] = False
        if c.notes:
            entry["notes"] = c.notes
        entry["channels"] = []
        for ch in chs.all():
            d: dict[str, Any] = {"url": ch.url if with_secrets else chans.redacted(ch.url)}
            if ch.label:
                d["label"] = ch.label
            if not ch.enabled:
                d["enabled"] = False
            entry["channels"].append(d)
        entry["routes"] = []
        for r in rules.all():
            rd: dict[str, Any] = {"name": r.name}
            for key, attr in (("hamlets", "hamlets"), ("kinds", "kinds"), ("cameras", "camera_ids")):
                if getattr(r, attr):
                    rd[key] = list(getattr(r, attr))
            for key in ("states", "causes"):
                if getattr(r, key):
                    rd[key] = list(getattr(r, key))
            if r.hour_start is not None or r.hour_end is not None:
                rd["hours"] = f"{r.hour_start or 0}-{r.hour_end if r.hour_end is not None else 24}"
            if r.level:
                rd["level"] = r.level
            if not r.recovery:
                rd["recovery"] = False
            if not r.reminders:
                rd["reminders"] = False
            if not r.enabled:
                rd["enabled"] = False
            entry["routes"].append(rd)
        out.append(entry)
    header = "" if with_secrets else "# channel URLs are redacted: this export cannot be imported as is\n"
    return header + yaml.safe_dump({"contacts": out}, allow_unicode=True, sort_keys=False)
