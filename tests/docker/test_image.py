"""The image builds from this work tree, serves /healthz, the dashboard and /api/status, and (with the
simulator) checks a simulated fleet inside the container."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], env: dict[str, str], timeout_s: float) -> str:
    proc = subprocess.run(
        args,
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{args[0]} failed ({proc.returncode}):\n{out[-3000:]}"
    return out


@pytest.mark.parametrize(
    ("image", "simulator", "command", "min_cameras"),
    [
        ("camsvc:test", "0", ["serve"], 0),
        ("camsvc:test-demo", "1", ["demo", "--roadside", "2", "--household", "4"], 6),
    ],
)
def test_image_builds_and_serves(image: str, simulator: str, command: list[str], min_cameras: int) -> None:
    _run(["docker/build.sh"], {"IMAGE": image, "WITH_SIMULATOR": simulator}, timeout_s=1800)
    out = _run(
        ["docker/run-smoke.sh", *command],
        {
            "IMAGE": image,
            "CAMSVC_SMOKE_PORT": str(_free_port()),
            "SMOKE_MIN_CAMERAS": str(min_cameras),
            "SMOKE_MIN_UP": str(min_cameras),
            "SMOKE_TIMEOUT_S": "240",
        },
        timeout_s=300,
    )
    assert f"OK: {image} served /healthz and /api/status" in out
    assert "image HEALTHCHECK: healthy" in out or "container engine: docker" in out
    assert f"/api/status: total {min_cameras}," in out
