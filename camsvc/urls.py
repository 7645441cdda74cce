"""Stream URL rules, in one place: which schemes camsvc accepts and how credentials are split out.

Credentials come in two shapes: userinfo (``rtsp://user:pass@host/...``) and query parameters that many
cheap cameras use (``snapshot.cgi?loginuse=admin&loginpas=secret``, ``?usr=..&pwd=..``). Both are moved out
of the stored URL into the camera's secret. A query credential keeps its parameter in the stored URL with
an empty value (``?usr=&pwd=``), so the prober knows where to put it back (:func:`camsvc.redact.with_credentials`)
and the URL people see and export holds no secret.
"""

from __future__ import annotations

from urllib.parse import unquote, unquote_plus, urlsplit, urlunsplit

ALLOWED_SCHEMES = ("rtsp", "rtsps", "http", "https")
DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
# Query parameters that carry credentials (compared case-insensitively).
QUERY_USER_KEYS = frozenset({"usr", "user", "username", "loginuse"})
QUERY_PASSWORD_KEYS = frozenset({"pwd", "password", "passwd", "pass", "loginpas", "token", "auth"})


class InvalidURL(ValueError):
    pass


def check_stream_url(url: str) -> str:
    """Return the URL stripped of spaces, or raise InvalidURL naming what is wrong (never echoing secrets)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a non-numeric port
    except ValueError as exc:
        raise InvalidURL(f"malformed URL ({exc})") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise InvalidURL(
            f"scheme must be one of {', '.join(ALLOWED_SCHEMES)}, not {parts.scheme or 'none'!r}"
        )
    if not parts.hostname:
        raise InvalidURL("URL has no host")
    if port is not None and not 0 < port < 65536:
        raise InvalidURL("port out of range")
    split_credentials(url)  # one set of credentials per URL
    return url


def endpoint(url: str) -> tuple[str, int] | None:
    """``(host, port)`` a URL connects to (default port by scheme), or ``None`` for an empty/bad URL."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    return host.lower(), port or DEFAULT_PORTS.get(parts.scheme.lower(), 0)


def query_credential_kind(key: str) -> str | None:
    """``"user"``, ``"password"`` or ``None`` for a query parameter name."""
    k = key.lower()
    if k in QUERY_USER_KEYS:
        return "user"
    if k in QUERY_PASSWORD_KEYS:
        return "password"
    return None


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``rtsp://u:p@h/x`` -> (``rtsp://h/x``, u, p); ``http://h/s?usr=u&pwd=p`` -> (``http://h/s?usr=&pwd=``,
    u, p). URLs without credentials come back unchanged. Two different passwords (or user names) in one
    URL raise InvalidURL: a camera has one set of credentials."""
    parts = urlsplit(url)
    users: list[str] = []
    passwords: list[str] = []
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, _, pw = userinfo.partition(":")
        users.append(unquote(user))
        passwords.append(unquote(pw))
    query = parts.query
    if query:
        kept = []
        for piece in query.split("&"):
            raw_key, eq, raw_value = piece.partition("=")
            kind = query_credential_kind(unquote_plus(raw_key))
            if kind and eq and raw_value:
                (users if kind == "user" else passwords).append(unquote_plus(raw_value))
                piece = f"{raw_key}="
            kept.append(piece)
        query = "&".join(kept)
    users = [u for u in users if u]
    passwords = [p for p in passwords if p]
    if len(set(users)) > 1:
        raise InvalidURL("the URL names two different user names (userinfo / query): give one")
    if len(set(passwords)) > 1:
        raise InvalidURL("the URL holds two different passwords (userinfo / query): give one")
    if netloc == parts.netloc and query == parts.query:
        return url, None, None
    clean = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return clean, (users[0] if users else None), (passwords[0] if passwords else None)
