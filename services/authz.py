"""The one authorization mechanism: who holds which role in which organisation.

Roles are held per organisation. Admins and auditors of an organisation also act on the
organisations below it (a province admin manages its districts and communes); every other
role is scoped to its own organisation. Data outside a principal's scope is reported as
not found, so its existence is not disclosed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.service import Actor
from services.directory.models import Organization, Role, RoleAssignment, User
from services.errors import NotFound
from services.i18n import _l

SUBTREE_ROLES = frozenset({Role.admin, Role.auditor})


@dataclass
class OrgTree:
    """Parent links (and names) of every organisation, small enough to load per request."""

    parent: dict[int, int | None]
    names: dict[int, str] = field(default_factory=dict)

    @classmethod
    async def load(cls, session: AsyncSession) -> OrgTree:
        rows = (await session.execute(select(Organization.id, Organization.parent_id, Organization.name))).all()
        return cls(parent={oid: pid for oid, pid, _ in rows}, names={oid: name for oid, _, name in rows})

    def ancestors_and_self(self, org_id: int) -> list[int]:
        chain: list[int] = []
        current: int | None = org_id
        seen: set[int] = set()
        while current is not None and current not in seen:
            seen.add(current)
            chain.append(current)
            current = self.parent.get(current)
        return chain

    def subtree(self, org_id: int) -> set[int]:
        children: dict[int | None, list[int]] = {}
        for oid, pid in self.parent.items():
            children.setdefault(pid, []).append(oid)
        result, stack = set(), [org_id]
        while stack:
            current = stack.pop()
            if current in result:
                continue
            result.add(current)
            stack.extend(children.get(current, []))
        return result


@dataclass(frozen=True)
class UserCard:
    """A snapshot of the user for display; stays readable after a rolled-back transaction."""

    id: int
    username: str
    full_name: str
    position: str | None
    organization_id: int
    organization_name: str


@dataclass
class Principal:
    """A signed-in user with their roles, as every service function receives them."""

    user: User
    me: UserCard
    roles: dict[int, set[Role]]
    tree: OrgTree
    ip: str | None = None
    via_token: bool = False
    session_id: int | None = None
    csrf_token: str | None = None
    _scope_cache: dict[frozenset[Role], set[int]] = field(default_factory=dict)

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.me.id, name=self.me.full_name, organization_id=self.me.organization_id, ip=self.ip)

    def has_role(self, role: Role, org_id: int) -> bool:
        return org_id in self.orgs_with(role)

    def orgs_with(self, *roles: Role) -> set[int]:
        """Organisation IDs where the principal may act in any of `roles`."""
        key = frozenset(roles)
        if key not in self._scope_cache:
            scope: set[int] = set()
            for org_id, held in self.roles.items():
                for role in held & key:
                    scope |= self.tree.subtree(org_id) if role in SUBTREE_ROLES else {org_id}
            self._scope_cache[key] = scope
        return self._scope_cache[key]

    def visible_orgs(self) -> set[int]:
        """Organisations whose data the principal may see at all."""
        return self.orgs_with(*Role)

    def all_roles(self) -> set[Role]:
        return set().union(*self.roles.values()) if self.roles else set()


def require(principal: Principal, roles: Iterable[Role], org_id: int | None, what: str = "object") -> None:
    """Raise NotFound unless the principal holds one of `roles` for `org_id`."""
    if org_id is None or org_id not in principal.orgs_with(*roles):
        raise NotFound(
            _l("{what} not found", what=what),
        )


@cache
def _orgs_and_roles() -> Select[int, int | None, str, Role | None]:
    # Built once: every request loads a principal, and building the join cost as much as running it.
    held = and_(RoleAssignment.organization_id == Organization.id, RoleAssignment.user_id == bindparam("user_id"))
    return select(Organization.id, Organization.parent_id, Organization.name, RoleAssignment.role).outerjoin(RoleAssignment, held)


async def load_principal(session: AsyncSession, user: User, *, ip: str | None = None) -> Principal:
    # The organisation tree and the user's roles in one statement (one row per organisation and
    # role held there, or one with no role): each statement is a round trip, paid by every request.
    rows = (await session.execute(_orgs_and_roles(), {"user_id": user.id})).all()
    roles: dict[int, set[Role]] = {}
    tree = OrgTree(parent={}, names={})
    for org_id, parent_id, name, role in rows:
        tree.parent[org_id], tree.names[org_id] = parent_id, name
        if role is not None:
            roles.setdefault(org_id, set()).add(role)
    me = UserCard(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        position=user.position,
        organization_id=user.organization_id,
        organization_name=tree.names.get(user.organization_id, ""),
    )
    return Principal(user=user, me=me, roles=roles, tree=tree, ip=ip)
