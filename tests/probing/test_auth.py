"""Basic and Digest answers, checked against RFC 2617's own example."""

from __future__ import annotations

from camsvc.probing.auth import answer_challenge, basic_authorization, digest_authorization, parse_challenges


def test_rfc2617_digest_example() -> None:
    challenge = parse_challenges(
        [
            'Digest realm="testrealm@host.com", qop="auth,auth-int", '
            'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
        ]
    )["digest"]
    value = digest_authorization(
        "GET", "/dir/index.html", "Mufasa", "Circle Of Life", challenge, cnonce="0a4f113b", nc=1
    )
    assert 'response="6629fae49393a05397450978507c4ef1"' in value
    assert "qop=auth" in value and "nc=00000001" in value
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in value


def test_digest_without_qop() -> None:
    # RFC 2069 style: response = MD5(HA1:nonce:HA2)
    import hashlib

    challenge = {"realm": "cam", "nonce": "abc"}
    value = digest_authorization("DESCRIBE", "rtsp://cam/x", "admin", "pw", challenge, cnonce="x")
    ha1 = hashlib.md5(b"admin:cam:pw").hexdigest()
    ha2 = hashlib.md5(b"DESCRIBE:rtsp://cam/x").hexdigest()
    assert f'response="{hashlib.md5(f"{ha1}:abc:{ha2}".encode()).hexdigest()}"' in value
    assert "qop" not in value


def test_basic() -> None:
    assert basic_authorization("Aladdin", "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="


def test_prefers_digest_and_knows_nothing_else() -> None:
    both = parse_challenges(['Basic realm="x"', 'Digest realm="x", nonce="n"'])
    assert set(both) == {"basic", "digest"}
    assert (answer_challenge("GET", "/", "u", "p", both) or "").startswith("Digest ")
    assert (answer_challenge("GET", "/", "u", "p", parse_challenges(['Basic realm="x"'])) or "").startswith(
        "Basic "
    )
    assert answer_challenge("GET", "/", "u", "p", parse_challenges(["Bearer realm=x"])) is None
