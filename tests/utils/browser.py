"""The browser in tests: Debian's chromium through Playwright (never a downloaded browser)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from camsvc.bench.common import CHROMIUM, launch_chromium, wait_until


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A Playwright Browser on Debian's chromium; skips the test when it is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


def wait_js(page: Any, expr: str, timeout_s: float = 10.0) -> Any:
    """Poll a JS expression until truthy (Playwright's wait_for_function needs eval, which the CSP forbids)."""
    last: list[Any] = [None]

    def truthy() -> Any:
        last[0] = page.evaluate(expr)
        return last[0]

    if wait_until(truthy, timeout_s, 0.1):
        return last[0]
    value = last[0]
    raise AssertionError(f"timed out after {timeout_s} s waiting for {expr!r} (last value {value!r})")


def open_dash(page: Any, url: str) -> None:
    """Open the dashboard and wait until it says it is ready."""
    page.goto(url)
    page.wait_for_selector('body[data-ready="1"]', state="attached", timeout=20000)
