"""One simulated camera's network front: its own port, RTSP (relayed to the GStreamer server) and HTTP.

Each camera listens on ``base_port + index``. The first request line tells RTSP from HTTP, so an RTSP
camera also answers its HTTP snapshot URL on the same port. RTSP requests are parsed (auth, path mapping)
and relayed to the internal GStreamer server; the server's replies and interleaved media go back as raw
bytes. Protocol faults are played here, on real sockets:

* ``down``: the listener is closed (connection refused) and open connections are reset.
* ``hang``: new connections are accepted and never answered; open ones go silent both ways.
* ``stall``: media stops flowing ``STALL_AFTER_S`` into a session (at once for running ones); the
  connection stays open and the server's bytes are read and dropped.
* ``auth``: every request gets 401, whatever the credentials.
* ``ended``: RTSP: the GStreamer server ends the session (EOS -> RTCP BYE) and the front closes the
  connection shortly after; HTTP: the MJPEG stream closes with its final boundary.

Vendor playback (camsvc/simulate/playback.py): a Hikvision ``/Streaming/tracks/10x?starttime=..`` or Dahua
``/cam/playback?..`` URL is checked here, after the same auth as live (400 for a malformed time, 404 for a
range wholly outside what the camera kept), then the front asks the GStreamer server for a one-off mount
``/<camera>/<main|sub>/pb<n>`` replaying the range and relays the session to it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from camsvc.simulate.faults import ENDED_AFTER_S, LOWFPS, NORMAL, STALL_AFTER_S
from camsvc.simulate.fleet import CameraSpec
from camsvc.simulate.playback import PlaybackError, kept_overlap, parse_playback


class Frames(Protocol):
    """What the HTTP side serves: SceneFrames (looped footage) or clockcam.ClockFrames."""

    fps: float

    def current(self, phase_s: float, fault: str, now: float | None = None) -> bytes: ...


log = logging.getLogger(__name__)

MAX_HEADER_LINES = 100
MAX_LINE = 8192
IDLE_LIMIT_S = 600.0  # a connection that sends nothing for this long is closed (bounds every wait)
SILENT_LIMIT_S = 900.0  # hung/stalled connections are held at most this long
BOUNDARY = "camsvcboundary"
PLAYBACK_CLOSE_SLACK_S = 8.0  # a keyframe interval before the start, set-up, the BYE on its way

# (stream, start_ms, end_ms) -> internal mount path replaying that range
OpenPlayback = Callable[[str, int, int], Awaitable[str]]


@dataclass(eq=False)
class Conn:
    writer: asyncio.StreamWriter
    stalled: bool = False  # latched: a stalled session never resumes
    silenced: bool = False  # latched: hung while open


def _md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


def _parse_auth_params(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    i = 0
    n = len(value)
    while i < n:
        while i < n and value[i] in " ,":
            i += 1
        eq = value.find("=", i)
        if eq < 0:
            break
        key = value[i:eq].strip().lower()
        i = eq + 1
        if i < n and value[i] == '"':
            end = value.find('"', i + 1)
            end = n if end < 0 else end
            out[key] = value[i + 1 : end]
            i = end + 1
        else:
            end = value.find(",", i)
            end = n if end < 0 else end
            out[key] = value[i:end].strip()
            i = end
    return out


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: dict[str, str] = field(default_factory=dict)
    raw_lines: list[bytes] = field(default_factory=list)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


class CameraFront:
    """The listener and the live connections of one camera; ``fault`` is read at every step."""

    def __init__(
        self,
        spec: CameraSpec,
        host: str,
        gst_port: int | None,
        frames: Frames | None,
        *,
        open_playback: OpenPlayback | None = None,
        keep_s: float = 1800.0,
        kept_since: float | None = None,
    ) -> None:
        self.spec = spec
        self.open_playback = open_playback
        self.keep_s = keep_s
        self.kept_since = time.time() if kept_since is None else kept_since
        self.host = host
        self.gst_port = gst_port
        self.frames = frames
        self.fault = NORMAL
        self.server: asyncio.Server | None = None
        self.conns: set[Conn] = set()
        self._nonce = secrets.token_hex(16)
        self.realm = "IP Camera" if spec.camera.vendor in ("Hikvision", "Ezviz") else f"Login to {spec.id}"
        self.requests = 0

    # --- listener ---------------------------------------------------------------------------------------

    async def open(self, sock: socket.socket | None = None) -> None:
        if self.server is not None:
            return
        if sock is None:
            sock = bind_socket(self.host, self.spec.port)
        self.server = await asyncio.start_server(self._handle, sock=sock, limit=1 << 16)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        self.abort_all()

    def abort_all(self) -> None:
        for c in list(self.conns):
            transport = c.writer.transport
            with contextlib.suppress(OSError):
                sock = transport.get_extra_info("socket")
                if sock is not None:  # SO_LINGER 0: RST, like a camera that lost power mid-stream
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            transport.abort()
        self.conns.clear()

    async def set_fault(self, fault: str) -> None:
        self.fault = fault
        if fault == "down":
            await self.close()
        elif self.server is None:
            await self.open()
        if fault == "hang":
            for c in self.conns:
                c.silenced = True

    # --- connections ------------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Conn(writer)
        self.conns.add(conn)
        try:
            if self.fault == "hang":
                await _swallow(reader)
                return
            line = await _readline(reader)
            if not line:
                return
            if self.fault == "hang":
                await _swallow(reader)
                return
            if line.rstrip().upper().endswith((b"HTTP/1.1", b"HTTP/1.0")):
                await self._http(conn, line, reader)
            elif self.spec.protocol == "rtsp" and line.rstrip().upper().endswith(b"RTSP/1.0"):
                await RtspRelay(self, conn, reader).run(line)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        except Exception:  # one bad connection never takes the camera down
            log.exception("%s: connection handler failed", self.spec.id)
        finally:
            self.conns.discard(conn)
            with contextlib.suppress(Exception):
                writer.close()

    # --- auth -------------------------------------------------------------------------------------------

    def authorized(self, req: Request, scheme: str) -> bool:
        if self.fault == "auth":
            return False
        cam = self.spec.camera
        if not cam.username:
            return True
        value = req.header("authorization")
        kind, _, rest = value.partition(" ")
        if kind.lower() == "basic":
            try:
                user, _, pw = base64.b64decode(rest.strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return secrets.compare_digest(user, cam.username) and secrets.compare_digest(pw, cam.password)
        if kind.lower() == "digest" and scheme == "digest":
            p = _parse_auth_params(rest)
            if p.get("username") != cam.username or p.get("nonce") != self._nonce:
                return False
            ha1 = _md5(f"{cam.username}:{p.get('realm', '')}:{cam.password}")
            ha2 = _md5(f"{req.method}:{p.get('uri', '')}")
            if p.get("qop"):
                expect = _md5(
                    f"{ha1}:{self._nonce}:{p.get('nc', '')}:{p.get('cnonce', '')}:{p.get('qop')}:{ha2}"
                )
            else:
                expect = _md5(f"{ha1}:{self._nonce}:{ha2}")
            return p.get("realm") == self.realm and secrets.compare_digest(p.get("response", ""), expect)
        return False

    def challenge(self, scheme: str) -> str:
        if scheme == "digest":
            return f'Digest realm="{self.realm}", nonce="{self._nonce}", stale="FALSE"'
        return f'Basic realm="{self.realm}"'

    # --- HTTP: MJPEG stream and snapshot ----------------------------------------------------------------

    async def _http(self, conn: Conn, first: bytes, reader: asyncio.StreamReader) -> None:
        req = await _read_request(first, reader)
        w = conn.writer
        self.requests += 1
        path = req.target
        spec = self.spec
        is_snapshot = bool(spec.snapshot_path) and _same_path(path, spec.snapshot_path)
        is_mjpeg = spec.protocol == "http" and bool(spec.main_path) and _same_path(path, spec.main_path)
        if req.method not in ("GET", "HEAD"):
            await _http_reply(w, "405 Method Not Allowed", b"method not allowed\n")
            return
        if not (is_snapshot or is_mjpeg):
            await _http_reply(w, "404 Not Found", b"not found\n")
            return
        if not self.authorized(req, "basic"):
            log.debug("%s: HTTP 401", spec.id)
            await _http_reply(
                w, "401 Unauthorized", b"unauthorized\n", [("WWW-Authenticate", self.challenge("basic"))]
            )
            return
        if self.frames is None:
            await _http_reply(w, "503 Service Unavailable", b"no picture\n")
            return
        if is_snapshot:
            await self._snapshot(conn, reader, req.method == "HEAD")
        else:
            await self._mjpeg(conn, reader)

    async def _snapshot(self, conn: Conn, reader: asyncio.StreamReader, head_only: bool) -> None:
        assert self.frames is not None
        w = conn.writer
        data = self.frames.current(self.spec.phase_s, self.fault)
        w.write(
            (
                "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n"
                f"Content-Length: {len(data)}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        if head_only:
            await w.drain()
            return
        if self.fault in ("stall", "ended"):
            w.write(data[: len(data) // 3])  # a third of the picture, then silence (stall) or a close (ended)
            await w.drain()
            if self.fault == "stall":
                await _swallow(reader)
            return
        w.write(data)
        await w.drain()

    async def _mjpeg(self, conn: Conn, reader: asyncio.StreamReader) -> None:
        assert self.frames is not None
        w = conn.writer
        w.write(
            (
                "HTTP/1.0 200 OK\r\nCache-Control: no-cache\r\nPragma: no-cache\r\nConnection: close\r\n"
                f"Content-Type: multipart/x-mixed-replace; boundary={BOUNDARY}\r\n\r\n"
            ).encode()
        )
        await w.drain()
        watcher = asyncio.ensure_future(_swallow(reader))  # notices the client leaving
        started = time.monotonic()
        deadline = started + 24 * 3600
        try:
            while not watcher.done() and time.monotonic() < deadline:
                fault = self.fault
                since = time.monotonic() - started
                if fault == "stall" and since >= STALL_AFTER_S:
                    conn.stalled = True
                if fault == "hang":
                    conn.silenced = True
                if conn.stalled or conn.silenced:
                    await asyncio.wait({watcher}, timeout=SILENT_LIMIT_S)
                    return
                if fault == "ended" and since >= ENDED_AFTER_S:
                    w.write(f"--{BOUNDARY}--\r\n".encode())
                    await w.drain()
                    return
                data = self.frames.current(self.spec.phase_s, fault)
                w.write(
                    (
                        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
                    ).encode()
                    + data
                    + b"\r\n"
                )
                await asyncio.wait_for(w.drain(), 30)
                rate = LOWFPS if fault == "lowfps" else self.frames.fps
                await asyncio.wait({watcher}, timeout=1.0 / rate)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher


class RtspRelay:
    """One RTSP client connection relayed to the GStreamer server."""

    def __init__(self, front: CameraFront, conn: Conn, reader: asyncio.StreamReader) -> None:
        self.front = front
        self.conn = conn
        self.reader = reader
        self.up_reader: asyncio.StreamReader | None = None
        self.up_writer: asyncio.StreamWriter | None = None
        self.pump: asyncio.Task[None] | None = None
        self.play_at: float | None = None
        spec = front.spec
        self.paths = {"main": spec.main_path, "sub": spec.sub_path}
        self.playback: tuple[str, str] | None = None  # (public target, internal target) once mounted
        self.playback_s: float | None = None  # after PLAY, the connection is closed once this has passed

    async def run(self, first: bytes) -> None:
        try:
            line: bytes | None = first
            for _ in range(1_000_000):  # bounded: one iteration per client message
                if line is None:
                    head = await asyncio.wait_for(self.reader.readexactly(1), IDLE_LIMIT_S)
                    if head == b"$":
                        hdr = await self.reader.readexactly(3)
                        payload = await self.reader.readexactly(int.from_bytes(hdr[1:3], "big"))
                        await self._upstream_write(head + hdr + payload)
                        continue
                    line = head + await _readline(self.reader)
                if not line.strip():
                    line = None
                    continue
                req = await _read_request(line, self.reader)
                line = None
                body = b""
                length = int(req.header("content-length") or 0)
                if length:
                    body = await self.reader.readexactly(min(length, 1 << 20))
                await self._request(req, body)
                if self.pump is not None and self.pump.done():
                    return
        finally:
            if self.pump is not None:
                self.pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self.pump
            if self.up_writer is not None:
                with contextlib.suppress(Exception):
                    self.up_writer.close()

    async def _request(self, req: Request, body: bytes) -> None:
        front = self.front
        front.requests += 1
        cseq = req.header("cseq") or "0"
        if self.conn.silenced or front.fault == "hang":
            self.conn.silenced = True
            return
        # Like most IP cameras, OPTIONS is answered without credentials; everything else needs them.
        if (req.method != "OPTIONS" or front.fault == "auth") and not front.authorized(
            req, front.spec.rtsp_auth
        ):
            log.debug("%s: RTSP 401 for %s", front.spec.id, req.method)
            await self._reply(
                cseq, "401 Unauthorized", [("WWW-Authenticate", front.challenge(front.spec.rtsp_auth))]
            )
            return
        try:
            target = await self._map_playback(req)
        except PlaybackError as exc:
            log.debug("%s: RTSP 400 for %s: %s", front.spec.id, req.method, exc)
            await self._reply(cseq, "400 Bad Request")
            return
        except LookupError:
            await self._reply(cseq, "404 Not Found")
            return
        if target is None:
            target = self._map(req.target)
        if target is None:
            await self._reply(cseq, "404 Not Found")
            return
        lines = [f"{req.method} {target} {req.version}\r\n".encode()]
        for raw in req.raw_lines:
            name = raw.split(b":", 1)[0].strip().lower()
            if name in (b"authorization",):
                continue
            lines.append(raw)
        await self._upstream_write(b"".join(lines) + b"\r\n" + body)
        if req.method == "PLAY" and self.play_at is None:
            self.play_at = time.monotonic()

    async def _map_playback(self, req: Request) -> str | None:
        """Internal target for a vendor playback URL (mounting it on first use); None if not playback.
        PlaybackError: malformed (400); LookupError: nothing kept for that range (404)."""
        if self.playback is not None and req.target == self.playback[0]:
            return self.playback[1]
        scheme, sep, rest = req.target.partition("://")
        if not sep:
            return None
        hostport, slash, path_query = rest.partition("/")
        path, _, query = (slash + path_query).partition("?")
        pb = parse_playback(path, query)
        if pb is None:
            return None
        front = self.front
        now = time.time()
        kept_from_ms = int(max(front.kept_since, now - front.keep_s) * 1000)
        if not kept_overlap(pb, kept_from_ms, int(now * 1000)) or front.open_playback is None:
            raise LookupError(req.target)
        base = f"{scheme}://{hostport}/{front.spec.id}/{pb.stream}"
        if req.method == "OPTIONS":
            return base
        internal = await front.open_playback(pb.stream, pb.start_ms, pb.end_ms)
        self.playback = (req.target, f"{scheme}://{hostport}{internal}")
        # The server ends the stream (BYE) after the range; like a camera, close the connection soon after.
        self.playback_s = (pb.end_ms - pb.start_ms) / 1000 + PLAYBACK_CLOSE_SLACK_S
        return self.playback[1]

    def _map(self, target: str) -> str | None:
        """Public URL (vendor path) -> internal mount URL ``/<camera>/<main|sub>``; None when unknown."""
        if target == "*":
            return target
        scheme, sep, rest = target.partition("://")
        if not sep:
            return None
        hostport, slash, path = rest.partition("/")
        path = slash + path
        internal = f"/{self.front.spec.id}/"
        if path.startswith(internal):
            return target
        for which, public in self.paths.items():
            if not public:
                continue
            for cand in (public, public.rstrip("/")):
                if path == cand or path.startswith(cand + "/"):
                    return f"{scheme}://{hostport}{internal}{which}{path[len(cand) :]}"
        return None

    async def _reply(self, cseq: str, status: str, headers: list[tuple[str, str]] | None = None) -> None:
        out = [f"RTSP/1.0 {status}", f"CSeq: {cseq}", "Server: camsvc-sim"]
        out += [f"{k}: {v}" for k, v in headers or []]
        self.conn.writer.write(("\r\n".join(out) + "\r\n\r\n").encode())
        await self.conn.writer.drain()

    async def _upstream_write(self, data: bytes) -> None:
        if self.conn.silenced:
            return
        if self.up_writer is None:
            if self.front.gst_port is None:
                raise ConnectionError("no RTSP server")
            self.up_reader, self.up_writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.front.gst_port), 10
            )
            self.pump = asyncio.create_task(self._pump(), name=f"rtsp-pump-{self.front.spec.id}")
        writer = self.up_writer
        assert writer is not None
        writer.write(data)
        await writer.drain()

    async def _pump(self) -> None:
        """Server -> client, raw. Faults decide whether bytes are passed on or dropped."""
        assert self.up_reader is not None
        w = self.conn.writer
        front = self.front
        ended_seen: float | None = None
        for _ in range(100_000_000):  # bounded: one iteration per chunk
            try:
                chunk = await asyncio.wait_for(self.up_reader.read(65536), 1.0)
            except TimeoutError:
                chunk = None
            if chunk == b"":
                break  # the RTSP server closed the session
            fault = front.fault
            now = time.monotonic()
            if fault == "hang":
                self.conn.silenced = True
            if fault == "stall" and self.play_at is not None and now - self.play_at >= STALL_AFTER_S:
                self.conn.stalled = True
            if fault == "ended" and self.play_at is not None:
                ended_seen = ended_seen or now
                # The server sent its BYE; a real camera then drops the connection.
                if now - max(ended_seen, self.play_at + ENDED_AFTER_S) >= 0.5:
                    break
            if (
                self.playback_s is not None
                and self.play_at is not None
                and now - self.play_at > self.playback_s
            ):
                break
            if chunk is None or self.conn.stalled or self.conn.silenced:
                continue
            w.write(chunk)
            await asyncio.wait_for(w.drain(), 30)
        with contextlib.suppress(Exception):
            w.close()


def bind_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(256)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _same_path(target: str, path: str) -> bool:
    return target == path or target.split("?", 1)[0] == path.split("?", 1)[0] and "?" not in path


async def _readline(reader: asyncio.StreamReader) -> bytes:
    line = await asyncio.wait_for(reader.readline(), IDLE_LIMIT_S)
    if len(line) > MAX_LINE:
        raise ConnectionError("line too long")
    return line


async def _read_request(first: bytes, reader: asyncio.StreamReader) -> Request:
    parts = first.decode("latin-1").strip().split(" ")
    if len(parts) != 3:
        raise ConnectionError("bad request line")
    req = Request(parts[0].upper(), parts[1], parts[2])
    for _ in range(MAX_HEADER_LINES):
        raw = await _readline(reader)
        if not raw or raw in (b"\r\n", b"\n"):
            return req
        req.raw_lines.append(raw)
        name, _, value = raw.decode("latin-1").partition(":")
        req.headers[name.strip().lower()] = value.strip()
    raise ConnectionError("too many header lines")


async def _http_reply(
    w: asyncio.StreamWriter, status: str, body: bytes, headers: list[tuple[str, str]] | None = None
) -> None:
    out = [
        f"HTTP/1.1 {status}",
        "Content-Type: text/plain",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    out += [f"{k}: {v}" for k, v in headers or []]
    w.write(("\r\n".join(out) + "\r\n\r\n").encode() + body)
    await w.drain()


async def _swallow(reader: asyncio.StreamReader) -> None:
    """Read and drop whatever the client sends until it leaves (or a long limit passes)."""
    deadline = time.monotonic() + SILENT_LIMIT_S
    while time.monotonic() < deadline:
        try:
            data = await asyncio.wait_for(reader.read(65536), max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            return
        if not data:
            return
