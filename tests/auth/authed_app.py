"""The app as it will be with sign-in enforced, for tests that must pass before and after the lead wires
``enforce`` into ``create_app``: requests are identified (token or cookie) before routing, and an anonymous
call to a route that needs a user gets 401. Once ``create_app`` does this itself, this only repeats it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from camsvc.app import create_app
from camsvc.auth import tokens
from camsvc.auth.http import NotAuthenticated, identify
from camsvc.auth.models import User
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.models import utcnow


class _Identify:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            request = Request(scope)

            def who() -> None:
                with Session(request.app.state.engine, expire_on_commit=False) as db:
                    identify(request, db, utcnow())
                    db.commit()

            await run_in_threadpool(who)
        await self.app(scope, receive, send)


def authed_app(settings: Settings) -> FastAPI:
    app = create_app(settings, start_runtime=False)
    app.add_middleware(_Identify)
    if NotAuthenticated not in app.exception_handlers:

        async def unauthenticated(request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse({"detail": "sign-in required"}, status_code=401)

        app.add_exception_handler(NotAuthenticated, unauthenticated)
    return app


@contextmanager
def authed_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(authed_app(settings)) as c:
        yield c


def user_with_token(engine: Engine, username: str, role: str, **kw: Any) -> tuple[User, str]:
    """A user and a fresh API token of theirs (the raw token, for ``Authorization: Bearer``)."""
    with session_scope(engine) as db:
        user = User(username=username, role=role, **kw)
        db.add(user)
        db.flush()
        raw, _ = tokens.create_token(db, user, "tests")
        db.refresh(user)
        return user, raw


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}
