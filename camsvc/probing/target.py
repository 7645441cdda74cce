"""Parse and check a camera URL before anything touches the network. Pure: no I/O.

A :class:`Target` keeps the credentials apart from the URL so each client can pass them its own way
(FFmpeg wants them in the URL, httpx and the RTSP check want them separately) and everything shown to a
person uses :attr:`Target.redacted`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

from camsvc.probing.result import StreamKind
from camsvc.redact import redact_url

SCHEMES = ("rtsp", "rtsps", "http", "https")
DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
_KIND_SCHEMES = {
    StreamKind.RTSP: ("rtsp", "rtsps"),
    StreamKind.MJPEG: ("http", "https"),
    StreamKind.SNAPSHOT: ("http", "https"),
}


class InvalidURL(ValueError):
    """The URL cannot be probed; the message is safe to show (no credentials)."""


@dataclass(frozen=True)
class Target:
    url: str = field(repr=False)  # as given, credentials included: for FFmpeg only, never shown
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def redacted(self) -> str:
        return redact_url(self.url)

    @property
    def bare_url(self) -> str:
        """The URL without userinfo (for clients given the credentials separately)."""
        parts = urlsplit(self.url)
        netloc = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))

    @property
    def request_uri(self) -> str:
        """Path and query as sent in a request line (``/`` when empty)."""
        parts = urlsplit(self.url)
        uri = parts.path or "/"
        return f"{uri}?{parts.query}" if parts.query else uri

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.password,) if s)

    @property
    def is_rtsp(self) -> bool:
        return self.scheme in ("rtsp", "rtsps")

    @property
    def tls(self) -> bool:
        return self.scheme in ("rtsps", "https")


def parse_target(url: str, kind: StreamKind | None = None) -> Target:
    """Check *url* (and that it fits *kind*); raise :class:`InvalidURL` naming what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidURL("empty URL")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise InvalidURL(f"URL contains spaces or control characters: {redact_url(url)!r}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"malformed URL {redact_url(url)!r}: {_safe(str(exc), url)}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        shown = scheme or "none"
        raise InvalidURL(f"unsupported scheme {shown!r} (use one of {', '.join(SCHEMES)})")
    host = parts.hostname
    if not host:
        raise InvalidURL(f"no host in URL {redact_url(url)!r}")
    if port == 0:
        raise InvalidURL(f"port 0 in URL {redact_url(url)!r}")
    if kind is not None and scheme not in _KIND_SCHEMES[kind]:
        raise InvalidURL(
            f"kind {kind.value!r} needs a {' or '.join(_KIND_SCHEMES[kind])} URL, got {scheme}://"
        )
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port or DEFAULT_PORTS[scheme],
        username=username or None,
        password=password or None,
    )


def _safe(message: str, url: str) -> str:
    from camsvc.redact import redact_text

    return redact_text(message.replace(url, redact_url(url)))
