"""Fixtures for the hardening tests: real servers on 127.0.0.1, the real app, the policy reset per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import Session

from camsvc import netpolicy
from camsvc.config import ProbeSettings
from camsvc.probing.result import ProbeResult, StreamKind
from camsvc.probing.stream import probe
from camsvc.runtime.scheduler import camera_entries
from tests.probing.conftest import quick, serve  # noqa: F401 - fixtures
from tests.probing.servers import TinyServer, footage_jpeg, header, http_reply, read_head

PASSWORD = "Gr3en-Tea-4711"

Serve = Callable[[Any], TinyServer]


@pytest.fixture(autouse=True)
def _default_policy() -> Iterator[None]:
    netpolicy.configure(None)
    yield
    netpolicy.configure(None)


def probe_camera(engine: Any, camera_id: str, settings: ProbeSettings | None = None) -> ProbeResult:
    """Probe a registered camera the way the scheduler does (its URL with the stored credentials)."""
    with Session(engine) as s:
        entry = camera_entries(s, 60.0)[camera_id]
    kind = StreamKind(entry.stream_kind) if entry.stream_kind else None
    return probe(entry.url, kind=kind, settings=settings or ProbeSettings(budget_s=4.0), keep_frames=False)


def authorizations(server: TinyServer) -> list[str | None]:
    """The Authorization header of every request the server received, in order."""
    return [header(h, "Authorization") for h in server.requests]


def query_camera(user: str, password: str, user_key: str = "usr", pw_key: str = "pwd") -> Any:
    """An HTTP snapshot camera that wants its credentials in the query string (?usr=..&pwd=..)."""
    jpeg = footage_jpeg(width=320)

    def handler(conn: Any, server: TinyServer) -> None:
        head = read_head(conn, server)
        if not head:
            return
        target = head.split(b" ", 2)[1].decode()
        q = {k.lower(): v for k, v in parse_qs(urlsplit(target).query).items()}
        if q.get(user_key.lower()) == [user] and q.get(pw_key.lower()) == [password]:
            conn.sendall(http_reply("200 OK", {"Content-Type": "image/jpeg"}, jpeg))
        else:
            conn.sendall(http_reply("401 Unauthorized", {"Content-Type": "text/plain"}, b"bad login"))

    return handler
