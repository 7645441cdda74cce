"""Sign-in and sign-out: ``/login`` (page and form), ``/logout``, ``/api/auth/login`` (JSON), ``/api/me``.

Failed attempts are throttled per username and per client address (``camsvc.auth.throttle``, in the
database so a restart keeps the limit); every success and failure is in the audit log.
"""

from __future__ import annotations

import functools
import logging
from typing import Annotated
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from camsvc.api.deps import SessionDep, SettingsDep
from camsvc.auth import audit, passwords, sessions, throttle
from camsvc.auth.http import COOKIE_NAME, CurrentSubject, public, same_origin
from camsvc.auth.models import User
from camsvc.auth.roles import actions_for
from camsvc.config import Settings
from camsvc.models import utcnow

log = logging.getLogger(__name__)

router = APIRouter(tags=["auth"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class Me(BaseModel):
    username: str
    display_name: str
    role: str
    hamlets: list[str]
    via: str
    csrf_token: str | None
    actions: list[str]


class LoginFailed(Exception):
    def __init__(self, message: str, status: int = 401, retry_after: float | None = None):
        super().__init__(message)
        self.message, self.status, self.retry_after = message, status, retry_after


def client_addr(request: Request) -> str:
    return request.client.host if request.client else ""


def safe_next(value: str | None) -> str:
    """Only a path on this service (no scheme, no host, no ``//``): never an open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


def sign_in(
    db: Session, settings: Settings, request: Request, username: str, password: str
) -> tuple[User, str]:
    """Check throttling and the password; open a session. Raises ``LoginFailed``."""
    now = utcnow()
    addr = client_addr(request)
    keys = throttle.keys_for(username, addr)
    wait = throttle.check_locked(db, keys, now)
    if wait > 0:
        audit.append(
            db, now, username, addr, "auth.login_refused", f"user:{username}", {"reason": "throttled"}
        )
        raise LoginFailed(f"too many failed sign-ins: try again in {int(wait)} s", 429, wait)
    user = db.exec(select(User).where(User.username == username)).first()
    ok, new_hash = passwords.verify_and_update(password, user.password_hash if user else None)
    if user is None or not ok or not user.active:
        throttle.record_failure(db, keys, now)
        reason = "unknown user" if user is None else ("disabled" if not user.active else "wrong password")
        audit.append(db, now, username, addr, "auth.login_failed", f"user:{username}", {"reason": reason})
        raise LoginFailed("wrong username or password")
    if new_hash:
        user.password_hash = new_hash
    throttle.record_success(db, keys, now)
    user.last_login_at = now
    db.add(user)
    raw = sessions.create_session(
        db,
        user,
        addr,
        request.headers.get("user-agent", ""),
        now,
        settings.auth.session_idle_s,
        settings.auth.session_absolute_s,
    )
    audit.append(db, now, user.username, addr, "auth.login", f"user:{user.username}", {})
    return user, raw


def set_session_cookie(response: Response, settings: Settings, raw: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        raw,
        max_age=int(settings.auth.session_absolute_s),
        httponly=True,
        samesite="lax",
        secure=settings.base_url.startswith("https://"),
        path="/",
    )


@functools.cache
def _page_files() -> tuple[Jinja2Templates, dict[str, dict[str, str]]]:
    """The sign-in page's template and the dashboard's translations (one set of words for both)."""
    from camsvc.web.routes import WEB_DIR, load_translations

    if WEB_DIR is None:
        raise RuntimeError("dashboard files (web/) not found: the sign-in page cannot be shown")
    return Jinja2Templates(directory=WEB_DIR / "templates"), load_translations(WEB_DIR)


def translations() -> dict[str, dict[str, str]]:
    return _page_files()[1]


def login_page(
    request: Request, settings: Settings, lang: str | None, nxt: str, error: str = "", status: int = 200
) -> HTMLResponse:
    from camsvc.web.routes import pick_language  # the dashboard's language rule, one definition

    templates, words = _page_files()
    chosen = pick_language(lang, settings.default_language)
    tr = words[chosen]
    return templates.TemplateResponse(
        request,
        "login.html",
        {
            "lang": chosen,
            "t": lambda k: tr.get(k, k),
            "next": nxt,
            "error": error,
            "other_lang": "en" if chosen == "vi" else "vi",
        },
        status_code=status,
    )


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
@public
def login_form(
    request: Request,
    settings: SettingsDep,
    lang: Annotated[str | None, Query(max_length=5)] = None,
    next: Annotated[str | None, Query(max_length=2000)] = None,
) -> HTMLResponse:
    nxt = safe_next(next)
    if lang is None:  # the language the user was reading in: ?lang= of the page that sent them here
        wanted = parse_qs(urlsplit(nxt).query).get("lang")
        lang = wanted[0] if wanted else None
    return login_page(request, settings, lang, nxt)


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
@public
def login_submit(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form(max_length=2000)] = "/",
    lang: Annotated[str | None, Form(max_length=5)] = None,
) -> Response:
    if not same_origin(request):
        raise HTTPException(403, "cross-site sign-in refused")
    try:
        _user, raw = sign_in(db, settings, request, username.strip(), password)
    except LoginFailed as exc:
        db.commit()  # the failure counts and the audit row stay even though we answer with an error
        tr = translations()
        key = "login.throttled" if exc.status == 429 else "login.failed"
        chosen = lang if lang in tr else settings.default_language
        msg = tr[chosen].get(key, exc.message)
        if exc.status == 429:
            msg = f"{msg} ({int(exc.retry_after or 0)} s)"
        page = login_page(request, settings, lang, safe_next(next), msg, exc.status)
        if exc.retry_after:
            page.headers["Retry-After"] = str(int(exc.retry_after))
        return page
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, settings, raw)
    return response


@router.post("/api/auth/login", response_model=Me)
@public
def api_login(request: Request, body: LoginRequest, db: SessionDep, settings: SettingsDep) -> Response:
    """Sign in from a script or the browser; sets the session cookie and returns the CSRF token."""
    if not same_origin(request):
        raise HTTPException(403, "cross-site sign-in refused")
    try:
        user, raw = sign_in(db, settings, request, body.username.strip(), body.password)
    except LoginFailed as exc:
        db.commit()
        headers = {"Retry-After": str(int(exc.retry_after))} if exc.retry_after else None
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=headers)
    validated = sessions.validate(db, raw, utcnow())
    assert validated is not None
    me = _me(user, validated[1].csrf_token, "session", user.role)
    response = JSONResponse(me.model_dump())
    set_session_cookie(response, settings, raw)
    return response


def _me(user: User, csrf_token: str | None, via: str, role: str) -> Me:
    return Me(
        username=user.username,
        display_name=user.display_name or user.username,
        role=str(role),
        hamlets=list(user.hamlets or []),
        via=via,
        csrf_token=csrf_token,
        actions=[a.value for a in actions_for(role)],
    )


@router.get("/api/me", response_model=Me)
def me(request: Request, subject: CurrentSubject, db: SessionDep) -> Me:
    """Who you are: role, hamlet scope, what you may do, and (for a browser session) the CSRF token."""
    user = db.get(User, subject.user_id)
    if user is None:
        raise HTTPException(401, "user no longer exists")
    sess = getattr(request.state, "user_session", None)
    return _me(user, sess.csrf_token if sess else None, subject.via, subject.role.value)


@router.post("/logout", include_in_schema=False)
def logout(request: Request, db: SessionDep, subject: CurrentSubject) -> Response:
    """Revoke this session (the cookie stops working everywhere at once) and go to the sign-in page."""
    now = utcnow()
    sessions.revoke(db, request.cookies.get(COOKIE_NAME), now)
    audit.append(
        db, now, subject.username, client_addr(request), "auth.logout", f"user:{subject.username}", {}
    )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


def unauthenticated_response(request: Request, reason: str) -> Response:
    """What an anonymous caller gets: a redirect for a page, 401 for everything else."""
    from camsvc.auth.http import wants_page

    if wants_page(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return JSONResponse(
        {"detail": reason}, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="camsvc"'}
    )
