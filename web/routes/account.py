"""Sign-in, sign-out, language, password change and personal API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import service as auth
from services.authz import Principal
from services.db import utcnow
from services.directory import service as directory
from services.errors import DomainError, TooManyAttempts, Unauthenticated
from services.i18n import _l
from web import i18n
from web.app import secure_cookie
from web.deps import SESSION_COOKIE, MaybeSignedIn, SessionDep, SignedIn, SignedInBrowser, client_ip, writes_on_read
from web.templating import render

router = APIRouter(tags=["account"])


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link bounce through us.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
async def login_page(request: Request, principal: MaybeSignedIn, next: str | None = None) -> Response:
    if principal is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", {"next": _safe_next(next)})


@router.post("/login")
async def login(
    request: Request,
    principal: MaybeSignedIn,
    session: SessionDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    settings = request.app.state.settings
    error: DomainError | None = None
    try:
        result = await auth.sign_in(
            session,
            settings=settings,
            username=username,
            password=password,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
    except (Unauthenticated, TooManyAttempts) as exc:
        # Answered here, not raised: the request's transaction then commits the failed attempt.
        error = exc
    if error is not None:
        page = render(
            request,
            "login.html",
            {"next": _safe_next(next), "error": error.text(i18n.current_locale.get()), "username": username},
            status_code=error.status_code,
        )
        if isinstance(error, TooManyAttempts):
            page.headers["Retry-After"] = str(error.retry_after)
        return page
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        httponly=True,
        samesite="lax",
        secure=secure_cookie(request, settings),
        max_age=settings.session_hours * 3600,
    )
    return response


@router.post("/logout")
async def logout(request: Request, principal: SignedIn, session: SessionDep) -> Response:
    if principal.session_id is not None:
        from services.auth.models import UserSession

        user_session = await session.get(UserSession, principal.session_id)
        if user_session is not None:
            await auth.sign_out(session, actor=principal.actor, user_session=user_session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{code}")
@writes_on_read
async def switch_language(request: Request, principal: MaybeSignedIn, session: SessionDep, code: str, next: str | None = None) -> Response:
    """The page language (a cookie) and, when signed in, the person's preference for notifications and e-mails."""
    response = RedirectResponse(_safe_next(next), status_code=303)
    if code in i18n.LOCALES:
        response.set_cookie("lt_lang", code, samesite="lax", max_age=365 * 24 * 3600)
        if principal is not None:
            await directory.set_language(session, actor=principal.actor, user=principal.user, language=code)
    return response


async def _account(request: Request, session: AsyncSession, principal: Principal, new_token: str | None = None) -> Response:
    from web.routes.keys import my_keys

    tokens = await auth.list_api_tokens(session, user=principal.user)
    return render(
        request,
        "account.html",
        {
            "tokens": tokens,
            "new_token": new_token,
            "now": utcnow(),
            "token_days": auth.TOKEN_DAYS,
            "default_token_days": auth.DEFAULT_TOKEN_DAYS,
            **await my_keys(session, principal.user),
        },
    )


@router.get("/account")
async def account_page(request: Request, principal: SignedIn, session: SessionDep) -> Response:
    return await _account(request, session, principal)


@router.post("/account/password")
async def change_password(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    confirm_password: Annotated[str, Form()] = "",
) -> Response:
    from services.errors import InvalidInput

    if new_password != confirm_password:
        raise InvalidInput(_l("The two new passwords differ."))
    await auth.change_own_password(
        session,
        actor=principal.actor,
        user=principal.user,
        current=current_password,
        new=new_password,
        keep_session_id=principal.session_id,
    )
    return RedirectResponse("/account?ok=password", status_code=303)


@router.post("/account/tokens")
async def create_token(
    request: Request,
    principal: SignedInBrowser,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
    scope: Annotated[str, Form()] = "read",
    days: Annotated[int, Form()] = auth.DEFAULT_TOKEN_DAYS,
) -> Response:
    _, clear = await auth.create_api_token(session, actor=principal.actor, user=principal.user, name=name, scope=scope, days=days)
    return await _account(request, session, principal, new_token=clear)


@router.post("/account/tokens/{token_id}/revoke")
async def revoke_token(request: Request, principal: SignedInBrowser, session: SessionDep, token_id: int) -> Response:
    await auth.revoke_api_token(session, actor=principal.actor, user=principal.user, token_id=token_id)
    return RedirectResponse("/account?ok=token_revoked", status_code=303)
