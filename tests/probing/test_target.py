"""URL validation: what the prober accepts, and that its error messages never carry a password."""

from __future__ import annotations

import pytest

from camsvc.probing.result import StreamKind
from camsvc.probing.target import InvalidURL, parse_target


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "user", "password"),
    [
        ("rtsp://10.0.0.5/Streaming/Channels/101", "rtsp", "10.0.0.5", 554, None, None),
        ("rtsp://admin:pa%40ss@10.0.0.5:8554/live", "rtsp", "10.0.0.5", 8554, "admin", "pa@ss"),
        ("RTSP://cam.local/x", "rtsp", "cam.local", 554, None, None),
        ("rtsps://cam/x", "rtsps", "cam", 322, None, None),
        ("http://192.168.1.9/cgi-bin/snapshot.cgi", "http", "192.168.1.9", 80, None, None),
        ("https://u:p4ssw0rd@[::1]:8443/jpg/image.jpg", "https", "::1", 8443, "u", "p4ssw0rd"),
        ("http://:secret@cam/x", "http", "cam", 80, None, "secret"),
    ],
)
def test_accepted(
    url: str, scheme: str, host: str, port: int, user: str | None, password: str | None
) -> None:
    t = parse_target(url)
    assert (t.scheme, t.host, t.port, t.username, t.password) == (scheme, host, port, user, password)
    assert "@" not in t.bare_url
    if password:
        assert password not in t.redacted and password not in repr(t)


@pytest.mark.parametrize(
    ("url", "kind", "reason"),
    [
        ("", None, "empty"),
        ("ftp://user:hunter22@cam/x", None, "unsupported scheme 'ftp'"),
        ("file:///etc/passwd", None, "unsupported scheme 'file'"),
        ("10.0.0.5/live", None, "unsupported scheme 'none'"),
        ("rtsp:///live", None, "no host"),
        ("rtsp://admin:hunter22@cam:99999/x", None, "malformed"),
        ("rtsp://admin:hunter22@cam:0/x", None, "port 0"),
        ("rtsp://cam/live stream", None, "spaces"),
        ("rtsp://cam/x\n", None, "control characters"),
        ("http://cam/x.jpg", StreamKind.RTSP, "needs a rtsp or rtsps URL"),
        ("rtsp://cam/x", StreamKind.SNAPSHOT, "needs a http or https URL"),
        ("rtsp://cam/x", StreamKind.MJPEG, "needs a http or https URL"),
    ],
)
def test_rejected_with_a_reason_and_no_secret(url: str, kind: StreamKind | None, reason: str) -> None:
    with pytest.raises(InvalidURL) as info:
        parse_target(url, kind)
    assert reason in str(info.value)
    assert "hunter22" not in str(info.value)


def test_request_uri_keeps_query() -> None:
    t = parse_target("rtsp://a:b@cam:554/cam/realmonitor?channel=1&subtype=0")
    assert t.request_uri == "/cam/realmonitor?channel=1&subtype=0"
    assert t.bare_url == "rtsp://cam:554/cam/realmonitor?channel=1&subtype=0"
