"""A webhook receiver on this host for tests: checks each request's HMAC like a partner's
endpoint would (docs/api.md), and fails the first `fail` requests with 500."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.helpers import free_port


@dataclass
class Receiver:
    secret: str = ""
    fail: int = 0
    received: list[dict] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"


@contextmanager
def serve() -> Iterator[Receiver]:
    state = Receiver(port=free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the name http.server calls
            body = self.rfile.read(int(self.headers["content-length"]))
            # The receiver's own check: HMAC-SHA256 over "<t>.<body>" with the secret.
            fields = dict(part.split("=", 1) for part in self.headers["lienthong-signature"].split(","))
            expected = hmac.new(state.secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
            state.received.append(
                {
                    "valid": hmac.compare_digest(expected, fields["v1"]),
                    "event_id": self.headers["lienthong-event-id"],
                    "body": json.loads(body),
                    "raw": body,
                    "signature": self.headers["lienthong-signature"],
                }
            )
            self.send_response(500 if len(state.received) <= state.fail else 204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", state.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
