"""Administration of webhooks (/admin/webhooks): an organisation's administrators subscribe
endpoints to its events and follow the deliveries; the API twin is web/api_v1/webhooks.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.authz import Principal
from services.directory import service as directory
from services.directory.models import Role
from services.errors import InvalidInput
from services.i18n import _l
from services.webhooks import service as webhooks
from web.deps import AdminUser, SessionDep
from web.form_values import form_id
from web.i18n import text
from web.templating import render

router = APIRouter(prefix="/admin/webhooks", tags=["admin"])
TEST_LABEL = _l("Test event")


def _labels() -> dict[str, str]:
    """Each event type's label in the page's language."""
    return {key: text(label) for key, label in {**webhooks.EVENT_TYPES, webhooks.TEST_EVENT: TEST_LABEL}.items()}


async def _orgs(session: AsyncSession, principal: Principal) -> dict[int, str]:
    orgs = await directory.list_orgs(session, org_ids=principal.orgs_with(Role.admin))
    return {o.id: o.name for o in orgs}


@router.get("")
async def listing(request: Request, principal: AdminUser, session: SessionDep) -> Response:
    subs = await webhooks.list_for(session, principal=principal)
    return render(
        request,
        "admin/webhooks.html",
        {
            "subs": subs,
            "orgs": await _orgs(session, principal),
            "own_org": principal.me.organization_id,
            "event_types": _labels(),
        },
    )


@router.post("")
async def create(
    request: Request,
    principal: AdminUser,
    session: SessionDep,
    organization_id: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
    events: Annotated[list[str], Form()] = [],  # FastAPI's way to read repeated checkboxes
    description: Annotated[str, Form()] = "",
) -> Response:
    org_id = form_id(organization_id)
    if org_id is None:
        raise InvalidInput(_l("Choose the organisation."))
    sub, secret = await webhooks.create(
        session,
        principal=principal,
        settings=request.app.state.settings,
        organization_id=org_id,
        url=url,
        events=events,
        description=description,
    )
    # The secret is shown in this answer only (no redirect: it would have to travel in a URL).
    return await _page(request, principal, session, sub.id, secret=secret, status_code=201)


async def _page(
    request: Request,
    principal: Principal,
    session: AsyncSession,
    subscription_id: int,
    *,
    secret: str | None = None,
    status_code: int = 200,
) -> Response:
    sub = await webhooks.get_for(session, principal=principal, subscription_id=subscription_id)
    rows = await webhooks.deliveries(session, subscription_id=sub.id)
    orgs = await _orgs(session, principal)
    return render(
        request,
        "admin/webhook.html",
        {
            "sub": sub,
            "deliveries": rows,
            "org_name": orgs.get(sub.organization_id, ""),
            "secret": secret,
            "event_types": _labels(),
        },
        status_code=status_code,
    )


@router.get("/{subscription_id}")
async def subscription(request: Request, principal: AdminUser, session: SessionDep, subscription_id: int) -> Response:
    return await _page(request, principal, session, subscription_id)


def _back(subscription_id: int, ok: str) -> Response:
    return RedirectResponse(f"/admin/webhooks/{subscription_id}?ok={ok}", status_code=303)


@router.post("/{subscription_id}/disable")
async def disable(request: Request, principal: AdminUser, session: SessionDep, subscription_id: int) -> Response:
    await webhooks.set_active(session, principal=principal, subscription_id=subscription_id, active=False)
    return _back(subscription_id, "disabled")


@router.post("/{subscription_id}/enable")
async def enable(request: Request, principal: AdminUser, session: SessionDep, subscription_id: int) -> Response:
    await webhooks.set_active(session, principal=principal, subscription_id=subscription_id, active=True)
    return _back(subscription_id, "enabled")


@router.post("/{subscription_id}/delete")
async def delete(request: Request, principal: AdminUser, session: SessionDep, subscription_id: int) -> Response:
    await webhooks.remove(session, principal=principal, subscription_id=subscription_id)
    return RedirectResponse("/admin/webhooks?ok=deleted", status_code=303)


@router.post("/{subscription_id}/test")
async def send_test(request: Request, principal: AdminUser, session: SessionDep, subscription_id: int) -> Response:
    await webhooks.send_test(session, principal=principal, subscription_id=subscription_id)
    return _back(subscription_id, "test")


@router.post("/{subscription_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(request: Request, principal: AdminUser, session: SessionDep, subscription_id: int, delivery_id: int) -> Response:
    await webhooks.redeliver(session, principal=principal, subscription_id=subscription_id, delivery_id=delivery_id)
    return _back(subscription_id, "redeliver")
