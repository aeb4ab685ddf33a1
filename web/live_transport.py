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
peer that does not read). The connection ends and frees its subscription (a handler still at
work fails on its next send); the page reconnects with the last sequence number it saw and gets what it
missed, or `resync` (web/live.py). The timer is armed only while the transport is paused, so a
client that reads costs nothing more. The same deadline holds for a connection the keep-alive
timeout closes with data still unsent (less than the high-water mark: never paused, never drained).

It also takes a live client over from its ASGI handler (`park`, offered in the scope's extensions
as `PARK`): once the handler has sent the hello and any replay, it hands over its subscription and
returns. From then on the connection is only this protocol object and the subscription — no task,
no coroutine frames of the middleware stack, no ASGI receive queue, scope or handshake kept (three
quarters of a client's memory, bench/bench_live.py). The hub writes each event to the socket itself
(`send_now`: one frame and one `transport.write`, like a bare `websockets` broadcast); what a full
socket cannot take waits in the subscription's queue and is written when it drains
(`resume_writing`); a client dropped for being too far behind gets `resync` and close code 4000,
as from its handler; the subscription ends with the connection. What the client sends is read and
dropped (the live channel has nothing to receive), so its close is seen at once.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import socket
import struct
from typing import Any, cast

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State

from services.events.hub import EventHub, Subscription
from services.metrics import LIVE_CLIENTS_ABORTED, WEBSOCKET_CONNECTIONS

log = logging.getLogger("lienthong.live")
# The sans-I/O protocol's own lines ("connection open", "connection closed", "connection rejected")
# repeat uvicorn's line for the socket (client, path, accepted or the status) without saying whose:
# two more JSON lines for each of thousands of phones, 6 % of a connect's CPU (bench_live). Its
# warnings and errors (a parser or handshake that failed) still reach the log.
SANSIO_LOG = logging.getLogger("lienthong.live.sansio")
SANSIO_LOG.setLevel(logging.WARNING)
PARK = "lienthong.park"  # the scope extension: Callable[[EventHub, Subscription], None]
RESYNC_CLOSE = 4000  # the close code after "resync": dropped for being too far behind
RECHECK_CLOSE = 4001  # its user's access changed: reconnect, and the channels are decided again


def resync_message(seq: int) -> str:
    """What a client dropped for being too far behind gets before close code 4000: it reloads its
    snapshot (everything up to `seq`) and reconnects from there."""
    return json.dumps({"kind": "resync", "seq": seq})


class _Nowhere:
    """The receive queue of a parked connection: no application reads it any more."""

    def put_nowait(self, item: object) -> None:
        pass

    def empty(self) -> bool:
        return True


_NOWHERE: Any = _Nowhere()


@functools.lru_cache(maxsize=64)
def _text_frame(text: bytes) -> bytes:
    """A server's text frame (unmasked, no extension) of one event, for every client it goes to
    (the hub hands each the same bytes object, whose hash Python keeps)."""
    return Frame(Opcode.TEXT, text).serialize(mask=False, extensions=[])


class LiveWebSocketProtocol(WebSocketsSansIOProtocol):
    write_timeout = 10.0  # seconds a connection may stay unable to take more data

    _stall: asyncio.TimerHandle | None = None
    _parked: tuple[EventHub, Subscription] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn.logger = SANSIO_LOG

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:  # the handler is scheduled, not started: it will see it
            extensions = cast(dict[str, object], self.scope["extensions"])  # declared for ASGI's own extensions
            extensions[PARK] = self.park

    def park(self, hub: EventHub, sub: Subscription) -> None:
        """Take the client over from its handler, which returns next (web/live.py): call it when the
        handshake is done and nothing waits to be sent. The subscription is left and the connection
        gauge lowered when the connection ends."""
        self._parked = (hub, sub)
        sub.direct, sub.wake = self.send_now, self._send_queued
        # Nothing of the handler's is needed any more: uvicorn keeps these for the connection's life,
        # and websockets' parser the handshake request (a local of its generator): its headers emptied.
        self.queue = _NOWHERE
        if self.read_paused:  # a message came while the handler was at work: uvicorn paused reading
            self.read_paused = False
            self.transport.resume_reading()
        self.request.headers.clear()
        self.request = self.response = self.scope = None  # type: ignore[assignment]

    async def run_asgi(self) -> None:
        """uvicorn's, except that a parked connection stays open when its handler returns."""
        try:
            await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            self.logger.exception("Exception in ASGI application\n")
            self.send_500_response()
        else:
            if not self.handshake_complete:
                self.logger.error("ASGI callable returned without completing handshake.")
                self.send_500_response()
        if self._parked is None and self.close_timer is None:
            self.transport.close()

    def send_receive_event_to_app(self) -> None:
        if self._parked is None:
            super().send_receive_event_to_app()
        else:  # dropped, and reading goes on (uvicorn pauses it until the app has read a message)
            self.frames = []

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
        if self._parked is not None:
            self._send_queued()

    def _send_queued(self) -> None:
        """Write what waited while the socket was full, in order, as long as it takes data; written
        to directly again once nothing waits. The hub calls it too (`Subscription.wake`) when it ends
        the subscription: the None it queued closes the connection."""
        assert self._parked is not None
        hub, sub = self._parked
        queue = sub.queue
        while not queue.empty():
            if not self.writable.is_set() or self.close_sent or self.transport.is_closing():
                return  # full again: the next resume_writing goes on
            item = queue.get_nowait()
            if item is None:  # dropped for being too far behind (or the hub stopped), or its access changed
                if sub.recheck:
                    self.conn.send_close(RECHECK_CLOSE)
                else:
                    self.conn.send_text(resync_message(hub.last_seq).encode())
                    self.conn.send_close(RESYNC_CLOSE)
                self.transport.write(b"".join(self.conn.data_to_send()))
                self.close_sent = True
                self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)
                return
            self.send_now(item.data)
        if sub.caught_up:
            sub.direct = self.send_now

    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()  # closes the transport, which waits for its unsent data
        if self.transport.get_write_buffer_size():
            self._arm_stall()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_stall()
        super().connection_lost(exc)
        if self._parked is not None:
            hub, sub = self._parked
            self._parked = None
            sub.gone, sub.direct, sub.wake = True, None, None
            hub.leave(sub)
            WEBSOCKET_CONNECTIONS.dec()

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
