"""Secrets at rest with the real service: a camera password and a channel token given through the API are
not in the SQLite file (nor its write-ahead log), the service still probes with them, `camsvc secrets
rotate-key` re-encrypts and keeps them readable, a missing or wrong key stops with the column named, and the
migration encrypts what an older database kept in plaintext."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import Session

from camsvc import crypto
from camsvc.alerts.models import AlertKV, Contact, ContactChannel, OutboxMessage
from camsvc.alerts.signing import KEY_NAME, signing_key
from camsvc.auth.models import User
from camsvc.auth.tokens import create_token
from camsvc.config import Settings
from camsvc.db import alembic_config, make_engine, session_scope, upgrade
from camsvc.models import Camera, CameraKind, CameraSecret
from tests.probing import servers as S
from tests.security.conftest import Serve, authorizations, probe_camera

pytestmark = pytest.mark.integration

PASSWORD = "S3cret-Known-pw!"
BOT_TOKEN = "7312894561:AAHk-Secret-Bot-Token_x9Qz"
CHANNEL = f"tgram://{BOT_TOKEN}/123456789"


def _admin(client: Any) -> dict[str, str]:
    """A real admin token (the app may or may not demand one yet: sent either way)."""
    with session_scope(client.app.state.engine) as s:
        user = User(username="admin-secrets", role="admin")
        s.add(user)
        s.flush()
        raw, _ = create_token(s, user, "tests")
    return {"Authorization": f"Bearer {raw}"}


def _file_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("camsvc.db*")))


def _raw(engine: Any, sql: str) -> list[Any]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.text(sql))]


def _setup(client: Any, snapshot_url: str) -> dict[str, str]:
    auth = _admin(client)
    r = client.post(
        "/api/cameras",
        headers=auth,
        json={
            "id": "cam-1",
            "name": "Cổng chợ",
            "kind": "roadside",
            "snapshot_url": snapshot_url,
            "username": "admin",
            "password": PASSWORD,
        },
    )
    assert r.status_code == 201, r.text
    r = client.post("/api/contacts", headers=auth, json={"name": "Anh Tuấn", "channels": [{"url": CHANNEL}]})
    assert r.status_code == 201, r.text
    assert BOT_TOKEN not in r.text  # redacted in the API too
    signing_key(client.app.state.settings, client.app.state.engine)  # the generated ack-link key, stored
    return auth


def _camsvc(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "CAMSVC_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "camsvc", *args], env=full, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("scheme", ["basic", "digest"])
def test_sqlite_file_holds_no_camera_password_nor_channel_token(
    client: Any, settings: Settings, serve: Serve, scheme: str
) -> None:
    cam = serve(S.http_camera("snapshot", auth=S.Auth("admin", PASSWORD, scheme)))
    _setup(client, cam.url("http", "/snap.jpg"))
    engine = client.app.state.engine

    # stored encrypted, with the key file's key; the service reads them back as they were given
    (pw,) = _raw(engine, "SELECT password FROM camerasecret")[0]
    (url,) = _raw(engine, "SELECT url FROM contactchannel")[0]
    (kv,) = _raw(engine, f"SELECT value FROM alertkv WHERE key = '{KEY_NAME}'")[0]
    kid = crypto.load_keyring(settings.data_dir, env={}).primary_kid
    assert all(str(v).startswith(f"enc:v1:{kid}:") for v in (pw, url, kv))
    with Session(engine) as s:
        assert s.get(CameraSecret, "cam-1").password == PASSWORD  # type: ignore[union-attr]
        assert s.exec(sa.select(ContactChannel.url)).scalar_one() == CHANNEL  # type: ignore[call-overload]
        key = s.get(AlertKV, KEY_NAME).value  # type: ignore[union-attr]
    assert not crypto.is_encrypted(key) and key.encode() not in _file_bytes(settings.data_dir)

    # the probe gets the right credentials from the encrypted column
    res = probe_camera(engine, "cam-1")
    assert res.ok, res
    assert any(a and a.lower().startswith(scheme) for a in authorizations(cam))

    # the database file and its write-ahead log, while the service runs and after it closed
    for _ in range(2):
        blob = _file_bytes(settings.data_dir)
        assert blob and PASSWORD.encode() not in blob and BOT_TOKEN.encode() not in blob
        engine.dispose()  # checkpoint: the WAL's pages now in the main file
    key_file = settings.data_dir / "secret.key"
    assert key_file.stat().st_mode & 0o077 == 0


def test_rotate_key_re_encrypts_and_keeps_everything_readable(
    client: Any, settings: Settings, serve: Serve
) -> None:
    cam = serve(S.http_camera("snapshot", auth=S.Auth("admin", PASSWORD, "digest")))
    _setup(client, cam.url("http", "/snap.jpg"))
    engine = client.app.state.engine
    sql = "SELECT password FROM camerasecret UNION ALL SELECT url FROM contactchannel UNION ALL SELECT value FROM alertkv"
    before = _raw(engine, sql)
    old_kid = crypto.current().primary_kid
    engine.dispose()

    done = _camsvc(settings.data_dir, "secrets", "rotate-key")
    assert done.returncode == 0, done.stderr
    assert "camerasecret.password: 1 value(s) re-encrypted" in done.stdout
    assert "contactchannel.url: 1 value(s) re-encrypted" in done.stdout
    assert f"retired: {old_kid}" in done.stdout

    ring = crypto.ensure_keyring(settings.data_dir, env={})  # the service restarted with the new key file
    assert ring.kids != [old_kid] and len(ring.kids) == 1
    after = _raw(engine, sql)
    assert len(after) == len(before) == 3
    assert all(
        str(a[0]).startswith(f"enc:v1:{ring.primary_kid}:") and a != b
        for a, b in zip(after, before, strict=True)
    )
    with Session(engine) as s:
        assert s.get(CameraSecret, "cam-1").password == PASSWORD  # type: ignore[union-attr]
    assert probe_camera(engine, "cam-1").ok
    engine.dispose()
    blob = _file_bytes(settings.data_dir)
    assert PASSWORD.encode() not in blob and BOT_TOKEN.encode() not in blob
    assert all(str(b[0]).encode() not in blob for b in before)  # the old ciphertext is gone from the file

    check = _camsvc(settings.data_dir, "secrets", "check")
    assert check.returncode == 0, check.stderr
    assert "camerasecret.password: 0 plaintext value(s)" in check.stdout


def test_keys_from_the_environment_are_not_generated(client: Any, settings: Settings, serve: Serve) -> None:
    k1, k2 = crypto.generate_key(), crypto.generate_key()
    crypto.install(crypto.Keyring([k1]))
    _setup(client, "http://127.0.0.1:9/snap.jpg")
    client.app.state.engine.dispose()
    done = _camsvc(settings.data_dir, "secrets", "rotate-key", env={"CAMSVC_SECRET_KEY": f"{k2},{k1}"})
    assert done.returncode == 0, done.stderr
    assert "camerasecret.password: 1 value(s) re-encrypted" in done.stdout
    assert "CAMSVC_SECRET_KEY" in done.stdout and "NEW_KEY,CURRENT_KEY" in done.stdout
    assert k1 not in done.stdout + done.stderr and k2 not in done.stdout + done.stderr  # never printed
    (pw,) = _raw(client.app.state.engine, "SELECT password FROM camerasecret")[0]
    assert pw.startswith(f"enc:v1:{crypto.key_id(k2)}:")


def test_missing_or_wrong_key_names_the_column(client: Any, settings: Settings) -> None:
    _setup(client, "http://127.0.0.1:9/snap.jpg")
    client.app.state.engine.dispose()

    wrong = _camsvc(settings.data_dir, "secrets", "check", env={"CAMSVC_SECRET_KEY": crypto.generate_key()})
    assert wrong.returncode == 1
    assert "alertkv.value" in wrong.stderr or "camerasecret.password" in wrong.stderr, wrong.stderr
    assert "not in the keyring" in wrong.stderr and "Traceback" not in wrong.stderr

    (settings.data_dir / "secret.key").rename(settings.data_dir / "secret.key.lost")
    port = S.refused_port()
    serve = _camsvc(settings.data_dir, "serve", "--port", str(port))
    assert serve.returncode != 0
    assert "camerasecret.password" in serve.stderr or "alertkv.value" in serve.stderr, serve.stderr
    assert "not in the keyring" in serve.stderr and "Traceback" not in serve.stderr


def _insert_as_it_was(conn: sa.Connection, obj: Any) -> None:
    """Insert a model's row with only the columns the table has at the database's current revision."""
    table = type(obj).__table__
    as_it_was = sa.Table(table.name, sa.MetaData(), autoload_with=conn)  # no defaults of later columns
    present = {c.name for c in as_it_was.columns}
    values: dict[str, Any] = {}
    for name in present:
        value, default = getattr(obj, name), table.c[name].default
        if value is None and default is not None:
            value = default.arg(None) if callable(default.arg) else default.arg  # type: ignore[attr-defined]
        if value is not None:
            values[name] = value
    conn.execute(sa.insert(as_it_was).values(values))


def test_upgrade_encrypts_plaintext_from_before(tmp_path: Path) -> None:
    """A database at 0004 (plaintext secrets, a message pointing at its channel) upgraded to 0005."""
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    engine = make_engine(settings.db_url, data)
    cfg = alembic_config(settings.db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004_auth")
    with engine.begin() as conn:  # rows as 0004's tables hold them (later revisions may add columns)
        for obj in (
            Camera(
                id="cam-1", name="Cổng chợ", kind=CameraKind.ROADSIDE, snapshot_url="http://10.0.0.5/s.jpg"
            ),
            Contact(id=1, name="Anh Tuấn"),
            CameraSecret(camera_id="cam-1", username="admin", password="x"),
            ContactChannel(id=1, contact_id=1, url="x"),
            AlertKV(key=KEY_NAME, value="x"),
            OutboxMessage(dedup_key="d1", channel_id=1, contact_id=1, kind="alert", subject="s", body="b"),
        ):
            _insert_as_it_was(conn, obj)
    with engine.begin() as c:  # what 0004 stored: plaintext
        c.execute(sa.text("UPDATE camerasecret SET password = :p"), {"p": PASSWORD})
        c.execute(sa.text("UPDATE contactchannel SET url = :u"), {"u": CHANNEL})
        c.execute(sa.text("UPDATE alertkv SET value = 'generated-signing-key-0123456789'"))
    engine.dispose()
    assert PASSWORD.encode() in _file_bytes(data)

    engine = make_engine(settings.db_url, data)
    upgrade(engine)
    raw = _raw(engine, "SELECT password FROM camerasecret UNION ALL SELECT url FROM contactchannel")
    assert len(raw) == 2 and all(str(v).startswith("enc:v1:") for (v,) in raw), raw
    assert _raw(engine, "SELECT channel_id FROM outboxmessage") == [(1,)]  # the table rebuild kept the link
    with Session(engine) as s:
        assert s.get(CameraSecret, "cam-1").password == PASSWORD  # type: ignore[union-attr]
        assert s.get(ContactChannel, 1).url == CHANNEL  # type: ignore[union-attr]
        assert s.get(AlertKV, KEY_NAME).value == "generated-signing-key-0123456789"  # type: ignore[union-attr]
    engine.dispose()
    blob = _file_bytes(data)
    assert PASSWORD.encode() not in blob and BOT_TOKEN.encode() not in blob
    assert b"generated-signing-key-0123456789" not in blob
