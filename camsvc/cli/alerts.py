"""``camsvc contacts ...`` (who hears what) and ``camsvc alerts ...`` (incidents, deliveries, maintenance,
and ``alerts run``: the dispatcher on its own, in the foreground)."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from camsvc.cli import common
from camsvc.config import Settings


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _fail(msg: str) -> NoReturn:
    raise click.ClickException(msg)


def _validation(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}"
        for e in exc.errors(include_input=False, include_url=False)
    )


def _local(t: dt.datetime | None, tz: str) -> str:
    from camsvc.alerts.messages import fmt_time

    return fmt_time(t, tz, "en") if t else "-"


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# ---------------------------------------------------------------------------------------------- contacts
@click.group()
def contacts() -> None:
    """Contacts (technicians, duty officers, camera owners), their channels and routing rules."""


@contacts.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (channel URLs redacted)")
def contacts_list(as_json: bool) -> None:
    """List contacts with their channels (redacted) and routes."""
    from camsvc.alerts import contacts as mgmt
    from camsvc.alerts.models import Contact

    with common.session() as s:
        rows = [mgmt.contact_public(s, c) for c in s.exec(select(Contact).order_by(col(Contact.name))).all()]
    if as_json:
        _echo_json([r.model_dump() for r in rows])
        return
    if not rows:
        click.echo("no contacts (add one with `camsvc contacts add` or `camsvc contacts import FILE`)")
    for c in rows:
        flag = "" if c.enabled else " [disabled]"
        click.echo(f"{c.id:>4}  {c.name}  ({c.role}, {c.language}){flag}")
        for ch in c.channels:
            click.echo(f"        channel {ch.id}: {ch.label + ' ' if ch.label else ''}{ch.url}")
        for r in c.rules:
            click.echo(f"        route {r.id}: {_describe_rule(r)}")


def _describe_rule(r: Any) -> str:
    parts = []
    for label, values in (
        ("hamlets", r.hamlets),
        ("kinds", r.kinds),
        ("cameras", r.camera_ids),
        ("states", r.states),
        ("causes", r.causes),
    ):
        if values:
            parts.append(f"{label}={','.join(values)}")
    if r.hour_start is not None or r.hour_end is not None:
        parts.append(f"hours={r.hour_start or 0}-{r.hour_end if r.hour_end is not None else 24}")
    parts.append(f"level={r.level}")
    if not r.recovery:
        parts.append("no-recovery")
    if not r.reminders:
        parts.append("no-reminders")
    if not r.enabled:
        parts.append("disabled")
    return " ".join(parts) if parts else "everything"


@contacts.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["technician", "duty", "owner", "other"]), default="technician")
@click.option("--language", type=click.Choice(["vi", "en"]), default="vi", help="Message language")
@click.option("--channel", "channels", multiple=True, help="Apprise URL (repeatable), e.g. mailto://...")
@click.option("--notes", default="", help="Free text")
def contacts_add(name: str, role: str, language: str, channels: tuple[str, ...], notes: str) -> None:
    """Add a contact (then give it routes with `camsvc contacts route-add`)."""
    from camsvc.alerts import contacts as mgmt
    from camsvc.alerts.models import ChannelCreate, ContactCreate

    try:
        data = ContactCreate(
            name=name,
            role=role,
            language=language,
            notes=notes,
            channels=[ChannelCreate(url=u) for u in channels],
        )
    except ValidationError as exc:
        _fail(_validation(exc))
    with common.fail_on(mgmt.ConfigError), common.session() as s:
        c = mgmt.create_contact(s, data, _now())
        click.echo(f"contact {c.id} {c.name} added with {len(channels)} channel(s)")


@contacts.command("remove")
@click.argument("contact")
def contacts_remove(contact: str) -> None:
    """Remove a contact (by name or id) with its channels and routes; its message history stays."""
    from camsvc.alerts import contacts as mgmt

    with common.fail_on(LookupError), common.session() as s:
        c = mgmt.get_contact(s, contact)
        mgmt.delete_contact(s, c)
        click.echo(f"contact {c.name} removed")


@contacts.command("channel-add")
@click.argument("contact")
@click.argument("url")
@click.option("--label", default="", help="Shown instead of the (redacted) URL")
def contacts_channel_add(contact: str, url: str, label: str) -> None:
    """Add a channel (Apprise URL) to a contact."""
    from camsvc.alerts import contacts as mgmt
    from camsvc.alerts.models import ChannelCreate

    try:
        data = ChannelCreate(url=url, label=label)
    except ValidationError as exc:
        _fail(_validation(exc))
    with common.fail_on(LookupError), common.session() as s:
        ch = mgmt.add_channel(s, mgmt.get_contact(s, contact), data, _now())
        click.echo(f"channel {ch.id} added: {mgmt.channel_public(ch).url}")


@contacts.command("channel-remove")
@click.argument("channel_id", type=int)
def contacts_channel_remove(channel_id: int) -> None:
    """Remove a channel by id (see `camsvc contacts list`)."""
    from camsvc.alerts import contacts as mgmt

    with common.fail_on(LookupError), common.session() as s:
        s.delete(mgmt.get_channel(s, channel_id))
    click.echo(f"channel {channel_id} removed")


@contacts.command("test")
@click.argument("contact")
@click.option("--channel", "channel_id", type=int, default=None, help="Only this channel id")
def contacts_test(contact: str, channel_id: int | None) -> None:
    """Send a test message through each channel of a contact and report success or the channel's error."""
    from camsvc.alerts import contacts as mgmt
    from camsvc.alerts.models import ContactChannel

    with common.session() as s:
        with common.fail_on(LookupError):
            c = mgmt.get_contact(s, contact)
        chs = s.exec(select(ContactChannel).where(ContactChannel.contact_id == c.id)).all()
        chs = [ch for ch in chs if channel_id is None or ch.id == channel_id]
        if not chs:
            _fail(f"contact {c.name} has no channel{'' if channel_id is None else f' {channel_id}'}")
        failed = 0
        for ch in chs:
            r = mgmt.test_channel(ch, c.language)
            status = "ok" if r.ok else f"FAILED: {r.error}"
            click.echo(f"channel {r.channel_id} {r.channel}: {status} ({r.duration_ms:.0f} ms)")
            failed += 0 if r.ok else 1
    if failed:
        sys.exit(1)


@contacts.command("route-add")
@click.argument("contact")
@click.option("--name", default="", help="A name for the rule")
@click.option("--hamlet", "hamlets", multiple=True, help="Only cameras of this hamlet (repeatable)")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(["roadside", "household"]))
@click.option("--camera", "cameras", multiple=True, help="Only this camera id (repeatable)")
@click.option("--state", "states", multiple=True, type=click.Choice(["down", "degraded"]))
@click.option(
    "--cause", "causes", multiple=True, help="Only this cause: refused, timeout, auth, covered, ..."
)
@click.option("--hours", default=None, help="Local hours, e.g. 7-22 or 22-6")
@click.option(
    "--level", type=click.IntRange(0, 10), default=0, help="0: at once; n: after n x escalate_after_s"
)
@click.option("--no-recovery", is_flag=True, help="Do not send recovery notices")
@click.option("--no-reminders", is_flag=True, help="Do not send reminders")
def contacts_route_add(
    contact: str,
    name: str,
    hamlets: tuple[str, ...],
    kinds: tuple[str, ...],
    cameras: tuple[str, ...],
    states: tuple[str, ...],
    causes: tuple[str, ...],
    hours: str | None,
    level: int,
    no_recovery: bool,
    no_reminders: bool,
) -> None:
    """Route cameras to a contact. No filter at all: the contact hears about every camera."""
    from camsvc.alerts import contacts as mgmt
    from camsvc.alerts.models import RuleCreate

    try:
        start, end = mgmt.parse_hours(hours) if hours else (None, None)
    except ValueError as exc:
        _fail(f"--hours: {exc}")
    try:
        with common.fail_on(LookupError), common.session() as s:
            c = mgmt.get_contact(s, contact)
            assert c.id is not None
            data = RuleCreate(
                contact_id=c.id,
                name=name,
                hamlets=list(hamlets),
                kinds=list(kinds),
                camera_ids=list(cameras),
                states=list(states),
                causes=list(causes),
                hour_start=start,
                hour_end=end,
                level=level,
                recovery=not no_recovery,
                reminders=not no_reminders,
            )
            r = mgmt.add_rule(s, data, _now())
            click.echo(f"route {r.id} for {c.name}: {_describe_rule(r)}")
    except ValidationError as exc:
        _fail(_validation(exc))


@contacts.command("route-remove")
@click.argument("rule_id", type=int)
def contacts_route_remove(rule_id: int) -> None:
    """Remove a routing rule by id."""
    from camsvc.alerts import contacts as mgmt

    with common.fail_on(LookupError), common.session() as s:
        s.delete(mgmt.get_rule(s, rule_id))
    click.echo(f"route {rule_id} removed")


@contacts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--prune", is_flag=True, help="Also remove contacts the file does not name")
@click.option("--dry-run", is_flag=True, help="Validate and report; change nothing")
def contacts_import(file: Path, prune: bool, dry_run: bool) -> None:
    """Import contacts, channels and routes from YAML (all or nothing; errors name their key path)."""
    from camsvc.alerts import contacts as mgmt

    try:
        doc = mgmt.parse_contacts_yaml(file.read_text(encoding="utf-8"))
    except mgmt.ConfigError as exc:
        _fail(f"{file}: nothing imported:\n  " + "\n  ".join(exc.errors))
    with common.session() as s:
        try:
            report = mgmt.import_contacts(s, doc, _now(), prune=prune)
        except mgmt.ConfigError as exc:
            _fail(f"{file}: nothing imported:\n  " + "\n  ".join(exc.errors))
        if dry_run:
            s.rollback()
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(("dry run, nothing changed: " if dry_run else "") + report.summary())


@contacts.command("export")
@click.option("--with-secrets", is_flag=True, help="Include full channel URLs (a backup: keep it safe)")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
def contacts_export(with_secrets: bool, output: Path | None) -> None:
    """Write contacts, channels and routes as YAML (URLs redacted unless --with-secrets)."""
    from camsvc.alerts import contacts as mgmt

    with common.session() as s:
        text = mgmt.export_contacts(s, with_secrets=with_secrets)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        if with_secrets:
            output.chmod(0o600)
        click.echo(f"written {output}")


# ---------------------------------------------------------------------------------------------- alerts
@click.group()
def alerts() -> None:
    """Incidents, acknowledgements, delivery history, maintenance windows, and the dispatcher itself."""


@alerts.command("run")
@click.option("--once", is_flag=True, help="One pass (transitions, timers, sends), wait for the sends, exit")
def alerts_run(once: bool) -> None:
    """Run the alert dispatcher in the foreground (the service runs it itself; this is for a separate
    process or for debugging). Stops on SIGTERM / Ctrl-C."""
    settings = common.settings()
    with common.database(settings) as engine:
        _run_dispatcher(settings, engine, once)


def _run_dispatcher(settings: Settings, engine: Engine, once: bool) -> None:
    from camsvc.alerts.runtime import AlertRuntime
    from camsvc.logs import setup_logging

    setup_logging(settings.log_level)
    if once:
        from camsvc.alerts.dispatch import Dispatcher

        d = Dispatcher(settings, engine)
        stats = d.run_once()
        d.wait_idle(60)
        d.close(5)
        click.echo(
            f"{stats.transitions} transitions, {stats.queued} messages queued, {stats.claimed} sent/attempted"
        )
        return
    stop = threading.Event()

    def _handle(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _handle)
    signal.signal(signal.SIGINT, _handle)
    rt = AlertRuntime(settings, engine)
    rt.start()
    click.echo("alert dispatcher running (Ctrl-C to stop)", err=True)
    while not stop.wait(1.0):
        pass
    rt.stop(10.0)


@alerts.command("status")
def alerts_status() -> None:
    """Outbox counts and open incidents."""
    from camsvc.alerts import incidents as inc_ops
    from camsvc.alerts.models import Incident

    with common.session() as s:
        counts = inc_ops.outbox_counts(s)
        open_rows = s.exec(select(Incident).where(Incident.status == "open")).all()
    click.echo("outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty"))
    unacked = sum(1 for i in open_rows if i.acknowledged_at is None and i.alerted_at is not None)
    click.echo(f"open incidents: {len(open_rows)} ({unacked} alerted and not acknowledged)")


@alerts.command("incidents")
@click.option("--all", "show_all", is_flag=True, help="Include resolved incidents")
@click.option("--camera", default=None, help="Only incidents holding this camera")
@click.option("--limit", type=click.IntRange(1, 1000), default=50)
@click.option("--json", "as_json", is_flag=True)
def alerts_incidents(show_all: bool, camera: str | None, limit: int, as_json: bool) -> None:
    """List incidents (open ones by default)."""
    from camsvc.alerts import incidents as inc_ops

    settings = common.settings()
    with common.session(settings) as s:
        rows = inc_ops.list_incidents(s, status=None if show_all else "open", camera_id=camera, limit=limit)
        pubs = [inc_ops.incident_public(s, i, "en") for i in rows]
    if as_json:
        _echo_json([p.model_dump() for p in pubs])
        return
    if not pubs:
        click.echo("no incidents")
    for p in pubs:
        ack = f"acked by {p.acknowledged_by}" if p.acknowledged_by else "not acknowledged"
        click.echo(
            f"{p.id:>5}  {p.status:<8} {p.group_key}  {p.cameras_open}/{len(p.members)} cameras open  "
            f"since {_local(p.started_at, settings.timezone)}  {ack}"
        )


@alerts.command("show")
@click.argument("incident_id", type=int)
def alerts_show(incident_id: int) -> None:
    """One incident: its cameras and every message sent about it."""
    from camsvc.alerts import incidents as inc_ops
    from camsvc.alerts.models import Incident

    settings = common.settings()
    tz = settings.timezone
    with common.session(settings) as s:
        inc = s.get(Incident, incident_id)
        if inc is None:
            _fail(f"incident {incident_id} not found")
        p = inc_ops.incident_public(s, inc, "en")
        history = inc_ops.messages_for_incident(s, incident_id)
    click.echo(f"incident {p.id} {p.group_key} ({p.status}); alerted {_local(p.alerted_at, tz)}")
    if p.acknowledged_by:
        click.echo(f"acknowledged by {p.acknowledged_by} at {_local(p.acknowledged_at, tz)}")
    for m in p.members:
        end = f", {m.end_reason} {_local(m.ended_at, tz)}" if m.ended_at else ""
        click.echo(
            f"  {m.camera_id} {m.camera_name}: {m.state}, {m.cause_text}, since {_local(m.started_at, tz)}{end}"
        )
    _print_history(history, tz)


def _print_history(history: list[Any], tz: str) -> None:
    for m in history:
        click.echo(
            f"  message {m.id} {m.kind:<10} to {m.contact_name} via {m.channel}: {m.status}"
            f" after {m.attempts} attempt(s){'; ' + m.last_error if m.last_error else ''}"
        )


@alerts.command("ack")
@click.argument("incident_id", type=int, required=False)
@click.option("--outage", "outage_id", type=int, default=None, help="Acknowledge by outage id instead")
@click.option("--by", required=True, help="Who acknowledges")
def alerts_ack(incident_id: int | None, outage_id: int | None, by: str) -> None:
    """Acknowledge an incident (stops its reminders and escalation)."""
    from camsvc.alerts import incidents as inc_ops

    if (incident_id is None) == (outage_id is None):
        _fail("give an INCIDENT_ID or --outage ID")
    with common.fail_on(LookupError), common.session() as s:
        if incident_id is not None:
            r = inc_ops.acknowledge_incident(s, incident_id, by, _now())
        else:
            assert outage_id is not None
            r = inc_ops.acknowledge_outage(s, outage_id, by, _now())
    note = " (already acknowledged)" if r.already else ""
    click.echo(f"incident {r.incident_id} acknowledged by {r.acknowledged_by}{note}")


@alerts.command("history")
@click.option("--contact", default=None, help="Messages to this contact (name or id)")
@click.option("--outage", "outage_id", type=int, default=None, help="Messages about this outage")
@click.option(
    "--status", type=click.Choice(["pending", "sending", "sent", "failed", "cancelled"]), default=None
)
@click.option("--limit", type=click.IntRange(1, 1000), default=50)
def alerts_history(contact: str | None, outage_id: int | None, status: str | None, limit: int) -> None:
    """Delivery history: per contact, per outage, or the latest messages."""
    from camsvc.alerts import contacts as mgmt
    from camsvc.alerts import incidents as inc_ops

    settings = common.settings()
    with common.fail_on(LookupError), common.session(settings) as s:
        if contact is not None:
            c = mgmt.get_contact(s, contact)
            assert c.id is not None
            history = inc_ops.messages_for_contact(s, c.id, limit)
        elif outage_id is not None:
            history = inc_ops.messages_for_outage(s, outage_id)
        else:
            history = inc_ops.list_messages(s, status=status, limit=limit)
    if not history:
        click.echo("no messages")
    _print_history(history, settings.timezone)


@alerts.command("retry")
@click.argument("message_id", type=int)
def alerts_retry(message_id: int) -> None:
    """Queue a failed or cancelled message again."""
    from camsvc.alerts import incidents as inc_ops

    with common.fail_on(LookupError, ValueError), common.session() as s:
        inc_ops.retry_message(s, message_id, _now())
    click.echo(f"message {message_id} queued again")


# ---------------------------------------------------------------------------------------------- maintenance
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


def parse_duration(text: str) -> dt.timedelta:
    """'90m', '2h', '1d', '30s' -> timedelta."""
    m = _DURATION_RE.match(text)
    if not m:
        raise click.BadParameter(f"duration must look like 30m, 2h or 1d, not {text!r}")
    n = float(m.group(1))
    return dt.timedelta(seconds=n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)])


def _parse_time(text: str | None, tz: str, what: str) -> dt.datetime | None:
    if not text:
        return None
    from camsvc.health.maintenance import to_utc

    try:
        return to_utc(dt.datetime.fromisoformat(text.replace("Z", "+00:00")), tz)
    except ValueError:
        raise click.BadParameter(
            f"{what}: use 'YYYY-MM-DD HH:MM' (local time) or ISO 8601, not {text!r}"
        ) from None


@alerts.group("maintenance")
def maintenance() -> None:
    """Maintenance windows and silences: no alerts inside; a camera still down at the end is alerted."""


def _add_window(
    settings: Settings,
    camera: str | None,
    hamlet: str | None,
    everything: bool,
    start: dt.datetime | None,
    end: dt.datetime | None,
    weekdays: str | None,
    daily: str | None,
    reason: str,
    by: str,
) -> None:
    from camsvc.health import maintenance as mnt
    from camsvc.models import Camera

    if sum(bool(x) for x in (camera, hamlet, everything)) != 1:
        _fail("give exactly one of --camera, --hamlet, --all")
    daily_start = daily_end = None
    if daily:
        daily_start, sep, daily_end = daily.partition("-")
        if not sep:
            _fail("--daily must look like 22:00-06:00")
    try:
        data = mnt.WindowCreate(
            camera_id=camera,
            hamlet=hamlet,
            starts_at=start,
            ends_at=end,
            weekdays=weekdays,
            daily_start=daily_start,
            daily_end=daily_end,
            reason=reason,
            created_by=by,
        )
        now = _now()
        w = mnt.build_window(data, now, settings.timezone)
    except ValidationError as exc:
        _fail(_validation(exc))
    except ValueError as exc:
        _fail(str(exc))
    with common.session(settings) as s:
        if camera and s.get(Camera, camera) is None:
            _fail(f"camera {camera!r} is not registered")
        if hamlet and not s.exec(select(Camera.id).where(Camera.hamlet == hamlet).limit(1)).first():
            _fail(f"no camera is in hamlet {hamlet!r}")
        s.add(w)
        s.flush()
        click.echo(f"window {w.id}: {mnt.describe(w, settings.timezone)}")


@maintenance.command("add")
@click.option("--camera", default=None, help="One camera id")
@click.option("--hamlet", default=None, help="Every camera of a hamlet")
@click.option("--all", "everything", is_flag=True, help="All cameras")
@click.option("--from", "start", default=None, help="Start, local time 'YYYY-MM-DD HH:MM' (default now)")
@click.option("--to", "end", default=None, help="End, local time (default: none, until removed)")
@click.option("--for", "duration", default=None, help="Or a duration from the start: 90m, 2h, 1d")
@click.option("--weekdays", default=None, help="Recurring: 0-4 / mon-fri / t2-t6 (Monday = 0)")
@click.option("--daily", default=None, help="Recurring: local time range, e.g. 22:00-06:00")
@click.option("--reason", default="", help="Why (shown to everyone)")
@click.option("--by", default="", help="Who sets it")
def maintenance_add(
    camera: str | None,
    hamlet: str | None,
    everything: bool,
    start: str | None,
    end: str | None,
    duration: str | None,
    weekdays: str | None,
    daily: str | None,
    reason: str,
    by: str,
) -> None:
    """Add a maintenance window (one-off, or recurring with --weekdays / --daily)."""
    settings = common.settings()
    s_at = _parse_time(start, settings.timezone, "--from")
    e_at = _parse_time(end, settings.timezone, "--to")
    if duration:
        if e_at is not None:
            _fail("give --to or --for, not both")
        e_at = (s_at or _now()) + parse_duration(duration)
    _add_window(settings, camera, hamlet, everything, s_at, e_at, weekdays, daily, reason, by)


@alerts.command("silence")
@click.option("--camera", default=None, help="One camera id")
@click.option("--hamlet", default=None, help="Every camera of a hamlet")
@click.option("--all", "everything", is_flag=True, help="All cameras")
@click.option("--for", "duration", required=True, help="How long from now: 90m, 2h, 1d")
@click.option("--reason", required=True, help="Why (shown to everyone)")
@click.option("--by", default="", help="Who sets it")
def alerts_silence(
    camera: str | None, hamlet: str | None, everything: bool, duration: str, reason: str, by: str
) -> None:
    """Silence alerts from now for a while (a one-off maintenance window with a reason)."""
    now = _now()
    end = now + parse_duration(duration)
    _add_window(common.settings(), camera, hamlet, everything, now, end, None, None, reason, by)


@maintenance.command("list")
@click.option("--active", is_flag=True, help="Only windows in force now")
def maintenance_list(active: bool) -> None:
    """List maintenance windows and silences."""
    from camsvc.health import maintenance as mnt
    from camsvc.models import MaintenanceWindow

    settings = common.settings()
    now = _now()
    with common.session(settings) as s:
        rows = s.exec(select(MaintenanceWindow).order_by(col(MaintenanceWindow.id))).all()
    shown = 0
    for w in rows:
        on = mnt.is_active(w, now, settings.timezone)
        if active and not on:
            continue
        shown += 1
        who = f" by {w.created_by}" if w.created_by else ""
        why = f": {w.reason}" if w.reason else ""
        click.echo(
            f"{w.id:>4} {'ACTIVE ' if on else '       '}{mnt.describe(w, settings.timezone)}{who}{why}"
        )
    if not shown:
        click.echo("no maintenance windows")


@maintenance.command("remove")
@click.argument("window_id", type=int)
def maintenance_remove(window_id: int) -> None:
    """Remove a window (cameras leave maintenance at their next check)."""
    from camsvc.models import MaintenanceWindow

    with common.session() as s:
        w = s.get(MaintenanceWindow, window_id)
        if w is None:
            _fail(f"maintenance window {window_id} not found")
        s.delete(w)
    click.echo(f"window {window_id} removed")
