"""What every resource of the public API shares: idempotent POSTs, revisions (ETag / If-Match)
and the problem details of web.api_v1.problems."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import idempotency
from services.authz import Principal
from services.errors import Conflict
from services.i18n import _l
from web.deps import SessionDep

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Any unique string (a UUID). Sent again with the same key within a day, the request "
        "is not done twice: the first answer is returned, with `Idempotent-Replayed: true`.",
        max_length=idempotency.MAX_KEY,
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag you read. If the object changed since, nothing is done and the answer is 409.",
        max_length=64,
    ),
]
JSON = "application/json"
# A page's cursor is digits only, so any value of the pattern is meaningful: an offset in the
# bounded work lists (`window`; past the end, an empty page), or in keyset lists the id of the
# previous page's last item (a list that changes between pages neither repeats nor skips one).
Cursor = Annotated[str | None, Query(pattern=r"^[0-9]{1,9}$", description="`next_cursor` of the previous page; absent for the first")]
T = TypeVar("T")


def window(items: Sequence[T], cursor: str | None, limit: int) -> tuple[list[T], str | None]:
    """One page of a bounded work list, and the cursor of the next (None on the last)."""
    start = int(cursor or 0)
    return list(items[start : start + limit]), str(start + limit) if start + limit < len(items) else None


@dataclass
class Answer:
    model: BaseModel
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def etag(kind: str, object_id: int, revision: int) -> str:
    return f'"{kind}-{object_id}-r{revision}"'


def check_revision(if_match: str | None, current: str) -> None:
    """A client that sends If-Match does not overwrite a change it has not seen."""
    if if_match is not None and if_match.strip() not in ("*", current, "W/" + current):
        raise Conflict(_l("This document changed since you read it. Read it again, then decide."), current_etag=current)


async def once(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    key: str | None,
    act: Callable[[], Awaitable[Answer]],
    *,
    commits: bool = False,
) -> Response:
    """Run a POST's action at most once per Idempotency-Key (see services.auth.idempotency).
    `commits`: the action commits on the way (signing, issuing), so the key is held first."""
    if key is None:
        return _respond(await act())
    idempotency.check_key(key)
    user_id, what = principal.user.id, f"{request.method} {request.url.path}"
    busy = _l("A request with this Idempotency-Key is being handled. Send it again in a moment to get its answer.")
    stored = await idempotency.answered(session, user_id=user_id, key=key, request=what)
    if stored is not None:
        if not stored.status_code:  # held by an action that commits on the way, still running
            raise Conflict(busy)
        headers = {**json.loads(stored.headers), "Idempotent-Replayed": "true"}
        return Response(stored.body, status_code=stored.status_code, headers=headers, media_type=JSON)
    try:
        row = await idempotency.reserve(session, user_id=user_id, key=key, request=what)
        if commits:
            await session.commit()
    except IntegrityError as exc:  # the same key's first request committed meanwhile
        raise Conflict(busy) from exc
    if not commits:
        answer = await act()
    else:
        row_id = row.id
        try:
            answer = await act()
        except BaseException:
            await session.rollback()
            await idempotency.release(session, row_id=row_id)
            await session.commit()
            raise
    idempotency.fill(row, status_code=answer.status_code, body=answer.model.model_dump_json(), headers=answer.headers)
    return _respond(answer)


def _respond(answer: Answer) -> Response:
    return Response(answer.model.model_dump_json(), status_code=answer.status_code, headers=answer.headers, media_type=JSON)


def declare_action(
    router: APIRouter,
    endpoint: Callable[..., Awaitable[Response]],
    *,
    path: str,
    name: str,
    summary: str,
    who: object,
    object_id: str,
    body: type[BaseModel],
    response_model: type[BaseModel],
) -> None:
    """Declare `POST path` for an endpoint built at run time (one of a table of similar actions):
    FastAPI reads its parameters from annotations, so they are written here — the caller's
    access rule `who`, the object's path id, a JSON `body`, Idempotency-Key and If-Match. The
    endpoint's own parameters must be `(request, principal, session, <object_id>, body, key, if_match)`."""
    endpoint.__annotations__ = {
        "request": Request,
        "principal": who,
        "session": SessionDep,
        object_id: int,
        "body": body,
        "key": IdempotencyKey,
        "if_match": IfMatch,
        "return": Response,
    }
    endpoint.__name__ = endpoint.__qualname__ = name.replace("-", "_")
    endpoint.__doc__ = summary
    router.post(path, response_model=response_model)(endpoint)
