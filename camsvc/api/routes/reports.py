"""Reports (issue 11): availability, outages, MTTR/MTTA per hamlet and camera for a period, as JSON, CSV,
the print page and PDF, and the public status page's data. The numbers come from camsvc.reports (pure)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import HTMLResponse, JSONResponse

from camsvc.api.deps import SessionDep, SettingsDep
from camsvc.auth.http import public, require
from camsvc.auth.roles import Action, Subject
from camsvc.enums import CameraKind
from camsvc.models import utcnow
from camsvc.reports import render
from camsvc.reports.availability import PeriodError, resolve_period
from camsvc.reports.build import build_report, public_status

router = APIRouter(tags=["reports"])

FORMATS = ("json", "csv", "pdf", "html")


def _bad(param: str, msg: str) -> HTTPException:
    return HTTPException(422, [{"loc": ["query", param], "msg": msg, "type": "value_error"}])


@router.get("/api/reports")
def report(
    session: SessionDep,
    settings: SettingsDep,
    subject: Annotated[Subject, require(Action.UPTIME_VIEW)],
    month: Annotated[
        str | None, Query(max_length=10, description="YYYY-MM, a month in Asia/Ho_Chi_Minh")
    ] = None,
    start: Annotated[
        str | None, Query(max_length=40, description="Local date YYYY-MM-DD or ISO datetime")
    ] = None,
    end: Annotated[
        str | None, Query(max_length=40, description="Local date (included) or ISO datetime (excluded)")
    ] = None,
    hamlet: Annotated[str | None, Query(max_length=100)] = None,
    kind: Annotated[str | None, Query(max_length=20, description="roadside or household")] = None,
    format: Annotated[str, Query(max_length=5, description="json, csv, pdf or html (print page)")] = "json",
    lang: Annotated[str | None, Query(max_length=5, description="vi or en (CSV/PDF/HTML texts)")] = None,
) -> Any:
    """The service report for a period (default: last calendar month) and scope, within the caller's
    hamlets. Availability counts maintenance apart (out of the denominator)."""
    fmt = format.lower()
    if fmt not in FORMATS:
        raise _bad("format", f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    if kind and kind not in {k.value for k in CameraKind}:
        raise _bad("kind", f"kind must be roadside or household, not {kind!r}")
    if lang and lang not in render.LANGUAGES:
        raise _bad("lang", f"lang must be vi or en, not {lang!r}")
    tz = settings.timezone
    now = utcnow()
    try:
        a, b = resolve_period(month, start, end, now, tz)
    except PeriodError as exc:
        raise _bad(exc.param, str(exc)) from None
    rep = build_report(session, a, b, now=now, subject=subject, hamlet=hamlet, kind=kind, tz=tz)
    language = lang or (settings.default_language if settings.default_language in render.LANGUAGES else "vi")
    if fmt == "json":
        return JSONResponse(rep.to_dict(), headers={"Cache-Control": "no-store"})
    if fmt == "html":
        return HTMLResponse(
            render.to_html(rep, language),
            headers={
                "Cache-Control": "no-store",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            },
        )
    if fmt == "csv":
        body: bytes = ("\ufeff" + render.to_csv(rep)).encode("utf-8")  # BOM: Excel opens UTF-8 right
        media = "text/csv; charset=utf-8"
    else:
        body = render.to_pdf(rep, language)
        media = "application/pdf"
    name = render.filename(rep, fmt)
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@router.get("/api/public/status", tags=["public"])
@public
def public_status_data(session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """The public status page's data (settings ``dashboard.public_status``; 404 when off): per hamlet the
    number of cameras, availability over 24 h and 30 days, open incidents (since, how many cameras). No
    camera names, owners, coordinates or pictures."""
    if not settings.dashboard.public_status:
        raise HTTPException(status_code=404, detail="the public status page is not enabled")
    return public_status(session, utcnow(), settings.timezone)
