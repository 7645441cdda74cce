"""Shared fixtures: settings on a temporary data dir, an app without runtime, a real SQLite database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Never read the developer's config file or environment in tests.
os.environ.pop("CAMSVC_CONFIG", None)
for _k in [k for k in os.environ if k.startswith("CAMSVC_") and not k.startswith("CAMSVC_TEST_")]:
    os.environ.pop(_k)

from camsvc.config import Settings  # noqa: E402


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def engine(settings: Settings) -> Iterator[object]:
    from tests.utils.service import migrated_engine

    with migrated_engine(settings) as eng:
        yield eng


@pytest.fixture
def client(settings: Settings) -> Iterator[object]:
    """The app (no runtime) with a client signed in as an admin through an API token."""
    from camsvc.app import create_app
    from tests.utils.auth import signed_in_client

    with signed_in_client(create_app(settings, start_runtime=False)) as c:
        yield c
