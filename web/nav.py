"""The navigation bar: sections a principal may open, in UI.md's order."""

from __future__ import annotations

from dataclasses import dataclass

from services.authz import Principal
from services.directory.models import Role
from web.i18n import gettext as _


@dataclass
class NavItem:
    label: str
    url: str
    active: bool
    count: int | None = None


# (English msgid, url, roles that see it; empty = everyone signed in)
SECTIONS: list[tuple[str, str, tuple[Role, ...]]] = [
    ("Home", "/", ()),
    ("Audit trail", "/audit", (Role.auditor,)),
    ("Administration", "/admin", (Role.admin,)),
]


def navigation(principal: Principal, path: str) -> list[NavItem]:
    items = []
    for label, url, roles in SECTIONS:
        if roles and not principal.orgs_with(*roles):
            continue
        active = path == url if url == "/" else path.startswith(url)
        items.append(NavItem(label=_(label), url=url, active=active))
    return items
