"""The navigation bar: sections a principal may open, in UI.md's order, with live counts.

Each domain adds its section here with an optional async counter (what waits for me).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.authz import Principal
from services.directory.models import STAFF, Role
from services.notifications.service import unread_count
from web.i18n import gettext as _

Counter = Callable[[AsyncSession, Principal], Awaitable[int]]


@dataclass
class NavItem:
    label: str
    url: str
    active: bool
    count: int | None = None
    key: str = ""


@dataclass(frozen=True)
class Section:
    key: str
    label: str  # English msgid
    url: str
    roles: tuple[Role, ...] = ()  # empty: everyone signed in
    counter: Counter | None = None


async def _unread(session: AsyncSession, principal: Principal) -> int:
    return await unread_count(session, user_id=principal.user.id)


async def _meetings(session: AsyncSession, principal: Principal) -> int:
    from web.routes.meetings import nav_count

    return await nav_count(session, principal)


async def _tasks(session: AsyncSession, principal: Principal) -> int:
    from web.routes.tasks import nav_count

    return await nav_count(session, principal)


async def _incoming(session: AsyncSession, principal: Principal) -> int:
    from web.routes.incoming import nav_count

    return await nav_count(session, principal)


async def _reports(session: AsyncSession, principal: Principal) -> int:
    from services.reports.service import waiting_count

    return await waiting_count(session, principal)


async def _outgoing(session: AsyncSession, principal: Principal) -> int:
    from services.outgoing.service import waiting_count

    return await waiting_count(session, principal)


SECTIONS: list[Section] = [
    Section("home", "Home", "/"),
    Section("notifications", "Notifications", "/notifications", counter=_unread),
    Section("signing", "Digital signing", "/signing", STAFF),
    Section("incoming", "Incoming", "/incoming", tuple(Role), counter=_incoming),
    Section("outgoing", "Outgoing", "/outgoing", tuple(Role), counter=_outgoing),
    Section("meetings", "Meetings", "/meetings", counter=_meetings),
    Section("tasks", "Tasks", "/tasks", counter=_tasks),
    Section("reports", "Report requests", "/reports", tuple(Role), counter=_reports),
    Section("dashboard", "Dashboard", "/dashboard", tuple(Role)),
    Section("audit", "Audit trail", "/audit", (Role.auditor,)),
    Section("admin", "Administration", "/admin", (Role.admin,)),
]


def visible_sections(principal: Principal) -> list[Section]:
    return [s for s in SECTIONS if not s.roles or principal.orgs_with(*s.roles)]


async def counts(session: AsyncSession, principal: Principal) -> dict[str, int]:
    return {s.key: await s.counter(session, principal) for s in visible_sections(principal) if s.counter}


def navigation(principal: Principal, path: str, counted: dict[str, int] | None = None) -> list[NavItem]:
    items = []
    for section in visible_sections(principal):
        active = path == section.url if section.url == "/" else path.startswith(section.url)
        items.append(NavItem(label=_(section.label), url=section.url, active=active,
                             count=(counted or {}).get(section.key), key=section.key))
    return items
