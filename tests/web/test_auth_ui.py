"""Signing in and out in Debian's chromium against the real app: the form, the map, the sign-out button."""

from __future__ import annotations

from typing import Any

import pytest

from tests.utils.auth import PASSWORD
from tests.utils.browser import open_dash, wait_js
from tests.web.conftest import CAMERAS, Dash

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_sign_in_see_the_map_sign_out(dash: Dash, page_factory: Any, tmp_path: Any) -> None:
    # a poll in flight while signing out is answered 401 (and sends the page to sign-in): expected here
    page = page_factory(expected_console=("401",))
    page.goto(dash.url + "/?lang=en")
    assert "/login" in page.url  # anonymous: the sign-in page, not the map
    page.fill("#username", "viewer")
    page.fill("#password", "not-the-password")
    page.click("#login-submit")
    assert page.locator("#login-error").inner_text() == "Wrong username or password"
    page.fill("#username", "viewer")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector('body[data-ready="1"]', state="attached", timeout=20000)
    assert page.url.endswith("/?lang=en")  # back where the user wanted to go
    wait_js(page, f"camsvc.markerCount() === {CAMERAS}", 20)
    assert "viewer (viewer)" in page.locator("#whoami").inner_text()
    page.screenshot(path=str(tmp_path / "signed-in.png"))
    page.click("#signout")
    page.wait_for_url(lambda u: "/login" in u, timeout=30000, wait_until="commit")
    page.goto(dash.url + "/")
    assert "/login" in page.url  # the session is gone


def test_sign_in_page_on_a_phone_in_vietnamese(dash: Dash, page_factory: Any, tmp_path: Any) -> None:
    page = page_factory(390, 844)
    page.goto(dash.url + "/login")
    assert page.locator("#login-submit").inner_text() == "Đăng nhập"
    box = page.locator("#login-submit").bounding_box()
    assert box is not None and box["width"] <= 390
    page.screenshot(path=str(tmp_path / "login-phone.png"))


def test_a_viewer_sees_no_household_picture(dash: Dash, page_factory: Any) -> None:
    from sqlmodel import Session, select

    from camsvc.models import Camera, CameraKind, Thumbnail

    with Session(dash.engine) as s:
        pictured = set(s.exec(select(Thumbnail.camera_id)).all())
        home = next(
            c.id
            for c in s.exec(
                select(Camera).where(Camera.kind == CameraKind.HOUSEHOLD).order_by(Camera.id)
            ).all()
            if c.id in pictured
        )
    asked: list[str] = []
    for user, shown in (("viewer", False), ("admin", True)):
        page = page_factory()
        page.on(
            "request", lambda r: asked.append(r.url) if "thumbnail" in r.url or "/pictures" in r.url else None
        )
        open_dash(page, f"{dash.url}/?camera={home}", username=user)
        page.locator("#details .tbl tbody tr").first.wait_for()
        assert (page.locator("#details .pics img").count() > 0) is shown, user
        if not shown:
            assert asked == [], asked  # not even requested: the role may not see them
