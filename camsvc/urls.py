"""Stream URL rules, in one place: which schemes camsvc accepts and how credentials are split out."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

ALLOWED_SCHEMES = ("rtsp", "rtsps", "http", "https")


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
    return url


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``rtsp://u:p@h/x`` -> (``rtsp://h/x``, u, p). URLs without userinfo come back unchanged."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, pw = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, unquote(user) or None, unquote(pw) or None
