"""FFmpeg may open network protocols only; URLs with other schemes never reach it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from camsvc.probing.result import ErrorClass
from camsvc.probing.stream import capture_options, probe
from tests.probing import servers as S
from tests.security.conftest import Serve


def test_whitelist_is_minimal() -> None:
    for transport in ("tcp", "udp"):
        opts = dict(kv.split(";", 1) for kv in capture_options(transport).split("|"))
        allowed = set(opts["protocol_whitelist"].split(","))
        assert {"tcp", "tls", "http", "https"} <= allowed
        assert not allowed & {"file", "concat", "subfile", "crypto", "data", "pipe", "ftp", "hls"}
    assert "udp" not in capture_options("tcp")


@pytest.mark.parametrize(
    "url",
    [
        "concat:/etc/passwd|/etc/hosts",
        "file:///etc/passwd",
        "subfile,,start,0,end,0,,:/etc/passwd",
        "/etc/hosts",
    ],
)
def test_non_network_urls_are_refused_as_invalid(url: str, client: Any) -> None:
    r = probe(url)
    assert (r.ok, r.error) == (False, ErrorClass.INVALID_URL)
    resp = client.post("/api/cameras", json={"id": "c", "name": "x", "kind": "roadside", "main_url": url})
    assert resp.status_code == 422


_OPEN = """
import sys
if sys.argv[2] == "whitelist":
    from camsvc.probing.stream import load_cv2  # sets camsvc's FFmpeg options first
    cv2 = load_cv2()
else:
    import cv2
cap = cv2.VideoCapture(sys.argv[1], cv2.CAP_FFMPEG)
print("opened" if cap.isOpened() and cap.read()[0] else "refused")
"""


@pytest.mark.integration
def test_ffmpeg_itself_refuses_local_files(tmp_path: Path) -> None:
    """Even if a file path reached FFmpeg (say through a playlist a hostile server sends), it stays shut."""
    import cv2
    import numpy as np

    path = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 48))
    for i in range(5):
        w.write(np.full((48, 64, 3), i * 40, np.uint8))
    w.release()

    def open_with(mode: str) -> str:
        env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_CAPTURE_OPTIONS"}
        out = subprocess.run(
            [sys.executable, "-c", _OPEN, str(path), mode],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        return out.stdout.strip()

    assert open_with("plain") == "opened"  # the file is a good video...
    assert open_with("whitelist") == "refused"  # ...that FFmpeg will not read with camsvc's options


@pytest.mark.integration
def test_http_mjpeg_still_opens_with_the_whitelist(serve: Serve) -> None:
    srv = serve(S.http_camera("mjpeg", fps=10))
    r = probe(srv.url("http", "/video.mjpg"))
    assert r.ok, r.detail


def _tls_context(tmp_path: Path) -> Any:
    """A server context with a fresh self-signed certificate for 127.0.0.1."""
    import datetime as dt
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "camera")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["mjpeg", "snapshot"])
def test_https_streams_still_open_with_the_whitelist(serve: Serve, tmp_path: Path, kind: str) -> None:
    ctx = _tls_context(tmp_path)
    inner = S.http_camera(kind, fps=10)

    def handler(conn: Any, server: S.TinyServer) -> None:
        conn.settimeout(5)
        inner(ctx.wrap_socket(conn, server_side=True), server)

    srv = serve(handler)
    r = probe(srv.url("https", "/video.mjpg" if kind == "mjpeg" else "/snap.jpg"))
    assert r.ok, r.detail
