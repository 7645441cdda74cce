"""The browser in tests: Debian's chromium through Playwright (never a downloaded browser)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from camsvc.bench.common import CHROMIUM, launch_chromium, wait_until
from tests.utils.auth import PASSWORD


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


def sign_in(page: Any, base_url: str, username: str = "admin", password: str = PASSWORD) -> None:
    """Sign in through the real sign-in form (users from tests.utils.auth.add_users)."""
    page.goto(base_url.rstrip("/") + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_load_state()


def open_dash(page: Any, url: str, username: str = "admin") -> None:
    """Open the dashboard (signing in as *username* when the page asks) and wait until it is ready."""
    page.goto(url)
    if "/login" in page.url:
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(lambda u: "/login" not in u, timeout=30000, wait_until="commit")
    try:
        page.wait_for_selector('body[data-ready="1"]', state="attached", timeout=20000)
    except Exception as exc:
        raise AssertionError(f"dashboard not ready at {page.url}: {page.content()[:600]}") from exc
