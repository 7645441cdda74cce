"""Real receivers on 127.0.0.1 for alert tests: an SMTP server (aiosmtpd) and a JSON webhook (http.server).

Both pick a free port themselves, record what they got, and can be stopped and started again on the same port
(a mail server that goes away for a while). Wait for them with camsvc.bench.common.wait_until.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.smtp import SMTP

from camsvc.bench.common import free_port


@dataclass
class Mail:
    to: list[str]
    subject: str
    body: str
    attachments: list[tuple[str, bytes]] = field(default_factory=list)


class SmtpSink:
    """aiosmtpd on its own event loop thread; ``stop()`` closes the listening socket, ``start()`` reopens it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mails: list[Mail] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smtp-sink", daemon=True)
        self._thread.start()
        self._server: Any = None

    def url(self, to: str) -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?smtp=127.0.0.1&mode=insecure"
            f"&from=camsvc@example.org&to={to}&cto=5"
        )

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body_part = msg.get_body(preferencelist=("plain", "html"))
        body = body_part.get_content() if body_part is not None else ""
        atts = [(p.get_filename() or "", p.get_payload(decode=True) or b"") for p in msg.iter_attachments()]
        with self._lock:
            self.mails.append(Mail(list(envelope.rcpt_tos), str(msg["subject"]), body, atts))
        return "250 OK"

    def start(self) -> None:
        async def _start() -> Any:
            return await self._loop.create_server(
                lambda: SMTP(self, hostname="localhost"), "127.0.0.1", self.port, reuse_address=True
            )

        self._server = asyncio.run_coroutine_threadsafe(_start(), self._loop).result(10)

    def stop(self) -> None:
        if self._server is None:
            return

        async def _stop() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(10)
        self._server = None

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def to(self, addr: str) -> list[Mail]:
        with self._lock:
            return [m for m in self.mails if addr in m.to]

    def count(self) -> int:
        with self._lock:
            return len(self.mails)


class WebhookSink:
    """A JSON webhook receiver (Apprise ``json://``); ``fail`` makes it answer 500 (a broken receiver)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.fail = False
        self.delay_s = 0.0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                if sink.delay_s:
                    time.sleep(sink.delay_s)
                if sink.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                try:
                    payload = json.loads(raw or b"{}")
                except ValueError:
                    payload = {"raw": raw.decode(errors="replace")}
                payload["_path"] = self.path
                with sink._lock:
                    sink.posts.append(payload)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, name="webhook-sink", daemon=True)
        self._thread.start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def at(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [p for p in self.posts if p["_path"] == f"/{path}"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
