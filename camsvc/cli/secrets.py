"""``camsvc secrets``: the key that encrypts camera passwords, channel URLs and the signing key.

What is encrypted is every ``EncryptedText`` column of the service's tables (camsvc.crypto.encrypted_columns);
where the keys are and how a rotation goes: camsvc/crypto.py and docs/security.md.
"""

from __future__ import annotations

import os

import click

from camsvc import crypto
from camsvc.cli import common
from camsvc.db import table_metadata


@click.group()
def secrets() -> None:
    """Secrets at rest: the encryption key, its rotation, a check."""


def _columns() -> list[tuple[str, str]]:
    return crypto.encrypted_columns(table_metadata())


def _fail(exc: crypto.SecretKeyError) -> click.ClickException:
    return click.ClickException(str(exc))


@secrets.command("rotate-key")
def rotate_key() -> None:
    """Encrypt with a new key: add it, re-encrypt every secret, retire the old keys.

    Stop the service first (it holds the old keys until it restarts). With the keys in $CAMSVC_SECRET_KEY
    nothing is generated: set the variable to "NEW,OLD" yourself, run this to re-encrypt everything with
    the first, then drop OLD from the variable.
    """
    config = common.settings()
    try:
        with common.database(config) as engine:
            ring = crypto.current()
            crypto.check_readable(engine, _columns(), ring)  # every value readable before anything changes
            from_env = bool(os.environ.get(crypto.ENV_VAR, "").strip())
            path = crypto.key_file_path(config.data_dir)
            if not from_env:
                crypto.add_key(path)
                ring = crypto.read_key_file(path)
                crypto.install(ring)
            counts = crypto.rotate(engine, _columns(), ring)
    except crypto.SecretKeyError as exc:
        raise _fail(exc) from None
    for where, n in counts.items():
        click.echo(f"{where}: {n} value(s) re-encrypted")
    if from_env:
        click.echo(
            f"keys come from ${crypto.ENV_VAR}: everything is now encrypted with its first key "
            f"({ring.primary_kid}). To change the key, set {crypto.ENV_VAR} to 'NEW_KEY,CURRENT_KEY' "
            "(a new key: python -c 'import camsvc.crypto as c; print(c.generate_key())'), "
            "run this again, then remove the old key from the variable."
        )
        return
    dropped = crypto.retire_old_keys(path)
    crypto.install(crypto.read_key_file(path))
    click.echo(
        f"new key {ring.primary_kid} in {path}; retired: {', '.join(dropped) or 'none'}. "
        "Back the key file up now, apart from the database."
    )


@secrets.command("check")
def check() -> None:
    """Decrypt every stored secret with the current key and count values still in plaintext (0 expected)."""
    try:
        with common.database() as engine:
            ring = crypto.current()
            plain = crypto.check_readable(engine, _columns(), ring)
    except crypto.SecretKeyError as exc:
        raise _fail(exc) from None
    for where, n in plain.items():
        click.echo(f"{where}: {n} plaintext value(s)")
    click.echo(f"key {ring.primary_kid} ({ring.source}); every encrypted value readable")
    if any(plain.values()):
        raise click.ClickException("plaintext secrets left: run 'camsvc secrets rotate-key' to encrypt them")
