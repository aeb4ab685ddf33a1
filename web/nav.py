"""The navigation bar: sections a principal may open, in UI.md's order, with live counts.

Each domain adds its section here; its badge comes from `web.waiting` (what waits for me), the
same read the home page lists.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.authz import Principal
from services.directory.models import STAFF, Role
from web.i18n import gettext as _
from web.waiting import Waiting


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


SECTIONS: list[Section] = [
    Section("home", "Home", "/"),
    Section("notifications", "Notifications", "/notifications"),
    Section("signing", "Digital signing", "/signing", STAFF),
    Section("incoming", "Incoming", "/incoming", tuple(Role)),
    Section("outgoing", "Outgoing", "/outgoing", tuple(Role)),
    Section("meetings", "Meetings", "/meetings"),
    Section("tasks", "Tasks", "/tasks"),
    Section("reports", "Report requests", "/reports", tuple(Role)),
    Section("dashboard", "Dashboard", "/dashboard", tuple(Role)),
    Section("audit", "Audit trail", "/audit", (Role.auditor,)),
    Section("admin", "Administration", "/admin", (Role.admin,)),
]


def visible_sections(principal: Principal) -> list[Section]:
    return [s for s in SECTIONS if not s.roles or principal.orgs_with(*s.roles)]


def counts(principal: Principal, waiting: Waiting) -> dict[str, int]:
    """The badges of the sections this person sees, from what waits for them (web/waiting.py)."""
    shown = {s.key for s in visible_sections(principal)}
    return {key: n for key, n in waiting.counts().items() if key in shown}


def navigation(principal: Principal, path: str, counted: dict[str, int] | None = None) -> list[NavItem]:
    items = []
    for section in visible_sections(principal):
        active = path == section.url if section.url == "/" else path.startswith(section.url)
        items.append(
            NavItem(label=_(section.label), url=section.url, active=active, count=(counted or {}).get(section.key), key=section.key)
        )
    return items
