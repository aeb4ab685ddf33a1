"""Organisation directory services. Each change writes its audit entry in the same transaction."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.audit.service import Actor, record
from services.auth.passwords import check_password, hash_password
from services.authz import Principal, require
from services.db import utcnow
from services.directory.models import Level, Organization, Role, RoleAssignment, Unit, User
from services.errors import Conflict, InvalidInput, NotFound
from services.events import service as events
from services.i18n import LOCALES, Message, _l

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
ABBR_RE = re.compile(r"^[A-ZĐ0-9][A-Za-zĐđ0-9]{0,31}$")
# Decision 20/2020/QĐ-TTg: four groups, level 4 . level 3 . level 2 . level 1 (H + 2 digits for
# a province or ministry), e.g. 000.00.31.H08 for a body directly under the province.
NATIONAL_ID_RE = re.compile(r"^[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[A-Z][0-9]{2}$")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


async def _check_password(password: str, *, username: str, full_name: str | None) -> None:
    if problem := await check_password(password, username=username, full_name=full_name):
        raise InvalidInput(*problem)


def _need(value: str | None, message: Message) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(message)
    return value


async def get_org(session: AsyncSession, *, org_id: int) -> Organization:
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound(_l("organisation not found"))
    return org


async def list_orgs(session: AsyncSession, *, org_ids: set[int] | None = None) -> list[Organization]:
    """Organisations ordered as a tree walk (parents before children), optionally restricted."""
    orgs = (await session.scalars(select(Organization).order_by(Organization.name))).all()
    children: dict[int | None, list[Organization]] = {}
    for org in orgs:
        children.setdefault(org.parent_id, []).append(org)
    known = {o.id for o in orgs}
    ordered: list[Organization] = []

    def walk(parent: int | None) -> None:
        for org in children.get(parent, []):
            ordered.append(org)
            walk(org.id)

    walk(None)
    for org in orgs:  # orphans whose parent is missing still appear
        if org.parent_id is not None and org.parent_id not in known:
            ordered.append(org)
    return [o for o in ordered if org_ids is None or o.id in org_ids]


def org_depth(org: Organization, by_id: dict[int, Organization]) -> int:
    depth, current = 0, org
    while current.parent_id is not None and current.parent_id in by_id and depth < 10:
        depth += 1
        current = by_id[current.parent_id]
    return depth


async def create_org(
    session: AsyncSession,
    *,
    actor: Actor,
    code: str,
    name: str,
    abbreviation: str,
    level: Level,
    parent_id: int | None,
    parent_body: str | None = None,
    place: str | None = None,
    email: str | None = None,
    national_id: str | None = None,
) -> Organization:
    code = _need(code, _l("Organisation code is required."))
    if not CODE_RE.match(code):
        raise InvalidInput(
            _l("The code may only hold letters, digits, '.', '_' and '-' (2–64 characters)."),
        )
    abbreviation = _need(abbreviation, _l("Abbreviation is required.")).upper()
    if not ABBR_RE.match(abbreviation):
        raise InvalidInput(
            _l("The abbreviation holds upper-case letters and digits only (e.g. HLHPN)."),
        )
    if await session.scalar(select(Organization.id).where(Organization.code == code)):
        raise Conflict(_l("organisation code {code} already exists", code=code))
    if parent_id is not None:
        await get_org(session, org_id=parent_id)
    national = await _national_id(session, national_id, org_id=None)
    org = Organization(
        code=code,
        national_id=national,
        name=_need(name, _l("Organisation name is required.")),
        abbreviation=abbreviation,
        level=level,
        parent_id=parent_id,
        parent_body=(parent_body or "").strip() or None,
        place=(place or "").strip() or None,
        email=(email or "").strip() or None,
    )
    session.add(org)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="org.create",
        object_type="organization",
        object_id=org.id,
        organization_id=org.id,
        details={"code": code, "name": org.name, "level": level.value, "parent_id": parent_id, "national_id": national},
    )
    return org


async def _national_id(session: AsyncSession, value: str | None, *, org_id: int | None) -> str | None:
    """The identifier normalised (upper case, no spaces) and checked for shape and uniqueness."""
    value = "".join((value or "").split()).upper()
    if not value:
        return None
    if not NATIONAL_ID_RE.match(value):
        raise InvalidInput(
            _l("The electronic identifier has the form 000.00.31.H08 (Decision 20/2020/QĐ-TTg)."),
        )
    owner = await session.scalar(select(Organization.id).where(Organization.national_id == value))
    if owner is not None and owner != org_id:
        raise Conflict(_l("Another organisation already has the identifier {value}.", value=value))
    return value


async def update_org(session: AsyncSession, *, actor: Actor, org: Organization, **changes: object) -> Organization:
    allowed = {"name", "abbreviation", "parent_body", "place", "email", "active", "level", "national_id"}
    diff = {}
    for key, value in changes.items():
        if key not in allowed:
            raise InvalidInput(_l("field {key} cannot be changed", key=key))
        if key == "national_id":
            value = await _national_id(session, value if isinstance(value, str) else None, org_id=org.id)
        if isinstance(value, str):
            value = value.strip()
            if key == "abbreviation":
                value = value.upper()
                if not ABBR_RE.match(value):
                    raise InvalidInput(
                        _l("The abbreviation holds upper-case letters and digits only."),
                    )
            if key == "name" and not value:
                raise InvalidInput(_l("Name is required."))
        old = getattr(org, key)
        if old != value:
            diff[key] = {"from": getattr(old, "value", old), "to": getattr(value, "value", value)}
            setattr(org, key, value)
    if diff:
        await record(
            session,
            actor=actor,
            action="org.update",
            object_type="organization",
            object_id=org.id,
            organization_id=org.id,
            details=diff,
        )
    return org


async def create_unit(session: AsyncSession, *, actor: Actor, org: Organization, code: str, name: str, abbreviation: str) -> Unit:
    code = _need(code, _l("Unit code is required."))
    if await session.scalar(select(Unit.id).where(Unit.organization_id == org.id, Unit.code == code)):
        raise Conflict(_l("unit code {code} already exists", code=code))
    unit = Unit(
        organization_id=org.id,
        code=code,
        name=_need(name, _l("Unit name is required.")),
        abbreviation=_need(abbreviation, _l("Abbreviation is required.")).upper(),
    )
    session.add(unit)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="unit.create",
        object_type="unit",
        object_id=unit.id,
        organization_id=org.id,
        details={"code": code, "name": unit.name},
    )
    return unit


async def set_unit_head(session: AsyncSession, *, actor: Actor, unit: Unit, user: User | None) -> None:
    if user is not None and user.organization_id != unit.organization_id:
        raise InvalidInput(_l("the head must belong to the same organisation"))
    previous, unit.head_user_id = unit.head_user_id, user.id if user else None
    if previous is not None and previous != unit.head_user_id:
        # The documents the unit leads were the previous head's to see: their live pages are decided again.
        await events.access_changed(session, previous)
    await record(
        session,
        actor=actor,
        action="unit.set_head",
        object_type="unit",
        object_id=unit.id,
        organization_id=unit.organization_id,
        details={"head_user_id": unit.head_user_id},
    )


async def get_user(session: AsyncSession, *, user_id: int) -> User:
    user = await session.scalar(select(User).where(User.id == user_id).options(selectinload(User.roles), selectinload(User.organization)))
    if user is None:
        raise NotFound(_l("user not found"))
    return user


async def find_user(session: AsyncSession, *, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username.strip().lower()))


async def create_user(
    session: AsyncSession,
    *,
    actor: Actor,
    username: str,
    password: str,
    full_name: str,
    organization_id: int,
    position: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    unit_id: int | None = None,
    roles: list[Role] | None = None,
) -> User:
    username = _need(username, _l("Username is required.")).lower()
    if not USERNAME_RE.match(username):
        raise InvalidInput(
            _l("The username holds 3–64 lower-case letters, digits, '.', '_' or '-'."),
        )
    await _check_password(password, username=username, full_name=full_name)
    password_hash = await hash_password(password)  # before any query: no transaction waits on it
    if await find_user(session, username=username):
        raise Conflict(_l("username {username} is taken", username=username))
    await get_org(session, org_id=organization_id)
    if unit_id is not None:
        unit = await session.get(Unit, unit_id)
        if unit is None or unit.organization_id != organization_id:
            raise InvalidInput(_l("the unit is not in that organisation"))
    user = User(
        username=username,
        password_hash=password_hash,
        full_name=_need(full_name, _l("Full name is required.")),
        organization_id=organization_id,
        position=(position or "").strip() or None,
        email=(email or "").strip() or None,
        phone=(phone or "").strip() or None,
        unit_id=unit_id,
        password_changed_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="user.create",
        object_type="user",
        object_id=user.id,
        organization_id=organization_id,
        details={"username": username, "full_name": user.full_name, "position": user.position},
    )
    for role in roles or []:
        await assign_role(session, actor=actor, user=user, organization_id=organization_id, role=role)
    return user


async def update_user(session: AsyncSession, *, actor: Actor, user: User, **changes: object) -> User:
    allowed = {"full_name", "position", "email", "phone", "unit_id", "active"}
    diff = {}
    for key, value in changes.items():
        if key not in allowed:
            raise InvalidInput(_l("field {key} cannot be changed", key=key))
        if isinstance(value, str):
            value = value.strip() or None
        if key == "full_name" and not value:
            raise InvalidInput(_l("Full name is required."))
        if key == "unit_id" and value is not None:
            unit = await session.get(Unit, value)
            if unit is None or unit.organization_id != user.organization_id:
                raise InvalidInput(_l("The unit is not in the user's organisation."))
        if getattr(user, key) != value:
            diff[key] = {"from": getattr(user, key), "to": value}
            setattr(user, key, value)
    if diff.keys() & {"active", "unit_id"}:
        # What the user may read follows: their live sockets are decided again.
        await events.access_changed(session, user.id)
    if diff:
        await record(
            session,
            actor=actor,
            action="user.update",
            object_type="user",
            object_id=user.id,
            organization_id=user.organization_id,
            details=diff,
        )
    return user


async def set_language(session: AsyncSession, *, actor: Actor, user: User, language: str) -> None:
    """The language of what is sent to the person (notifications, e-mails); the page switch sets it."""
    if language not in LOCALES:
        raise InvalidInput(_l("Unknown language."))
    if user.language != language:
        user.language = language
        await record(
            session,
            actor=actor,
            action="user.language",
            object_type="user",
            object_id=user.id,
            organization_id=user.organization_id,
            details={"language": language},
        )


async def set_password(session: AsyncSession, *, actor: Actor, user: User, password: str) -> None:
    """Set a new password (admin reset or the user's own change, checked by the caller)."""
    await _check_password(password, username=user.username, full_name=user.full_name)
    user.password_hash = await hash_password(password)
    user.password_changed_at = utcnow()
    await record(
        session,
        actor=actor,
        action="user.password_set",
        object_type="user",
        object_id=user.id,
        organization_id=user.organization_id,
        details={"by_self": actor.user_id == user.id},
    )


async def assign_role(session: AsyncSession, *, actor: Actor, user: User, organization_id: int, role: Role) -> RoleAssignment:
    existing = await session.scalar(
        select(RoleAssignment).where(
            RoleAssignment.user_id == user.id,
            RoleAssignment.organization_id == organization_id,
            RoleAssignment.role == role,
        )
    )
    if existing:
        return existing
    await get_org(session, org_id=organization_id)
    assignment = RoleAssignment(user_id=user.id, organization_id=organization_id, role=role)
    session.add(assignment)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="role.assign",
        object_type="user",
        object_id=user.id,
        organization_id=organization_id,
        details={"role": role.value, "organization_id": organization_id},
    )
    await events.access_changed(session, user.id)
    return assignment


async def remove_role(session: AsyncSession, *, actor: Actor, assignment: RoleAssignment) -> None:
    await session.delete(assignment)
    await record(
        session,
        actor=actor,
        action="role.remove",
        object_type="user",
        object_id=assignment.user_id,
        organization_id=assignment.organization_id,
        details={"role": assignment.role.value},
    )
    await events.access_changed(session, assignment.user_id)


async def list_users(session: AsyncSession, *, org_ids: set[int]) -> list[User]:
    return list(
        (
            await session.scalars(
                select(User)
                .where(User.organization_id.in_(org_ids))
                .options(selectinload(User.roles), selectinload(User.organization), selectinload(User.unit))
                .order_by(User.organization_id, User.full_name)
            )
        ).all()
    )


async def admin_get_user(session: AsyncSession, *, principal: Principal, user_id: int) -> User:
    """A user the principal may administer (admin of the user's organisation or above)."""
    user = await get_user(session, user_id=user_id)
    require(principal, [Role.admin], user.organization_id, "user")
    return user


async def admin_get_org(session: AsyncSession, *, principal: Principal, org_id: int) -> Organization:
    require(principal, [Role.admin], org_id, "organization")
    return await get_org(session, org_id=org_id)


async def units_of(session: AsyncSession, *, org_id: int) -> list[Unit]:
    return list((await session.scalars(select(Unit).where(Unit.organization_id == org_id).order_by(Unit.name))).all())
