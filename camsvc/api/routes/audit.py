"""/api/audit: the audit trail for administrators, filtered and paged, as JSON or a CSV file."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel

from camsvc import csvsafe
from camsvc.api.deps import SessionDep
from camsvc.auth import audit, audit_http
from camsvc.auth.http import require
from camsvc.auth.models import AuditEvent
from camsvc.auth.roles import Action

router = APIRouter(prefix="/api/audit", tags=["audit"], dependencies=[require(Action.AUDIT)])

CSV_COLUMNS = ["id", "at", "username", "client_addr", "action", "target", "details", "hash"]


class AuditRow(BaseModel):
    id: int
    at: dt.datetime
    username: str
    client_addr: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    limit: int
    offset: int
    items: list[AuditRow]


def _when(value: str | None, name: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        at = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"{name}: not an ISO 8601 time: {value!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def _row(ev: AuditEvent) -> AuditRow:
    try:
        details = json.loads(ev.details or "{}")
    except ValueError:  # a tampered row: show it as text, `camsvc audit verify` names it
        details = {"unreadable": ev.details}
    return AuditRow(
        id=int(ev.id or 0),
        at=ev.at,
        username=ev.username,
        client_addr=ev.client_addr,
        action=ev.action,
        target=ev.target,
        details=details if isinstance(details, dict) else {"value": details},
        prev_hash=ev.prev_hash,
        hash=ev.hash,
    )


@router.get("", response_model=AuditPage)
def list_audit(
    session: SessionDep,
    request: Request,
    since: Annotated[str | None, Query(max_length=40, description="ISO 8601 (UTC if no offset)")] = None,
    until: Annotated[str | None, Query(max_length=40, description="ISO 8601, exclusive")] = None,
    user: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[
        str | None, Query(max_length=100, description="Exact, or a prefix ending in .* (camera.*)")
    ] = None,
    target: Annotated[str | None, Query(max_length=300, description="e.g. camera:cam-017")] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    """Newest first. ``format=csv`` downloads the page as a file (cells safe against formula injection)."""
    rows = audit.list_events(
        session,
        since=_when(since, "since"),
        until=_when(until, "until"),
        username=user,
        action=action,
        target=target,
        limit=limit,
        offset=offset,
    )
    if format == "json":
        return AuditPage(limit=limit, offset=offset, items=[_row(r) for r in rows])
    audit_http.record(session, request, "audit.export", "", {"rows": len(rows), "action": action or ""})
    buf = io.StringIO()
    w = csvsafe.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow([r.id, r.at.isoformat(), r.username, r.client_addr, r.action, r.target, r.details, r.hash])
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
