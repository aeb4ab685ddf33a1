"""Tasks (Nhiệm vụ): my tasks, tasks I assigned, one task with its history; owners report
progress and completion, assigners reassign, move the due date, cancel or reopen. Minutes waiting for my signature are listed too.

Access: signed-in users; `services.tasks.service.get_for` decides per task (owners, assigners,
auditors; anyone else gets "not found"). Each change queues a "changed" command for the task's workflow in its transaction (the outbox).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.minutes import service as minutes_service
from services.authz import Principal
from services.calendar import vn_today
from services.directory.models import Organization, Unit, User
from services.errors import InvalidInput
from services.i18n import _l
from services.numbers import is_digits
from services.outbox.service import tell
from services.tasks import service as tasks
from services.tasks.models import OwnerKind, Task
from web import i18n
from web.deps import SessionDep, SignedIn
from web.templating import render

log = logging.getLogger(__name__)
router = APIRouter(prefix="/tasks", tags=["tasks"])
FILTERS = ("open", "overdue", "done", "all")


def _keep(view: tasks.TaskView, status: str) -> bool:
    if status == "open":
        return view.status not in ("done", "cancelled")
    if status == "overdue":
        return view.status == "overdue"
    if status == "done":
        return view.status == "done"
    return True


@router.get("")
async def task_list(request: Request, principal: SignedIn, session: SessionDep, view: str = "mine", status: str = "open") -> Response:
    view = view if view in ("mine", "assigned") else "mine"
    status = status if status in FILTERS else "open"
    rows = await (tasks.my_tasks if view == "mine" else tasks.assigned_tasks)(session, principal=principal)
    views = [v for v in await tasks.views(session, rows, principal) if _keep(v, status)]
    counts: dict[str, Any] = {
        "mine": len([t for t in await tasks.my_tasks(session, principal=principal, open_only=True)]),
        "assigned": len(await tasks.assigned_tasks(session, principal=principal, open_only=True)),
    }
    return render(
        request,
        "tasks/list.html",
        {
            "views": views,
            "view": view,
            "status": status,
            "filters": FILTERS,
            "counts": counts,
            "signatures": await minutes_service.waiting_signature(session, user_id=principal.user.id),
            "to_write": await minutes_service.to_write(session, user_id=principal.user.id),
        },
    )


def parse_owner_and_due(owner: str, due_date: str) -> tuple[OwnerKind, int, date]:
    """The owner picker's "<kind>:<id>" and the due date of a task form."""
    kind, _, raw = owner.partition(":")
    try:
        return OwnerKind(kind), int(raw), date.fromisoformat(due_date)
    except ValueError:
        raise InvalidInput(_l("Choose an owner and a due date.")) from None


async def unit_and_body_choices(session: AsyncSession, org_id: int, body_ids: set[int]) -> list[tuple[str, str]]:
    """Owner choices shared by the task pickers: the units of `org_id`, then the bodies `body_ids`."""
    units = (await session.execute(select(Unit.id, Unit.name).where(Unit.organization_id == org_id, Unit.active).order_by(Unit.name))).all()
    orgs = (
        await session.execute(
            select(Organization.id, Organization.name).where(Organization.id.in_(body_ids), Organization.active).order_by(Organization.name)
        )
    ).all()
    return [(f"unit:{uid}", f"{i18n.gettext('Unit')}: {name}") for uid, name in units] + [
        (f"organization:{oid}", f"{i18n.gettext('Body')}: {name}") for oid, name in orgs
    ]


async def _owner_choices(session: AsyncSession, principal: Principal, task: Task) -> list[tuple[str, str]]:
    """Who the assigner can give the task to: people and units of the assigning body, the bodies below it."""
    org_id = task.organization_id
    people = (
        await session.execute(
            select(User.id, User.full_name, User.position).where(User.organization_id == org_id, User.active).order_by(User.full_name)
        )
    ).all()
    choices = [(f"user:{uid}", f"{name}" + (f" — {position}" if position else "")) for uid, name, position in people]
    choices += await unit_and_body_choices(session, org_id, principal.tree.subtree(org_id) - {org_id})
    if task.owner_ref not in {value for value, _ in choices}:  # e.g. a person of a lower body, from a meeting
        choices.insert(0, (task.owner_ref, await tasks.owner_label(session, task)))
    return choices


@router.get("/{task_id}")
async def task_page(request: Request, principal: SignedIn, session: SessionDep, task_id: int) -> Response:
    view = await tasks.get_for(session, principal=principal, task_id=task_id)
    task = view.task
    manage_open = view.may_manage and task.status in tasks.OPEN
    return render(
        request,
        "tasks/detail.html",
        {
            "v": view,
            "task": task,
            "history": await tasks.history(session, task_id=task_id),
            "owner_choices": await _owner_choices(session, principal, task) if manage_open else [],
            "today_iso": vn_today().isoformat(),
        },
    )


@router.post("/{task_id}/progress")
async def progress(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    task_id: int,
    body: Annotated[str, Form()] = "",
    percent: Annotated[str, Form()] = "",
) -> Response:
    value = None
    if percent.strip():
        if not is_digits(percent.strip()):
            raise InvalidInput(_l("Progress must be a number from 0 to 100."))
        value = int(percent)
    await tasks.report_progress(session, principal=principal, task_id=task_id, body=body, progress=value)
    await tell(session, "task", task_id)
    return RedirectResponse(f"/tasks/{task_id}?ok=1", status_code=303)


@router.post("/{task_id}/done")
async def done(request: Request, principal: SignedIn, session: SessionDep, task_id: int, result: Annotated[str, Form()] = "") -> Response:
    await tasks.complete(session, principal=principal, task_id=task_id, result=result)
    await tell(session, "task", task_id)
    return RedirectResponse(f"/tasks/{task_id}?ok=1", status_code=303)


@router.post("/{task_id}/reopen")
async def reopen(request: Request, principal: SignedIn, session: SessionDep, task_id: int, reason: Annotated[str, Form()] = "") -> Response:
    await tasks.reopen(session, principal=principal, task_id=task_id, reason=reason)
    await tell(session, "task", task_id)
    return RedirectResponse(f"/tasks/{task_id}?ok=1", status_code=303)


@router.post("/{task_id}/reassign")
async def reassign(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    task_id: int,
    owner: Annotated[str, Form()] = "",
    due_date: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    await tasks.for_reassigning(session, principal=principal, task_id=task_id)  # 404/403 before the form is read
    owner_kind, owner_id, due = parse_owner_and_due(owner, due_date)
    await tasks.reassign(
        session, principal=principal, task_id=task_id, owner_kind=owner_kind, owner_id=owner_id, due_date=due, reason=reason
    )
    await tell(session, "task", task_id)
    return RedirectResponse(f"/tasks/{task_id}?ok=1", status_code=303)


@router.post("/{task_id}/cancel")
async def cancel(request: Request, principal: SignedIn, session: SessionDep, task_id: int, reason: Annotated[str, Form()] = "") -> Response:
    await tasks.cancel(session, principal=principal, task_id=task_id, reason=reason)
    await tell(session, "task", task_id)
    return RedirectResponse(f"/tasks/{task_id}?ok=1", status_code=303)
