"""JSON API for scripts (bearer tokens) and pages."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from services.directory import service as directory
from web.deps import SessionDep, SignedIn

router = APIRouter(prefix="/api", tags=["api"])


class Me(BaseModel):
    id: int
    username: str
    full_name: str
    position: str | None
    organization_id: int
    roles: dict[int, list[str]]


class OrgOut(BaseModel):
    id: int
    code: str
    name: str
    abbreviation: str
    level: str
    parent_id: int | None


@router.get("/me", response_model=Me)
async def me(principal: SignedIn) -> Me:
    user = principal.user
    return Me(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        position=user.position,
        organization_id=user.organization_id,
        roles={org: sorted(r.value for r in roles) for org, roles in principal.roles.items()},
    )


@router.get("/orgs", response_model=list[OrgOut])
async def orgs(principal: SignedIn, session: SessionDep) -> list[OrgOut]:
    """Organisations the caller may see (their own, and for admins/auditors their subtree)."""
    return [
        OrgOut(id=o.id, code=o.code, name=o.name, abbreviation=o.abbreviation, level=o.level.value, parent_id=o.parent_id)
        for o in await directory.list_orgs(session, org_ids=principal.visible_orgs())
    ]
