"""Demo directory: Hội LHPN tỉnh Bến Tre, three district-level bodies, two communes each.

`seed_demo` is idempotent: it does nothing when the province already exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.service import Actor
from services.directory import service as directory
from services.directory.models import SIGNERS, Level, Organization, Role
from signing.pki import OrgSpec, PersonSpec

DEMO_PASSWORD = "LienThong@2026"
DEMO_PIN = "123456"
PROVINCE_CODE = "hlhpn-bentre"


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    position: str
    roles: tuple[Role, ...]
    unit: str | None = None
    heads_unit: bool = False


@dataclass(frozen=True)
class DemoOrg:
    code: str
    name: str
    abbreviation: str
    level: Level
    place: str
    parent_body: str
    units: tuple[tuple[str, str, str], ...]
    users: tuple[DemoUser, ...]
    children: tuple[DemoOrg, ...] = ()


def _local(prefix: str, names: tuple[str, str, str]) -> tuple[DemoUser, ...]:
    leader, clerk, officer = names
    return (
        DemoUser(f"{prefix}.chutich", leader, "Chủ tịch", (Role.leader,)),
        DemoUser(f"{prefix}.vanthu", clerk, "Văn thư", (Role.clerk,), "VP"),
        DemoUser(f"{prefix}.chuyenvien", officer, "Chuyên viên Văn phòng", (Role.officer,), "VP"),
    )


def _commune(code: str, name: str, names: tuple[str, str, str], district_body: str) -> DemoOrg:
    return DemoOrg(
        code=code,
        name=f"Hội LHPN {name}",
        abbreviation="HLHPN",
        level=Level.commune,
        place="Bến Tre",
        parent_body=district_body,
        units=(("VP", "Văn phòng", "VP"),),
        users=_local(code.split("-")[-1], names),
    )


def _district(code: str, name: str, place: str, names: tuple[str, str, str], communes: tuple[DemoOrg, ...]) -> DemoOrg:
    return DemoOrg(
        code=code,
        name=f"Hội LHPN {name}",
        abbreviation="HLHPN",
        level=Level.district,
        place=place,
        parent_body="HỘI LHPN TỈNH BẾN TRE",
        units=(("VP", "Văn phòng", "VP"), ("TG", "Ban Tuyên giáo - Gia đình", "TG")),
        users=_local(code.split("-")[-1], names),
        children=communes,
    )


DEMO_TREE = DemoOrg(
    code=PROVINCE_CODE,
    name="Hội Liên hiệp Phụ nữ tỉnh Bến Tre",
    abbreviation="HLHPN",
    level=Level.province,
    place="Bến Tre",
    parent_body="HỘI LHPN VIỆT NAM",
    units=(
        ("VP", "Văn phòng", "VP"),
        ("TG", "Ban Tuyên giáo", "TG"),
        ("GDXH", "Ban Gia đình - Xã hội", "GĐXH"),
        ("TCKT", "Ban Tổ chức - Kiểm tra", "TCKT"),
    ),
    users=(
        DemoUser("quantri", "Lê Minh Quân", "Quản trị hệ thống", (Role.admin,), "VP"),
        DemoUser("lan.nguyen", "Nguyễn Thị Lan", "Chủ tịch", (Role.leader,)),
        DemoUser("hue.do", "Đỗ Thị Huệ Anh", "Phó Chủ tịch", (Role.deputy_leader,)),
        DemoUser("mai.tran", "Trần Thị Mai", "Văn thư", (Role.clerk,), "VP"),
        DemoUser("thu.le", "Lê Thị Thu", "Chuyên viên Ban Tuyên giáo", (Role.officer,), "TG"),
        DemoUser("hanh.pham", "Phạm Thị Hạnh", "Trưởng Ban Gia đình - Xã hội", (Role.officer,), "GDXH", heads_unit=True),
        DemoUser("ngoc.vo", "Võ Thị Bích Ngọc", "Chánh Văn phòng", (Role.secretary, Role.officer), "VP", heads_unit=True),
        DemoUser("dung.huynh", "Huỳnh Thị Dung", "Trưởng Ban Tổ chức - Kiểm tra", (Role.auditor,), "TCKT", heads_unit=True),
    ),
    children=(
        _district(
            "hlhpn-tpbentre",
            "thành phố Bến Tre",
            "Bến Tre",
            ("Trương Thị Kim Loan", "Nguyễn Thị Hồng Nhung", "Đặng Thị Yến"),
            (
                _commune(
                    "hlhpn-phukhuong", "phường Phú Khương", ("Lê Thị Mỹ Hạnh", "Phan Thị Thảo", "Võ Thị Ánh"), "HỘI LHPN THÀNH PHỐ BẾN TRE"
                ),
                _commune(
                    "hlhpn-mythanhan",
                    "xã Mỹ Thạnh An",
                    ("Nguyễn Thị Bé Năm", "Huỳnh Thị Diễm", "Trần Thị Cẩm Tú"),
                    "HỘI LHPN THÀNH PHỐ BẾN TRE",
                ),
            ),
        ),
        _district(
            "hlhpn-chauthanh",
            "huyện Châu Thành",
            "Châu Thành",
            ("Nguyễn Thị Lan Phương", "Bùi Thị Ngọc Trâm", "Lương Thị Thúy"),
            (
                _commune(
                    "hlhpn-tanthach",
                    "xã Tân Thạch",
                    ("Đoàn Thị Mười", "Lê Thị Kiều Oanh", "Phạm Thị Ngọc Hân"),
                    "HỘI LHPN HUYỆN CHÂU THÀNH",
                ),
                _commune(
                    "hlhpn-ankhanh",
                    "xã An Khánh",
                    ("Trần Thị Út", "Nguyễn Thị Xuân Mai", "Hồ Thị Thanh Tuyền"),
                    "HỘI LHPN HUYỆN CHÂU THÀNH",
                ),
            ),
        ),
        _district(
            "hlhpn-mocaynam",
            "huyện Mỏ Cày Nam",
            "Mỏ Cày Nam",
            ("Võ Thị Hồng Đào", "Châu Thị Ngọc Ánh", "Dương Thị Hiền"),
            (
                _commune("hlhpn-andinh", "xã An Định", ("Nguyễn Thị Sáu", "Lâm Thị Mỹ Linh", "Trần Thị Hoa"), "HỘI LHPN HUYỆN MỎ CÀY NAM"),
                _commune(
                    "hlhpn-daphuochoi",
                    "xã Đa Phước Hội",
                    ("Phạm Thị Tuyết", "Ngô Thị Kim Chi", "Lê Thị Phượng"),
                    "HỘI LHPN HUYỆN MỎ CÀY NAM",
                ),
            ),
        ),
    ),
)


# Electronic identifiers shaped as Decision 20/2020/QĐ-TTg numbers them (level 4 . level 3 .
# level 2 . province): the union directly under the province, its districts, their communes.
# Illustrative values: a real installation enters the ones its province assigned.
NATIONAL_IDS: dict[str, str] = {
    PROVINCE_CODE: "000.00.31.H08",
    **{district.code: f"000.{d:02d}.31.H08" for d, district in enumerate(DEMO_TREE.children, start=1)},
    **{
        commune.code: f"{c:03d}.{d:02d}.31.H08"
        for d, district in enumerate(DEMO_TREE.children, start=1)
        for c, commune in enumerate(district.children, start=1)
    },
}


def walk(org: DemoOrg = DEMO_TREE) -> list[DemoOrg]:
    """The demo tree, parents before children."""
    result = [org]
    for child in org.children:
        result.extend(walk(child))
    return result


async def seed_demo(session: AsyncSession, *, actor: Actor | None = None) -> bool:
    """Create the demo directory; returns False when it already exists."""
    actor = actor or Actor.system("seed-demo")
    if await session.scalar(select(Organization.id).where(Organization.code == PROVINCE_CODE)):
        return False

    async def create(spec: DemoOrg, parent_id: int | None) -> None:
        org = await directory.create_org(
            session,
            actor=actor,
            code=spec.code,
            name=spec.name,
            abbreviation=spec.abbreviation,
            level=spec.level,
            parent_id=parent_id,
            parent_body=spec.parent_body,
            place=spec.place,
            national_id=NATIONAL_IDS.get(spec.code),
        )
        units = {}
        for code, name, abbr in spec.units:
            units[code] = await directory.create_unit(session, actor=actor, org=org, code=code, name=name, abbreviation=abbr)
        for person in spec.users:
            user = await directory.create_user(
                session,
                actor=actor,
                username=person.username,
                password=DEMO_PASSWORD,
                full_name=person.full_name,
                position=person.position,
                organization_id=org.id,
                unit_id=units[person.unit].id if person.unit else None,
                roles=list(person.roles),
                email=f"{person.username}@demo.lienthong.vn",
            )
            if person.heads_unit and person.unit:
                await directory.set_unit_head(session, actor=actor, unit=units[person.unit], user=user)
        for child in spec.children:
            await create(child, org.id)

    await create(DEMO_TREE, None)
    return True


def demo_directory_specs(*, pin: str) -> tuple[list[PersonSpec], list[OrgSpec]]:
    """The same subjects as `signing.service.directory_specs`, read from the demo tree (tests, no database)."""
    people, orgs = [], []
    for org in walk():
        orgs.append(OrgSpec(code=org.code, name=org.name, abbreviation=org.abbreviation, pin=pin))
        for person in org.users:
            if set(person.roles) & set(SIGNERS):
                people.append(
                    PersonSpec(
                        username=person.username,
                        full_name=person.full_name,
                        org_name=org.name,
                        position=person.position,
                        email=f"{person.username}@demo.lienthong.vn",
                        pin=pin,
                    )
                )
    return people, orgs
