"""Request dependencies: the database session, the signed-in principal and access rules.

Every route declares who may call it with `Depends(Access(...))` (or the aliases below);
`tests/web/test_access.py` fails for a route that does not.
"""

from __future__ import annotations

import asyncio
import contextvars
import secrets
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import service as auth
from services.auth.models import TokenScope
from services.authz import Principal, load_principal, require
from services.directory.models import Role
from services.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from services.events.service import last_seq
from services.i18n import _l
from services.numbers import is_digits

P = ParamSpec("P")
R = TypeVar("R")
SESSION_COOKIE = "lt_session"
CSRF_COOKIE = "lt_csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
MAX_ID = 2**31 - 1  # IDs are INTEGER columns (32 bits on PostgreSQL): a larger one names nothing


def writes_on_read(endpoint: Callable[P, R]) -> Callable[P, R]:
    """Mark a GET route that changes state (a file view recorded in the trail, a notice marked
    read): its request gets a write transaction instead of a read-only snapshot."""
    endpoint.__lienthong_writes__ = True  # type: ignore[attr-defined]  # a marker the session dependency reads
    return endpoint


def reads_only(endpoint: Callable[P, R]) -> Callable[P, R]:
    """Mark a POST route that changes nothing (a computation): its request reads a snapshot
    instead of taking the write lock."""
    endpoint.__lienthong_writes__ = False  # type: ignore[attr-defined]  # a marker the session dependency reads
    return endpoint


def _writes(request: Request) -> bool:
    marked = getattr(request.scope.get("endpoint"), "__lienthong_writes__", None)
    if marked is not None:
        return marked
    return request.method not in SAFE_METHODS


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, ended before the response is sent: pages read a snapshot
    without taking the write lock; forms and marked routes write."""
    database = request.app.state.db
    async with database.session() if _writes(request) else database.read() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def write_apart(request: Request, work: Callable[[AsyncSession], Awaitable[R]]) -> R:
    """Run `work` in a short write transaction of its own.

    For a GET route that reads, then does slow work with no transaction open (LibreOffice, a
    network call), then must record something: it ends its read snapshot (`session.rollback()`)
    before the slow work and writes here after it, instead of holding the write lock throughout
    as a `writes_on_read` route would. A task of its own with a fresh context, so the request's
    (ended) session and this transaction do not count as nested.
    """
    database = request.app.state.db

    async def run() -> R:
        async with database.session() as session:
            return await work(session)

    return await asyncio.create_task(run(), context=contextvars.Context())


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def anonymous_csrf(request: Request) -> str:
    """The double-submit token for forms shown before sign-in (set as a cookie by middleware)."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = secrets.token_urlsafe(24)
        request.state.new_csrf = token
    return token


async def _resolve(request: Request, session: AsyncSession) -> Principal | None:
    if hasattr(request.state, "principal"):
        return request.state.principal
    principal = None
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token = await auth.resolve_api_token(session, clear=header[7:].strip())
        request.app.state.api_rate.take(token.id)
        if token.scope == TokenScope.read and _writes(request):  # a GET that writes too; a POST that only reads not
            raise Forbidden(
                _l("This API token is read-only. Use a full-access token to change data."),
            )
        if auth.api_token_needs_touch(token):
            request.state.touch_api_token = token.id  # stamped after the request (web.app)
        principal = await load_principal(session, token.user, ip=client_ip(request))
        principal.via_token = True
    elif cookie := request.cookies.get(SESSION_COOKIE):
        user_session = await auth.resolve_session(session, token=cookie)
        if user_session is not None:
            principal = await load_principal(session, user_session.user, ip=client_ip(request))
            principal.session_id = user_session.id
            principal.csrf_token = user_session.csrf_token
    request.state.principal = principal
    return principal


# Longer than any subject, note or minutes text a person types; longer is a paste gone wrong or an attack.
MAX_FIELD_CHARS = 100_000


def _check_plain_text(form) -> None:
    """Every typed field is plain text: no control characters (PostgreSQL refuses NUL, DOCX and
    PDF refuse the rest, and they have no business in a letter) and no absurd length."""
    for value in form.values():
        if not isinstance(value, str):
            continue
        if len(value) > MAX_FIELD_CHARS:
            raise InvalidInput(
                _l("A field is longer than {limit} characters.", limit=MAX_FIELD_CHARS, limit_vi=f"{MAX_FIELD_CHARS:,}".replace(",", ".")),
            )
        if any(unicodedata.category(c) == "Cc" and c not in "\t\r\n" for c in value):
            raise InvalidInput(
                _l("A field holds control characters."),
            )


async def _check_csrf(request: Request, expected: str | None) -> None:
    sent: object = request.headers.get("x-csrf-token")
    form = None
    if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # Starlette caches the parsed form
        if sent is None:
            sent = form.get("csrf_token")
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        raise Forbidden(
            _l("The form's security token is missing or stale. Reload the page and try again."),
        )
    if form is not None:
        _check_plain_text(form)


class Access:
    """Who may call a route: anyone, any signed-in user, or holders of some roles.

    `org_param` names a path parameter holding an organisation ID that the principal must
    hold one of `roles` for; outside that scope the answer is 404, not 403.
    `csrf=False` only for routes that change nothing and are called from another origin that
    cannot know our token (the Temporal UI's codec calls; CORS decides who reads the answer), or
    that read no cookie at all (the API's token exchange: the credentials are in the body).
    """

    def __init__(self, *roles: Role, public: bool = False, org_param: str | None = None, browser: bool = False, csrf: bool = True) -> None:
        self.roles = roles
        self.public = public
        self.org_param = org_param
        self.browser = browser  # a signed-in browser only, not an API token
        self.csrf = csrf

    def describe(self) -> str:
        if self.public:
            return "public"
        if self.browser:
            return "signed-in browser"
        return "signed-in" if not self.roles else "roles:" + ",".join(r.value for r in self.roles)

    async def __call__(self, request: Request, session: SessionDep) -> Principal | None:
        if any(is_digits(v) and int(v) > MAX_ID for v in request.path_params.values()):
            raise NotFound(_l("not found"))
        principal = await _resolve(request, session)
        if self.public:
            if request.method not in SAFE_METHODS and self.csrf and not (principal and principal.via_token):
                await _check_csrf(request, principal.csrf_token if principal else request.cookies.get(CSRF_COOKIE))
            return principal
        if principal is None:
            raise Unauthenticated(_l("Please sign in to continue."))
        if self.browser and principal.via_token:
            # A leaked token must not be able to mint itself successors or revoke the owner's.
            raise Forbidden(
                _l("This needs a signed-in browser, not an API token."),
            )
        if request.method not in SAFE_METHODS and not principal.via_token and self.csrf:
            await _check_csrf(request, principal.csrf_token)
        if self.roles:
            scope = principal.orgs_with(*self.roles)
            if not scope:
                raise Forbidden(
                    _l("This page is for another role. Ask an administrator if you need access."),
                )
            if self.org_param is not None:
                raw = str(request.path_params.get(self.org_param, ""))
                require(principal, self.roles, int(raw) if is_digits(raw) else None, "organization")
        if request.method == "GET" and not principal.via_token and not request.url.path.startswith("/api/"):
            # The navigation's badges, for a page; the JSON API shows none (its errors neither).
            from web.nav import counts
            from web.waiting import waiting_for

            request.state.waiting = await waiting_for(session, principal)
            request.state.nav_counts = counts(principal, request.state.waiting)
            # The event the page is current to (read in its snapshot): its live socket asks for what
            # came after it, so a change between the rendering and the socket is not missed (app.js).
            request.state.live_seq = await last_seq(session)
        return principal


class Probe(Access):
    """Public, and needs no database session: for probes that must answer under any load."""

    def __init__(self) -> None:
        super().__init__(public=True)

    async def __call__(self, request: Request) -> None:  # type: ignore[override]  # a probe takes no database session
        return None


SignedIn = Annotated[Principal, Depends(Access())]
SignedInBrowser = Annotated[Principal, Depends(Access(browser=True))]
MaybeSignedIn = Annotated[Principal | None, Depends(Access(public=True))]
AdminUser = Annotated[Principal, Depends(Access(Role.admin))]
AuditorUser = Annotated[Principal, Depends(Access(Role.auditor))]
