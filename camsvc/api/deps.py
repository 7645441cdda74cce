"""FastAPI dependencies as ``Annotated`` aliases: ``def handler(session: SessionDep, settings: SettingsDep)``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from camsvc.config import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
# scope="function": the commit runs before the response is sent. With the default (request) scope FastAPI
# sends the answer first, so a client acting on it (a sign-in, then the next page) could race the commit.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
