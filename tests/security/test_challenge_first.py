"""Credentials are sent only in answer to a 401 challenge from the same host: Digest when offered, Basic
only when the server asked for Basic. Real servers record the head of every request they receive."""

from __future__ import annotations

import pytest

from camsvc.probing.diagnose import diagnose
from camsvc.probing.result import StreamKind
from camsvc.probing.stream import probe
from camsvc.probing.target import parse_target
from tests.probing import servers as S
from tests.security.conftest import PASSWORD, Serve, authorizations

pytestmark = pytest.mark.integration


class BothSchemes(S.Auth):
    """Offers Basic first and Digest second (a client must still pick Digest); accepts Digest."""

    def challenge(self) -> str:
        return f'Basic realm="{self.realm}"\r\nWWW-Authenticate: {super().challenge()}'


def test_snapshot_first_request_carries_no_credentials(serve: Serve) -> None:
    srv = serve(S.http_camera("snapshot", auth=S.Auth("admin", PASSWORD, "basic")))
    r = probe(srv.url("http", "/snap.jpg", f"admin:{PASSWORD}"), kind=StreamKind.SNAPSHOT)
    assert r.ok, r.detail
    auths = authorizations(srv)
    assert auths[0] is None and (auths[1] or "").startswith("Basic ")  # Basic: because it asked for Basic


def test_digest_is_preferred_when_both_are_offered(serve: Serve) -> None:
    srv = serve(S.http_camera("snapshot", auth=BothSchemes("admin", PASSWORD, "digest")))
    r = probe(srv.url("http", "/snap.jpg", f"admin:{PASSWORD}"), kind=StreamKind.SNAPSHOT)
    assert r.ok, r.detail
    auths = authorizations(srv)
    assert auths[0] is None and (auths[1] or "").startswith("Digest ")
    assert PASSWORD not in b"".join(srv.requests).decode("latin-1")  # Digest: the password never travels


@pytest.mark.parametrize("kind", [StreamKind.SNAPSHOT, StreamKind.MJPEG, None])
def test_a_host_that_never_asks_never_gets_them(serve: Serve, kind: StreamKind | None) -> None:
    srv = serve(S.http_camera("snapshot" if kind is StreamKind.SNAPSHOT else "mjpeg", frames=20))
    probe(srv.url("http", "/video", f"admin:{PASSWORD}"), kind=kind)
    assert srv.requests and authorizations(srv) == [None] * len(srv.requests)


def test_ffmpeg_mjpeg_answers_only_the_challenge(serve: Serve) -> None:
    srv = serve(S.http_camera("mjpeg", auth=S.Auth("admin", PASSWORD, "basic")))
    r = probe(srv.url("http", "/video.mjpg", f"admin:{PASSWORD}"), kind=StreamKind.MJPEG)
    assert r.ok, r.detail
    auths = authorizations(srv)
    assert auths[0] is None and all(a is None or a.startswith("Basic ") for a in auths)


def test_rtsp_describe_waits_for_the_challenge(serve: Serve) -> None:
    """FFmpeg's RTSP client and camsvc's own DESCRIBE check both start without credentials."""
    srv = serve(S.rtsp_responder(auth=S.Auth("admin", PASSWORD)))
    probe(srv.url("rtsp", "/live", f"admin:{PASSWORD}"), budget_s=3.0)
    heads = srv.requests
    assert heads and S.header(heads[0], "Authorization") is None
    assert all((S.header(h, "Authorization") or "Digest ").startswith("Digest ") for h in heads)

    plain = serve(S.rtsp_responder())  # asks for nothing
    diag = diagnose(parse_target(plain.url("rtsp", "/live", f"admin:{PASSWORD}")), 2.0)
    assert diag.reachable and plain.requests
    assert authorizations(plain) == [None] * len(plain.requests)
