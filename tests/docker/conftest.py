"""The image tests build and run the real image (docker/build.sh, docker/run-smoke.sh): minutes, and a
container engine (Docker, or podman which the scripts install). Opt in with CAMSVC_TEST_DOCKER=1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

OPT_IN = "CAMSVC_TEST_DOCKER"


def opted_in() -> bool:
    """True when CAMSVC_TEST_DOCKER=1. tests/conftest.py removes every CAMSVC_* variable from os.environ
    before this runs, so the environment the process started with (/proc/self/environ) is read too."""
    if os.environ.get(OPT_IN) == "1":
        return True
    try:
        initial = Path("/proc/self/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{OPT_IN}=1".encode() in initial


def pytest_configure(config: pytest.Config) -> None:
    # Registered here too, so --strict-markers passes before pyproject.toml lists it.
    config.addinivalue_line("markers", "docker: builds and runs the container image (CAMSVC_TEST_DOCKER=1)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if opted_in():
        return
    skip = pytest.mark.skip(reason=f"builds a container image: set {OPT_IN}=1")
    for item in items:
        if item.get_closest_marker("docker") is not None:  # not the package name, which every item has
            item.add_marker(skip)
