"""The service's evidence signing key (Ed25519, from ``cryptography``).

Created on first use at ``Settings.signing_key_path``; the file holds the private key (raw 32 bytes, base64)
encrypted with the service's secret keyring (``camsvc.crypto.encrypt``: the same keys as camera passwords),
mode 0600. The private key is never logged nor returned; only the public key (PEM) and its fingerprint (sha256
hex of the raw 32-byte public key) leave this module.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from camsvc import crypto

log = logging.getLogger(__name__)

_HEADER = "# camsvc evidence signing key (Ed25519, encrypted with the secret key). Keep it private.\n"


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """sha256 hex of the raw 32-byte public key (64 hex digits)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def grouped(fp: str) -> str:
    """``ab12cd34...`` -> ``ab12 cd34 ...`` for display."""
    return " ".join(fp[i : i + 4] for i in range(0, len(fp), 4))


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_pem(data: bytes | str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; ValueError for anything else."""
    raw = data.encode("ascii") if isinstance(data, str) else data
    key = serialization.load_pem_public_key(raw)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def verify_signature(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class SigningKey:
    """The key in use. ``sign`` is the only thing done with the private half."""

    _private: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._private.public_key()

    @property
    def public_pem(self) -> str:
        return public_pem(self.public_key)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)

    def __repr__(self) -> str:  # never the private key
        return f"SigningKey(fingerprint={self.fingerprint})"


def generate() -> SigningKey:
    """A fresh key (tests; a new service key is made by ``load_or_create``)."""
    return SigningKey(Ed25519PrivateKey.generate())


def _encode(key: Ed25519PrivateKey) -> str:
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return crypto.encrypt(base64.b64encode(raw).decode("ascii"))


def _decode(text: str, path: Path) -> Ed25519PrivateKey:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise crypto.SecretKeyError(f"evidence signing key file {path} is empty")
    raw = base64.b64decode(crypto.decrypt(lines[0], where=str(path)))
    return Ed25519PrivateKey.from_private_bytes(raw)


def load(path: Path) -> SigningKey:
    """The key stored at *path* (FileNotFoundError when there is none)."""
    return SigningKey(_decode(path.read_text(encoding="ascii"), path))


def load_or_create(path: Path) -> SigningKey:
    """The key at *path*, made (mode 0600, encrypted) on first use; a concurrent creator's key wins."""
    path = Path(path)
    if path.exists():
        return load(path)
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load(path)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(_HEADER + _encode(key) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    made = SigningKey(key)
    log.warning("created the evidence signing key %s (fingerprint %s)", path, grouped(made.fingerprint))
    return made


def public_info(path: Path) -> dict[str, str]:
    """``{public_key_pem, fingerprint}`` of the service key (created on first use); fingerprint grouped."""
    key = load_or_create(path)
    return {"public_key_pem": key.public_pem, "fingerprint": grouped(key.fingerprint)}
