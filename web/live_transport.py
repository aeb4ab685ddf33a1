"""The live channel's WebSocket transport: uvicorn's sans-I/O protocol with a write deadline.

A client that stops reading (a frozen tab, a phone whose radio sleeps with the socket still open)
fills its kernel buffers, then uvicorn's send waits on the transport to drain. Nothing else ends
that wait: the keep-alive ping's timeout only *closes* the transport, which asyncio finishes after
the unsent data is written, that is never; the handler, its subscription and up to the high-water
mark of unsent data would stay for as long as the peer keeps the TCP connection open. The hub does
not wait for it (it drops a full queue), so the others are not slowed, but the server keeps it.

Like nginx's `send_timeout` or Centrifugo's write timeout: a connection that stays paused for
`write_timeout` seconds is reset (RST: SO_LINGER 0, so the kernel drops the data it still holds
for the peer — megabytes once its send buffer has grown — instead of trying to deliver it to a
peer that does not read). Its handler's send then fails, the handler ends and
frees its subscription; the page reconnects with the last sequence number it saw and gets what it
missed, or `resync` (web/live.py). The timer is armed only while the transport is paused, so a
client that reads costs nothing more. The same deadline holds for a connection the keep-alive
timeout closes with data still unsent (less than the high-water mark: never paused, never drained).

It also lets the hub write an event to the socket at once (`send_now`, offered to the handler in
the scope's extensions as `SEND_NOW`): a client that keeps up costs the fan-out one frame and one
`transport.write`, like a bare `websockets` broadcast, instead of a wake-up of its handler and a
pass through the ASGI `send` (web/live.py decides when it may be used).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import struct
from typing import cast

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State

from services.metrics import LIVE_CLIENTS_ABORTED

log = logging.getLogger("lienthong.live")
SEND_NOW = "lienthong.send_now"  # the scope extension: Callable[[bytes], bool]


@functools.lru_cache(maxsize=64)
def _text_frame(text: bytes) -> bytes:
    """A server's text frame (unmasked, no extension) of one event, for every client it goes to
    (the hub hands each the same bytes object, whose hash Python keeps)."""
    return Frame(Opcode.TEXT, text).serialize(mask=False, extensions=[])


class LiveWebSocketProtocol(WebSocketsSansIOProtocol):
    write_timeout = 10.0  # seconds a connection may stay unable to take more data

    _stall: asyncio.TimerHandle | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:  # the handler is scheduled, not started: it will see it
            extensions = cast(dict[str, object], self.scope["extensions"])  # declared for ASGI's own extensions
            extensions[SEND_NOW] = self.send_now

    def send_now(self, text: bytes) -> bool:
        """Send one text message (UTF-8) now, outside the ASGI `send`; False, sending nothing, when
        the connection cannot take it at once (paused by a full buffer, closing or closed)."""
        if self.close_sent or not self.writable.is_set() or self.transport.is_closing() or self.conn.state is not State.OPEN:
            return False
        if self.conn.extensions:  # per-message deflate: each connection compresses for itself
            self.conn.send_text(text)
            self.transport.write(b"".join(self.conn.data_to_send()))
        else:  # the same bytes for every client (what conn.send_text would write): framed once
            self.transport.write(_text_frame(text))
        return True

    def pause_writing(self) -> None:
        super().pause_writing()
        self._arm_stall()

    def resume_writing(self) -> None:
        self._cancel_stall()
        super().resume_writing()

    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()  # closes the transport, which waits for its unsent data
        if self.transport.get_write_buffer_size():
            self._arm_stall()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_stall()
        super().connection_lost(exc)

    def _arm_stall(self) -> None:
        if self._stall is None:
            self._stall = self.loop.call_later(self.write_timeout, self._abort_stalled)

    def _cancel_stall(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _abort_stalled(self) -> None:
        self._stall = None
        LIVE_CLIENTS_ABORTED.inc()
        log.info("live client %s took no data for %.0f s: connection reset", self.client, self.write_timeout)
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()
