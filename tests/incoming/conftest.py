"""Shared helpers of the incoming-document tests: principals, a registered document, a worker."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import date, timedelta

from sqlalchemy import select

from services.authz import load_principal
from services.blobs import BlobStore
from services.calendar import vn_today
from services.db import Database
from services.directory.models import Organization, Unit, User
from services.incoming import service as incoming
from services.incoming.models import IncomingDocument
from tests.helpers import app_client, worker_with_relay
from tests.signing.conftest import make_tiny_pdf


async def principal(database: Database, username: str):  # type: ignore[no-untyped-def]
    async with database.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None, username
        return await load_principal(session, user)


async def org_id(database: Database, code: str) -> int:
    async with database.session() as session:
        return await session.scalar(select(Organization.id).where(Organization.code == code))


async def user_id(database: Database, username: str) -> int:
    async with database.session() as session:
        return await session.scalar(select(User.id).where(User.username == username))


async def unit_id(database: Database, org_code: str, unit_code: str) -> int:
    async with database.session() as session:
        return await session.scalar(select(Unit.id).join(Organization).where(Organization.code == org_code, Unit.code == unit_code))


def meta(notation: str = "15/KH-UBND", **changes) -> incoming.Metadata:  # type: ignore[no-untyped-def]
    values = dict(
        issuer_name="Ủy ban nhân dân tỉnh Bến Tre",
        number_notation=notation,
        document_date=vn_today() - timedelta(days=2),
        doc_type="KH",
        subject="Kế hoạch triển khai Tháng hành động vì bình đẳng giới năm 2026",
    )
    values.update(changes)
    return incoming.Metadata(**values)


def pdf_file(text: str = "Ke hoach") -> incoming.NewFile:
    return incoming.NewFile(filename="ke-hoach.pdf", content_type="application/pdf", data=make_tiny_pdf(text))


async def register(
    database: Database,
    settings,
    notation: str = "15/KH-UBND",
    clerk: str = "mai.tran",  # type: ignore[no-untyped-def]
    org: str = "hlhpn-bentre",
    **changes,
) -> IncomingDocument:
    p = await principal(database, clerk)
    oid = await org_id(database, org)
    async with database.session() as session:
        return await incoming.register(
            session,
            principal=p,
            organization_id=oid,
            meta=meta(notation, **changes),
            files=[pdf_file(notation)],
            blobs=BlobStore.for_settings(settings),
        )


async def direct_to(
    database: Database,
    doc_id: int,
    lead: str = "thu.le",
    leader: str = "lan.nguyen",  # type: ignore[no-untyped-def]
    due: date | None = None,
    **handlers,
) -> IncomingDocument:
    p = await principal(database, leader)
    lead_id = await user_id(database, lead)
    async with database.session() as session:
        return await incoming.direct(
            session,
            principal=p,
            document_id=doc_id,
            instruction="Giao Ban Tuyên giáo chủ trì tham mưu thực hiện.",
            handlers=incoming.Handlers(lead_user_id=lead_id, **handlers),
            due_date=due or vn_today() + timedelta(days=10),
        )


def pydantic_client(temporal_env):  # type: ignore[no-untyped-def]
    """The environment's client (time-skipping interceptor kept) with the app's converter."""
    return app_client(temporal_env.client)


@asynccontextmanager
async def worker_for(client, settings, database):  # type: ignore[no-untyped-def]
    async with worker_with_relay(client, settings, database, "incoming") as worker:
        yield worker
