"""The FastAPI application: middleware, error pages, routers and static files."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from services.audit.service import record
from services.auth import service as auth
from services.config import Settings, get_settings
from services.db import Database, get_database, is_busy_error, is_unreachable_error
from services.errors import DomainError, TooManyAttempts, Unauthenticated
from services.events.hub import EventHub
from services.events.hub import register as register_hub
from services.events.hub import unregister as unregister_hub
from services.i18n import Message, _l, render
from web import i18n, metrics, openapi
from web.api_v1.problems import API_V1, problem
from web.body_limit import BodyLimit
from web.deps import CSRF_COOKIE, anonymous_csrf
from web.live import LiveFirst
from web.rate_limit import RateLimiter
from web.temporal import TemporalHandle


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith(("/api/", "/temporal-codec/")) or request.headers.get("authorization"):
        return False
    return (
        "text/html" in request.headers.get("accept", "")
        or request.method == "POST"
        and "json" not in request.headers.get("content-type", "")
    )


def _accept_language(header: str) -> str | None:
    """The first of our languages an Accept-Language header names ("en-US,en;q=0.9" → en)."""
    for part in header.split(","):
        tag = part.split(";", 1)[0].strip().lower().split("-", 1)[0]
        if tag in i18n.LOCALES:
            return tag
    return None


def _error_response(request: Request, status: int, message: Message | DomainError | str, details: Any = None) -> Response:
    """An error as the caller reads it: a page for a browser, RFC 9457 problem details on the
    public API (/api/v1, in both languages), the app's JSON shape for other scripts."""
    text = message.text if isinstance(message, DomainError) else partial(render, message)
    if request.url.path.startswith(API_V1):
        return problem(status, detail=text(i18n.current_locale.get()), vi=text("vi"), en=text("en"), details=details)
    if _wants_html(request):
        from web.templating import render as render_page

        page = {"status": status, "message": text(i18n.current_locale.get()), "details": details}
        return render_page(request, "error.html", page, status_code=status)
    return JSONResponse({"error": status, "message": text(i18n.current_locale.get()), "details": details}, status_code=status)


log = logging.getLogger(__name__)
# Only our own files run or style a page: no inline script, style or handler (web/templates keep
# them in web/static), so an injected tag does nothing. `'self'` covers the /ws WebSocket.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"  # one year; browsers ignore it over plain HTTP
# Room for the form fields and multipart headers around the largest accepted file.
FORM_OVERHEAD_BYTES = 64 * 1024


def create_app(*, settings: Settings | None = None, database: Database | None = None, temporal: TemporalHandle | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.ensure_secret_key()
    from services.codec import EncryptionCodec, parse_key_ring
    from web.routes.temporal_codec import CodecCORS

    payload_codec = EncryptionCodec(parse_key_ring(settings.ensure_payload_keys()))
    database = database or get_database()
    temporal = temporal or TemporalHandle(settings)

    hub = EventHub(database)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await hub.start()
        register_hub(hub)
        try:
            yield
        finally:
            unregister_hub(hub)
            await hub.stop()
            await temporal.close()

    app = LiveFirst(
        title="Liên Thông",
        description="Văn bản điện tử và họp không giấy liên thông các cấp — e-documents and paperless meetings across levels.",
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc pages load their scripts from a CDN, which these sites may not
        # reach and our policy refuses: the machine-readable /openapi.json and docs/api.md remain.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.temporal = temporal
    app.state.hub = hub
    app.state.api_rate = RateLimiter(settings.api_token_requests_per_minute)
    app.state.payload_codec = payload_codec

    def too_large(request: Request) -> Response:
        limit_mb = settings.upload_max_bytes // (1024 * 1024)
        return _error_response(
            request,
            413,
            _l("The upload is too large. The limit is {limit_mb} MB.", limit_mb=limit_mb),
        )

    # Inside `RequestContext` (added after it), so the 413 gets the locale and the security headers.
    app.add_middleware(BodyLimit, limit=settings.upload_max_bytes + FORM_OVERHEAD_BYTES, too_large=too_large)

    # Around the routes and their error handlers: refusals (401/403) of /temporal-codec carry
    # the CORS headers too, so the Temporal UI can show them.
    app.add_middleware(CodecCORS, origins=settings.temporal_ui_origins)

    app.add_middleware(RequestContext, settings=settings, database=database)

    # Outermost: times every request, error pages included (the live channel's sockets skip the
    # whole stack: web/live.py, LiveFirst).
    metrics.install(app)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        if exc.audit is not None:
            # The request's transaction is already rolled back: the failed attempt gets its own.
            async with database.session() as session:
                await record(session, **exc.audit)  # type: ignore[arg-type]  # record's keywords (record_after_rollback)
        if isinstance(exc, Unauthenticated) and request.method == "GET" and _wants_html(request):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        response = _error_response(request, exc.status_code, exc, exc.details or None)
        if isinstance(exc, TooManyAttempts):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        fields = sorted({".".join(str(p) for p in e.get("loc", [])[1:]) for e in exc.errors()})
        message = _l("Some fields are missing or invalid: {fields}.", fields=", ".join(fields))
        return _error_response(request, 422, message, {"fields": fields})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message: Message | str
        if exc.status_code == 404:
            message = _l("This page does not exist.")
        elif exc.status_code == 405:
            message = _l("This action is not allowed here.")
        else:
            message = str(exc.detail)
        return _error_response(request, exc.status_code, message)

    @app.exception_handler(OverflowError)
    async def out_of_range(request: Request, exc: Exception) -> Response:
        # A number beyond the database's integer range (SQLite's OverflowError, asyncpg's "out of
        # int32 range") or a value too long for its column: bad input; the transaction rolled back.
        if isinstance(exc, DBAPIError) and not (isinstance(exc, DataError) or "out of" in str(exc.orig)):
            raise exc
        log.info("value out of range on %s %s: %s", request.method, request.url.path, exc)
        message = _l("A value is out of range (a number too large or a text too long). Check and send again.")
        return _error_response(request, 422, message)

    @app.exception_handler(OperationalError)
    async def database_busy(request: Request, exc: DBAPIError) -> Response:
        # A lock or statement wait passed its deadline (settings.db_lock_timeout_seconds): the
        # transaction was rolled back, so nothing is half-done and trying again is safe.
        if not is_busy_error(exc):
            return await database_gone(request, exc)
        log.warning("database busy on %s %s: %s", request.method, request.url.path, exc.orig)
        message = _l("The system is busy and did not save your action. Please try again in a moment.")
        response = _error_response(request, 503, message)
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(DataError)
    async def data_refused(request: Request, exc: DataError) -> Response:
        # The database refused a value (too long for its column, a byte PostgreSQL cannot store):
        # the transaction was rolled back; say what to fix instead of a 500.
        log.warning("value refused by the database on %s %s: %s", request.method, request.url.path, exc.orig)
        message = _l("A value is too long or holds characters that cannot be stored. Shorten or retype it and try again.")
        return _error_response(request, 422, message)

    async def database_gone(request: Request, exc: Exception) -> Response:
        # PostgreSQL restarted or cut off: say so (503, try again) instead of a bare 500. The
        # connection broke before COMMIT (rolled back) or during it (unknown), so the user is
        # asked to look before trying again.
        if not is_unreachable_error(exc):
            raise exc
        log.warning("database unreachable on %s %s: %r", request.method, request.url.path, exc)
        message = _l(
            "The database is briefly unreachable. Reload the page in a moment, check whether your action was saved, then try again."
        )
        response = _error_response(request, 503, message)
        response.headers["Retry-After"] = "5"
        return response

    async def database_error(request: Request, exc: Exception) -> Response:
        # One handler per exception class: a value out of range is the user's (422), a lost
        # connection is ours for a moment (503); anything else stays a server error.
        if isinstance(exc, DBAPIError) and (isinstance(exc, DataError) or "out of" in str(exc.orig)):
            return await out_of_range(request, exc)
        if isinstance(exc, DBAPIError) and is_busy_error(exc):  # a deadlock PostgreSQL broke: rolled back
            return await database_busy(request, exc)
        return await database_gone(request, exc)

    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(OSError, database_gone)
    # The routers' own routes, not `include_router`'s: FastAPI (0.165) analyses an included
    # router's routes again for each app, on its first requests (~0.5 s of CPU per app, paid by
    # every test's app); these were analysed once, when their modules were imported. The OpenAPI
    # document is the same; no router has options of its own to pass on (lifespan, dependencies).
    for router in routers():
        app.router.routes.extend(router.routes)
    openapi.install(app)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    return app


def routers() -> list[APIRouter]:
    """Every router of the app; tests walk these to check each route's access rule."""
    from web import live
    from web.api_v1 import audit as api_audit
    from web.api_v1 import directory as api_directory
    from web.api_v1 import incoming as api_incoming
    from web.api_v1 import meetings as api_meetings
    from web.api_v1 import minutes as api_minutes
    from web.api_v1 import notifications as api_notifications
    from web.api_v1 import outgoing as api_outgoing
    from web.api_v1 import reports as api_reports
    from web.api_v1 import signatures as api_signatures
    from web.api_v1 import tasks as api_tasks
    from web.api_v1 import tokens as api_tokens
    from web.api_v1 import webhooks as api_webhooks
    from web.routes import (
        account,
        admin,
        api,
        audit,
        dashboard,
        health,
        home,
        incoming,
        keys,
        meetings,
        minutes,
        notifications,
        outgoing,
        registers,
        reports,
        signing,
        tasks,
        temporal_codec,
        webhooks,
    )

    return [
        module.router
        for module in (
            health,
            metrics,
            account,
            home,
            notifications,
            incoming,
            outgoing,
            registers,
            signing,
            keys,
            meetings,
            minutes,
            tasks,
            reports,
            dashboard,
            admin,
            audit,
            api,
            api_directory,
            api_incoming,
            api_meetings,
            api_minutes,
            api_notifications,
            api_outgoing,
            api_tokens,
            api_signatures,
            api_reports,
            api_audit,
            api_tasks,
            api_webhooks,
            webhooks,
            live,
            temporal_codec,
        )
    ]


class RequestContext:
    """The request's language (a context variable the messages read), the security headers on
    every answer, the CSRF cookie a page asked for, and an API token's last use stamped after
    the answer. A plain ASGI middleware: Starlette's `BaseHTTPMiddleware` (what
    `@app.middleware("http")` makes) runs each request through a task and memory streams."""

    def __init__(self, app: Any, *, settings: Settings, database: Database) -> None:
        self.app, self.settings, self.database = app, settings, database

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        settings = self.settings
        # Behind a TLS-terminating proxy the request itself may arrive over plain HTTP: a
        # configured https base URL says the site is served over HTTPS all the same.
        https = request.url.scheme == "https" or settings.base_url.lower().startswith("https://")
        lang = request.cookies.get("lt_lang")
        if lang is None and request.url.path.startswith(API_V1):  # scripts say it the HTTP way
            lang = _accept_language(request.headers.get("accept-language", ""))

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                new_csrf = getattr(request.state, "new_csrf", None)
                if new_csrf and not request.cookies.get(CSRF_COOKIE):
                    cookie = Response()
                    cookie.set_cookie(CSRF_COOKIE, new_csrf, httponly=True, samesite="lax", secure=_secure(request, settings))
                    headers.append("set-cookie", cookie.headers["set-cookie"])
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "SAMEORIGIN")
                if https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                headers.setdefault("Content-Security-Policy", CSP)
            await send(message)

        token = i18n.current_locale.set(lang if lang in i18n.LOCALES else i18n.DEFAULT_LOCALE)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            i18n.current_locale.reset(token)
        if (token_id := getattr(request.state, "touch_api_token", None)) is not None:
            try:
                async with self.database.session() as session:
                    await auth.touch_api_token(session, token_id=token_id)
            except OperationalError:  # busy: the stamp is only informative and comes again next minute
                log.info("API token %s: last use not stamped (database busy)", token_id)


def _secure(request: Request, settings: Settings) -> bool:
    return settings.cookie_secure if settings.cookie_secure is not None else request.url.scheme == "https"


secure_cookie = _secure
__all__ = ["create_app", "anonymous_csrf", "secure_cookie"]
