"""Fixtures for the prober's tests: quick probe settings and tiny servers that are always stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from camsvc.config import ProbeSettings
from tests.probing.servers import Handler, TinyServer

PASSWORD = "Tr0ub4dor&3-secret"


@pytest.fixture
def quick() -> ProbeSettings:
    """Short limits so failure cases end fast (a hang costs the whole budget)."""
    return ProbeSettings(budget_s=3.0, open_timeout_s=1.5, read_timeout_s=0.9, window_s=0.6, max_frames=6)


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], TinyServer]]:
    started: list[TinyServer] = []

    def start(handler: Handler) -> TinyServer:
        srv = TinyServer(handler)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()
