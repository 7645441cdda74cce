"""Authentication on the HTTP side: who is calling, and the one app-wide rule that a route needs a user.

- ``enforce`` is added to the app as a global dependency (``create_app``): every route requires a signed-in
  user (session cookie) or an API token (``Authorization: Bearer cs_...``) unless its endpoint is marked
  ``@public``. Anonymous calls get 401 (API, feeds, files) or a redirect to ``/login`` (pages).
- Cookie-authenticated unsafe requests (POST, PUT, PATCH, DELETE) must carry the session's CSRF token
  (``X-CSRF-Token`` header, or the ``csrf_token`` form field) and, where the browser sends one, an Origin
  of this service. Token-authenticated calls need no CSRF token (no ambient credentials).
- ``require(action)`` is the per-route role check: ``dependencies=[require(Action.CAMERAS)]`` or a parameter
  ``subject: Annotated[Subject, require(Action.ACKNOWLEDGE)]``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from camsvc.auth import csrf, sessions, tokens
from camsvc.auth.roles import Action, Role, Subject, can, parse_role, required_role
from camsvc.models import utcnow

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC_ATTR = "__camsvc_public__"
COOKIE_NAME = "camsvc_session"


def public(fn: F) -> F:
    """Mark an endpoint as reachable without signing in (the sign-in page, ``/healthz``, ack links)."""
    setattr(fn, PUBLIC_ATTR, True)
    return fn


def is_public(endpoint: Any) -> bool:
    return bool(getattr(endpoint, PUBLIC_ATTR, False))


class NotAuthenticated(Exception):
    """No (valid) session or token: 401 for the API, a redirect to the sign-in page for pages."""

    def __init__(self, reason: str = "sign-in required"):
        super().__init__(reason)
        self.reason = reason


def wants_page(request: Request) -> bool:
    """A browser navigating to a page (not the API, a feed, a file or a script)."""
    path = request.url.path
    if path.startswith(("/api/", "/web/", "/metrics")) or request.method not in ("GET", "HEAD"):
        return False
    return "text/html" in request.headers.get("accept", "")


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, raw = value.partition(" ")
    return raw.strip() if scheme.lower() == "bearer" and raw.strip() else None


def identify(request: Request, db: Session, now: dt.datetime) -> Subject | None:
    """The caller of this request, or None. Cached on ``request.state`` for the request's lifetime."""
    cached = getattr(request.state, "subject", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    subject: Subject | None = None
    raw = _bearer(request)
    if raw is not None:
        found = tokens.authenticate(db, raw, now)
        if found is not None:
            user, role = found
            subject = Subject(user.username, role, list(user.hamlets or []), user.id, via="token")
    else:
        cookie = request.cookies.get(COOKIE_NAME)
        ok = sessions.validate(db, cookie, now) if cookie else None
        if ok is not None:
            user, sess = ok
            subject = Subject(user.username, parse_role(user.role), list(user.hamlets or []), user.id)
            request.state.user_session = sess
    request.state.subject = subject
    return subject


def _identify_in_session(request: Request) -> Subject | None:
    with Session(request.app.state.engine, expire_on_commit=False) as db:
        subject = identify(request, db, utcnow())
        db.commit()  # sliding idle expiry / last_used_at (rate-limited inside)
    return subject


async def enforce(request: Request) -> None:
    """The app-wide dependency: a signed-in user for every route not marked ``@public``; CSRF for cookies."""
    if is_public(request.scope.get("endpoint")):
        return
    subject = await run_in_threadpool(_identify_in_session, request)
    if subject is None:
        raise NotAuthenticated()
    if subject.via == "session" and csrf.needs_csrf(request.method, cookie_authenticated=True):
        submitted = request.headers.get(csrf.HEADER)
        if submitted is None and "form" in request.headers.get("content-type", ""):
            form = await request.form()  # Starlette caches it: the route reads the same form
            value = form.get(csrf.FORM_FIELD)
            submitted = value if isinstance(value, str) else None
        check_csrf(request, submitted)


def same_origin(request: Request) -> bool:
    """The browser's Origin/Referer is this service (as reached, or its configured public URL)."""
    origin, referer = request.headers.get("origin"), request.headers.get("referer")
    return csrf.origin_ok(origin, referer, str(request.base_url)) or csrf.origin_ok(
        origin, referer, request.app.state.settings.base_url
    )


def check_csrf(request: Request, submitted: str | None) -> None:
    sess = getattr(request.state, "user_session", None)
    if not same_origin(request):
        raise HTTPException(403, "cross-site request refused (Origin does not match this service)")
    if sess is None or not csrf.check(sess, submitted):
        raise HTTPException(403, "CSRF token missing or wrong: reload the page and try again")


def current_subject(request: Request) -> Subject:
    subject = getattr(request.state, "subject", None)
    if subject is None:  # only on a public route that asks who is calling
        raise NotAuthenticated()
    return subject  # type: ignore[no-any-return]


CurrentSubject = Annotated[Subject, Depends(current_subject)]


def optional_subject(request: Request) -> Subject | None:
    return getattr(request.state, "subject", None)


def require(action: str | Action) -> Any:
    """A dependency refusing (403) callers whose role is below what *action* needs."""
    need = required_role(action)  # fails at import for an unknown action name

    def dependency(subject: CurrentSubject) -> Subject:
        if not can(subject.role, action):
            raise HTTPException(403, f"{action} needs the role {need.value} (you are {subject.role.value})")
        return subject

    dependency.__name__ = f"require_{Action(action).name.lower()}"
    dependency.__camsvc_role__ = need  # type: ignore[attr-defined]
    return Depends(dependency)


def role_of(route: Any) -> Role | None:
    """The role a route demands (for the route table in docs and tests), None when any user will do."""
    dependant = getattr(route, "dependant", None)
    best: Role | None = None
    stack = list(dependant.dependencies) if dependant else []
    while stack:
        dep = stack.pop()
        role = getattr(dep.call, "__camsvc_role__", None)
        if role is not None and (best is None or role > best):
            best = role
        stack.extend(dep.dependencies)
    return best
