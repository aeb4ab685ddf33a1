"""The directory over the public API: the organisations of the system, as the recipient picker of
the drafting page shows them to anyone who drafts (ids to address documents, meetings and
report requests to)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.directory import service as directory
from web.deps import SessionDep, SignedIn

router = APIRouter(prefix="/api/v1/organizations", tags=["api v1: directory"])


class OrganizationOut(BaseModel):
    id: int
    code: str
    name: str
    abbreviation: str
    level: str = Field(description="province, district or commune")
    parent_id: int | None
    national_id: str | None = Field(description="The electronic identifier (mã định danh điện tử), used by edXML")


@router.get("", response_model=list[OrganizationOut])
async def organizations(principal: SignedIn, session: SessionDep) -> list[OrganizationOut]:
    """Every active organisation, parents before children."""
    return [
        OrganizationOut(
            id=o.id,
            code=o.code,
            name=o.name,
            abbreviation=o.abbreviation,
            level=o.level.value,
            parent_id=o.parent_id,
            national_id=o.national_id,
        )
        for o in await directory.list_orgs(session)
        if o.active
    ]
