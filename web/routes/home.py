"""Home: what waits for the signed-in person, by role."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from services.audit import service as audit
from services.audit.models import AuditEntry
from services.directory.models import Organization, Role, User
from web.deps import SessionDep, SignedIn
from web.templating import render
from web.waiting import waiting_for

router = APIRouter(tags=["home"])


@router.get("/")
async def home(request: Request, principal: SignedIn, session: SessionDep) -> Response:
    orgs = {o.id: o for o in (await session.scalars(select(Organization))).all()}
    my_roles = sorted(
        ((orgs[org_id], sorted(r.value for r in roles)) for org_id, roles in principal.roles.items()),
        key=lambda item: item[0].id,
    )
    cards: dict[str, object] = {}
    if admin_scope := principal.orgs_with(Role.admin):
        cards["admin"] = {
            "orgs": len(admin_scope),
            "users": await session.scalar(select(func.count()).select_from(User).where(User.organization_id.in_(admin_scope))),
        }
    if principal.orgs_with(Role.auditor):
        latest = await audit.latest_checkpoint(session)
        last_seq = await session.scalar(select(func.max(AuditEntry.seq))) or 0
        cards["auditor"] = {
            "checkpoint": latest,
            "unsealed": last_seq - (latest.last_seq if latest else 0),
        }
    # The very read the navigation badges were made from (web/deps.py), so both always agree.
    waiting = getattr(request.state, "waiting", None) or await waiting_for(session, principal)
    recent = await audit.search(session, filters=audit.AuditFilter(actor_id=principal.user.id, action="auth."), limit=5)
    return render(request, "home.html", {"my_roles": my_roles, "cards": cards, "recent": recent, "waiting": waiting})
