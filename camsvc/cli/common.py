"""What every command opens the same way: the settings, and the database with its schema upgraded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import yaml
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from camsvc.alerts import zalo
from camsvc.config import Settings, config_file, format_errors, load_settings
from camsvc.db import make_engine, session_scope, upgrade


def settings(**overrides: Any) -> Settings:
    """Environment over the YAML file, under the command's options that were given (not None).

    An invalid configuration stops the command with every error and its key path, never a traceback.
    """
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise click.ClickException(format_errors(exc)) from None
    except (ValueError, OSError, yaml.YAMLError) as exc:  # unreadable file, not a mapping, bad YAML
        raise click.ClickException(
            f"invalid configuration ({config_file() or 'environment'}): {exc}"
        ) from None


@contextmanager
def database(config: Settings | None = None) -> Iterator[Engine]:
    """An engine on the configured database, its schema upgraded to the newest revision; closed at the end."""
    config = config or settings()
    engine = make_engine(config.db_url, config.data_dir)  # installs the secret keyring
    try:
        upgrade(engine)
        zalo.use_engine(engine)  # `camsvc contacts test` of a zalo:// channel that refreshes its token
        yield engine
    finally:
        engine.dispose()


@contextmanager
def session(config: Settings | None = None) -> Iterator[Session]:
    """``database()`` and one session on it that commits on success and rolls back on error."""
    with database(config) as engine, session_scope(engine) as s:
        yield s


@contextmanager
def fail_on(*errors: type[Exception]) -> Iterator[None]:
    """These exceptions (e.g. ``LookupError``: an unknown id) end the command with their text as its error,
    like the API's one handler turns them into answers. Put it outside ``session()``: that rolls back first.
    """
    try:
        yield
    except errors as exc:
        raise click.ClickException(str(exc)) from None
