"""Verify an evidence package (``camsvc verify``): the signature over manifest.json, every listed file's sha256
and size, nothing missing, nothing added, and the signing key against a trusted one.

``verify_package`` returns a ``Report``: ``failures`` name each failing file or check (empty: all hold). It
needs nothing of camsvc but this module, ``signing`` and ``package``'s names (no database, no settings).
Files are hashed in 1 MiB chunks straight from the zip.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from camsvc.cases import package as pkg
from camsvc.cases.signing import fingerprint, load_public_pem, verify_signature


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # files whose hash and size held
    fingerprint: str | None = None  # of the key inside the package
    trusted: str | None = None  # how the key was trusted: "key file", "service key", None (package only)
    case_number: str | None = None
    bytes_hashed: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures


def _hash_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with zf.open(info) as fh:
        while chunk := fh.read(pkg.CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _listed(manifest: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(name, sha256, size) of every file the manifest lists: clips with a file, then ``files``."""
    out: list[tuple[str, str, int]] = []
    for c in manifest.get("clips") or []:
        if isinstance(c, dict) and c.get("file"):
            out.append((str(c["file"]), str(c.get("sha256") or ""), int(c.get("size") or -1)))
    for f in manifest.get("files") or []:
        if isinstance(f, dict) and f.get("name"):
            out.append((str(f["name"]), str(f.get("sha256") or ""), int(f.get("size") or -1)))
    return out


def verify_package(path: Path, trusted_key: Ed25519PublicKey | None = None, trusted_how: str = "") -> Report:
    rep = Report()
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        rep.failures.append(f"{path}: not a readable zip ({exc})")
        return rep
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        by_name = {i.filename: i for i in infos}
        for n in sorted({n for n in names if names.count(n) > 1}):
            rep.failures.append(f"{n}: present more than once in the zip")

        def read(name: str) -> bytes | None:
            info = by_name.get(name)
            if info is None:
                rep.failures.append(f"{name}: missing")
                return None
            try:
                return zf.read(info)
            except (zipfile.BadZipFile, OSError) as exc:
                rep.failures.append(f"{name}: damaged ({exc})")
                return None

        data = read(pkg.MANIFEST)
        sig_text = read(pkg.SIGNATURE)
        pem = read(pkg.PUBLIC_KEY)
        if data is None:
            return rep
        try:
            manifest = json.loads(data)
            if not isinstance(manifest, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            rep.failures.append(f"{pkg.MANIFEST}: not valid JSON ({exc})")
            return rep
        rep.case_number = str((manifest.get("case") or {}).get("number") or "") or None

        key: Ed25519PublicKey | None = None
        if pem is not None:
            try:
                key = load_public_pem(pem)
                rep.fingerprint = fingerprint(key)
            except ValueError as exc:
                rep.failures.append(f"{pkg.PUBLIC_KEY}: not an Ed25519 public key ({exc})")
        stated = (manifest.get("signature") or {}).get("key_fingerprint")
        if rep.fingerprint and stated != rep.fingerprint:
            rep.failures.append(
                f"{pkg.PUBLIC_KEY}: its fingerprint {rep.fingerprint} is not the one manifest.json names ({stated})"
            )
        if key is not None and sig_text is not None:
            try:
                sig = base64.b64decode(sig_text.strip(), validate=True)
            except (binascii.Error, ValueError):
                rep.failures.append(f"{pkg.SIGNATURE}: not base64")
            else:
                if not verify_signature(key, sig, data):
                    rep.failures.append(
                        f"{pkg.MANIFEST}: the signature in {pkg.SIGNATURE} does not match (manifest edited or "
                        "signed by another key)"
                    )
        if trusted_key is not None:
            rep.trusted = trusted_how or "trusted key"
            want = fingerprint(trusted_key)
            if rep.fingerprint is not None and rep.fingerprint != want:
                rep.failures.append(
                    f"signing key: the package was signed by key {rep.fingerprint}, not by the {rep.trusted} "
                    f"{want} (a foreign key)"
                )

        listed = _listed(manifest)
        listed_names = {n for n, _, _ in listed}
        for name, want_sha, want_size in listed:
            info = by_name.get(name)
            if info is None:
                rep.failures.append(f"{name}: listed in the manifest but missing from the package")
                continue
            try:
                got_sha, got_size = _hash_member(zf, info)
            except (zipfile.BadZipFile, OSError) as exc:
                rep.failures.append(f"{name}: damaged ({exc})")
                continue
            rep.bytes_hashed += got_size
            bad = []
            if got_sha != want_sha:
                bad.append(f"sha256 {got_sha}, manifest says {want_sha}")
            if got_size != want_size:
                bad.append(f"size {got_size}, manifest says {want_size}")
            if bad:
                rep.failures.append(f"{name}: " + "; ".join(bad))
            else:
                rep.checked.append(name)
        for name in sorted(set(names) - listed_names - pkg.SIGNED_FILES):
            if name.endswith("/"):
                continue  # a directory entry holds nothing
            rep.failures.append(f"{name}: present in the package but not listed in the manifest")
    return rep
