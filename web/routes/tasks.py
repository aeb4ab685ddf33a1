"""Tasks (Nhiệm vụ): my tasks, tasks I assigned, one task with its history; owners report
progress and completion, assigners reopen. Minutes waiting for my signature are listed too.

Access: signed-in users; `services.tasks.service.get_for` decides per task (owners, assigners,
auditors; anyone else gets "not found"). Each change nudges the task's workflow after commit.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.minutes import service as minutes_service
from services.authz import Principal
from services.errors import InvalidInput
from services.tasks import service as tasks
from web.deps import SessionDep, SignedIn
from web.templating import render

log = logging.getLogger(__name__)
router = APIRouter(prefix="/tasks", tags=["tasks"])
FILTERS = ("open", "overdue", "done", "all")


async def _nudge(request: Request, task_id: int) -> None:
    try:
        from workflows.tasks.workflows import nudge

        await nudge(await request.app.state.temporal.client(), task_id, task_queue=request.app.state.settings.task_queue)
    except Exception:  # noqa: BLE001 - the next change nudges again
        log.exception("could not nudge task-%s", task_id)


async def nav_count(session: AsyncSession, principal: Principal) -> int:
    """The "Nhiệm vụ" badge: my open tasks plus minutes waiting for my signature."""
    signatures = await minutes_service.waiting_signature(session, user_id=principal.user.id)
    return await tasks.open_count(session, principal=principal) + len(signatures)


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
    return render(request, "tasks/list.html", {
        "views": views, "view": view, "status": status, "filters": FILTERS, "counts": counts,
        "signatures": await minutes_service.waiting_signature(session, user_id=principal.user.id),
        "to_write": await minutes_service.to_write(session, user_id=principal.user.id),
    })


@router.get("/{task_id}")
async def task_page(request: Request, principal: SignedIn, session: SessionDep, task_id: int) -> Response:
    view = await tasks.get_for(session, principal=principal, task_id=task_id)
    return render(request, "tasks/detail.html", {"v": view, "task": view.task,
                                                 "history": await tasks.history(session, task_id=task_id)})


@router.post("/{task_id}/progress")
async def progress(request: Request, principal: SignedIn, session: SessionDep, background: BackgroundTasks, task_id: int,
                   body: Annotated[str, Form()] = "", percent: Annotated[str, Form()] = "") -> Response:
    value = None
    if percent.strip():
        if not percent.strip().isdigit():
            raise InvalidInput("Tiến độ phải là số từ 0 đến 100.", "Progress must be a number from 0 to 100.")
        value = int(percent)
    await tasks.report_progress(session, principal=principal, task_id=task_id, body=body, progress=value)
    background.add_task(_nudge, request, task_id)
    return RedirectResponse(f"/tasks/{task_id}?ok=1", status_code=303)


@router.post("/{task_id}/done")
async def done(request: Request, principal: SignedIn, session: SessionDep, background: BackgroundTasks, task_id: int,
               result: Annotated[str, Form()] = "") -> Response:
    await tasks.complete(session, principal=principal, task_id=task_id, result=result)
    background.add_task(_nudge, request, task_id)
    return RedirectResponse(f"/tasks/{task_id}?ok=1", status_code=303)


@router.post("/{task_id}/reopen")
async def reopen(request: Request, principal: SignedIn, session: SessionDep, background: BackgroundTasks, task_id: int,
                 reason: Annotated[str, Form()] = "") -> Response:
    await tasks.reopen(session, principal=principal, task_id=task_id, reason=reason)
    background.add_task(_nudge, request, task_id)
    return RedirectResponse(f"/tasks/{task_id}?ok=1", status_code=303)
