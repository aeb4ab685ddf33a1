"""One byte counter for every request body, declared (Content-Length) or not (chunked).

A pure ASGI middleware: it wraps `receive`, so the count covers every way a route reads the
body (forms, JSON, streams). As soon as the limit is passed it answers 413 itself and tells the
application the client went away, so nothing beyond the limit is read, parsed or spooled to disk;
whatever the application tries to send afterwards is dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.numbers import is_digits


class BodyLimit:
    """Refuse (413) any HTTP request whose body grows past `limit` bytes."""

    def __init__(self, app: ASGIApp, *, limit: int, too_large: Callable[[Request], Response]) -> None:
        self.app = app
        self.limit = limit
        self.too_large = too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if is_digits(declared) and int(declared) > self.limit:
            # Known too large before a byte of it is read.
            await self._refuse(scope, send)
            return

        received = 0
        refused = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    refused = True
                    if not started:
                        await self._refuse(scope, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            # The application saw a "disconnect" (ClientDisconnect or its own wrapping of it):
            # the 413 is already answered.
            if not refused:
                raise

    async def _refuse(self, scope: Scope, send: Send) -> None:
        # No "Connection: close": closing with unread data resets the connection and the client
        # would lose the answer. The server discards the rest of the body (never parsed, never
        # spooled) while the client finishes sending, then the client reads the 413.
        await self.too_large(Request(scope))(scope, _nothing, send)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}
