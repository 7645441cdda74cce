"""Secrets at rest: camera passwords, channel URLs, the signing key, encrypted with a key kept outside the
database.

Values are Fernet tokens (AES-128-CBC + HMAC-SHA256, from ``cryptography``) written as
``enc:v1:<key id>:<token>``; the key id (8 hex digits of the key's SHA-256) names which key of the keyring
encrypted it, so a key can be replaced while old values stay readable.

Where the keys come from (``load_keyring``), first found wins:

1. ``$CAMSVC_SECRET_KEY``: one key, or several separated by commas / spaces (the first encrypts);
2. the key file, ``<data_dir>/secret.key`` by default: one key per line, the first encrypts, the others only
   decrypt until a rotation finished; created with mode 0600 on first use.

Keep the key file out of database backups (or back it up apart): a database copy alone is then useless,
and without the key file the encrypted values are lost.

Rotation (``camsvc secrets rotate-key``): ``add_key`` puts a new key first in the file, ``rotate`` re-encrypts
every value of the given columns with it (plaintext left from before encryption included), then
``retire_old_keys`` drops the others.

``EncryptedText`` is a column type that encrypts on write and decrypts on read with the installed keyring
(``install``, once at start-up); a value that is not ``enc:`` yet is read as it is (plaintext from before
the switch, until ``rotate`` encrypts it). A value that the keyring cannot decrypt raises
``SecretKeyError`` naming the column and the key id.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

ENV_VAR = "CAMSVC_SECRET_KEY"
KEY_FILE_NAME = "secret.key"
PREFIX = "enc:v1:"
_TOKEN_RE = re.compile(r"^enc:v1:([0-9a-f]{8}):([A-Za-z0-9_=-]+)$")
_FILE_HEADER = (
    "# camsvc secret keys (Fernet). The first line encrypts; the others only decrypt, until\n"
    "# 'camsvc secrets rotate-key' has re-encrypted everything. Keep this file private (mode 0600)\n"
    "# and apart from database backups.\n"
)


class SecretKeyError(RuntimeError):
    """A key is missing, malformed, or cannot decrypt a stored value."""


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def key_id(key: str) -> str:
    return hashlib.sha256(key.strip().encode("ascii")).hexdigest()[:8]


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


class Keyring:
    """Keys in order, the first encrypts; any of them decrypts what it encrypted."""

    def __init__(self, keys: Sequence[str], source: str = "") -> None:
        if not keys:
            raise SecretKeyError(f"no secret key{f' in {source}' if source else ''}")
        self.source = source
        self._keys: dict[str, Fernet] = {}
        self._order: list[str] = []
        for k in keys:
            k = k.strip()
            try:
                f = Fernet(k.encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                raise SecretKeyError(
                    f"malformed secret key in {source or 'the keyring'}: a key is 32 bytes in URL-safe base64 "
                    "(make one with camsvc.crypto.generate_key())"
                ) from None
            kid = key_id(k)
            if kid not in self._keys:
                self._keys[kid] = f
                self._order.append(kid)

    @property
    def primary_kid(self) -> str:
        return self._order[0]

    @property
    def kids(self) -> list[str]:
        return list(self._order)

    def encrypt(self, plaintext: str) -> str:
        token = self._keys[self.primary_kid].encrypt(plaintext.encode("utf-8")).decode("ascii")
        return f"{PREFIX}{self.primary_kid}:{token}"

    def decrypt(self, value: str, where: str = "") -> str:
        """The plaintext of an ``enc:v1:`` value; ``where`` (e.g. ``camerasecret.password``) goes into errors."""
        place = f" in {where}" if where else ""
        m = _TOKEN_RE.match(value)
        if not m:
            raise SecretKeyError(f"not an encrypted value{place} (expected enc:v1:<key id>:<token>)")
        kid, token = m.groups()
        f = self._keys.get(kid)
        if f is None:
            raise SecretKeyError(
                f"cannot decrypt a value{place}: it was encrypted with key {kid}, which is not in the keyring "
                f"({', '.join(self._order)}{f' from {self.source}' if self.source else ''}); "
                f"wrong {ENV_VAR} or key file?"
            )
        try:
            return f.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretKeyError(
                f"cannot decrypt a value{place} with key {kid}: the value is damaged or the key was changed"
            ) from None

    def needs_reencrypt(self, value: str | None) -> bool:
        """True for a plaintext value or one encrypted with an older key."""
        if not value:
            return False
        m = _TOKEN_RE.match(value)
        return m is None or m.group(1) != self.primary_kid


# ---------------------------------------------------------------------------------------------- key sources
def parse_keys(text: str) -> list[str]:
    return [tok for line in text.splitlines() if not line.lstrip().startswith("#") for tok in line.split()]


def key_file_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / KEY_FILE_NAME


def _write_key_file(path: Path, keys: Sequence[str]) -> None:
    """Replace *path* atomically with a 0600 file (never a moment with wider permissions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".secret.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(_FILE_HEADER + "".join(f"{k}\n" for k in keys))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _create_key_file(path: Path) -> None:
    """Create the key file once; if another process wins the race, theirs is kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(_FILE_HEADER + generate_key() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    log.warning("created secret key file %s (mode 0600): keep it, and keep it out of database backups", path)


def read_key_file(path: Path) -> Keyring:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("secret key file %s is readable by others (mode %o): chmod 600 it", path, mode & 0o777)
    return Keyring(parse_keys(path.read_text(encoding="ascii")), source=str(path))


def load_keyring(
    data_dir: Path | str, *, key_file: Path | str | None = None, env: Mapping[str, str] | None = None
) -> Keyring:
    """The keyring from ``$CAMSVC_SECRET_KEY`` or the key file (created on first use)."""
    env = os.environ if env is None else env
    if env.get(ENV_VAR, "").strip():
        return Keyring(re.split(r"[\s,]+", env[ENV_VAR].strip()), source=f"${ENV_VAR}")
    path = Path(key_file) if key_file else key_file_path(data_dir)
    if not path.exists():
        _create_key_file(path)
    return read_key_file(path)


def add_key(path: Path | str) -> str:
    """Put a new key first in the key file (it encrypts from now on); returns its id."""
    path = Path(path)
    old = parse_keys(path.read_text(encoding="ascii")) if path.exists() else []
    new = generate_key()
    _write_key_file(path, [new, *old])
    return key_id(new)


def retire_old_keys(path: Path | str) -> list[str]:
    """Keep only the first key of the file (after ``rotate`` re-encrypted everything); returns dropped ids."""
    path = Path(path)
    keys = parse_keys(path.read_text(encoding="ascii"))
    if len(keys) <= 1:
        return []
    _write_key_file(path, keys[:1])
    return [key_id(k) for k in keys[1:]]


# ---------------------------------------------------------------------------------------------- the keyring in use
_installed: Keyring | None = None


def install(keyring: Keyring | None) -> None:
    """Make *keyring* the one ``EncryptedText`` and ``encrypt``/``decrypt`` use (None: uninstall)."""
    global _installed
    _installed = keyring


def current() -> Keyring:
    if _installed is None:
        raise SecretKeyError(
            "no secret key loaded: call camsvc.crypto.install(camsvc.crypto.load_keyring(settings.data_dir)) "
            "at start-up"
        )
    return _installed


def ensure_keyring(data_dir: Path | str, *, env: Mapping[str, str] | None = None) -> Keyring:
    """Load the keyring for *data_dir* (``load_keyring``) and install it, once per start-up: every place that
    opens the database calls this (``camsvc.db.make_engine`` does). Idempotent: the same keys already
    installed are kept as they are. One process serves one data directory: another one replaces the keys."""
    ring = load_keyring(data_dir, env=env)
    if _installed is not None and _installed.kids == ring.kids and _installed.source == ring.source:
        return _installed
    install(ring)
    return ring


def encrypt(plaintext: str) -> str:
    return current().encrypt(plaintext)


def decrypt(value: str, where: str = "") -> str:
    return current().decrypt(value, where)


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted; ``None`` and ``""`` are stored as they are (nothing to hide).

    The column's name is filled in when it joins a table, for error messages (or give ``label``).
    """

    impl = sa.Text
    cache_ok = True

    def __init__(self, label: str = "", *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label = label

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None or value == "":
            return value
        return current().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        if not value or not is_encrypted(value):
            return value  # empty, or plaintext from before encryption (``rotate`` encrypts it)
        return current().decrypt(value, self.label or "an encrypted column")


@sa.event.listens_for(sa.Column, "after_parent_attach")
def _name_encrypted_column(column: sa.Column[Any], table: Any) -> None:
    if isinstance(column.type, EncryptedText) and not column.type.label and isinstance(table, sa.Table):
        column.type.label = f"{table.name}.{column.name}"


# ---------------------------------------------------------------------------------------------- rotation
def _columns(
    engine: Engine | sa.Connection, table: str, column: str
) -> tuple[sa.Table, list[sa.Column[Any]]]:
    """A lightweight table (primary key + the column, plain text: no decryption on read)."""
    pk = sa.inspect(engine).get_pk_constraint(table).get("constrained_columns") or []
    if not pk:
        raise SecretKeyError(f"{table} has no primary key: cannot rewrite {table}.{column}")
    t = sa.Table(table, sa.MetaData(), *[sa.Column(c) for c in pk], sa.Column(column, sa.Text))
    return t, [t.c[c] for c in pk]


def encrypted_columns(metadata: sa.MetaData) -> list[tuple[str, str]]:
    """Every (table, column) of *metadata* whose type is ``EncryptedText``: the one list of what is encrypted
    (``camsvc.db.table_metadata()`` for the service's tables), so a new secret column needs nothing more."""
    return [
        (t.name, c.name)
        for t in metadata.sorted_tables
        for c in t.columns
        if isinstance(c.type, EncryptedText)
    ]


def rotate_on(
    conn: sa.Connection, tables_columns: Iterable[tuple[str, str]], keyring: Keyring | None = None
) -> dict[str, int]:
    """``rotate`` on an open connection, inside the caller's transaction (a migration's)."""
    ring = keyring or current()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            "PRAGMA secure_delete=ON"
        )  # the old values' bytes are zeroed, not left in free space
    counts: dict[str, int] = {}
    for table, column in tables_columns:
        where = f"{table}.{column}"
        t, pk = _columns(conn, table, column)
        value_col = t.c[column]
        rows = conn.execute(sa.select(*pk, value_col).where(value_col.is_not(None), value_col != "")).all()
        todo = []
        for row in rows:  # decrypt every value first: nothing changes if one cannot be read
            value = row[-1]
            if not ring.needs_reencrypt(value):
                continue
            key = {c.name: row[i] for i, c in enumerate(pk)}
            plain = (
                ring.decrypt(value, f"{where} (row {', '.join(map(str, key.values()))})")
                if is_encrypted(value)
                else value
            )
            todo.append((key, plain))
        for key, plain in todo:
            cond = sa.and_(*[c == key[c.name] for c in pk])
            conn.execute(sa.update(t).where(cond).values({column: ring.encrypt(plain)}))
        counts[where] = len(todo)
    return counts


def rotate(
    engine: Engine, tables_columns: Iterable[tuple[str, str]], keyring: Keyring | None = None
) -> dict[str, int]:
    """Re-encrypt every value of the given (table, column) pairs with the keyring's first key, plaintext left
    from before encryption included. One transaction per column; returns rewritten values per
    ``table.column``. A value no key of the keyring can decrypt stops it with ``SecretKeyError`` naming the
    column and the row, before that column is changed. On SQLite the replaced values are zeroed in the file
    (secure_delete) and the write-ahead log is emptied afterwards."""
    ring = keyring or current()
    counts: dict[str, int] = {}
    for pair in tables_columns:
        with engine.begin() as conn:
            counts.update(rotate_on(conn, [pair], ring))
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return counts


def check_readable(
    engine: Engine, tables_columns: Iterable[tuple[str, str]], keyring: Keyring | None = None
) -> dict[str, int]:
    """Decrypt every encrypted value (a start-up check that the key is the right one); returns how many
    values of each column are still plaintext. Raises ``SecretKeyError`` naming the first unreadable one."""
    ring = keyring or current()
    plain: dict[str, int] = {}
    for table, column in tables_columns:
        t, pk = _columns(engine, table, column)
        value_col = t.c[column]
        where = f"{table}.{column}"
        plain[where] = 0
        with engine.connect() as conn:
            for row in conn.execute(sa.select(*pk, value_col).where(value_col.is_not(None), value_col != "")):
                value = row[-1]
                if is_encrypted(value):
                    ring.decrypt(value, f"{where} (row {', '.join(str(v) for v in row[:-1])})")
                else:
                    plain[where] += 1
    return plain
