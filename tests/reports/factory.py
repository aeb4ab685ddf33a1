"""Test factory of the report-request tests: many organisations at once (bulk inserts), a
principal, a request, a worker on its own task queue, and workflow IDs of each test's own (request
IDs repeat across the fresh databases of tests)."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy import insert, select

from services.audit.service import Actor
from services.authz import Principal, load_principal
from services.db import Database, utcnow
from services.directory.models import Level, Organization, Role, RoleAssignment, User
from services.outgoing import service as outgoing
from services.reports import service as reports
from services.reports.models import ReportTarget
from services.uploads import CheckedUpload
from tests.helpers import worker_with_relay
from tests.signing.conftest import make_tiny_pdf
from workflows.reports.workflows import request_workflow_id, target_workflow_id

PROVINCE = "hlhpn-bentre"


async def principal(database: Database, username: str) -> Principal:
    async with database.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None, username
        return await load_principal(session, user)


async def org_id(database: Database, code: str) -> int:
    async with database.session() as session:
        return await session.scalar(select(Organization.id).where(Organization.code == code))


async def bulk_orgs(database: Database, n: int, *, parent_code: str = PROVINCE, prefix: str = "bulk") -> list[int]:
    """`n` communes under `parent_code` and one officer ("<prefix>.officer") acting for all of them."""
    parent = await org_id(database, parent_code)
    now = utcnow()
    async with database.session() as session:
        await session.execute(
            insert(Organization),
            [
                {
                    "code": f"{prefix}-{i:04d}",
                    "name": f"Hội LHPN xã Thử Nghiệm {i:04d}",
                    "abbreviation": "HLHPN",
                    "level": Level.commune,
                    "parent_id": parent,
                    "place": "Bến Tre",
                    "active": True,
                    "created_at": now,
                }
                for i in range(n)
            ],
        )
        ids = list(
            (await session.scalars(select(Organization.id).where(Organization.code.like(f"{prefix}-%")).order_by(Organization.code))).all()
        )
        officer = User(
            username=f"{prefix}.officer", password_hash="!", full_name="Cán bộ Thử Nghiệm", position="Chuyên viên", organization_id=ids[0]
        )
        session.add(officer)
        await session.flush()
        await session.execute(
            insert(RoleAssignment), [{"user_id": officer.id, "organization_id": oid, "role": Role.officer} for oid in ids]
        )
    return ids


def pdf(text: str = "Bao cao") -> CheckedUpload:
    return CheckedUpload(filename="bao-cao.pdf", content_type="application/pdf", data=make_tiny_pdf(text))


async def create_request(
    database: Database,
    settings,
    targets: list[int],
    *,
    username: str = "lan.nguyen",  # type: ignore[no-untyped-def]
    deadline: datetime | None = None,
    approval: bool = False,
    fields: tuple[reports.FieldSpec, ...] = (
        reports.FieldSpec("Số hội viên", "người", "integer"),
        reports.FieldSpec("Tỷ lệ hộ đạt 5 không 3 sạch", "%", "percent"),
    ),
    title: str = "Báo cáo kết quả thực hiện Cuộc vận động xây dựng gia đình 5 không 3 sạch quý IV/2026",
):
    who = await principal(database, username)
    async with database.session() as session:
        req = await reports.create_request(
            session,
            principal=who,
            settings=settings,
            organization_id=who.me.organization_id,
            title=title,
            instructions="Đề nghị các cơ sở Hội báo cáo kết quả theo mẫu đính kèm.",
            deadline=deadline or utcnow() + timedelta(days=3),
            target_ids=targets,
            scope_label="Các cơ sở Hội",
            fields=list(fields),
            requires_approval=approval,
        )
    await issue_letter(database, settings, req.id)
    async with database.session() as session:
        return await reports.get_request(session, request_id=req.id)


async def issue_letter(database: Database, settings, request_id: int) -> None:  # type: ignore[no-untyped-def]
    """The request's letter signed and issued through the outgoing service, with stand-in PDFs:
    these tests are about the fan-out (real signatures on a letter: test_letter.py)."""
    async with database.session() as session:
        req = await reports.get_request(session, request_id=request_id)
        doc = await outgoing.get(session, document_id=req.letter_outgoing_id)
        signer = await session.get(User, doc.signer_id)
        actor = Actor(user_id=signer.id, name=signer.full_name, organization_id=doc.organization_id)
        version = await outgoing.latest_version(session, document_id=doc.id)
        await outgoing.store_prepared(
            session, settings=settings, document_id=doc.id, version_number=version.number, pdf=make_tiny_pdf("Du thao")
        )
        await outgoing.record_signature(
            session, settings=settings, actor=actor, doc=doc, pdf=make_tiny_pdf("Da ky"), method="pin", report_json=None
        )
    async with database.session() as session:  # signing and issuing are two steps, as for a clerk

        async def seal(stamp: outgoing.IssueStamp) -> outgoing.IssuedFiles:
            return outgoing.IssuedFiles(pdf=make_tiny_pdf(stamp.notation))

        await outgoing.issue(session, settings=settings, principal=None, actor=actor, document_id=doc.id, seal=seal)


async def submit(
    database: Database,
    settings,
    request_id: int,
    oid: int,
    who: Principal,
    *,  # type: ignore[no-untyped-def]
    at: datetime | None = None,
    figures: dict[str, str] | None = None,
):
    async with database.session() as session:
        req = await reports.get_request(session, request_id=request_id)
        values = figures or {str(f.id): ("50" if f.kind == "percent" else "120") for f in req.fields}
        return await reports.submit(
            session,
            principal=who,
            settings=settings,
            request_id=request_id,
            organization_id=oid,
            file=pdf(f"org {oid}"),
            figures=values,
            at=at,
        )


async def targets_by(database: Database, request_id: int) -> dict[int, ReportTarget]:
    async with database.session() as session:
        rows = (await session.scalars(select(ReportTarget).where(ReportTarget.request_id == request_id))).all()
        return {t.organization_id: t for t in rows}


def pydantic_client(client):  # type: ignore[no-untyped-def]
    """The test environment's client (time skipping kept) with the app's converter."""
    from tests.helpers import app_client

    return app_client(client)


@asynccontextmanager
async def worker_for(client, settings, database, interceptors=()):  # type: ignore[no-untyped-def]
    async with worker_with_relay(client, settings, database, "reports", interceptors) as worker:
        yield worker


def own_workflow_ids(settings) -> None:  # type: ignore[no-untyped-def]
    """Workflow IDs no earlier test used (a prefix of the test's own, as each deployment has): no
    need to delete earlier tests' workflows, which the dev server takes a minute or more to do
    after a fan-out to hundreds."""
    settings.workflow_id_prefix = f"t{uuid.uuid4().hex[:8]}-"


def workflow_of(settings, request_id: int, organization_id: int | None = None) -> str:  # type: ignore[no-untyped-def]
    """The workflow ID of a request, or of its child for one organisation, with the test's prefix."""
    wid = request_workflow_id(request_id) if organization_id is None else target_workflow_id(request_id, organization_id)
    return (settings.workflow_id_prefix or "") + wid


async def tracking(parent, n: int) -> bool:  # type: ignore[no-untyped-def]
    """The request's workflow holds the deadlines of `n` waiting targets (and no more)."""
    from workflows.reports.workflows import ReportRequestWorkflow

    return len(await parent.query(ReportRequestWorkflow.next_notices)) == n
