"""The codec endpoint of the Temporal UI and CLI ("remote codec" protocol): POST /encode and
/decode take and return `{"payloads": [...]}` (Payloads as protobuf JSON), encrypted or clear
with the app's key ring (services/codec.py).

Decoding shows every organisation's workflow data, so only an administrator of the top-level
organisation may call it: from the Temporal UI with the session cookie (the UI's "include
cross-origin credentials" setting, from an origin listed in `temporal_ui_origins`), or from
`temporal workflow show --codec-endpoint … --codec-auth "Bearer <API token>"`.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from google.protobuf import json_format
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from services.authz import Principal
from services.codec import EncryptionCodec, KeyRingError
from services.directory.models import Role
from services.errors import Forbidden, InvalidInput
from services.i18n import _l
from web.deps import Access, reads_only

PREFIX = "/temporal-codec"
router = APIRouter(prefix=PREFIX, tags=["temporal"])
log = logging.getLogger(__name__)

# No CSRF token: the UI calls from its own origin and cannot know ours. These routes change
# nothing, and a JSON body forces a CORS preflight that only listed origins pass.
TemporalOperator = Annotated[Principal, Depends(Access(Role.admin, csrf=False))]


def _require_whole_tree(principal: Principal) -> None:
    if not set(principal.tree.parent) <= principal.orgs_with(Role.admin):
        raise Forbidden(
            _l("Only an administrator of the top-level organisation may decode Temporal data."),
        )


async def _payloads(request: Request) -> list[Payload]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise InvalidInput(_l("Send the payloads as JSON (Content-Type: application/json)."))
    try:
        message = json_format.Parse(await request.body(), Payloads())
    except (json_format.ParseError, UnicodeDecodeError):
        raise InvalidInput(_l('The body is not {"payloads": [...]} protobuf JSON.')) from None
    return list(message.payloads)


def _answer(payloads: list[Payload]) -> Response:
    return Response(json_format.MessageToJson(Payloads(payloads=payloads)), media_type="application/json")


@router.post("/decode")
@reads_only
async def decode(request: Request, principal: TemporalOperator) -> Response:
    _require_whole_tree(principal)
    payloads = await _payloads(request)
    codec: EncryptionCodec = request.app.state.payload_codec
    try:
        decoded = await codec.decode(payloads)
    except KeyRingError as exc:
        raise InvalidInput(_l("This data cannot be decoded with the current keys."), reason=str(exc)) from None
    # Who looked, not what: the answer itself must stay out of the logs.
    log.info(
        "temporal codec: %s decoded %d payloads (namespace %s)",
        principal.user.username,
        len(payloads),
        request.headers.get("x-namespace", "?"),
    )
    return _answer(decoded)


@router.post("/encode")
@reads_only
async def encode(request: Request, principal: TemporalOperator) -> Response:
    _require_whole_tree(principal)
    codec: EncryptionCodec = request.app.state.payload_codec
    return _answer(await codec.encode(await _payloads(request)))


class CodecCORS:
    """CORS for the codec routes only (the rest of the app stays same-origin): the listed
    Temporal UI origins may call them with credentials; preflights are answered here."""

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_credentials=True,
            allow_methods=["POST"],
            allow_headers=["content-type", "x-namespace", "authorization", "authorization-extras"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
