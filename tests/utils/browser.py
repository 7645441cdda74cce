"""The browser in tests: Debian's chromium through Playwright (never a downloaded browser)."""

from __future__ import annotations

import contextlib
import os
import shutil
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


def open_dash(page: Any, url: str, username: str = "admin") -> None:
    """Open the dashboard (signed in as *username* when the page asks: through /api/auth/login on the
    page's own context, so the cookie is the browser's) and wait until it is ready. The sign-in form itself
    is tested in tests/web/test_auth_ui.py."""
    page.goto(url)
    if "/login" in page.url:
        base = url.split("/", 3)
        origin = "/".join(base[:3])
        r = page.context.request.post(
            origin + "/api/auth/login",
            data={"username": username, "password": PASSWORD},
            headers={"Origin": origin},
        )
        assert r.ok, f"sign-in as {username} failed: {r.status} {r.text()[:200]}"
        page.goto(url)
    try:
        page.wait_for_selector('body[data-ready="1"]', state="attached", timeout=20000)
    except Exception as exc:
        raise AssertionError(f"dashboard not ready at {page.url}: {page.content()[:600]}") from exc


DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def doc_shot(shot: Path, filename: str) -> None:
    """Copy a test's screenshot to docs/img/<filename> when CAMSVC_TEST_DOC_SHOTS=1 (refreshing the pictures in
    docs/dashboard.md); otherwise the screenshot stays in the test's own directory and the checkout is
    left untouched."""
    if os.environ.get("CAMSVC_TEST_DOC_SHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_IMG / filename)
