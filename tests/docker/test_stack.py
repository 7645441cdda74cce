"""The compose stack of issue 12 (docker/compose.yaml: PostgreSQL, one `serve --role api`, probe nodes of
sites "bac" and "nam") built and run with podman (scripts/podman-stack.sh): it comes up, the API's /healthz
answers and both probe nodes write their row in probe_node of the stack's own PostgreSQL.

Opt in with CAMSVC_TEST_DOCKER=1 (minutes: two images); skipped where podman cannot be installed."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from camsvc.crypto import generate_key
from tests.utils.waiting import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _podman_possible() -> bool:
    return shutil.which("podman") is not None or shutil.which("apt-get") is not None


@pytest.mark.skipif(not _podman_possible(), reason="no podman and no apt-get to install it")
def test_stack_comes_up_with_api_and_two_probe_nodes(tmp_path: Path) -> None:
    import sqlalchemy as sa

    password = secrets.token_hex(12)
    pg_port, api_port = _free_port(), _free_port()
    db_url = f"postgresql+psycopg://camsvc:{password}@127.0.0.1:{pg_port}/camsvc"
    sdir = tmp_path / "secrets"
    sdir.mkdir()
    (sdir / "db_password").write_text(password + "\n")
    (sdir / "camsvc.yaml").write_text(f"database_url: {db_url}\n")
    (sdir / "secret.key").write_text(generate_key() + "\n")  # one key for every node
    for f in sdir.iterdir():
        f.chmod(0o644)  # read by the containers' own users
    project = f"camsvctest{os.getpid()}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CAMSVC_")},
        "CAMSVC_IMAGE": os.environ.get("CAMSVC_TEST_IMAGE", "camsvc:test-stack"),
        "CAMSVC_SECRETS_DIR": str(sdir),
        "CAMSVC_STACK_PROJECT": project,
        "CAMSVC_PG_PORT": str(pg_port),
        "CAMSVC_API_PORT": str(api_port),
        "CAMSVC_PROBE_BAC_PORT": str(_free_port()),
        "CAMSVC_PROBE_NAM_PORT": str(_free_port()),
        "REBUILD": "1",  # this work tree's code, not a stale image
    }

    def stack(*args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["scripts/podman-stack.sh", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    t0 = time.monotonic()
    try:
        up = stack("up", timeout_s=1500)
        assert up.returncode == 0, f"podman-stack up failed:\n{(up.stdout + up.stderr)[-4000:]}"
        t_up = time.monotonic()

        def healthz() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{api_port}/healthz", timeout=3).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthz, 180, "the API service's /healthz")
        engine = sa.create_engine(db_url)
        try:

            def nodes() -> dict[str, tuple[str, str]]:
                try:
                    with engine.connect() as c:
                        rows = c.execute(sa.text("SELECT name, role, site FROM probe_node")).all()
                except sa.exc.SQLAlchemyError:
                    return {}
                return {r[0]: (r[1], r[2]) for r in rows}

            wait_for(
                lambda: {"probe-bac", "probe-nam"} <= nodes().keys(),
                180,
                "both probe nodes in probe_node",
                nodes,
            )
            seen = nodes()
        finally:
            engine.dispose()
        assert seen["probe-bac"] == ("probe", "bac")
        assert seen["probe-nam"] == ("probe", "nam")
        # the API answers /api/status only to a signed-in caller: it is the real API, not a stub
        assert httpx.get(f"http://127.0.0.1:{api_port}/api/status", timeout=10).status_code in (401, 403)
        print(
            f"stack: up in {t_up - t0:.0f} s (build included), nodes seen after {time.monotonic() - t0:.0f} s"
        )
    finally:
        logs = stack("logs", "--tail", "30", timeout_s=120)
        down = stack("down", timeout_s=300)
        if down.returncode != 0:
            print(logs.stdout[-3000:], down.stdout[-2000:], down.stderr[-2000:])
