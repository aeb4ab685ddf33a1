"""Administration of organisations, units, users and roles (admins, within their subtree)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from meetings import video
from services.auth import service as auth
from services.authz import Principal, require
from services.directory import service as directory
from services.directory.models import Level, Organization, Role, RoleAssignment
from services.errors import InvalidInput, NotFound
from services.i18n import _l
from web.deps import Access, AdminUser, SessionDep
from web.form_values import form_id
from web.templating import render

router = APIRouter(prefix="/admin", tags=["admin"])
OrgAdmin = Annotated[Principal, Depends(Access(Role.admin, org_param="org_id"))]


def _level(value: str) -> Level:
    try:
        return Level(value)
    except ValueError:
        raise InvalidInput(_l("Unknown level.")) from None


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(_l("Unknown role.")) from None


@router.get("")
async def admin_home(request: Request, principal: AdminUser, session: SessionDep) -> Response:
    scope = principal.orgs_with(Role.admin)
    orgs = await directory.list_orgs(session, org_ids=scope)
    by_id = {o.id: o for o in orgs}
    rows = [(o, directory.org_depth(o, by_id)) for o in orgs]
    users = await directory.list_users(session, org_ids=scope)
    return render(request, "admin/index.html", {"rows": rows, "users": users, "levels": list(Level)})


@router.post("/orgs")
async def create_org(
    request: Request,
    principal: AdminUser,
    session: SessionDep,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    abbreviation: Annotated[str, Form()] = "",
    level: Annotated[str, Form()] = "",
    parent_id: Annotated[str, Form()] = "",
    place: Annotated[str, Form()] = "",
    parent_body: Annotated[str, Form()] = "",
    national_id: Annotated[str, Form()] = "",
) -> Response:
    parent = form_id(parent_id)
    if parent is None:
        raise InvalidInput(_l("Choose the parent organisation."))
    require(principal, [Role.admin], parent, "organization")
    org = await directory.create_org(
        session,
        actor=principal.actor,
        code=code,
        name=name,
        abbreviation=abbreviation,
        level=_level(level),
        parent_id=parent,
        place=place,
        parent_body=parent_body,
        national_id=national_id,
    )
    return RedirectResponse(f"/admin/orgs/{org.id}?ok=created", status_code=303)


@router.get("/orgs/{org_id}")
async def org_page(request: Request, principal: OrgAdmin, session: SessionDep, org_id: int) -> Response:
    org = await directory.get_org(session, org_id=org_id)
    units = await directory.units_of(session, org_id=org_id)
    users = await directory.list_users(session, org_ids={org_id})
    parent = await session.get(Organization, org.parent_id) if org.parent_id else None
    from signing.service import org_level

    return render(
        request,
        "admin/org.html",
        {
            "org": org,
            "units": units,
            "users": users,
            "parent": parent,
            "levels": list(Level),
            "roles": list(Role),
            "pades_level": await org_level(session, settings=request.app.state.settings, organization_id=org_id),
            "video": {"kind": video.provider(request.app.state.settings), "host": video.bridge_host(request.app.state.settings)},
        },
    )


@router.post("/orgs/{org_id}")
async def update_org(
    request: Request,
    principal: OrgAdmin,
    session: SessionDep,
    org_id: int,
    name: Annotated[str, Form()] = "",
    abbreviation: Annotated[str, Form()] = "",
    place: Annotated[str, Form()] = "",
    parent_body: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    national_id: Annotated[str, Form()] = "",
    active: Annotated[str | None, Form()] = None,
) -> Response:
    org = await directory.get_org(session, org_id=org_id)
    await directory.update_org(
        session,
        actor=principal.actor,
        org=org,
        name=name,
        abbreviation=abbreviation,
        place=place,
        parent_body=parent_body,
        email=email,
        national_id=national_id,
        active=active == "on",
    )
    return RedirectResponse(f"/admin/orgs/{org_id}?ok=saved", status_code=303)


@router.post("/orgs/{org_id}/units")
async def create_unit(
    request: Request,
    principal: OrgAdmin,
    session: SessionDep,
    org_id: int,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    abbreviation: Annotated[str, Form()] = "",
) -> Response:
    org = await directory.get_org(session, org_id=org_id)
    await directory.create_unit(session, actor=principal.actor, org=org, code=code, name=name, abbreviation=abbreviation)
    return RedirectResponse(f"/admin/orgs/{org_id}?ok=unit_created", status_code=303)


@router.post("/orgs/{org_id}/units/{unit_id}/head")
async def set_unit_head(
    request: Request,
    principal: OrgAdmin,
    session: SessionDep,
    org_id: int,
    unit_id: int,
    user_id: Annotated[str, Form()] = "",
) -> Response:
    unit = next((u for u in await directory.units_of(session, org_id=org_id) if u.id == unit_id), None)
    if unit is None:
        raise NotFound(_l("unit not found"))
    head_id = form_id(user_id)
    head = await directory.get_user(session, user_id=head_id) if head_id else None
    await directory.set_unit_head(session, actor=principal.actor, unit=unit, user=head)
    return RedirectResponse(f"/admin/orgs/{org_id}?ok=unit_head", status_code=303)


@router.post("/orgs/{org_id}/users")
async def create_user(
    request: Request,
    principal: OrgAdmin,
    session: SessionDep,
    org_id: int,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    full_name: Annotated[str, Form()] = "",
    position: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    unit_id: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
) -> Response:
    user = await directory.create_user(
        session,
        actor=principal.actor,
        username=username,
        password=password,
        full_name=full_name,
        organization_id=org_id,
        position=position,
        email=email,
        phone=phone,
        unit_id=form_id(unit_id),
        roles=[_role(role)] if role else [],
    )
    return RedirectResponse(f"/admin/users/{user.id}?ok=created", status_code=303)


@router.get("/users/{user_id}")
async def user_page(request: Request, principal: AdminUser, session: SessionDep, user_id: int) -> Response:
    user = await directory.admin_get_user(session, principal=principal, user_id=user_id)
    units = await directory.units_of(session, org_id=user.organization_id)
    orgs = await directory.list_orgs(session, org_ids=principal.orgs_with(Role.admin))
    org_names = {o.id: o.name for o in orgs}
    return render(
        request,
        "admin/user.html",
        {"user": user, "units": units, "orgs": orgs, "org_names": org_names, "roles": list(Role)},
    )


@router.post("/users/{user_id}")
async def update_user(
    request: Request,
    principal: AdminUser,
    session: SessionDep,
    user_id: int,
    full_name: Annotated[str, Form()] = "",
    position: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    unit_id: Annotated[str, Form()] = "",
    active: Annotated[str | None, Form()] = None,
) -> Response:
    user = await directory.admin_get_user(session, principal=principal, user_id=user_id)
    await directory.update_user(
        session,
        actor=principal.actor,
        user=user,
        full_name=full_name,
        position=position,
        email=email,
        phone=phone,
        unit_id=form_id(unit_id),
        active=active == "on",
    )
    return RedirectResponse(f"/admin/users/{user_id}?ok=saved", status_code=303)


@router.post("/users/{user_id}/password")
async def reset_password(
    request: Request, principal: AdminUser, session: SessionDep, user_id: int, password: Annotated[str, Form()] = ""
) -> Response:
    user = await directory.admin_get_user(session, principal=principal, user_id=user_id)
    await auth.reset_password(session, actor=principal.actor, user=user, password=password)
    return RedirectResponse(f"/admin/users/{user_id}?ok=password", status_code=303)


@router.post("/users/{user_id}/roles")
async def add_role(
    request: Request,
    principal: AdminUser,
    session: SessionDep,
    user_id: int,
    role: Annotated[str, Form()] = "",
    organization_id: Annotated[str, Form()] = "",
) -> Response:
    user = await directory.admin_get_user(session, principal=principal, user_id=user_id)
    org_id = form_id(organization_id) or user.organization_id
    require(principal, [Role.admin], org_id, "organization")
    await directory.assign_role(session, actor=principal.actor, user=user, organization_id=org_id, role=_role(role))
    return RedirectResponse(f"/admin/users/{user_id}?ok=role_added", status_code=303)


@router.post("/users/{user_id}/roles/{assignment_id}/remove")
async def remove_role(request: Request, principal: AdminUser, session: SessionDep, user_id: int, assignment_id: int) -> Response:
    assignment = await session.scalar(select(RoleAssignment).where(RoleAssignment.id == assignment_id, RoleAssignment.user_id == user_id))
    if assignment is None:
        raise NotFound(_l("role assignment not found"))
    require(principal, [Role.admin], assignment.organization_id, "organization")
    if assignment.user_id == principal.user.id and assignment.role == Role.admin:
        raise InvalidInput(_l("You cannot remove your own admin role."))
    await directory.remove_role(session, actor=principal.actor, assignment=assignment)
    return RedirectResponse(f"/admin/users/{user_id}?ok=role_removed", status_code=303)
