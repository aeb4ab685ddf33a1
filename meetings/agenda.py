"""The agenda: items prepared beforehand, then run live by the chair (start, end, reorder, add)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import live
from meetings.access import MeetingAccess, access_for, require_chair, require_organiser, require_status
from meetings.models import AgendaItem, ItemStatus, MeetingStatus
from meetings.scheduling import PREPARING
from services.audit.service import record
from services.authz import Principal
from services.db import utcnow
from services.errors import InvalidInput, NotFound
from services.i18n import _l


def _may_edit(acc: MeetingAccess) -> None:
    """Before the meeting organisers edit the agenda; once it is open only the chair does."""
    if acc.meeting.status == MeetingStatus.open:
        require_chair(acc)
    else:
        require_status(acc.meeting, *PREPARING)
        require_organiser(acc)


async def _items(session: AsyncSession, meeting_id: int) -> list[AgendaItem]:
    return list(
        (
            await session.scalars(
                select(AgendaItem).where(AgendaItem.meeting_id == meeting_id).order_by(AgendaItem.position, AgendaItem.id)
            )
        ).all()
    )


async def _item(session: AsyncSession, meeting_id: int, item_id: int) -> AgendaItem:
    item = await session.get(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting_id:
        raise NotFound(_l("agenda item not found"))
    return item


async def add_item(
    session: AsyncSession,
    *,
    principal: Principal,
    meeting_id: int,
    title: str,
    planned_minutes: int = 10,
    presenter_id: int | None = None,
    presenter_name: str = "",
) -> AgendaItem:
    acc = await access_for(session, principal, meeting_id, for_update=True)
    _may_edit(acc)
    title = (title or "").strip()
    if not title:
        raise InvalidInput(_l("Enter the item's title."))
    if not 1 <= planned_minutes <= 600:
        raise InvalidInput(_l("Planned minutes must be between 1 and 600."))
    last = await session.scalar(select(func.max(AgendaItem.position)).where(AgendaItem.meeting_id == meeting_id)) or 0
    item = AgendaItem(
        meeting_id=meeting_id,
        position=last + 1,
        title=title[:500],
        planned_minutes=planned_minutes,
        presenter_id=presenter_id or None,
        presenter_name=(presenter_name or "").strip()[:255],
        added_live=acc.meeting.status == MeetingStatus.open,
    )
    session.add(item)
    await session.flush()
    await record(
        session,
        actor=principal.actor,
        action="meeting.agenda_item_added",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={"item_id": item.id, "title": item.title, "planned_minutes": planned_minutes, "live": item.added_live},
    )
    await live.emit(session, meeting_id, "agenda", await live.agenda_payload(session, acc.meeting))
    return item


async def remove_item(session: AsyncSession, *, principal: Principal, meeting_id: int, item_id: int) -> None:
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_organiser(acc)
    require_status(acc.meeting, *PREPARING)
    item = await _item(session, meeting_id, item_id)
    await session.delete(item)
    await session.flush()
    for position, other in enumerate(await _items(session, meeting_id), start=1):
        other.position = position
    await record(
        session,
        actor=principal.actor,
        action="meeting.agenda_item_removed",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={"item_id": item_id, "title": item.title},
    )
    await live.emit(session, meeting_id, "agenda", await live.agenda_payload(session, acc.meeting))


async def reorder(session: AsyncSession, *, principal: Principal, meeting_id: int, item_ids: Sequence[int]) -> list[AgendaItem]:
    """Put the items in the given order (every item exactly once)."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    _may_edit(acc)
    items = await _items(session, meeting_id)
    if sorted(item_ids) != sorted(i.id for i in items):
        raise InvalidInput(_l("The new order must list every item once."))
    by_id = {i.id: i for i in items}
    # Two passes keep positions unique at every step.
    for offset, item_id in enumerate(item_ids, start=1):
        by_id[item_id].position = 1000 + offset
    await session.flush()
    for offset, item_id in enumerate(item_ids, start=1):
        by_id[item_id].position = offset
    await record(
        session,
        actor=principal.actor,
        action="meeting.agenda_reordered",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={"order": list(item_ids)},
    )
    await live.emit(session, meeting_id, "agenda", await live.agenda_payload(session, acc.meeting))
    return [by_id[i] for i in item_ids]


async def move(session: AsyncSession, *, principal: Principal, meeting_id: int, item_id: int, delta: int) -> None:
    """Move one item up (-1) or down (+1)."""
    ids = [i.id for i in await _items(session, meeting_id)]
    if item_id not in ids:
        raise NotFound(_l("agenda item not found"))
    index = ids.index(item_id)
    target = max(0, min(len(ids) - 1, index + delta))
    ids.insert(target, ids.pop(index))
    await reorder(session, principal=principal, meeting_id=meeting_id, item_ids=ids)


async def start_item(session: AsyncSession, *, principal: Principal, meeting_id: int, item_id: int) -> AgendaItem:
    """The chair moves the meeting to this item; the running one (if any) ends."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_chair(acc)
    require_status(acc.meeting, MeetingStatus.open)
    item = await _item(session, meeting_id, item_id)
    now = utcnow()
    for other in await _items(session, meeting_id):
        if other.status == ItemStatus.running and other.id != item.id:
            other.status, other.ended_at = ItemStatus.done, now
    if item.status != ItemStatus.running:
        item.status, item.started_at, item.ended_at = ItemStatus.running, now, None
    acc.meeting.current_item_id = item.id
    await record(
        session,
        actor=principal.actor,
        action="meeting.agenda_item_started",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={"item_id": item.id, "title": item.title},
    )
    await live.emit(session, meeting_id, "agenda", await live.agenda_payload(session, acc.meeting))
    return item


async def end_item(session: AsyncSession, *, principal: Principal, meeting_id: int, item_id: int) -> AgendaItem:
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_chair(acc)
    require_status(acc.meeting, MeetingStatus.open)
    item = await _item(session, meeting_id, item_id)
    if item.status != ItemStatus.running:
        raise InvalidInput(_l("This item is not running."))
    item.status, item.ended_at = ItemStatus.done, utcnow()
    if acc.meeting.current_item_id == item.id:
        acc.meeting.current_item_id = None
    elapsed = int((item.ended_at - item.started_at).total_seconds()) if item.started_at else 0
    await record(
        session,
        actor=principal.actor,
        action="meeting.agenda_item_ended",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={"item_id": item.id, "elapsed_seconds": elapsed, "planned_minutes": item.planned_minutes},
    )
    await live.emit(session, meeting_id, "agenda", await live.agenda_payload(session, acc.meeting))
    return item
