"""Signing in from an app (`POST /api/v1/tokens`): a phone or a script exchanges the user's name
and password for an API token, once, then sends it as `Authorization: Bearer`. The same checks,
throttling (429 with Retry-After) and records as signing in on the page; no cookie is read or set."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.auth import service as auth
from services.authz import Principal
from services.errors import TooManyAttempts, Unauthenticated
from web.api_v1.common import JSON
from web.deps import Access, SessionDep, client_ip

router = APIRouter(prefix="/api/v1/tokens", tags=["api v1: tokens"])
Anyone = Annotated[Principal | None, Depends(Access(public=True, csrf=False))]


class Credentials(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    name: str = Field(max_length=128, description='What the token is for, as listed on the account page ("Điện thoại của Lan")')
    scope: Literal["read", "full"] = Field("read", description="read: reading only; full: every action of the user")
    days: Literal[30, 90, 180, 365] = Field(90, description="Validity in days")


class IssuedToken(BaseModel):
    id: int
    token: str = Field(description="Shown once, never again: keep it like a password")
    name: str
    scope: str
    expires_at: datetime
    user_id: int


@router.post("", status_code=201, response_model=IssuedToken)
async def issue(request: Request, _: Anyone, session: SessionDep, body: Credentials) -> Response:
    """Exchange a name and password for an API token (201). A wrong name or password is 401; too
    many failures 429 with Retry-After, as on the sign-in page."""
    try:
        token, clear = await auth.token_for_password(
            session,
            settings=request.app.state.settings,
            username=body.username,
            password=body.password,
            ip=client_ip(request),
            name=body.name,
            scope=body.scope,
            days=body.days,
        )
    except (Unauthenticated, TooManyAttempts):
        await session.commit()  # the failed attempt counts towards the throttle
        raise
    issued = IssuedToken(id=token.id, token=clear, name=token.name, scope=token.scope, expires_at=token.expires_at, user_id=token.user_id)
    return Response(issued.model_dump_json(), status_code=201, media_type=JSON, headers={"Cache-Control": "no-store"})
