"""A fresh database has no users: `camsvc serve` refuses a remote bind until an admin exists; the demo makes
one with a random password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from camsvc.auth.models import User
from camsvc.auth.passwords import verify_password
from camsvc.bench.common import free_port
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.runtime.serve import BindRefused, check_bind, ensure_demo_admin, is_loopback

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "host,loopback",
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("camsvc.lan", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_check_bind_needs_an_active_admin(settings: Settings, engine: Engine) -> None:
    remote = settings.model_copy(update={"host": "0.0.0.0"})
    check_bind(settings, engine)  # loopback: fine without users
    with pytest.raises(BindRefused, match="camsvc users add NAME --role admin"):
        check_bind(remote, engine)
    with session_scope(engine) as db:
        db.add(User(username="boss", role="admin", active=False))
        db.add(User(username="tech", role="technician"))
    with pytest.raises(BindRefused):
        check_bind(remote, engine)  # a disabled admin or a technician does not count
    with session_scope(engine) as db:
        db.add(User(username="root", role="admin"))
    check_bind(remote, engine)


def test_demo_admin_once(engine: Engine) -> None:
    made = ensure_demo_admin(engine)
    assert made is not None
    name, password = made
    assert name == "admin" and len(password) >= 12
    with session_scope(engine) as db:
        from sqlmodel import select

        user = db.exec(select(User).where(User.username == name)).one()
        assert user.role == "admin" and verify_password(password, user.password_hash)
    assert ensure_demo_admin(engine) is None  # an admin exists: nothing made, nothing printed


def test_serve_refuses_a_remote_bind_on_an_empty_data_dir(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMSVC_")}
    env["PYTHONPATH"] = str(ROOT)
    env["CAMSVC_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.Popen(
        [sys.executable, "-m", "camsvc", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert "no active admin" in err and "camsvc users add NAME --role admin" in err
    assert "camsvc dashboard" not in out  # never got as far as listening
