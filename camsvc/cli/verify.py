"""``camsvc verify PACKAGE.zip [--key PUBLIC_KEY]``: check an evidence package's hashes and signature.

Exit 0 when every check holds; 1 naming each failing file or check. The signing key is trusted from
``--key`` (a PEM public key), else from the local service key when this machine has one
(``Settings.signing_key_path``); otherwise the package is checked only against the key inside it, and the
command says so and prints that key's fingerprint to compare by other means.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from camsvc.cases.signing import grouped, load_public_pem
from camsvc.cases.verify import verify_package


def _local_key() -> tuple[Ed25519PublicKey | None, str]:
    from camsvc import crypto
    from camsvc.cases import signing
    from camsvc.cli import common

    settings = common.settings()
    path = settings.signing_key_path
    if not path.exists():
        return None, ""
    try:
        crypto.ensure_keyring(settings.data_dir)
        return signing.load(path).public_key, f"service key ({path})"
    except (crypto.SecretKeyError, ValueError, OSError) as exc:
        click.echo(f"warning: cannot read the local service key {path}: {exc}", err=True)
        return None, ""


@click.command()
@click.argument("package", type=click.Path(exists=True, dir_okay=False))
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False), help="Trusted public key")
def verify(package: str, key_file: str | None) -> None:
    """Check every hash and the signature of an evidence package (exit 0 when all hold)."""
    if key_file:
        try:
            trusted: Ed25519PublicKey | None = load_public_pem(Path(key_file).read_bytes())
        except ValueError as exc:
            raise click.ClickException(
                f"--key {key_file}: not an Ed25519 public key in PEM ({exc})"
            ) from None
        how = f"key file {key_file}"
    else:
        trusted, how = _local_key()
    t0 = time.monotonic()
    rep = verify_package(Path(package), trusted, how)
    took = time.monotonic() - t0
    for name in rep.checked:
        click.echo(f"ok    {name}")
    for failure in rep.failures:
        click.echo(f"FAIL  {failure}")
    mb = rep.bytes_hashed / 1e6
    click.echo(f"hashed {mb:.1f} MB in {took:.2f} s ({mb / took if took > 0 else 0:.0f} MB/s)")
    if rep.fingerprint:
        click.echo(f"signing key fingerprint: {grouped(rep.fingerprint)}")
    if rep.trusted is None and rep.fingerprint:
        click.echo(
            "NOTE: checked only against the key inside the package (no --key given and no service key here): "
            "compare the fingerprint above with the service's, obtained apart from this package."
        )
    elif rep.trusted:
        click.echo(f"key checked against the {rep.trusted}")
    if rep.failures:
        click.echo(f"FAILED: {len(rep.failures)} check(s) failed for {package}", err=True)
        raise SystemExit(1)
    click.echo(f"OK: {package} (case {rep.case_number}) verified")
