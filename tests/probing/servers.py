"""Tiny real servers on 127.0.0.1 that misbehave the way cameras do (for the prober's tests).

Each :class:`TinyServer` binds port 0, accepts in a thread and runs ``handler(conn, server)`` per
connection in its own thread. Handlers loop only while ``server.running`` and for a bounded time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np

from camsvc.bench.common import free_port, wait_until
from camsvc.paths import cache_dir
from camsvc.simulate.footage import footage_dir

MAX_HANDLER_S = 30.0  # every handler gives up after this long


def footage_jpeg(name: str = "leuvenA.jpg", width: int = 640) -> bytes:
    """A real street photo as JPEG, scaled to *width* (falls back to a drawn picture if absent)."""
    img = cv2.imread(str(footage_dir(cache_dir()) / name))
    if img is None:
        img = np.zeros((360, 640, 3), np.uint8)
        cv2.putText(img, "camsvc", (40, 200), cv2.FONT_HERSHEY_SIMPLEX, 3, (255, 255, 255), 5)
    h, w = img.shape[:2]
    img = cv2.resize(img, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return bytes(buf)


Handler = Callable[[socket.socket, "TinyServer"], None]


class TinyServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.running = True
        self.requests: list[bytes] = []  # raw request heads received, for assertions
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url(self, scheme: str, path: str = "/", userinfo: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"{scheme}://{at}127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        deadline = time.monotonic() + 600
        while self.running and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handler(conn, self)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self.running = False
        self.sock.close()
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.close()
        self._thread.join(2)

    def __enter__(self) -> TinyServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def refused_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    return free_port()


def read_head(conn: socket.socket, server: TinyServer, timeout: float = 5.0) -> bytes:
    """Read one request head (up to the blank line); b'' when the client went away."""
    conn.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            return b""
        buf += chunk
    server.requests.append(buf)
    return buf


def header(head: bytes, name: str) -> str | None:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def wait_stop(server: TinyServer, seconds: float = MAX_HANDLER_S) -> None:
    wait_until(lambda: not server.running, seconds, 0.05)


# --- handlers -------------------------------------------------------------------------------------------


def hang(conn: socket.socket, server: TinyServer) -> None:
    """Accept, then say nothing (a hung camera)."""
    wait_stop(server)


def garbage(conn: socket.socket, server: TinyServer) -> None:
    """Send random bytes whatever is asked (something that is not a camera on that port)."""
    rnd = np.random.default_rng(1)
    end = time.monotonic() + MAX_HANDLER_S
    while server.running and time.monotonic() < end:
        conn.sendall(rnd.integers(0, 256, 4096, dtype=np.uint8).tobytes())
        time.sleep(0.01)


class Auth:
    """Checks Basic or Digest credentials in a request head."""

    def __init__(self, username: str, password: str, scheme: str = "digest", realm: str = "cam") -> None:
        self.username, self.password, self.scheme, self.realm = username, password, scheme, realm
        self.nonce = os.urandom(8).hex()

    def challenge(self) -> str:
        if self.scheme == "basic":
            return f'Basic realm="{self.realm}"'
        return f'Digest realm="{self.realm}", nonce="{self.nonce}", qop="auth"'

    def ok(self, head: bytes, method: str) -> bool:
        value = header(head, "Authorization")
        if not value:
            return False
        if self.scheme == "basic":
            import base64

            return value == "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        from camsvc.probing.auth import parse_challenges

        p = parse_challenges([value]).get("digest", {})

        def md5(s: str) -> str:
            return hashlib.md5(s.encode()).hexdigest()

        ha1 = md5(f"{self.username}:{self.realm}:{self.password}")
        ha2 = md5(f"{method}:{p.get('uri', '')}")
        if "qop" in p:
            expect = md5(f"{ha1}:{p.get('nonce')}:{p.get('nc')}:{p.get('cnonce')}:{p.get('qop')}:{ha2}")
        else:
            expect = md5(f"{ha1}:{p.get('nonce')}:{ha2}")
        return p.get("username") == self.username and p.get("response") == expect


def http_reply(status: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    h = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in h.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def http_status(status: str, ctype: str = "text/html", body: bytes = b"<html>camera</html>") -> Handler:
    def handler(conn: socket.socket, server: TinyServer) -> None:
        if read_head(conn, server):
            conn.sendall(http_reply(status, {"Content-Type": ctype}, body))

    return handler


def http_camera(
    kind: str,
    *,
    auth: Auth | None = None,
    fps: float = 10.0,
    frames: int | None = None,
    after: str = "close",
    jpeg: bytes | None = None,
    ctype: str | None = None,
) -> Handler:
    """An HTTP camera. kind ``snapshot``: one JPEG per GET; ``mjpeg``: multipart frames at *fps*.

    With *frames* set, the MJPEG stream stops after that many frames: ``after="close"`` ends it,
    ``"stall"`` keeps the connection open and silent. *auth* demands credentials (401 + challenge).
    """
    data = jpeg if jpeg is not None else footage_jpeg()

    def handler(conn: socket.socket, server: TinyServer) -> None:
        head = read_head(conn, server)
        if not head:
            return
        if auth is not None and not auth.ok(head, "GET"):
            conn.sendall(http_reply("401 Unauthorized", {"WWW-Authenticate": auth.challenge()}))
            return
        if kind == "snapshot":
            conn.sendall(http_reply("200 OK", {"Content-Type": ctype or "image/jpeg"}, data))
            return
        boundary = "camsvcframe"
        conn.sendall(
            (
                "HTTP/1.1 200 OK\r\nConnection: close\r\nCache-Control: no-cache\r\n"
                f"Content-Type: {ctype or f'multipart/x-mixed-replace; boundary={boundary}'}\r\n\r\n"
            ).encode()
        )
        end = time.monotonic() + MAX_HANDLER_S
        n = 0
        while server.running and time.monotonic() < end:
            if frames is not None and n >= frames:
                if after == "stall":
                    wait_stop(server)
                return
            part = (
                (f"--{boundary}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n").encode()
                + data
                + b"\r\n"
            )
            conn.sendall(part)
            n += 1
            time.sleep(1.0 / fps)

    return handler


def endless_body(ctype: str = "image/jpeg", chunk: int = 65536, delay: float = 0.0) -> Handler:
    """200 with a body that never ends (no Content-Length)."""

    def handler(conn: socket.socket, server: TinyServer) -> None:
        if not read_head(conn, server):
            return
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nConnection: close\r\n\r\n".encode())
        block = b"\xff" * chunk
        end = time.monotonic() + MAX_HANDLER_S
        while server.running and time.monotonic() < end:
            conn.sendall(block)
            if delay:
                time.sleep(delay)

    return handler


def trickle_headers(interval: float = 0.3) -> Handler:
    """Answers a request with header bytes one at a time, forever: defeats per-read timeouts."""

    def handler(conn: socket.socket, server: TinyServer) -> None:
        if not read_head(conn, server):
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        end = time.monotonic() + MAX_HANDLER_S
        while server.running and time.monotonic() < end:
            conn.sendall(b"X")
            time.sleep(interval)

    return handler


SDP_VIDEO = (
    "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:track1\r\n"
)
SDP_AUDIO_ONLY = (
    "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
    "m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=control:track1\r\n"
)


def rtsp_responder(
    *,
    describe_status: str = "200 OK",
    sdp: str = SDP_VIDEO,
    auth: Auth | None = None,
    after_play: str | None = None,
) -> Handler:
    """A minimal RTSP server: answers OPTIONS and DESCRIBE (with auth if asked), then goes silent.

    With *after_play* it also answers SETUP and PLAY, then ends the stream before any frame: ``"close"``
    closes the connection, ``"bye"`` sends an RTCP BYE (interleaved channel 1) and keeps it open.
    """

    def handler(conn: socket.socket, server: TinyServer) -> None:
        end = time.monotonic() + MAX_HANDLER_S
        while server.running and time.monotonic() < end:
            head = read_head(conn, server, timeout=MAX_HANDLER_S)
            if not head:
                return
            method = head.split(b" ", 1)[0].decode()
            cseq = header(head, "CSeq") or "0"
            if auth is not None and not auth.ok(head, method):
                reply = f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\nWWW-Authenticate: {auth.challenge()}\r\n\r\n"
                conn.sendall(reply.encode())
                continue
            if method == "OPTIONS":
                conn.sendall(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: OPTIONS, DESCRIBE\r\n\r\n".encode())
            elif method == "DESCRIBE":
                if describe_status.startswith("200"):
                    body = sdp.encode()
                    conn.sendall(
                        (
                            f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: application/sdp\r\n"
                            f"Content-Length: {len(body)}\r\n\r\n"
                        ).encode()
                        + body
                    )
                else:
                    conn.sendall(f"RTSP/1.0 {describe_status}\r\nCSeq: {cseq}\r\n\r\n".encode())
            elif after_play and method == "SETUP":
                conn.sendall(
                    f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nSession: 12345678;timeout=60\r\n"
                    f"Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n".encode()
                )
            elif after_play and method == "PLAY":
                conn.sendall(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nSession: 12345678\r\n\r\n".encode())
                if after_play == "bye":
                    # RTCP compound: an empty receiver report (201), then BYE (203) for one source
                    rtcp = bytes([0x80, 201, 0, 1]) + b"\x00\x00\x00\x01" + bytes([0x81, 203, 0, 1])
                    rtcp += b"\x00\x00\x00\x01"
                    conn.sendall(b"$\x01" + len(rtcp).to_bytes(2, "big") + rtcp)
                    wait_stop(server)
                conn.shutdown(socket.SHUT_RDWR)
                return
            else:  # SETUP/PLAY...: never answered (a camera that stops half-way)
                wait_stop(server)
                return

    return handler


def mark_result(result: object) -> None:
    """A pool ``postprocess`` for tests: records in the worker how many frames it saw."""
    frames = getattr(result, "frames", [])
    result.metrics["frames_seen_in_worker"] = float(len(frames))  # type: ignore[attr-defined]


def relay(up_port: int, close_after_s: float) -> TinyServer:
    """A TCP relay to ``127.0.0.1:up_port`` (a real camera) that closes the client's connection (FIN)
    *close_after_s* after media started to flow: a server that sends a valid stream, then closes."""

    def handler(conn: socket.socket, server: TinyServer) -> None:
        up = socket.create_connection(("127.0.0.1", up_port), timeout=5)
        up.settimeout(1.0)
        conn.settimeout(1.0)
        stop = threading.Event()

        def client_to_up() -> None:
            with contextlib.suppress(OSError):
                while not stop.is_set():
                    try:
                        data = conn.recv(65536)
                    except TimeoutError:
                        continue
                    if not data:
                        return
                    up.sendall(data)

        threading.Thread(target=client_to_up, daemon=True).start()
        sent, started, end = 0, None, time.monotonic() + MAX_HANDLER_S
        try:
            while server.running and time.monotonic() < end:
                try:
                    data = up.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                sent += len(data)
                if started is None and sent > 4000:  # past the set-up replies: media flows
                    started = time.monotonic()
                if started is not None and time.monotonic() - started >= close_after_s:
                    break
                conn.sendall(data)
        finally:
            stop.set()
            for sock in (conn, up):  # shutdown, not only close: a thread blocked in recv holds the socket
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            up.close()

    return TinyServer(handler)
