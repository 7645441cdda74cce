"""Every route of the app, enumerated: an anonymous caller is refused (401, or a redirect to sign-in for a
page) unless the route is on the explicit public list, and every route that changes something demands a
role above viewer unless it is listed here with the reason. A new route that forgets fails this test."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from camsvc.app import create_app
from camsvc.auth.http import is_public, role_of
from camsvc.auth.roles import Role
from camsvc.config import Settings

PUBLIC = {  # (method, path): why anyone may call it
    ("GET", "/healthz"): "load balancers and the dead-man check",
    ("GET", "/login"): "the sign-in page",
    ("POST", "/login"): "signing in",
    ("POST", "/api/auth/login"): "signing in from a script",
    ("GET", "/ack/{token}"): "the signed link in an alert message (bound to its contact, expires)",
    ("POST", "/ack/{token}"): "the signed link's button",
    ("GET", "/status"): "the optional public status page (off by default: 404), no pictures or names",
    (
        "GET",
        "/api/public/status",
    ): "the public status page's data (off by default: 404): per-hamlet counts only",
}
WRITES_ANY_USER = {  # (method, path): why a viewer may call it
    ("POST", "/logout"): "everyone may sign out",
}
STATIC_MOUNTS = ("/static/",)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    app = create_app(Settings(data_dir=Path(tmp_path_factory.mktemp("routes")) / "data"), start_runtime=False)
    with TestClient(app, base_url="http://127.0.0.1"):
        pass  # schema upgraded
    return app


def _walk(routes: list[Any]) -> list[Any]:
    """The app's routes with included routers opened up (FastAPI keeps them as included-router nodes)."""
    out: list[Any] = []
    for r in routes:
        inner = getattr(r, "original_router", None)
        out.extend(_walk(inner.routes) if inner is not None else [r])
    return out


def _routes(app: Any) -> list[tuple[str, str, Any]]:
    out = []
    for r in _walk(app.routes):
        if isinstance(r, APIRoute | Route) and not isinstance(r, Mount):
            for m in sorted(r.methods or []):
                if m != "HEAD":
                    out.append((m, r.path, r))
    return out


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_the_app_has_the_routes_we_think() -> None:
    app = create_app(Settings(data_dir=Path("/nonexistent-not-used")), start_runtime=False)
    assert len(_routes(app)) > 60


def test_anonymous_callers_are_refused_everywhere_but_the_public_routes(app: Any) -> None:
    found_public = set()
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as c:
        for method, path, route in _routes(app):
            key = (method, path)
            if is_public(route.endpoint):
                assert key in PUBLIC, f"{method} {path} is @public but not on the public list"
                found_public.add(key)
                continue
            r = c.request(method, _concrete(path), headers={"Accept": "text/html"})
            if r.status_code == 303:
                assert method == "GET" and r.headers["location"].startswith("/login?next="), key
            else:
                assert r.status_code == 401, f"{method} {path}: {r.status_code} for an anonymous caller"
            api = c.request(method, _concrete(path), headers={"Accept": "application/json"})
            assert api.status_code in (401, 303), key
    assert found_public == set(PUBLIC)


def test_every_change_needs_more_than_a_viewer(app: Any) -> None:
    loose = []
    for method, path, route in _routes(app):
        if method == "GET" or is_public(route.endpoint) or (method, path) in WRITES_ANY_USER:
            continue
        role = role_of(route)
        if role is None or role <= Role.VIEWER:
            loose.append(f"{method} {path}")
    assert not loose, f"state-changing routes any signed-in viewer may call: {loose}"


def test_static_mounts_are_the_only_mounts(app: Any) -> None:
    mounts = [r.path for r in _walk(app.routes) if isinstance(r, Mount)]
    assert mounts and all(m.startswith(STATIC_MOUNTS) for m in mounts), mounts
