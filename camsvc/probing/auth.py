"""HTTP/RTSP Basic and Digest authentication (RFC 7617 / RFC 2617), shared by the RTSP check and httpx.

Cameras use either scheme, so the client answers whichever challenge the camera sends instead of
sending a password up front: credentials go only to a host that asked for them with a 401 on the same
connection target, Digest when offered, Basic only in answer to a Basic challenge, and never to an address
outside the allowed networks (:mod:`camsvc.netpolicy`). The header builders are pure (the client nonce is
passed in).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Generator, Iterable

import httpx

from camsvc import netpolicy

_PARAM_RE = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))')


def parse_challenges(headers: Iterable[str]) -> dict[str, dict[str, str]]:
    """``WWW-Authenticate`` values -> ``{"digest": {...params}, "basic": {...}}`` (scheme lower-cased)."""
    out: dict[str, dict[str, str]] = {}
    for value in headers:
        scheme, _, rest = value.strip().partition(" ")
        if not scheme:
            continue
        params = {
            m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
            for m in _PARAM_RE.finditer(rest)
        }
        out.setdefault(scheme.lower(), params)
    return out


def basic_authorization(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _hash(algorithm: str, data: str) -> str:
    name = "sha256" if algorithm.upper().startswith("SHA-256") else "md5"
    return hashlib.new(name, data.encode("utf-8")).hexdigest()


def digest_authorization(
    method: str,
    uri: str,
    username: str,
    password: str,
    challenge: dict[str, str],
    *,
    cnonce: str,
    nc: int = 1,
) -> str:
    """The ``Authorization`` value answering a Digest *challenge* (RFC 2617, MD5 / MD5-sess / SHA-256)."""
    realm = challenge.get("realm", "")
    nonce = challenge.get("nonce", "")
    algorithm = challenge.get("algorithm", "MD5")
    qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
    ha1 = _hash(algorithm, f"{username}:{realm}:{password}")
    if algorithm.lower().endswith("-sess"):
        ha1 = _hash(algorithm, f"{ha1}:{nonce}:{cnonce}")
    ha2 = _hash(algorithm, f"{method}:{uri}")
    fields = [
        f'username="{username}"',
        f'realm="{realm}"',
        f'nonce="{nonce}"',
        f'uri="{uri}"',
    ]
    if "auth" in qops:
        ncv = f"{nc:08x}"
        response = _hash(algorithm, f"{ha1}:{nonce}:{ncv}:{cnonce}:auth:{ha2}")
        fields += [f'response="{response}"', "qop=auth", f"nc={ncv}", f'cnonce="{cnonce}"']
    else:
        response = _hash(algorithm, f"{ha1}:{nonce}:{ha2}")
        fields.append(f'response="{response}"')
    if "opaque" in challenge:
        fields.append(f'opaque="{challenge["opaque"]}"')
    if "algorithm" in challenge:
        fields.append(f"algorithm={algorithm}")
    return "Digest " + ", ".join(fields)


def answer_challenge(
    method: str, uri: str, username: str, password: str, challenges: dict[str, dict[str, str]]
) -> str | None:
    """Authorization for the strongest offered scheme we speak, or ``None`` if none."""
    if "digest" in challenges:
        return digest_authorization(
            method, uri, username, password, challenges["digest"], cnonce=os.urandom(8).hex()
        )
    if "basic" in challenges:
        return basic_authorization(username, password)
    return None


def _peer(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    try:
        addr = stream.get_extra_info("server_addr") if stream is not None else None
    except Exception:  # pragma: no cover - transport without the information
        return None
    return str(addr[0]) if addr else None


class CameraAuth(httpx.Auth):
    """httpx auth that answers the camera's challenge (Digest or Basic); sends no password up front."""

    def __init__(self, username: str, password: str) -> None:
        self._username = username
        self._password = password

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.pop("Authorization", None)  # never up front, whatever else set it
        response = yield request
        if response.status_code != 401 or response.request.url.host != request.url.host:
            return
        try:
            netpolicy.check_peer(request.url.host, _peer(response))
        except netpolicy.Refused:
            return  # connected somewhere not allowed: the 401 stands, no credentials sent
        challenges = parse_challenges(response.headers.get_list("www-authenticate"))
        uri = request.url.raw_path.decode("ascii", "replace")
        value = answer_challenge(request.method, uri, self._username, self._password, challenges)
        if value is None:
            return
        request.headers["Authorization"] = value
        yield request
