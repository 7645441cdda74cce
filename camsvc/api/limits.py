"""Request body limit, enforced before anything is spooled (pure ASGI, so streaming bodies are counted).

A request whose ``Content-Length`` exceeds ``limits.max_body_bytes`` is answered 413 without its body
being read; a chunked body (no length) is counted as it arrives and the request is cut off at the limit
(413 if the route has not started answering, else the connection is dropped).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]


class BodyTooLarge(Exception):
    pass


def _error(limit: int) -> bytes:
    return json.dumps(
        {"detail": f"request body larger than the {limit} bytes accepted (setting limits.max_body_bytes)"}
    ).encode()


class BodyLimitMiddleware:
    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _reply(send, 400, b'{"detail": "bad Content-Length"}')
                    return
                if declared > limit:
                    await _reply(send, 413, _error(limit))
                    return
        received = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message: Message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not started and not refused:  # answer now: the route may turn the error into a 400
                        refused = True
                        await _reply(send, 413, _error(limit))
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has been sent; whatever the route answers after it is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        # BodyTooLarge: answered 413 above, or the response had started: the connection ends here
        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counting_receive, tracking_send)


async def _reply(send: Any, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
