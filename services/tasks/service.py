"""Tracked tasks: assign, report progress, complete, and the deadline notices.

Owners: a person, a unit (its head answers; the organisation's leaders see it too) or a whole
organisation, typically a lower-level body (its leaders answer). Every change bumps the task's
`revision`, writes a history line and an audit entry in the caller's transaction; the task's
workflow (`task-<id>`) re-reads the task and owns the reminders, overdue notices and escalation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services import calendar
from services.audit.service import Actor, record
from services.authz import Principal
from services.db import utcnow
from services.directory.models import LEADERS, ORGANISERS, Organization, Role, RoleAssignment, Unit, User
from services.errors import Forbidden, InvalidInput, NotFound
from services.events.service import publish
from services.i18n import Message, _l
from services.notifications.service import notify
from services.tasks.models import OwnerKind, Task, TaskStatus, TaskUpdate

ASSIGNERS = ORGANISERS  # tasks come from the meetings they organise
OPEN = (TaskStatus.waiting, TaskStatus.in_progress)
SOON_DAYS = 2


def _not_found() -> NotFound:
    return NotFound(_l("task not found"))


def channel(task_id: int) -> str:
    return f"task-{task_id}"


# --- who answers for a task -----------------------------------------------------------------


async def _users_with(session: AsyncSession, org_id: int, roles: Iterable[Role]) -> list[int]:
    return sorted(
        set(
            (
                await session.scalars(
                    select(RoleAssignment.user_id).where(RoleAssignment.organization_id == org_id, RoleAssignment.role.in_(list(roles)))
                )
            ).all()
        )
    )


async def responsible(session: AsyncSession, task: Task) -> list[int]:
    """The people who must do the task (and see it in "my tasks")."""
    if task.owner_kind == OwnerKind.user and task.owner_user_id:
        return [task.owner_user_id]
    if task.owner_kind == OwnerKind.unit and task.owner_unit_id:
        unit = await session.get(Unit, task.owner_unit_id)
        if unit is None:
            return []
        if unit.head_user_id:
            return [unit.head_user_id]
        return await _users_with(session, unit.organization_id, LEADERS)
    if task.owner_org_id:
        return await _users_with(session, task.owner_org_id, LEADERS)
    return []


async def escalation_targets(session: AsyncSession, task: Task) -> list[int]:
    """The owner's leader: a person's unit head or organisation leaders; a unit's or body's
    leaders; and always whoever assigned the task."""
    targets: set[int] = set()
    if task.owner_kind == OwnerKind.user and task.owner_user_id:
        user = await session.get(User, task.owner_user_id)
        if user is not None:
            unit = await session.get(Unit, user.unit_id) if user.unit_id else None
            if unit is not None and unit.head_user_id and unit.head_user_id != user.id:
                targets.add(unit.head_user_id)
            else:
                targets |= set(await _users_with(session, user.organization_id, [Role.leader]))
    elif task.owner_kind == OwnerKind.unit and task.owner_unit_id:
        unit = await session.get(Unit, task.owner_unit_id)
        if unit is not None:
            targets |= set(await _users_with(session, unit.organization_id, [Role.leader]))
    elif task.owner_org_id:
        targets |= set(await _users_with(session, task.owner_org_id, [Role.leader]))
    if task.created_by:
        targets.add(task.created_by)
    targets -= set(await responsible(session, task)) - ({task.created_by} if task.created_by else set())
    return sorted(targets)


async def owner_label(session: AsyncSession, task: Task) -> str:
    if task.owner_kind == OwnerKind.user and task.owner_user_id:
        user = await session.get(User, task.owner_user_id)
        if user is None:
            return "—"
        org = await session.get(Organization, user.organization_id)
        return f"{user.full_name}" + (f" — {user.position}" if user.position else "") + (f", {org.name}" if org else "")
    if task.owner_kind == OwnerKind.unit and task.owner_unit_id:
        unit = await session.get(Unit, task.owner_unit_id)
        org = await session.get(Organization, unit.organization_id) if unit else None
        return f"{unit.name if unit else '—'}" + (f", {org.name}" if org else "")
    org = await session.get(Organization, task.owner_org_id) if task.owner_org_id else None
    return org.name if org else "—"


# --- creating -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewTask:
    title: str
    due_date: date
    owner_kind: OwnerKind
    owner_id: int
    description: str = ""
    source_type: str = "manual"
    source_id: int | None = None
    source_item_id: int | None = None
    source_label: str = ""
    source_link: str | None = None


async def _check_owner(session: AsyncSession, kind: OwnerKind, owner_id: int, assigning_org: int, tree: Any) -> None:
    if kind == OwnerKind.user:
        user = await session.get(User, owner_id)
        ok = user is not None and user.active
    elif kind == OwnerKind.unit:
        unit = await session.get(Unit, owner_id)
        ok = unit is not None and unit.active
    else:
        org = await session.get(Organization, owner_id)
        # A body assigns work to itself or to the bodies below it.
        ok = org is not None and org.active and (tree is None or owner_id in tree.subtree(assigning_org))
    if not ok:
        raise InvalidInput(
            _l("The task's owner is not valid. Choose another one."),
        )


async def create(
    session: AsyncSession,
    *,
    actor: Actor,
    organization_id: int,
    new: NewTask,
    created_by: int | None,
    tree: Any = None,
) -> Task:
    """Assign a task (authorize before calling); the caller starts its workflow after commit."""
    title = (new.title or "").strip()
    if not title:
        raise InvalidInput(_l("Enter what must be done."))
    if new.due_date < calendar.vn_today():
        raise InvalidInput(_l("The due date is in the past."))
    await _check_owner(session, new.owner_kind, new.owner_id, organization_id, tree)
    task = Task(
        organization_id=organization_id,
        source_type=new.source_type,
        source_id=new.source_id,
        source_item_id=new.source_item_id,
        source_label=new.source_label[:500],
        source_link=new.source_link,
        title=title[:500],
        description=(new.description or "").strip(),
        due_date=new.due_date,
        status=TaskStatus.waiting,
        progress=0,
        revision=1,
        created_by=created_by,
        created_at=utcnow(),
    )
    task.assign_to(new.owner_kind, new.owner_id)
    session.add(task)
    await session.flush()
    session.add(TaskUpdate(task_id=task.id, kind="created", body=task.description, user_id=created_by, at=utcnow()))
    await record(
        session,
        actor=actor,
        action="task.create",
        object_type="task",
        object_id=task.id,
        organization_id=organization_id,
        details={
            "title": task.title,
            "owner_kind": task.owner_kind.value,
            "owner_id": new.owner_id,
            "due_date": task.due_date.isoformat(),
            "source": f"{task.source_type}:{task.source_id}",
        },
    )
    await _changed(session, task)
    return task


# --- reading ------------------------------------------------------------------------------


@dataclass
class TaskView:
    task: Task
    owner: str
    status: str  # waiting | in_progress | due_soon | overdue | done | cancelled
    mine: bool = False
    may_manage: bool = False


def display_status(task: Task, today: date | None = None) -> str:
    today = today or calendar.vn_today()
    if task.status in (TaskStatus.done, TaskStatus.cancelled):
        return task.status.value
    if task.due_date < today:
        return "overdue"
    if (task.due_date - today).days <= SOON_DAYS:
        return "due_soon"
    return task.status.value


def _unit_ids_headed(user_id: int) -> Any:
    return select(Unit.id).where(Unit.head_user_id == user_id)


def _mine_clause(principal: Principal) -> Any:
    leader_orgs = principal.orgs_with(*LEADERS)
    clauses = [
        (Task.owner_kind == OwnerKind.user) & (Task.owner_user_id == principal.user.id),
        (Task.owner_kind == OwnerKind.unit) & Task.owner_unit_id.in_(_unit_ids_headed(principal.user.id)),
    ]
    if leader_orgs:
        clauses.append((Task.owner_kind == OwnerKind.organization) & Task.owner_org_id.in_(leader_orgs))
        clauses.append(
            (Task.owner_kind == OwnerKind.unit)
            & Task.owner_unit_id.in_(select(Unit.id).where(Unit.organization_id.in_(leader_orgs), Unit.head_user_id.is_(None)))
        )
    return or_(*clauses)


def _assigned_clause(principal: Principal) -> Any:
    orgs = principal.orgs_with(*ASSIGNERS)
    clause = Task.created_by == principal.user.id
    return or_(clause, Task.organization_id.in_(orgs)) if orgs else clause


def _due_order() -> list[Any]:
    return [Task.due_date, Task.id]


async def my_tasks(session: AsyncSession, *, principal: Principal, open_only: bool = False, limit: int = 200) -> list[Task]:
    query = select(Task).where(_mine_clause(principal), Task.status != TaskStatus.cancelled)
    if open_only:
        query = query.where(Task.status.in_(OPEN))
    return list((await session.scalars(query.order_by(*_due_order()).limit(limit))).all())


async def assigned_tasks(session: AsyncSession, *, principal: Principal, open_only: bool = False, limit: int = 200) -> list[Task]:
    query = select(Task).where(_assigned_clause(principal), Task.status != TaskStatus.cancelled)
    if open_only:
        query = query.where(Task.status.in_(OPEN))
    return list((await session.scalars(query.order_by(*_due_order()).limit(limit))).all())


def open_query(principal: Principal) -> Select[int]:
    """How many open tasks are the principal's (the badge reads it with the others)."""
    return select(func.count()).select_from(Task).where(_mine_clause(principal), Task.status.in_(OPEN))


async def for_source(session: AsyncSession, *, source_type: str, source_id: int) -> list[Task]:
    return list(
        (
            await session.scalars(
                select(Task)
                .where(
                    Task.source_type == source_type,
                    Task.source_id == source_id,
                    Task.status != TaskStatus.cancelled,
                )
                .order_by(Task.source_item_id, Task.id)
            )
        ).all()
    )


async def views(session: AsyncSession, tasks: Iterable[Task], principal: Principal | None = None) -> list[TaskView]:
    today = calendar.vn_today()
    out = []
    for task in tasks:
        mine = principal is not None and principal.user.id in await responsible(session, task)
        manage = principal is not None and _may_manage(principal, task)
        out.append(
            TaskView(task=task, owner=await owner_label(session, task), status=display_status(task, today), mine=mine, may_manage=manage)
        )
    # Overdue first, then by due date.
    return sorted(out, key=lambda v: (v.status != "overdue", v.status in ("done", "cancelled"), v.task.due_date, v.task.id))


def _may_manage(principal: Principal, task: Task) -> bool:
    return task.created_by == principal.user.id or task.organization_id in principal.orgs_with(*ASSIGNERS)


async def get_for(session: AsyncSession, *, principal: Principal, task_id: int) -> TaskView:
    """The task with the principal's standing; NotFound for anyone unconcerned."""
    task = await session.get(Task, task_id)
    if task is None:
        raise _not_found()
    mine = principal.user.id in await responsible(session, task)
    manage = _may_manage(principal, task)
    auditor = task.organization_id in principal.orgs_with(Role.auditor)
    if not (mine or manage or auditor):
        raise _not_found()
    return TaskView(task=task, owner=await owner_label(session, task), status=display_status(task), mine=mine, may_manage=manage)


async def history(session: AsyncSession, *, task_id: int) -> list[tuple[TaskUpdate, str]]:
    rows = (
        await session.execute(
            select(TaskUpdate, User.full_name)
            .outerjoin(User, User.id == TaskUpdate.user_id)
            .where(TaskUpdate.task_id == task_id)
            .order_by(TaskUpdate.at, TaskUpdate.id)
        )
    ).all()
    return [(u, name or "Hệ thống") for u, name in rows]


# --- the owner's actions --------------------------------------------------------------------


async def _changed(session: AsyncSession, task: Task) -> None:
    await publish(
        session,
        channel=channel(task.id),
        kind="task",
        payload={
            "id": task.id,
            "status": task.status.value,
            "progress": task.progress,
            "revision": task.revision,
        },
    )


async def _owner_action(session: AsyncSession, principal: Principal, task_id: int) -> Task:
    view = await get_for(session, principal=principal, task_id=task_id)
    if not view.mine:
        raise Forbidden(_l("Only the task's owner can report on it."))
    if view.task.status not in OPEN:
        raise InvalidInput(_l("The task is finished and can no longer be updated."))
    return view.task


async def report_progress(
    session: AsyncSession,
    *,
    principal: Principal,
    task_id: int,
    body: str,
    progress: int | None = None,
) -> Task:
    """Report progress (starts the task if it was waiting)."""
    task = await _owner_action(session, principal, task_id)
    body = (body or "").strip()
    if not body and progress is None:
        raise InvalidInput(_l("Describe the progress."))
    if progress is not None and not 0 <= progress <= 100:
        raise InvalidInput(_l("Progress must be between 0 and 100%."))
    kind = "progress"
    if task.status == TaskStatus.waiting:
        task.status, task.started_at, kind = TaskStatus.in_progress, utcnow(), "started"
    if progress is not None:
        task.progress = min(progress, 99)
    task.revision += 1
    session.add(TaskUpdate(task_id=task.id, kind=kind, body=body[:5000], progress=task.progress, user_id=principal.user.id, at=utcnow()))
    await record(
        session,
        actor=principal.actor,
        action="task.progress",
        object_type="task",
        object_id=task.id,
        organization_id=task.organization_id,
        details={"progress": task.progress, "body": body[:500]},
    )
    await _changed(session, task)
    return task


async def complete(session: AsyncSession, *, principal: Principal, task_id: int, result: str) -> Task:
    task = await _owner_action(session, principal, task_id)
    result = (result or "").strip()
    if not result:
        raise InvalidInput(_l("Describe what was done."))
    task.status, task.progress, task.result = TaskStatus.done, 100, result[:5000]
    task.done_at, task.done_by = utcnow(), principal.user.id
    task.started_at = task.started_at or task.done_at
    task.revision += 1
    session.add(TaskUpdate(task_id=task.id, kind="done", body=task.result, progress=100, user_id=principal.user.id, at=utcnow()))
    await record(
        session,
        actor=principal.actor,
        action="task.complete",
        object_type="task",
        object_id=task.id,
        organization_id=task.organization_id,
        details={"result": task.result[:500]},
    )
    if task.created_by:
        await notify(
            session,
            user_ids=[task.created_by],
            kind="task.done",
            link=f"/tasks/{task.id}",
            dedupe_key=f"task-{task.id}-done-r{task.revision}",
            title=_l("Task completed: {title}", title=task.title[:150]),
            body=task.result[:500],
        )
    await _changed(session, task)
    return task


async def reopen(session: AsyncSession, *, principal: Principal, task_id: int, reason: str) -> Task:
    """The assigner sends a finished task back (e.g. the result is not enough)."""
    view = await get_for(session, principal=principal, task_id=task_id)
    task = view.task
    if not view.may_manage:
        raise Forbidden(_l("Only the assigner can reopen a task."))
    if task.status != TaskStatus.done:
        raise InvalidInput(_l("Only a finished task can be reopened."))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_l("Give the reason for reopening."))
    task.status, task.done_at, task.done_by, task.progress = TaskStatus.in_progress, None, None, 90
    task.revision += 1
    session.add(TaskUpdate(task_id=task.id, kind="reopened", body=reason[:5000], user_id=principal.user.id, at=utcnow()))
    await record(
        session,
        actor=principal.actor,
        action="task.reopen",
        object_type="task",
        object_id=task.id,
        organization_id=task.organization_id,
        details={"reason": reason[:500]},
    )
    await _changed(session, task)
    return task


def _managed_open(view: TaskView, message: Message) -> Task:
    if not view.may_manage:
        raise Forbidden(message)
    if view.task.status not in OPEN:
        raise InvalidInput(_l("The task is finished."))
    return view.task


async def cancel(session: AsyncSession, *, principal: Principal, task_id: int, reason: str) -> Task:
    """The assigner withdraws an open task; its owners are told and its deadlines stop."""
    view = await get_for(session, principal=principal, task_id=task_id)
    task = _managed_open(view, _l("Only the assigner can cancel a task."))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_l("Give the reason for cancelling the task."))
    owners = await responsible(session, task)
    task.status = TaskStatus.cancelled
    task.revision += 1
    session.add(TaskUpdate(task_id=task.id, kind="cancelled", body=reason[:5000], user_id=principal.user.id, at=utcnow()))
    await record(
        session,
        actor=principal.actor,
        action="task.cancel",
        object_type="task",
        object_id=task.id,
        organization_id=task.organization_id,
        details={"reason": reason[:500]},
    )
    await notify(
        session,
        user_ids=owners,
        kind="task.cancelled",
        link=f"/tasks/{task.id}",
        dedupe_key=f"task-{task.id}-cancelled",
        title=_l("Task cancelled: {title}", title=task.title[:150]),
        body=reason[:500],
    )
    await _changed(session, task)
    return task


async def for_reassigning(session: AsyncSession, *, principal: Principal, task_id: int) -> Task:
    """The open task for its assigner: 404 when not visible, 403 for anyone else. The route calls
    it before reading the form, so outsiders learn nothing from the form's checks."""
    view = await get_for(session, principal=principal, task_id=task_id)
    return _managed_open(view, _l("Only the assigner can reassign a task."))


async def reassign(
    session: AsyncSession,
    *,
    principal: Principal,
    task_id: int,
    owner_kind: OwnerKind,
    owner_id: int,
    due_date: date,
    reason: str,
) -> Task:
    """The assigner gives an open task to another owner and/or moves its due date. The new owners
    are told; the deadline notices start again for them (the workflow re-reads the task)."""
    task = await for_reassigning(session, principal=principal, task_id=task_id)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_l("Give the reason for reassigning or changing the deadline."))
    if due_date < calendar.vn_today():
        raise InvalidInput(_l("The due date is in the past."))
    await _check_owner(session, owner_kind, owner_id, task.organization_id, principal.tree)
    before = (task.owner_kind, task.owner_id, task.due_date)
    if before == (owner_kind, owner_id, due_date):
        raise InvalidInput(_l("Neither the owner nor the due date changed."))
    old_owner = await owner_label(session, task)
    task.assign_to(owner_kind, owner_id)
    owner_changed = before[:2] != (owner_kind, owner_id)
    if owner_changed:
        # The new owner has had no notice yet: every deadline notice is due again.
        from services.deadlines.service import rearm

        await rearm(session, kind="task", object_id=task.id)
    task.due_date = due_date
    task.revision += 1
    new_owner = await owner_label(session, task)
    body = (
        f"{old_owner} → {new_owner}, hạn {due_date:%d/%m/%Y}: {reason}"
        if owner_changed
        else f"Hạn mới {due_date:%d/%m/%Y} (hạn cũ {before[2]:%d/%m/%Y}): {reason}"
    )
    session.add(TaskUpdate(task_id=task.id, kind="reassigned", body=body[:5000], user_id=principal.user.id, at=utcnow()))
    await record(
        session,
        actor=principal.actor,
        action="task.reassign",
        object_type="task",
        object_id=task.id,
        organization_id=task.organization_id,
        details={
            "owner_kind": owner_kind.value,
            "owner_id": owner_id,
            "due_date": due_date.isoformat(),
            "previous_owner": f"{before[0].value}:{before[1]}",
            "previous_due": before[2].isoformat(),
            "reason": reason[:500],
        },
    )
    await notify(
        session,
        user_ids=await responsible(session, task),
        kind="task.assigned",
        link=f"/tasks/{task.id}",
        dedupe_key=f"task-{task.id}-assigned-r{task.revision}",
        title=_l("Task (due {due}): {title}", due=f"{due_date:%d/%m/%Y}", title=task.title[:150]),
        body=body[:500],
    )
    await _changed(session, task)
    return task


# --- what the workflow acts on --------------------------------------------------------------


@dataclass
class Snapshot:
    task_id: int
    status: str
    revision: int
    due_date: date
    closed: bool
    reminder_at: datetime | None = None
    overdue_at: datetime | None = None
    escalate_at: datetime | None = None
    pending: list[str] = field(default_factory=list)


async def workflow_snapshot(
    session: AsyncSession,
    *,
    task_id: int,
    reminder_working_days: int,
    escalate_after_working_days: int,
) -> Snapshot:
    """What the workflow's pre-kernel branch acts on (notices sent are read from the kernel's table)."""
    from services.deadlines.ladder import working_day_ladder
    from services.deadlines.service import rungs_for

    task = await session.get(Task, task_id)
    if task is None:
        raise _not_found()
    snap = Snapshot(
        task_id=task.id, status=task.status.value, revision=task.revision, due_date=task.due_date, closed=task.status not in OPEN
    )
    if not snap.closed:
        ladder = working_day_ladder(reminder_before=reminder_working_days, escalate_after=escalate_after_working_days)
        placed, ahead = await rungs_for(session, kind="task", object_id=task.id, ladder=ladder, due=task.due_date)
        instants = dict(placed)
        snap.reminder_at, snap.overdue_at, snap.escalate_at = instants["reminder"], instants["overdue"], instants["escalation"]
        snap.pending = [r.step for r in ahead]
    return snap


async def notify_assigned(session: AsyncSession, *, task_id: int) -> list[int]:
    """Tell the owners about a new task (once)."""
    task = await session.get(Task, task_id)
    if task is None or task.status not in OPEN:
        return []
    users = await responsible(session, task)
    notes = await notify(
        session,
        user_ids=users,
        kind="task.assigned",
        link=f"/tasks/{task.id}",
        dedupe_key=f"task-{task.id}-assigned",
        title=_l("New task (due {due}): {title}", due=f"{task.due_date:%d/%m/%Y}", title=task.title[:150]),
        body=_l("From: {source}. {description}", source=task.source_label, description=task.description[:400])
        if task.source_label
        else task.description[:400],
    )
    return [n.user_id for n in notes]


async def send_deadline_notice(session: AsyncSession, *, task_id: int, kind: str, due_date: date) -> bool:
    """Reminder before the due date, overdue notice to the owners, escalation to their leader
    (services/tasks/deadlines.py says what each one says).

    Idempotent by (task, kind, due date): False when already sent or no longer relevant."""
    from services.deadlines import service as deadlines
    from services.deadlines.ladder import due_instant
    from services.tasks.deadlines import TaskDeadlines

    return await deadlines.send(session, adapter=TaskDeadlines(), object_id=task_id, step=kind, due_at=due_instant(due_date))
