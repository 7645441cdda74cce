"""Keep secrets out of everything a person or a log can see.

One place for it: URLs are shown as ``rtsp://admin:***@host/path`` and ``snapshot.cgi?usr=***&pwd=***``;
free text (exception messages from OpenCV/FFmpeg, which like to echo the URL they failed on) is scrubbed of
any userinfo, of credential-like query values and of known secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

_USERINFO_RE = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]*)@")
_QUERY_SECRET_RE = re.compile(
    r"(?i)([?&;](?:password|passwd|pwd|pass|loginpas|loginuse|usr|user|username|token|key|auth|secret)=)"
    r"[^&\s#\"'<>]+"
)


def redact_url(url: str) -> str:
    """Return *url* with its password (and secret-looking query values) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if user else f"***@{host}"
    redacted = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return _QUERY_SECRET_RE.sub(r"\1***", redacted)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Scrub URL userinfo, credential-like query values and every given secret out of free text."""
    out = _USERINFO_RE.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:***@", text)
    out = _QUERY_SECRET_RE.sub(r"\1***", out)
    for s in secrets:
        if s and len(s) >= 3:
            out = out.replace(s, "***")
            if quote(s, safe="") != s:
                out = out.replace(quote(s, safe=""), "***")
    return out


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """Insert credentials into a URL for the prober (the registry stores them apart from URLs).

    Empty credential parameters left in the stored URL by :func:`camsvc.urls.split_credentials`
    (``?usr=&pwd=``) are filled in; the credentials also go in as userinfo, which clients only answer a
    server's challenge with.
    """
    if not username and not password:
        return url
    from camsvc.urls import query_credential_kind

    parts = urlsplit(url)
    query = parts.query
    if query:
        filled = []
        for piece in query.split("&"):
            raw_key, eq, raw_value = piece.partition("=")
            kind = query_credential_kind(unquote_plus(raw_key))
            value = username if kind == "user" else password if kind == "password" else None
            if eq and not raw_value and value:
                piece = f"{raw_key}={quote(value, safe='')}"
            filled.append(piece)
        query = "&".join(filled)
    host = parts.netloc.rpartition("@")[2]
    userinfo = quote(username or "", safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, query, parts.fragment))
