"""Why did a stream fail to open? A small check run only on the failure path.

OpenCV says only "not opened". This module asks the camera itself, bounded by a deadline:
a TCP connect (refused / timeout / no route), then for RTSP a DESCRIBE answering Basic or Digest
challenges (401 / 404 / no video in the SDP / not an RTSP server at all), for HTTP a GET
(status and Content-Type). Healthy probes never run it, so they cost nothing extra.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from dataclasses import dataclass

import httpx

from camsvc import netpolicy
from camsvc.probing import classify
from camsvc.probing.auth import CameraAuth, answer_challenge, parse_challenges
from camsvc.probing.classify import Verdict
from camsvc.probing.result import ErrorClass
from camsvc.probing.target import Target
from camsvc.redact import redact_text

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 64 * 1024
USER_AGENT = "camsvc-probe/1"


@dataclass(frozen=True)
class Diagnosis:
    reachable: bool  # a TCP connection was accepted
    verdict: Verdict | None  # None: the camera looked healthy to the check


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self, cap: float | None = None) -> float:
        left = max(0.0, self.end - time.monotonic())
        return min(left, cap) if cap is not None else left


def diagnose(target: Target, timeout_s: float) -> Diagnosis:
    """Check *target* within *timeout_s* seconds (never raises)."""
    deadline = _Deadline(timeout_s)
    try:
        if target.is_rtsp:
            return _diagnose_rtsp(target, deadline)
        return _diagnose_http(target, deadline)
    except Exception as exc:  # a check must never break the probe it explains
        log.debug("diagnosis of %s failed: %s", target.redacted, redact_text(repr(exc), target.secrets))
        return Diagnosis(False, None)


def _connect(target: Target, deadline: _Deadline) -> socket.socket | Diagnosis:
    try:
        sock = socket.create_connection((target.host, target.port), timeout=max(0.05, deadline.left(3.0)))
    except OSError as exc:
        return Diagnosis(False, classify.classify_connect_error(exc))
    try:  # the address actually connected to (a name may resolve elsewhere than when it was checked)
        netpolicy.check_peer(target.host, sock.getpeername()[0])
    except (netpolicy.Refused, OSError) as exc:
        sock.close()
        return Diagnosis(False, (ErrorClass.INVALID_URL, str(exc)))
    if target.tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # cameras use self-signed certificates; only reachability matters
        try:
            sock.settimeout(max(0.05, deadline.left()))
            sock = ctx.wrap_socket(sock, server_hostname=target.host)
        except (OSError, ssl.SSLError):
            sock.close()
            return Diagnosis(True, (ErrorClass.DECODE_ERROR, "TLS handshake failed (not a TLS server?)"))
    return sock


@dataclass
class _RtspReply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


class _NotRtsp(Exception):
    pass


def _read_rtsp_reply(sock: socket.socket, deadline: _Deadline) -> _RtspReply | None:
    """One RTSP reply, or ``None`` when the server closed the connection without one."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        left = deadline.left()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(4096)
        if not chunk:
            if buf:
                raise _NotRtsp
            return None
        buf += chunk
        if len(buf) >= 5 and not buf.startswith(b"RTSP/"):
            raise _NotRtsp
        if len(buf) > MAX_HEADER_BYTES:
            raise _NotRtsp
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        raise _NotRtsp from None
    headers = []
    for line in lines[1:]:
        k, sep, v = line.partition(":")
        if sep:
            headers.append((k.strip(), v.strip()))
    length = 0
    for k, v in headers:
        if k.lower() == "content-length" and v.isdigit():
            length = min(int(v), MAX_HEADER_BYTES)
    while len(body) < length:
        left = deadline.left()
        if left <= 0:
            break
        sock.settimeout(left)
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return _RtspReply(status, headers, body)


def _describe(sock: socket.socket, target: Target, cseq: int, authorization: str | None) -> None:
    lines = [
        f"DESCRIBE {target.bare_url} RTSP/1.0",
        f"CSeq: {cseq}",
        "Accept: application/sdp",
        f"User-Agent: {USER_AGENT}",
    ]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def _diagnose_rtsp(target: Target, deadline: _Deadline) -> Diagnosis:
    conn = _connect(target, deadline)
    if isinstance(conn, Diagnosis):
        return conn
    sock = conn
    try:
        try:
            _describe(sock, target, 1, None)
            reply = _read_rtsp_reply(sock, deadline)  # first without credentials: only a challenge gets them
            if reply is not None and reply.status == 401 and target.username:
                challenges = parse_challenges(reply.header_values("WWW-Authenticate"))
                value = answer_challenge(
                    "DESCRIBE", target.bare_url, target.username, target.password or "", challenges
                )
                if value is not None:
                    try:
                        _describe(sock, target, 2, value)
                        second = _read_rtsp_reply(sock, deadline)
                    except OSError:
                        second = None
                    if second is None:  # some cameras close after a 401: answer on a new connection
                        sock.close()
                        conn = _connect(target, deadline)
                        if isinstance(conn, Diagnosis):
                            return conn
                        sock = conn
                        _describe(sock, target, 2, value)
                        second = _read_rtsp_reply(sock, deadline)
                    reply = second
        except TimeoutError:
            return Diagnosis(True, (ErrorClass.TIMEOUT, "connected, but the server does not answer RTSP"))
        except _NotRtsp:
            return Diagnosis(True, (ErrorClass.DECODE_ERROR, "the server's reply is not RTSP (wrong port?)"))
        except OSError:
            return Diagnosis(True, (ErrorClass.ENDED, "the server dropped the connection without answering"))
        if reply is None:
            return Diagnosis(True, (ErrorClass.ENDED, "the server closed the connection without answering"))
        verdict = classify.classify_rtsp_status(reply.status, bool(target.username))
        if verdict is not None:
            return Diagnosis(True, verdict)
        if not classify.sdp_has_video(reply.body.decode("latin-1", "replace")):
            return Diagnosis(True, (ErrorClass.NO_VIDEO, "the stream has no video track (SDP lists none)"))
        return Diagnosis(True, None)
    finally:
        sock.close()


def http_client(target: Target, connect_s: float, read_s: float) -> httpx.Client:
    """An httpx client for *target*: answers Basic/Digest challenges, no redirects, no proxies."""
    auth = CameraAuth(target.username, target.password or "") if target.username else None
    timeout = httpx.Timeout(connect=connect_s, read=read_s, write=read_s, pool=connect_s)
    return httpx.Client(
        auth=auth,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        verify=False,  # cameras use self-signed certificates
        headers={"User-Agent": USER_AGENT},
    )


def _diagnose_http(target: Target, deadline: _Deadline) -> Diagnosis:
    conn = _connect(target, deadline)  # separates refused / no route from HTTP-level problems
    if isinstance(conn, Diagnosis):
        return conn
    conn.close()
    left = max(0.05, deadline.left())
    try:
        with (
            http_client(target, left, left) as client,
            client.stream("GET", target.bare_url) as resp,
        ):
            verdict = classify.classify_http_status(resp.status_code, bool(target.username))
            if verdict is not None:
                return Diagnosis(True, verdict)
            ctype = resp.headers.get("content-type")
            if classify.kind_from_content_type(ctype) is not None:
                return Diagnosis(True, None)
            if classify.is_not_video_content_type(ctype):
                return Diagnosis(True, (ErrorClass.NO_VIDEO, f"the URL serves {ctype}, not video"))
            got = 0
            for chunk in resp.iter_raw():
                got += len(chunk)
                if got or deadline.left() <= 0:
                    break
            if got == 0:
                return Diagnosis(True, (ErrorClass.ENDED, "the server sent an empty reply"))
            shown = ctype or "no Content-Type"
            return Diagnosis(True, (ErrorClass.DECODE_ERROR, f"the reply ({shown}) is not a decodable video"))
    except httpx.TimeoutException:
        return Diagnosis(True, (ErrorClass.TIMEOUT, "connected, but the server does not answer HTTP"))
    except (httpx.RemoteProtocolError, httpx.DecodingError):
        return Diagnosis(True, (ErrorClass.DECODE_ERROR, "the server's reply is not HTTP (wrong port?)"))
    except httpx.HTTPError:
        return Diagnosis(True, (ErrorClass.ENDED, "the server dropped the connection without answering"))


# --- did the server end the stream? (the failure path of an open or a first read that failed at once) -----

PLAY_CHECK_MAX_S = 1.5
RTCP_BYE = 203


def _request(sock: socket.socket, method: str, url: str, cseq: int, extra: list[str]) -> None:
    lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}", f"User-Agent: {USER_AGENT}", *extra]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def _video_control(sdp: str, base: str) -> str:
    """The SETUP URL of the first video track of an SDP (RFC 2326 C.1.1: absolute, relative or ``*``)."""
    in_video = False
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.lower().startswith("m="):
            in_video = line.lower().startswith("m=video")
        elif in_video and line.lower().startswith("a=control:"):
            control = line.split(":", 1)[1].strip()
            if control.lower().startswith(("rtsp://", "rtsps://")):
                return control
            if control in ("", "*"):
                return base
            return base.rstrip("/") + "/" + control
    return base


def _bye_or_teardown(buf: bytearray) -> tuple[bool, int]:
    """Walk interleaved frames (``$`` channel length payload) in *buf*; True when an RTCP BYE or a server
    TEARDOWN is among them. Returns (ended, bytes consumed)."""
    pos = 0
    while len(buf) - pos >= 4:
        if buf[pos] == 0x24:
            channel, length = buf[pos + 1], int.from_bytes(buf[pos + 2 : pos + 4], "big")
            if len(buf) - pos - 4 < length:
                break
            payload = bytes(buf[pos + 4 : pos + 4 + length])
            pos += 4 + length
            off = 0
            while channel % 2 == 1 and off + 4 <= len(payload):  # RTCP: a compound of packets
                if payload[off + 1] == RTCP_BYE:
                    return True, pos
                off += (int.from_bytes(payload[off + 2 : off + 4], "big") + 1) * 4
        else:  # an RTSP message from the server (a reply, or a request such as TEARDOWN)
            end = buf.find(b"\r\n\r\n", pos)
            if end < 0:
                break
            if bytes(buf[pos : pos + 9]).upper().startswith(b"TEARDOWN"):
                return True, end + 4
            pos = end + 4
    return False, pos


def rtsp_play_ended(target: Target, timeout_s: float) -> Verdict | None:
    """Play the stream once over TCP and watch it for a moment: an ``ended`` verdict when the server closes
    the connection, resets it, sends an RTCP BYE or a TEARDOWN before *timeout_s*; ``None`` when media keeps
    flowing or the check cannot tell (never raises). Run only where OpenCV failed at once after the server
    answered DESCRIBE, which it cannot tell from an unsupported codec."""
    deadline = _Deadline(min(timeout_s, PLAY_CHECK_MAX_S))
    try:
        conn = _connect(target, deadline)
        if isinstance(conn, Diagnosis):
            return None
        with conn as sock:
            return _play_and_watch(sock, target, deadline)
    except (OSError, _NotRtsp, ValueError) as exc:
        log.debug("play check of %s: %s", target.redacted, redact_text(repr(exc), target.secrets))
        return None


def _play_and_watch(sock: socket.socket, target: Target, deadline: _Deadline) -> Verdict | None:
    url = target.bare_url
    challenges: dict[str, dict[str, str]] = {}
    session: list[str] = []
    cseq = 0

    def ask(method: str, uri: str, extra: list[str]) -> _RtspReply | None:
        nonlocal cseq, challenges
        for _ in range(2):
            cseq += 1
            auth = []
            if challenges and target.username:
                value = answer_challenge(method, uri, target.username, target.password or "", challenges)
                auth = [f"Authorization: {value}"] if value else []
            _request(sock, method, uri, cseq, [*extra, *session, *auth])
            reply = _read_rtsp_reply(sock, deadline)
            if reply is None or reply.status != 401 or challenges or not target.username:
                return reply
            challenges = parse_challenges(reply.header_values("WWW-Authenticate"))
        return reply

    described = ask("DESCRIBE", url, ["Accept: application/sdp"])
    if described is None:
        return ErrorClass.ENDED, "the server closed the connection before the stream started"
    if described.status != 200:
        return None
    base = (described.header_values("Content-Base") or [url])[0]
    control = _video_control(described.body.decode("latin-1", "replace"), base)
    setup = ask("SETUP", control, ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])
    if setup is None:
        return ErrorClass.ENDED, "the server closed the connection while the stream was set up"
    if setup.status != 200:
        return None
    session = [f"Session: {v.split(';', 1)[0].strip()}" for v in setup.header_values("Session")[:1]]
    play = ask("PLAY", base, ["Range: npt=0.000-"])
    if play is None:
        return ErrorClass.ENDED, "the server closed the connection when asked to play"
    if play.status != 200:
        return None
    buf = bytearray(play.body)  # bytes after the reply head: media already
    got = len(buf)
    while deadline.left() > 0:
        ended, used = _bye_or_teardown(buf)
        if ended:
            return ErrorClass.ENDED, f"the server ended the stream (BYE/TEARDOWN) after {got} bytes"
        del buf[:used]
        sock.settimeout(max(0.01, deadline.left()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionError:
            return ErrorClass.ENDED, f"the server reset the connection after {got} bytes of the stream"
        if not chunk:
            return ErrorClass.ENDED, f"the server closed the stream after {got} bytes, before a whole frame"
        got += len(chunk)
        buf += chunk
    return None
