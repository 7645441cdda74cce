"""Alerts API: contacts, channels, routing rules, incidents, acknowledgements, delivery history, maintenance
windows (and silences), and the signed acknowledge page.

``router`` holds everything: the JSON API under ``/api`` and the page behind the links in messages,
``GET/POST /ack/<token>``. Channel URLs hold secrets: every response shows them redacted.

The acknowledge page asks for a click (a POST) rather than acknowledging on GET, because mail scanners and
chat apps (Telegram link previews) open links on their own.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Annotated, TypeVar
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from camsvc.alerts import contacts as mgmt
from camsvc.alerts import incidents as inc_ops
from camsvc.alerts import messages as msgs
from camsvc.alerts.models import (
    AckRequest,
    AckResult,
    ChannelCreate,
    ChannelPublic,
    ChannelTestResult,
    ChannelUpdate,
    Contact,
    ContactCreate,
    ContactPublic,
    ContactUpdate,
    Incident,
    IncidentMember,
    IncidentPublic,
    MessagePublic,
    RoutingRule,
    RuleCreate,
    RulePublic,
    RuleUpdate,
)
from camsvc.alerts.signing import parse_token, signing_key
from camsvc.api.deps import SessionDep, SettingsDep
from camsvc.auth.http import current_subject, public, require
from camsvc.auth.models import User
from camsvc.auth.roles import Action, Subject, can, in_scope
from camsvc.errors import get_or_raise
from camsvc.health import maintenance as mnt
from camsvc.models import Camera, MaintenanceWindow

api = APIRouter(prefix="/api", tags=["alerts"])
pages = APIRouter(tags=["alerts"])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


T = TypeVar("T")


def _committed(session: Session, value: T) -> T:
    """Commit before answering: the request session's own commit (camsvc.api.deps.get_session) runs after
    the response is sent (FastAPI >= 0.121 closes yield dependencies after the response), so a client's next
    request (the screen reloading its list) or the dispatcher could otherwise miss the change."""
    session.commit()
    return value


def _registry_changed(request: Request) -> None:
    """Maintenance windows changed: let the running scheduler pick them up at once."""
    rt = getattr(request.app.state, "runtime", None)
    if rt is not None and hasattr(rt, "registry_changed"):
        rt.registry_changed()


# ---------------------------------------------------------------------------------------------- contacts
@api.get("/contacts", response_model=list[ContactPublic], dependencies=[require(Action.CONTACTS)])
def list_contacts(session: SessionDep) -> list[ContactPublic]:
    rows = session.exec(select(Contact).order_by(col(Contact.name))).all()
    return [mgmt.contact_public(session, c) for c in rows]


@api.post("/contacts", response_model=ContactPublic, status_code=201, dependencies=[require(Action.CONTACTS)])
def create_contact(body: ContactCreate, session: SessionDep) -> ContactPublic:
    try:
        c = mgmt.create_contact(session, body, _now())
    except mgmt.ConfigError as exc:
        raise HTTPException(409, str(exc)) from None
    return _committed(session, mgmt.contact_public(session, c))


@api.get("/contacts/export", response_class=PlainTextResponse, dependencies=[require(Action.CONTACTS)])
def export_contacts(session: SessionDep) -> str:
    """The contacts file (YAML), channel URLs redacted."""
    return mgmt.export_contacts(session, with_secrets=False)


class ImportRequest(BaseModel):
    yaml: str = Field(description="A contacts file (see config/contacts.example.yaml)")
    prune: bool = Field(False, description="Also remove contacts the file does not name")
    dry_run: bool = Field(False, description="Validate and report, change nothing")


class ImportResponse(BaseModel):
    applied: bool
    created: list[str]
    updated: list[str]
    removed: list[str]
    channels: int
    rules: int
    warnings: list[str]


@api.post("/contacts/import", response_model=ImportResponse, dependencies=[require(Action.CONTACTS)])
def import_contacts(body: ImportRequest, session: SessionDep) -> ImportResponse:
    """All or nothing: any error rejects the whole file (422 with every problem and its key path)."""
    try:
        doc = mgmt.parse_contacts_yaml(body.yaml)
        report = mgmt.import_contacts(session, doc, _now(), prune=body.prune)
    except mgmt.ConfigError as exc:
        session.rollback()
        raise HTTPException(422, {"errors": exc.errors}) from None
    if body.dry_run:
        session.rollback()
    else:
        session.commit()
    return ImportResponse(
        applied=not body.dry_run,
        created=report.created,
        updated=report.updated,
        removed=report.removed,
        channels=report.channels,
        rules=report.rules,
        warnings=report.warnings,
    )


@api.get("/contacts/{contact_id}", response_model=ContactPublic, dependencies=[require(Action.CONTACTS)])
def get_contact(contact_id: int, session: SessionDep) -> ContactPublic:
    return mgmt.contact_public(session, mgmt.get_contact(session, contact_id))


@api.patch("/contacts/{contact_id}", response_model=ContactPublic, dependencies=[require(Action.CONTACTS)])
def update_contact(contact_id: int, body: ContactUpdate, session: SessionDep) -> ContactPublic:
    contact = mgmt.get_contact(session, contact_id)
    try:
        c = mgmt.update_contact(session, contact, body, _now())
    except mgmt.ConfigError as exc:
        raise HTTPException(409, str(exc)) from None
    return _committed(session, mgmt.contact_public(session, c))


@api.delete("/contacts/{contact_id}", status_code=204, dependencies=[require(Action.CONTACTS)])
def delete_contact(contact_id: int, session: SessionDep) -> Response:
    mgmt.delete_contact(session, mgmt.get_contact(session, contact_id))
    return _committed(session, Response(status_code=204))


@api.get(
    "/contacts/{contact_id}/deliveries",
    response_model=list[MessagePublic],
    dependencies=[require(Action.MESSAGES_VIEW)],
)
def contact_deliveries(
    contact_id: int, session: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[MessagePublic]:
    """Messages sent (or being sent) to this contact, newest first, each with its attempts."""
    get_or_raise(session, Contact, contact_id, "contact")
    return inc_ops.messages_for_contact(session, contact_id, limit)


@api.post(
    "/contacts/{contact_id}/channels",
    response_model=ChannelPublic,
    status_code=201,
    dependencies=[require(Action.CONTACTS)],
)
def add_channel(contact_id: int, body: ChannelCreate, session: SessionDep) -> ChannelPublic:
    ch = mgmt.add_channel(session, mgmt.get_contact(session, contact_id), body, _now())
    return _committed(session, mgmt.channel_public(ch))


@api.patch("/channels/{channel_id}", response_model=ChannelPublic, dependencies=[require(Action.CHANNELS)])
def update_channel(channel_id: int, body: ChannelUpdate, session: SessionDep) -> ChannelPublic:
    ch = mgmt.update_channel(session, mgmt.get_channel(session, channel_id), body)
    return _committed(session, mgmt.channel_public(ch))


@api.delete("/channels/{channel_id}", status_code=204, dependencies=[require(Action.CHANNELS)])
def delete_channel(channel_id: int, session: SessionDep) -> Response:
    session.delete(mgmt.get_channel(session, channel_id))
    return _committed(session, Response(status_code=204))


@api.post(
    "/channels/{channel_id}/test", response_model=ChannelTestResult, dependencies=[require(Action.CHANNELS)]
)
def test_channel(channel_id: int, session: SessionDep) -> ChannelTestResult:
    """Send a test message now; reports success or the channel's own error (secrets removed)."""
    ch = mgmt.get_channel(session, channel_id)
    contact = session.get(Contact, ch.contact_id)
    return mgmt.test_channel(ch, contact.language if contact else "vi")


# ---------------------------------------------------------------------------------------------- rules
@api.get("/routing-rules", response_model=list[RulePublic], dependencies=[require(Action.RULES)])
def list_rules(session: SessionDep, contact_id: int | None = None) -> list[RulePublic]:
    q = select(RoutingRule)
    if contact_id is not None:
        q = q.where(RoutingRule.contact_id == contact_id)
    return [mgmt.rule_public(r) for r in session.exec(q.order_by(col(RoutingRule.id))).all()]


@api.post("/routing-rules", response_model=RulePublic, status_code=201, dependencies=[require(Action.RULES)])
def create_rule(body: RuleCreate, session: SessionDep) -> RulePublic:
    return _committed(session, mgmt.rule_public(mgmt.add_rule(session, body, _now())))


@api.patch("/routing-rules/{rule_id}", response_model=RulePublic, dependencies=[require(Action.RULES)])
def update_rule(rule_id: int, body: RuleUpdate, session: SessionDep) -> RulePublic:
    return _committed(
        session, mgmt.rule_public(mgmt.update_rule(session, mgmt.get_rule(session, rule_id), body))
    )


@api.delete("/routing-rules/{rule_id}", status_code=204, dependencies=[require(Action.RULES)])
def delete_rule(rule_id: int, session: SessionDep) -> Response:
    session.delete(mgmt.get_rule(session, rule_id))
    return _committed(session, Response(status_code=204))


# ---------------------------------------------------------------------------------------------- incidents
def _scoped(subject: Subject, pub: IncidentPublic) -> IncidentPublic | None:
    """The incident as a hamlet-scoped caller may see it: only its cameras in the caller's hamlets, None
    when it has none there (an unrestricted caller sees everything)."""
    if not subject.hamlets:
        return pub
    members = [m for m in pub.members if in_scope(subject.hamlets, m.camera_hamlet)]
    if not members and not (not pub.members and in_scope(subject.hamlets, pub.hamlet)):
        return None
    return pub.model_copy(
        update={"members": members, "cameras_open": sum(1 for m in members if m.ended_at is None)}
    )


def _incident_or_404(session: Session, request: Request, incident_id: int, lang: str) -> IncidentPublic:
    """An incident the caller may see (out of their hamlets = not found, as for cameras)."""
    inc = get_or_raise(session, Incident, incident_id, "incident")
    pub = _scoped(current_subject(request), inc_ops.incident_public(session, inc, lang))
    if pub is None:
        raise HTTPException(404, f"no incident {incident_id}")
    return pub


@api.get("/incidents", response_model=list[IncidentPublic])
def list_incidents(
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    status: Annotated[str | None, Query(pattern="^(open|resolved)$")] = None,
    camera_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[IncidentPublic]:
    """Newest first; a hamlet-scoped caller sees only incidents (and cameras) of their hamlets."""
    subject = current_subject(request)
    rows = inc_ops.list_incidents(session, status=status, camera_id=camera_id, limit=limit)
    out = (_scoped(subject, inc_ops.incident_public(session, i, settings.default_language)) for i in rows)
    return [p for p in out if p is not None]


@api.get("/incidents/{incident_id}", response_model=IncidentPublic)
def get_incident(
    incident_id: int, session: SessionDep, settings: SettingsDep, request: Request
) -> IncidentPublic:
    return _incident_or_404(session, request, incident_id, settings.default_language)


@api.get(
    "/incidents/{incident_id}/deliveries",
    response_model=list[MessagePublic],
    dependencies=[require(Action.OUTAGES_VIEW)],
)
def incident_deliveries(incident_id: int, session: SessionDep, request: Request) -> list[MessagePublic]:
    """Who was told about the incident, through which channel (redacted), with what result and when.
    Subjects and bodies (they hold acknowledge links) only for roles with ``messages.view``."""
    _incident_or_404(session, request, incident_id, "vi")
    rows = inc_ops.messages_for_incident(session, incident_id)
    if can(current_subject(request).role, Action.MESSAGES_VIEW):
        return rows
    return [m.model_copy(update={"subject": "", "body": "", "body_hidden": True}) for m in rows]


def _acknowledger(request: Request, session: Session, body: AckRequest | None) -> str:
    """Who acknowledges: the signed-in user (display name, else username), never a typed name."""
    subject = current_subject(request)
    user = session.get(User, subject.user_id) if subject.user_id is not None else None
    return (user.display_name if user and user.display_name else subject.username)[:200]


@api.post(
    "/incidents/{incident_id}/ack", response_model=AckResult, dependencies=[require(Action.ACKNOWLEDGE)]
)
def ack_incident(
    incident_id: int, session: SessionDep, request: Request, body: AckRequest | None = None
) -> AckResult:
    """Acknowledge: stops reminders and escalation, records who (the signed-in user) and when (also on each
    outage). The body's ``by`` is ignored for a signed-in user. Out of the caller's hamlets: not found."""
    _incident_or_404(session, request, incident_id, "vi")
    result = inc_ops.acknowledge_incident(session, incident_id, _acknowledger(request, session, body), _now())
    return _committed(session, result)


@api.post("/outages/{outage_id}/ack", response_model=AckResult, dependencies=[require(Action.ACKNOWLEDGE)])
def ack_outage(
    outage_id: int, session: SessionDep, request: Request, body: AckRequest | None = None
) -> AckResult:
    """Acknowledge from the dashboard's outage view: acknowledges the incident holding the outage."""
    result = inc_ops.acknowledge_outage(session, outage_id, _acknowledger(request, session, body), _now())
    return _committed(session, result)


@api.get(
    "/outages/{outage_id}/deliveries",
    response_model=list[MessagePublic],
    dependencies=[require(Action.MESSAGES_VIEW)],
)
def outage_deliveries(outage_id: int, session: SessionDep) -> list[MessagePublic]:
    """Every message that told someone about this outage, each with its attempts."""
    return inc_ops.messages_for_outage(session, outage_id)


class AlertStatus(BaseModel):
    outbox: dict[str, int]
    open_incidents: int
    unacknowledged: int


@api.get("/alerts/status", response_model=AlertStatus)
def alert_status(session: SessionDep) -> AlertStatus:
    open_rows = session.exec(select(Incident).where(Incident.status == "open")).all()
    return AlertStatus(
        outbox=inc_ops.outbox_counts(session),
        open_incidents=len(open_rows),
        unacknowledged=sum(1 for i in open_rows if i.acknowledged_at is None and i.alerted_at is not None),
    )


@api.get("/alerts/messages", response_model=list[MessagePublic], dependencies=[require(Action.MESSAGES_VIEW)])
def list_messages(
    session: SessionDep,
    status: Annotated[str | None, Query(pattern="^(pending|sending|sent|failed|cancelled)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[MessagePublic]:
    return inc_ops.list_messages(session, status=status, limit=limit)


@api.post(
    "/alerts/messages/{message_id}/retry",
    response_model=MessagePublic,
    dependencies=[require(Action.CHANNELS)],
)
def retry_message(message_id: int, session: SessionDep) -> MessagePublic:
    """Queue a failed (or cancelled) message again."""
    try:
        m = inc_ops.retry_message(session, message_id, _now())
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    return _committed(session, inc_ops.message_public(m, []))


# ---------------------------------------------------------------------------------------------- maintenance
@api.get("/maintenance", response_model=list[mnt.WindowPublic])
def list_windows(
    session: SessionDep, settings: SettingsDep, active: bool | None = None, camera_id: str | None = None
) -> list[mnt.WindowPublic]:
    """Maintenance windows and silences; ``active=true``: in force now; ``camera_id``: those covering it."""
    now = _now()
    rows = session.exec(select(MaintenanceWindow).order_by(col(MaintenanceWindow.id))).all()
    out = [mnt.public(w, now, settings.timezone) for w in rows]
    if camera_id is not None:
        cam = session.get(Camera, camera_id)
        out = [
            p for w, p in zip(rows, out, strict=True) if mnt.covers(w, camera_id, cam.hamlet if cam else None)
        ]
    if active is not None:
        out = [p for p in out if p.active_now == active]
    return out


def _check_required(body: mnt.WindowBase) -> None:
    """Create and replace alike: a reason and an end (the API never silences for ever)."""
    problem = mnt.missing_required(body)
    if problem:
        raise HTTPException(422, problem)


def _check_caller_scope(
    request: Request, session: Session, camera_id: str | None, hamlet: str | None
) -> None:
    """A hamlet-scoped caller changes only windows inside their hamlets (never "every camera")."""
    subject = current_subject(request)
    if not subject.hamlets:
        return
    if camera_id:
        cam = session.get(Camera, camera_id)
        ok = cam is not None and in_scope(subject.hamlets, cam.hamlet)
    else:
        ok = bool(hamlet) and in_scope(subject.hamlets, hamlet)
    if not ok:
        raise HTTPException(403, "scope: you may only set maintenance for cameras of your hamlets")


def _check_scope(session: Session, body: mnt.WindowBase) -> None:
    if body.camera_id and session.get(Camera, body.camera_id) is None:
        raise HTTPException(422, f"camera_id: camera {body.camera_id!r} is not registered")
    if (
        body.hamlet
        and not session.exec(select(Camera.id).where(Camera.hamlet == body.hamlet).limit(1)).first()
    ):
        raise HTTPException(422, f"hamlet: no camera is in hamlet {body.hamlet!r}")


@api.post(
    "/maintenance",
    response_model=mnt.WindowPublic,
    status_code=201,
    dependencies=[require(Action.MAINTENANCE)],
)
def create_window(
    body: mnt.WindowCreate, session: SessionDep, settings: SettingsDep, request: Request
) -> mnt.WindowPublic:
    """A maintenance window or silence (camera, hamlet or all; one-off or recurring). Naive times are local.
    It needs a reason and an end: nothing may be silenced for ever through the API."""
    _check_required(body)
    _check_scope(session, body)
    _check_caller_scope(request, session, body.camera_id, body.hamlet)
    if not body.created_by.strip():  # the dashboard: whoever is signed in
        body.created_by = _acknowledger(request, session, None)
    now = _now()
    try:
        w = mnt.build_window(body, now, settings.timezone)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    session.add(w)
    session.commit()
    _registry_changed(request)
    return mnt.public(w, now, settings.timezone)


@api.get("/maintenance/{window_id}", response_model=mnt.WindowPublic)
def get_window(window_id: int, session: SessionDep, settings: SettingsDep) -> mnt.WindowPublic:
    w = get_or_raise(session, MaintenanceWindow, window_id, "maintenance window")
    return mnt.public(w, _now(), settings.timezone)


@api.put(
    "/maintenance/{window_id}", response_model=mnt.WindowPublic, dependencies=[require(Action.MAINTENANCE)]
)
def replace_window(
    window_id: int, body: mnt.WindowUpdate, session: SessionDep, settings: SettingsDep, request: Request
) -> mnt.WindowPublic:
    """Replace a window (send the full window). The same rules as creating one: a reason and an end."""
    w = get_or_raise(session, MaintenanceWindow, window_id, "maintenance window")
    _check_required(body)
    _check_scope(session, body)
    _check_caller_scope(request, session, w.camera_id, w.hamlet)
    _check_caller_scope(request, session, body.camera_id, body.hamlet)
    now = _now()
    try:
        new = mnt.build_window(body, now, settings.timezone)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    for k in (
        "camera_id",
        "hamlet",
        "starts_at",
        "ends_at",
        "weekdays",
        "daily_start",
        "daily_end",
        "reason",
    ):
        setattr(w, k, getattr(new, k))
    w.created_by = new.created_by or w.created_by
    session.add(w)
    session.commit()
    _registry_changed(request)
    return mnt.public(w, now, settings.timezone)


@api.post(
    "/maintenance/{window_id}/end",
    response_model=mnt.WindowPublic,
    dependencies=[require(Action.MAINTENANCE)],
)
def end_window(
    window_id: int, session: SessionDep, settings: SettingsDep, request: Request
) -> mnt.WindowPublic:
    """End a window now (the server's clock, not the browser's): its cameras are judged afresh at their next
    check. A window not started yet is refused (409): delete it instead. One already over is left as is."""
    w = get_or_raise(session, MaintenanceWindow, window_id, "maintenance window")
    _check_caller_scope(request, session, w.camera_id, w.hamlet)
    now = _now()
    if w.starts_at > now:
        raise HTTPException(409, "this window has not started: delete it instead of ending it")
    if w.ends_at is None or w.ends_at > now:
        w.ends_at = now
        session.add(w)
        session.commit()
        _registry_changed(request)
    return mnt.public(w, now, settings.timezone)


@api.delete("/maintenance/{window_id}", status_code=204, dependencies=[require(Action.MAINTENANCE)])
def delete_window(window_id: int, session: SessionDep, request: Request) -> Response:
    w = get_or_raise(session, MaintenanceWindow, window_id, "maintenance window")
    _check_caller_scope(request, session, w.camera_id, w.hamlet)
    session.delete(w)
    session.commit()
    _registry_changed(request)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------- ack page
_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.4}}
.ok{{color:#176b2c}}.muted{{color:#666}}button{{font-size:1.1rem;padding:.6rem 1.2rem}}
input{{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}}li{{margin:.2rem 0}}</style></head>
<body><h1>{title}</h1>{content}</body></html>"""

_TXT = {
    "title": ("Xác nhận sự cố camera", "Acknowledge camera incident"),
    "bad": ("Liên kết không hợp lệ.", "This link is not valid."),
    "expired": (
        "Liên kết này đã hết hạn: liên kết xác nhận chỉ dùng được {days} ngày sau khi gửi. "
        "Hãy xác nhận trên bảng điều khiển.",
        "This link has expired: an acknowledge link works for {days} days after it was sent. "
        "Acknowledge from the dashboard instead.",
    ),
    "gone": (
        "Liên kết này không còn dùng được: người nhận đã bị xoá hoặc bị tắt khỏi danh sách liên hệ.",
        "This link no longer works: the contact it was sent to was removed or disabled.",
    ),
    "cams": ("Camera trong sự cố này", "Cameras in this incident"),
    "since": ("từ", "since"),
    "resolved": ("Sự cố đã kết thúc lúc {at}.", "This incident ended at {at}."),
    "acked": (
        "Đã được {by} xác nhận lúc {at}. Nhắc lại và chuyển cấp đã dừng.",
        "Acknowledged by {by} at {at}. Reminders and escalation stopped.",
    ),
    "who": ("Người xác nhận", "Your name"),
    "button": ("Xác nhận: tôi đang xử lý", "Acknowledge: I'm on it"),
    "explain": (
        "Xác nhận sẽ dừng tin nhắc lại và không chuyển cấp sự cố này.",
        "Acknowledging stops reminders and escalation for this incident.",
    ),
    "map": ("bản đồ", "map"),
}


def _t(key: str, lang: str, **kw: str) -> str:
    text = _TXT[key][1 if lang == "en" else 0]
    return text.format(**kw) if kw else text


def _page(lang: str, content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(lang=lang, title=html.escape(_t("title", lang)), content=content),
        status_code=status,
        headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
    )


def _ack_target(
    token: str, session: Session, request: Request
) -> tuple[Incident | None, Contact | None, str, HTMLResponse | None]:
    """(incident, contact, language, refusal): a refusal page when the link is forged (404), expired
    (``auth.ack_link_days`` after it was made; 410) or its contact was deleted or disabled (410)."""
    settings = request.app.state.settings
    link = parse_token(signing_key(settings, request.app.state.engine), token)
    lang = settings.default_language
    if link is None:
        return None, None, lang, _page(lang, f"<p>{_t('bad', lang)}</p>", 404)
    contact = session.get(Contact, link.contact_id)
    if contact is not None:
        lang = contact.language
    days = settings.auth.ack_link_days
    if link.expired(_now(), days):
        return (
            None,
            contact,
            lang,
            _page(lang, f"<p>{html.escape(_t('expired', lang, days=f'{days:g}'))}</p>", 410),
        )
    if contact is None or not contact.enabled:
        return None, contact, lang, _page(lang, f"<p>{html.escape(_t('gone', lang))}</p>", 410)
    inc = session.get(Incident, link.incident_id)
    if inc is None:
        return None, contact, lang, _page(lang, f"<p>{_t('bad', lang)}</p>", 404)
    return inc, contact, lang, None


def _incident_html(session: Session, inc: Incident, lang: str, tz: str, base_url: str) -> str:
    members = session.exec(
        select(IncidentMember).where(IncidentMember.incident_id == inc.id).order_by(col(IncidentMember.id))
    ).all()
    cams = {
        c.id: c
        for c in session.exec(select(Camera).where(col(Camera.id).in_({m.camera_id for m in members})))
    }
    items = []
    for m in members[:60]:
        cam = cams.get(m.camera_id)
        name = html.escape(cam.name if cam else m.camera_id)
        link = html.escape(msgs.map_link(base_url, m.camera_id))
        items.append(
            f"<li><b>{name}</b> ({html.escape(m.camera_id)}): {html.escape(msgs.cause_text(m.cause, lang))}, "
            f"{_t('since', lang)} {html.escape(msgs.fmt_time(m.started_at, tz, lang))} "
            f'<a href="{link}">{_t("map", lang)}</a></li>'
        )
    where = f"<p>{html.escape(inc.hamlet)}</p>" if inc.hamlet else ""
    return f"{where}<h2>{_t('cams', lang)}</h2><ul>{''.join(items)}</ul>"


@pages.get("/ack/{token}", response_class=HTMLResponse, include_in_schema=False)
@public
def ack_page(token: str, session: SessionDep, settings: SettingsDep, request: Request) -> HTMLResponse:
    inc, contact, lang, refused = _ack_target(token, session, request)
    if refused is not None or inc is None:
        return refused or _page(lang, f"<p>{_t('bad', lang)}</p>", 404)
    body = _incident_html(session, inc, lang, settings.timezone, settings.base_url)
    if inc.acknowledged_at is not None:
        at = msgs.fmt_time(inc.acknowledged_at, settings.timezone, lang)
        body = (
            f'<p class="ok">{html.escape(_t("acked", lang, by=inc.acknowledged_by or "", at=at))}</p>' + body
        )
    elif inc.status != "open":
        at = msgs.fmt_time(inc.resolved_at or _now(), settings.timezone, lang)
        body = f'<p class="muted">{html.escape(_t("resolved", lang, at=at))}</p>' + body
    else:
        who = html.escape(contact.name if contact else "")
        body += (
            f'<form method="post"><p class="muted">{_t("explain", lang)}</p>'
            f'<p><label>{_t("who", lang)}<br><input name="by" value="{who}" maxlength="200" required></label></p>'
            f'<p><button type="submit">{_t("button", lang)}</button></p></form>'
        )
    return _page(lang, body)


@pages.post("/ack/{token}", response_class=HTMLResponse, include_in_schema=False)
@public
async def ack_submit(token: str, request: Request) -> HTMLResponse:
    raw = (await request.body())[:4096].decode("utf-8", errors="replace")
    by_form = (parse_qs(raw).get("by") or [""])[0].strip()
    settings = request.app.state.settings
    from camsvc.db import session_scope

    with session_scope(request.app.state.engine) as session:
        inc, contact, lang, refused = _ack_target(token, session, request)
        if refused is not None or inc is None or inc.id is None:
            return refused or _page(lang, f"<p>{_t('bad', lang)}</p>", 404)
        by = by_form or (contact.name if contact else "") or "?"
        result = inc_ops.acknowledge_incident(session, inc.id, by, _now())
        at = msgs.fmt_time(result.acknowledged_at, settings.timezone, lang)
        body = f'<p class="ok">{html.escape(_t("acked", lang, by=result.acknowledged_by, at=at))}</p>'
        body += _incident_html(session, inc, lang, settings.timezone, settings.base_url)
    return _page(lang, body)


router = APIRouter()
router.include_router(api)
router.include_router(pages)
