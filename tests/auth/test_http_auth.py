"""Signing in over HTTP against the real app and a real SQLite file: cookies, CSRF, lockout, tokens, Host."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from camsvc.app import create_app
from camsvc.auth import tokens
from camsvc.auth.http import COOKIE_NAME
from camsvc.auth.models import AuditEvent, User
from camsvc.config import Settings
from camsvc.db import session_scope
from tests.utils.auth import PASSWORD, add_users

BASE = "http://127.0.0.1"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Any]:
    app = create_app(Settings(data_dir=tmp_path / "data"), start_runtime=False)
    with TestClient(app, base_url=BASE):  # runs the lifespan: schema upgraded
        add_users(app.state.engine)
    yield app


def browser(app: Any) -> TestClient:
    """A client that behaves like a browser: no token, follows nothing by itself, sends Origin."""
    return TestClient(app, base_url=BASE, follow_redirects=False, headers={"Origin": BASE})


def login(c: TestClient, username: str = "admin", password: str = PASSWORD) -> Any:
    return c.post("/login", data={"username": username, "password": password, "next": "/?camera=cam-1"})


def audit_actions(app: Any) -> list[str]:
    with Session(app.state.engine) as s:
        return [e.action for e in s.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]


def test_anonymous_page_redirects_to_sign_in_and_api_says_401(app: Any) -> None:
    with browser(app) as c:
        page = c.get("/?lang=en", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == "/login?next=%2F%3Flang%3Den"
        api = c.get("/api/status")
        assert api.status_code == 401 and api.headers["www-authenticate"].startswith("Bearer")
        assert c.get("/login").status_code == 200
        assert c.get("/healthz").status_code == 200
        assert c.get("/openapi.json").status_code == 401  # the route list is for signed-in users too
        assert c.get("/docs", headers={"Accept": "text/html"}).status_code == 303
        assert c.get("/metrics").status_code == 401


def test_sign_in_sets_a_safe_cookie_and_opens_the_dashboard(app: Any) -> None:
    with browser(app) as c:
        r = login(c)
        assert r.status_code == 303 and r.headers["location"] == "/?camera=cam-1"
        cookie = r.headers["set-cookie"]
        assert f"{COOKIE_NAME}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Secure" not in cookie  # plain http public URL; https turns it on (below)
        page = c.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 200 and 'name="csrf-token"' in page.text and "admin (admin)" in page.text
        me = c.get("/api/me").json()
        assert me["username"] == "admin" and me["role"] == "admin" and me["csrf_token"]
    assert audit_actions(app)[-1] == "auth.login"


def test_cookie_is_secure_behind_https(tmp_path: Path) -> None:
    app = create_app(
        Settings(data_dir=tmp_path / "d", public_url="https://cams.example.test"), start_runtime=False
    )
    with TestClient(app, base_url="https://cams.example.test", follow_redirects=False) as c:
        add_users(app.state.engine)
        r = c.post(
            "/login",
            data={"username": "viewer", "password": PASSWORD},
            headers={"Origin": "https://cams.example.test"},
        )
        assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]


def test_next_never_leaves_the_service(app: Any) -> None:
    with browser(app) as c:
        for evil in ("https://evil.test/", "//evil.test/x", "/\\evil.test"):
            r = c.post("/login", data={"username": "viewer", "password": PASSWORD, "next": evil})
            assert r.status_code == 303 and r.headers["location"] == "/", evil


def test_cookie_post_without_csrf_token_is_refused(app: Any) -> None:
    with browser(app) as c:
        login(c, "technician")
        csrf = c.get("/api/me").json()["csrf_token"]
        body = {"by": "Kỹ thuật viên"}
        no_token = c.post("/api/outages/1/ack", json=body)
        assert no_token.status_code == 403 and "CSRF" in no_token.json()["detail"]
        wrong = c.post("/api/outages/1/ack", json=body, headers={"X-CSRF-Token": "nope"})
        assert wrong.status_code == 403
        cross = c.post(
            "/api/outages/1/ack", json=body, headers={"X-CSRF-Token": csrf, "Origin": "http://evil.test"}
        )
        assert cross.status_code == 403 and "cross-site" in cross.json()["detail"]
        ok = c.post("/api/outages/1/ack", json=body, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 404  # past authentication and CSRF: the outage does not exist


def test_sign_out_revokes_the_session_everywhere(app: Any) -> None:
    with browser(app) as c:
        login(c)
        stolen = c.cookies.get(COOKIE_NAME)
        csrf = c.get("/api/me").json()["csrf_token"]
        out = c.post("/logout", data={"csrf_token": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/login"
    with browser(app) as other:
        other.cookies.set(COOKIE_NAME, stolen or "")
        assert other.get("/api/status").status_code == 401


def test_failed_sign_ins_lock_the_user_and_the_lock_survives_a_restart(app: Any, tmp_path: Path) -> None:
    with browser(app) as c:
        codes = [login(c, "viewer", "wrong-password!!").status_code for _ in range(6)]
        assert codes[:5] == [401] * 5 and codes[5] == 429
        locked = login(c, "viewer", PASSWORD)  # even the right password waits
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert audit_actions(app).count("auth.login_failed") == 5
    restarted = create_app(Settings(data_dir=tmp_path / "data"), start_runtime=False)
    with browser(restarted) as c:
        assert login(c, "viewer", PASSWORD).status_code == 429
        assert login(c, "officer", PASSWORD).status_code == 303  # another user is not locked


def test_api_login_returns_the_csrf_token_and_refuses_bad_passwords(app: Any) -> None:
    with browser(app) as c:
        bad = c.post("/api/auth/login", json={"username": "admin", "password": "nope-nope-nope"})
        assert bad.status_code == 401 and bad.json()["detail"] == "wrong username or password"
        good = c.post("/api/auth/login", json={"username": "officer", "password": PASSWORD})
        assert good.status_code == 200 and good.json()["role"] == "officer" and good.json()["csrf_token"]
        assert c.get("/api/status").status_code == 200


def test_a_revoked_token_and_a_disabled_user_stop_at_once(app: Any) -> None:
    engine = app.state.engine
    with session_scope(engine) as s:
        user = s.exec(select(User).where(User.username == "technician")).one()
        raw, row = tokens.create_token(s, user, "script")
        token_id = row.id
    with TestClient(app, base_url=BASE, headers={"Authorization": f"Bearer {raw}"}) as c:
        assert c.get("/api/status").status_code == 200
        assert c.post("/api/outages/1/ack", json={"by": "x"}).status_code == 404  # no CSRF for tokens
        with session_scope(engine) as s:
            assert token_id is not None and tokens.revoke(s, token_id, dt.datetime.now(dt.UTC))
        assert c.get("/api/status").status_code == 401
        assert (
            c.get("/api/status", headers={"Authorization": "Bearer cs_not-a-real-token-at-all"}).status_code
            == 401
        )


def test_unknown_host_header_is_refused(app: Any) -> None:
    with TestClient(app, base_url="http://rebound.evil.test") as c:
        assert c.get("/healthz").status_code == 400
    with TestClient(app, base_url="http://localhost") as c:
        assert c.get("/healthz").status_code == 200
