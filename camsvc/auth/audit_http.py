"""The audit trail on the HTTP side: one middleware records every authenticated state change.

``AuditMiddleware`` (pure ASGI, added once in ``create_app``) writes one audit row after each POST, PUT,
PATCH or DELETE made by a signed-in user or a token, whatever its outcome (a refused attempt is worth
knowing too), with:

- ``username``: the caller (``request.state.subject``, set by ``camsvc.auth.http.identify``);
- ``client_addr``: the client address as the server sees it (behind a proxy: what uvicorn's
  ``--proxy-headers`` gives);
- ``action``: a stable name from the route's path template (``ACTIONS``: ``PATCH /api/cameras/{camera_id}``
  -> ``camera.update``); a route missing from the table is recorded under ``METHOD /template``, so a new
  route is audited from day one and only its name is less pretty;
- ``target``: the path parameters (``camera:cam-017``, ``contact:4``);
- ``details``: the status code; the NAMES of the fields in a JSON body (never values); what the route added
  with ``note(request, ...)`` (e.g. the fields that really changed); for token calls ``via=token`` and the
  token's shown prefix.

Routes that write their own, richer row (sign-in, sign-out) are in ``SKIP``. Anonymous requests are not
recorded here: they are refused before doing anything (``enforce``), and sign-in failures have their own rows.

Reads that deserve a row (household pictures) call ``record(...)`` in the route itself, in the request's
transaction.

The row is written after the response has been sent, in its own transaction: a failure to write it is
logged as an error (it cannot change an answer that is already out).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import Request
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from camsvc.auth import audit
from camsvc.auth.tokens import PREFIX_SHOWN, looks_like_token
from camsvc.models import utcnow

log = logging.getLogger(__name__)

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_BODY_PEEK = 64 * 1024  # larger JSON bodies are recorded without their field names
STATE_KEY = "audit_details"

# "METHOD /path/template" -> action name (stable: filters, reports and alerts on the audit log use them)
ACTIONS: dict[str, str] = {
    "POST /api/cameras": "camera.create",
    "POST /api/cases": "case.create",
    "POST /api/cases/{case_id}/clips": "case.clips",
    "POST /api/cases/{case_id}/export": "case.export",
    "POST /api/cases/{case_id}/close": "case.close",
    "POST /api/cases/{case_id}/release": "case.release",
    "POST /api/cameras/import": "camera.import",
    "PATCH /api/cameras/{camera_id}": "camera.update",
    "PUT /api/cameras/{camera_id}": "camera.update",
    "DELETE /api/cameras/{camera_id}": "camera.delete",
    "POST /api/cameras/{camera_id}/reference/reset": "reference.reset",
    "POST /api/contacts": "contact.create",
    "POST /api/contacts/import": "contact.import",
    "PATCH /api/contacts/{contact_id}": "contact.update",
    "DELETE /api/contacts/{contact_id}": "contact.delete",
    "POST /api/contacts/{contact_id}/channels": "channel.create",
    "PATCH /api/channels/{channel_id}": "channel.update",
    "DELETE /api/channels/{channel_id}": "channel.delete",
    "POST /api/channels/{channel_id}/test": "channel.test",
    "POST /api/routing-rules": "rule.create",
    "PATCH /api/routing-rules/{rule_id}": "rule.update",
    "DELETE /api/routing-rules/{rule_id}": "rule.delete",
    "POST /api/incidents/{incident_id}/ack": "incident.ack",
    "POST /api/outages/{outage_id}/ack": "outage.ack",
    "POST /api/alerts/messages/{message_id}/retry": "message.retry",
    "POST /api/maintenance": "maintenance.create",
    "PUT /api/maintenance/{window_id}": "maintenance.update",
    "DELETE /api/maintenance/{window_id}": "maintenance.delete",
}

# routes that write their own audit row (camsvc.auth.routes)
SKIP: frozenset[str] = frozenset({"POST /login", "POST /logout", "POST /api/auth/login"})


def action_name(method: str, template: str) -> str:
    key = f"{method} {template}"
    return ACTIONS.get(key, key)


def target_of(path_params: dict[str, Any]) -> str:
    """``{"camera_id": "cam-1"}`` -> ``camera:cam-1``; several parameters are joined by spaces."""
    parts = []
    for name, value in path_params.items():
        kind = name[:-3] if name.endswith("_id") else name
        parts.append(f"{kind}:{value}")
    return " ".join(parts)


def note(request: Request, **details: Any) -> None:
    """Add details to the audit row the middleware will write for this request (field NAMES, flags: never
    secret values; ``audit.clean_details`` scrubs secret-looking keys anyway)."""
    bag = getattr(request.state, STATE_KEY, None)
    if bag is None:
        bag = {}
        setattr(request.state, STATE_KEY, bag)
    bag.update(details)


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


def record(
    db: Session, request: Request, action: str, target: str = "", details: dict[str, Any] | None = None
) -> None:
    """An explicit audit row for this request (e.g. a household picture viewed), in the caller's
    transaction. Without a signed-in user (an app not yet enforcing sign-in) the user is ``anonymous``."""
    subject = getattr(request.state, "subject", None)
    extra = dict(details or {})
    if subject is not None and subject.via == "token":
        extra.update(_token_details(request.headers.get("authorization", "")))
    audit.append(
        db,
        utcnow(),
        subject.username if subject is not None else "anonymous",
        client_of(request),
        action,
        target,
        extra,
    )


def record_link_ack(
    db: Session, request: Request, contact_name: str | None, incident_id: int, typed_by: str = ""
) -> None:
    """The row for an acknowledgement through a signed link in a message (``POST /ack/{token}``, public):
    the user is ``link:<contact the link was sent to>``, the typed name is kept as a detail."""
    audit.append(
        db,
        utcnow(),
        f"link:{contact_name or '?'}",
        client_of(request),
        "incident.ack",
        f"incident:{incident_id}",
        {"via": "link", "typed_by": typed_by},
    )


def _token_details(authorization: str) -> dict[str, Any]:
    raw = authorization.partition(" ")[2].strip()
    return {"via": "token", "prefix": raw[:PREFIX_SHOWN] if looks_like_token(raw) else "?"}


def _field_names(body: bytes) -> list[str] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return sorted(str(k) for k in data) if isinstance(data, dict) else None


class AuditMiddleware:
    """See the module docstring. ``engine`` defaults to ``app.state.engine`` of the application serving."""

    def __init__(self, app: Any, engine: Engine | None = None) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") not in UNSAFE:
            await self.app(scope, receive, send)
            return
        status = {"code": 500}
        body = bytearray()
        is_json = any(k == b"content-type" and b"json" in v for k, v in scope.get("headers", ()))

        async def receive_peek() -> Any:
            message = await receive()
            if is_json and message.get("type") == "http.request" and len(body) <= MAX_BODY_PEEK:
                body.extend(message.get("body", b""))
            return message

        async def send_status(message: Any) -> None:
            if message.get("type") == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive_peek if is_json else receive, send_status)
        finally:
            await self._after(scope, status["code"], bytes(body) if len(body) <= MAX_BODY_PEEK else b"")

    async def _after(self, scope: dict[str, Any], code: int, body: bytes) -> None:
        state = scope.get("state") or {}
        subject = state.get("subject")
        route = scope.get("route")
        if subject is None or route is None:
            return
        method = scope["method"]
        template = getattr(route, "path", scope.get("path", ""))
        if f"{method} {template}" in SKIP:
            return
        details: dict[str, Any] = {"status": code}
        fields = _field_names(body) if body else None
        if fields is not None:
            details["fields"] = fields
        details.update(state.get(STATE_KEY) or {})
        if subject.via == "token":
            headers = dict(scope.get("headers", ()))
            details.update(_token_details(headers.get(b"authorization", b"").decode("latin-1")))
        client = scope.get("client")
        row = (
            subject.username,
            client[0] if client else "",
            action_name(method, template),
            target_of(dict(scope.get("path_params") or {})),
            details,
        )
        engine = self.engine or scope["app"].state.engine
        try:
            await run_in_threadpool(_write, engine, *row)
        except Exception:
            log.exception("could not write the audit row for %s %s by %s", method, template, subject.username)


def _write(
    engine: Engine, username: str, addr: str, action: str, target: str, details: dict[str, Any]
) -> None:
    with Session(engine) as db:
        audit.append(db, utcnow(), username, addr, action, target, details)
        db.commit()
