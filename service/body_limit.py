"""Request bodies over the cap get 413 before they are read whole.

A pure ASGI middleware, the one level that sees the body as it arrives: a declared
``Content-Length`` over the cap is refused before a single body byte is read; a chunked (or
lying) body is counted message by message and refused the moment the count passes the cap, so a
client streaming gigabytes costs the service at most the cap plus one chunk. FastAPI's own body
reading (`Request.body()`) would buffer everything first.

The refusal is `{"detail": "..."}` like every other error of the service. When the application
has already started its answer (it never does before reading the body), the connection is cut.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """Raised from `receive` when the streamed body passes the cap."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._refuse(send, f"declared {declared} bytes")
            return
        if declared is not None and declared < 0:
            await _send_json(send, 400, "invalid Content-Length")
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise  # the server closes the connection
            await self._refuse(send, f"more than {self.max_body_bytes} bytes sent")

    async def _refuse(self, send: Send, what: str) -> None:
        await _send_json(
            send,
            413,
            f"request body too large ({what}; the limit is {self.max_body_bytes} bytes, "
            "MEDBOARD_SERVICE_MAX_BODY_BYTES)",
        )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
