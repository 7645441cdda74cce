"""CSRF protection for cookie-authenticated state changes (Django's rules, without its middleware).

Each ``UserSession`` holds a random ``csrf_token`` (made at sign-in). Pages put it in forms (field
``csrf_token``) and the dashboard's JavaScript sends it as the ``X-CSRF-Token`` header. A request needs the
check when it is authenticated by the session cookie and its method is not safe (not GET/HEAD/OPTIONS/TRACE);
bearer-token requests do not (a browser never adds an Authorization header on its own). SameSite=Lax on the
cookie is a second line, not the only one.

``origin_ok`` is the extra check Django does for HTTPS: a present ``Origin`` (or, lacking it, ``Referer``)
must be the service's own origin.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from camsvc.auth._hashing import new_secret
from camsvc.auth.models import UserSession

HEADER = "X-CSRF-Token"
FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def new_token() -> str:
    return new_secret()


def needs_csrf(method: str, cookie_authenticated: bool) -> bool:
    return cookie_authenticated and method.upper() not in SAFE_METHODS


def check(session: UserSession, submitted: str | None) -> bool:
    """Whether *submitted* is the session's CSRF token (constant-time comparison)."""
    if not submitted or not session.csrf_token:
        return False
    return hmac.compare_digest(submitted.encode("utf-8"), session.csrf_token.encode("utf-8"))


def _origin(url: str) -> tuple[str, str] | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    try:
        port = parts.port or default
    except ValueError:
        return None
    return parts.scheme.lower(), f"{(parts.hostname or '').lower()}:{port}"


def origin_ok(origin: str | None, referer: str | None, expected_base_url: str) -> bool:
    """True when the request's Origin (else Referer) is *expected_base_url*'s origin, or when neither header
    is present (non-browser clients; the token check still applies)."""
    seen = origin if origin and origin != "null" else referer
    if not seen:
        return origin != "null"
    got, want = _origin(seen), _origin(expected_base_url)
    return got is not None and got == want
