"""Tasks (nhiệm vụ) over the public API: the same service functions and access rules as the
pages (web/routes/tasks.py), answered as JSON.

Every action answers the task as it now is, with its ETag (the task's revision); send that ETag
back as If-Match so a change made meanwhile by someone else is not overwritten (409).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.authz import Principal
from services.outbox.service import tell
from services.tasks import service as tasks
from services.tasks.models import OwnerKind
from web.api_v1.common import Answer, Cursor, check_revision, declare_action, etag, once, window
from web.deps import SessionDep, SignedIn
from web.routes.tasks import _keep as kept_by_tab  # the list page's tab filter, not a second copy

router = APIRouter(prefix="/api/v1/tasks", tags=["api v1: tasks"])
PAGE_MAX = 100


# --- what is answered ------------------------------------------------------------------------------


class TaskSummary(BaseModel):
    id: int
    organization_id: int = Field(description="The assigning body")
    title: str
    owner_kind: Literal["user", "unit", "organization"]
    owner_id: int | None
    owner_label: str = Field(description="The owner as the pages name it")
    due_date: date
    status: Literal["waiting", "in_progress", "done", "cancelled"]
    display_status: Literal["waiting", "in_progress", "due_soon", "overdue", "done", "cancelled"] = Field(
        description="As the list shows it: due_soon and overdue from the due date"
    )
    progress: int = Field(description="Percent reported by the owner")
    source_type: str = Field(description="minutes | incoming | manual")
    source_id: int | None
    source_label: str
    source_link: str | None
    mine: bool = Field(description="The caller answers for it (reports progress, completes)")
    may_manage: bool = Field(description="The caller assigned it (reassigns, cancels, reopens)")
    revision: int
    etag: str
    page_url: str


class TaskUpdateOut(BaseModel):
    kind: str = Field(description="created | started | progress | done | reopened | reassigned | cancelled")
    body: str
    progress: int | None
    user_name: str
    at: datetime


class TaskOut(TaskSummary):
    description: str
    result: str
    created_by: int | None
    created_at: datetime
    started_at: datetime | None
    done_at: datetime | None
    done_by: int | None
    history: list[TaskUpdateOut]


class TaskPage(BaseModel):
    items: list[TaskSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")
    total: int = Field(description="How many tasks the list holds")


def _etag(task_id: int, revision: int) -> str:
    return etag("task", task_id, revision)


def _summary_fields(view: tasks.TaskView) -> dict[str, Any]:
    task = view.task
    return {
        "id": task.id,
        "organization_id": task.organization_id,
        "title": task.title,
        "owner_kind": task.owner_kind.value,
        "owner_id": task.owner_id,
        "owner_label": view.owner,
        "due_date": task.due_date,
        "status": task.status.value,
        "display_status": view.status,
        "progress": task.progress,
        "source_type": task.source_type,
        "source_id": task.source_id,
        "source_label": task.source_label,
        "source_link": task.source_link,
        "mine": view.mine,
        "may_manage": view.may_manage,
        "revision": task.revision,
        "etag": _etag(task.id, task.revision),
        "page_url": f"/tasks/{task.id}",
    }


async def _answer(session: AsyncSession, principal: Principal, task_id: int) -> Answer:
    """The task as the caller now sees it, after the action's changes (same transaction)."""
    view = await tasks.get_for(session, principal=principal, task_id=task_id)
    task = view.task
    history = [
        TaskUpdateOut(kind=u.kind, body=u.body, progress=u.progress, user_name=name, at=u.at)
        for u, name in await tasks.history(session, task_id=task_id)
    ]
    out = TaskOut(
        **_summary_fields(view),
        description=task.description,
        result=task.result,
        created_by=task.created_by,
        created_at=task.created_at,
        started_at=task.started_at,
        done_at=task.done_at,
        done_by=task.done_by,
        history=history,
    )
    return Answer(out, 200, {"ETag": out.etag})


# --- reading ---------------------------------------------------------------------------------------


class View(StrEnum):
    mine = "mine"
    assigned = "assigned"


class Filter(StrEnum):
    open = "open"
    overdue = "overdue"
    done = "done"
    all = "all"


@router.get("", response_model=TaskPage)
async def task_list(
    principal: SignedIn,
    session: SessionDep,
    view: Annotated[View, Query(description="mine: tasks the caller answers for; assigned: tasks the caller gave")] = View.mine,
    status: Annotated[Filter, Query(description="As the list page's tabs")] = Filter.open,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 30,
) -> TaskPage:
    """The caller's tasks as on the list page: overdue first, then by due date."""
    rows = await (tasks.my_tasks if view is View.mine else tasks.assigned_tasks)(session, principal=principal)
    views = [v for v in await tasks.views(session, rows, principal) if kept_by_tab(v, status.value)]
    page, following = window(views, cursor, limit)
    return TaskPage(items=[TaskSummary(**_summary_fields(v)) for v in page], next_cursor=following, total=len(views))


@router.get("/{task_id}", response_model=TaskOut)
async def task(principal: SignedIn, session: SessionDep, task_id: int) -> Response:
    """One task with its history; the ETag header is its revision."""
    answer = await _answer(session, principal, task_id)
    return Response(answer.model.model_dump_json(), headers=answer.headers, media_type="application/json")


# --- actions ---------------------------------------------------------------------------------------


class Progress(BaseModel):
    body: str = Field("", max_length=20000, description="What was done")
    percent: int | None = Field(None, ge=0, le=100, description="Progress in percent; absent keeps it")


class Result(BaseModel):
    result: str = Field("", max_length=20000)


class Reason(BaseModel):
    reason: str = Field("", max_length=2000)


class Reassignment(BaseModel):
    owner_kind: Literal["user", "unit", "organization"] = Field(description="A person, a unit (its head answers) or a body")
    owner_id: int
    due_date: date
    reason: str = Field("", max_length=2000)


Change = Callable[[AsyncSession, Principal, int, Any], Awaitable[object]]


async def _reassign(session: AsyncSession, principal: Principal, task_id: int, body: Reassignment) -> None:
    await tasks.reassign(
        session,
        principal=principal,
        task_id=task_id,
        owner_kind=OwnerKind(body.owner_kind),
        owner_id=body.owner_id,
        due_date=body.due_date,
        reason=body.reason,
    )


def _action(name: str, body: type[BaseModel], change: Change, summary: str) -> None:
    """Declare `POST /api/v1/tasks/{task_id}/<name>`: the page's action of the same name. Refused
    if If-Match is stale, done once per Idempotency-Key, the task's workflow told through the
    outbox as from the page, the task answered as it now is."""

    async def endpoint(request, principal, session, task_id, body, key=None, if_match=None):  # typed below, for FastAPI
        async def act() -> Answer:
            view = await tasks.get_for(session, principal=principal, task_id=task_id)  # 404 first, as the page
            check_revision(if_match, _etag(task_id, view.task.revision))
            await change(session, principal, task_id, body)
            await tell(session, "task", task_id)
            return await _answer(session, principal, task_id)

        return await once(request, session, principal, key, act)

    declare_action(
        router,
        endpoint,
        path=f"/{{task_id}}/{name}",
        name=name,
        summary=summary,
        who=SignedIn,
        object_id="task_id",
        body=body,
        response_model=TaskOut,
    )


_action(
    "progress",
    Progress,
    lambda s, p, t, b: tasks.report_progress(s, principal=p, task_id=t, body=b.body, progress=b.percent),
    "The owner reports progress (starts the task).",
)
_action(
    "done",
    Result,
    lambda s, p, t, b: tasks.complete(s, principal=p, task_id=t, result=b.result),
    "The owner reports the task done, with its result.",
)
_action(
    "reopen",
    Reason,
    lambda s, p, t, b: tasks.reopen(s, principal=p, task_id=t, reason=b.reason),
    "The assigner reopens a finished task, with the reason.",
)
_action(
    "reassign",
    Reassignment,
    _reassign,
    "The assigner gives the task to another owner and due date, with the reason.",
)
_action(
    "cancel",
    Reason,
    lambda s, p, t, b: tasks.cancel(s, principal=p, task_id=t, reason=b.reason),
    "The assigner cancels the task, with the reason.",
)
