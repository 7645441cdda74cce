"""Secrets at rest: key sources, the EncryptedText column on a real SQLite file, rotation, wrong keys."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from camsvc import crypto
from camsvc.crypto import EncryptedText, Keyring, SecretKeyError
from camsvc.db import make_engine

PASSWORD = "Camera-Pass-93817"

META = sa.MetaData()  # not SQLModel's: the migration check must not see this test table
SECRETS = sa.Table(
    "secret_t",
    META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("password", EncryptedText(), nullable=True),
    sa.Column("url", EncryptedText(), nullable=True),
)
COLUMNS = [("secret_t", "password"), ("secret_t", "url")]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'data' / 'camsvc.db'}")
    META.create_all(eng)
    yield eng
    eng.dispose()
    crypto.install(None)


@pytest.fixture
def ring(tmp_path: Path) -> Keyring:
    k = crypto.load_keyring(tmp_path / "data", env={})
    crypto.install(k)
    return k


def _raw_bytes(tmp_path: Path) -> bytes:
    data = b""
    for p in (tmp_path / "data").glob("camsvc.db*"):
        data += p.read_bytes()
    return data


def _raw_values(eng: Engine) -> list[tuple[object, ...]]:
    with eng.connect() as c:
        return [tuple(r) for r in c.execute(sa.text("SELECT id, password, url FROM secret_t ORDER BY id"))]


def test_key_file_created_private_and_reused(tmp_path: Path) -> None:
    a = crypto.load_keyring(tmp_path / "data", env={})
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    b = crypto.load_keyring(tmp_path / "data", env={})
    assert a.kids == b.kids and len(a.kids) == 1


def test_env_var_wins(tmp_path: Path) -> None:
    k1, k2 = crypto.generate_key(), crypto.generate_key()
    ring = crypto.load_keyring(tmp_path, env={"CAMSVC_SECRET_KEY": f"{k1}, {k2}"})
    assert ring.kids == [crypto.key_id(k1), crypto.key_id(k2)]
    assert not (tmp_path / "secret.key").exists()
    with pytest.raises(SecretKeyError, match="malformed secret key in \\$CAMSVC_SECRET_KEY"):
        crypto.load_keyring(tmp_path, env={"CAMSVC_SECRET_KEY": "too-short"})


def test_encrypt_decrypt_round_trip(ring: Keyring) -> None:
    token = crypto.encrypt("mật khẩu")
    assert token.startswith(f"enc:v1:{ring.primary_kid}:") and crypto.is_encrypted(token)
    assert crypto.encrypt("mật khẩu") != token  # random IV
    assert crypto.decrypt(token) == "mật khẩu"
    assert not crypto.is_encrypted("plain") and not crypto.is_encrypted(None)


def test_nothing_installed_is_a_clear_error() -> None:
    crypto.install(None)
    with pytest.raises(SecretKeyError, match="no secret key loaded"):
        crypto.encrypt("x")


def test_sqlite_file_holds_no_plaintext(db: Engine, ring: Keyring, tmp_path: Path) -> None:
    url = "tgram://123456:ABCDEF-bot-token/987"
    with db.begin() as c:
        c.execute(SECRETS.insert().values(id=1, password=PASSWORD, url=url))
        c.execute(SECRETS.insert().values(id=2, password="", url=None))
    with db.connect() as c:
        assert c.execute(sa.select(SECRETS.c.password, SECRETS.c.url).where(SECRETS.c.id == 1)).one() == (
            PASSWORD,
            url,
        )
    raw = _raw_values(db)
    assert str(raw[0][1]).startswith("enc:v1:") and raw[1][1:] == ("", None)
    db.dispose()  # checkpoint the WAL too
    blob = _raw_bytes(tmp_path)
    assert PASSWORD.encode() not in blob and b"ABCDEF-bot-token" not in blob


def test_plaintext_from_before_is_read_then_encrypted_by_rotate(db: Engine, ring: Keyring) -> None:
    with db.begin() as c:  # written before the column was encrypted
        c.execute(sa.text("INSERT INTO secret_t (id, password, url) VALUES (1, :p, NULL)"), {"p": PASSWORD})
    with db.connect() as c:
        assert c.execute(sa.select(SECRETS.c.password)).scalar_one() == PASSWORD
        assert crypto.check_readable(db, COLUMNS) == {"secret_t.password": 1, "secret_t.url": 0}
    assert crypto.rotate(db, COLUMNS) == {"secret_t.password": 1, "secret_t.url": 0}
    assert str(_raw_values(db)[0][1]).startswith("enc:v1:")
    assert crypto.rotate(db, COLUMNS) == {"secret_t.password": 0, "secret_t.url": 0}  # idempotent


def test_rotation_keeps_values_readable(db: Engine, ring: Keyring, tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret.key"
    with db.begin() as c:
        for i in range(1, 4):
            c.execute(SECRETS.insert().values(id=i, password=f"{PASSWORD}-{i}", url=f"json://h/{i}"))
    old_kid = ring.primary_kid

    new_kid = crypto.add_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    both = crypto.read_key_file(path)
    assert both.kids == [new_kid, old_kid]
    crypto.install(both)
    with db.connect() as c:  # old values still readable with the new keyring
        assert (
            c.execute(sa.select(SECRETS.c.password).where(SECRETS.c.id == 2)).scalar_one() == f"{PASSWORD}-2"
        )

    assert crypto.rotate(db, COLUMNS) == {"secret_t.password": 3, "secret_t.url": 3}
    assert all(f":{new_kid}:" in str(v) for row in _raw_values(db) for v in row[1:])
    assert crypto.retire_old_keys(path) == [old_kid]
    only_new = crypto.read_key_file(path)
    assert only_new.kids == [new_kid]
    crypto.install(only_new)
    with db.connect() as c:
        rows = c.execute(
            sa.select(SECRETS.c.id, SECRETS.c.password, SECRETS.c.url).order_by(SECRETS.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [(i, f"{PASSWORD}-{i}", f"json://h/{i}") for i in range(1, 4)]


def test_wrong_key_names_the_column(db: Engine, ring: Keyring) -> None:
    with db.begin() as c:
        c.execute(SECRETS.insert().values(id=7, password=PASSWORD))
    wrong = Keyring([crypto.generate_key()], source="/etc/camsvc/secret.key")
    crypto.install(wrong)
    with db.connect() as c, pytest.raises(SecretKeyError, match="secret_t.password.*not in the keyring"):
        c.execute(sa.select(SECRETS.c.password)).all()
    with pytest.raises(SecretKeyError, match=r"secret_t.password \(row 7\)"):
        crypto.check_readable(db, COLUMNS)
    with pytest.raises(SecretKeyError, match=r"secret_t.password \(row 7\)"):
        crypto.rotate(db, COLUMNS)
    crypto.install(ring)
    with db.connect() as c:  # nothing was changed by the failed rotation
        assert c.execute(sa.select(SECRETS.c.password)).scalar_one() == PASSWORD


def test_damaged_value_is_named(db: Engine, ring: Keyring) -> None:
    token = crypto.encrypt(PASSWORD)
    with db.begin() as c:
        c.execute(sa.text("INSERT INTO secret_t (id, password) VALUES (1, :p)"), {"p": token[:-6] + "AAAAAA"})
    with db.connect() as c, pytest.raises(SecretKeyError, match="secret_t.password.*damaged"):
        c.execute(sa.select(SECRETS.c.password)).all()


def test_group_readable_key_file_still_loads(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    crypto.load_keyring(tmp_path, env={})
    os.chmod(tmp_path / "secret.key", 0o644)
    crypto.load_keyring(tmp_path, env={})
    assert "readable by others" in caplog.text
