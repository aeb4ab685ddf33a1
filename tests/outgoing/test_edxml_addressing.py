"""edXML between systems: organisations are named by their national electronic identifier, a
package is imported only by an organisation it is addressed to, once per DocumentId, and the
package is kept as received."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from services.authz import load_principal
from services.blobs import BlobStore
from services.directory import service as directory
from services.directory.models import Organization
from services.errors import Conflict, InvalidInput
from services.incoming.models import IncomingDocument, IncomingFile
from services.outgoing import edxml, exchange
from tests.helpers import csrf_of, sign_in
from tests.outgoing import flow

PDF = b"%PDF-1.7\n% a letter from outside\n%%EOF\n"


def _package(*, sender: edxml.Organ, to: list[edxml.Organ], number: int = 7) -> bytes:
    return edxml.build(
        edxml.Package(
            sender=sender,
            recipients=to,
            code_number=number,
            code_notation="UBND-VX",
            place="Bến Tre",
            promulgation_date=dt.date(2026, 11, 30),
            doc_type="CV",
            type_name="Công văn",
            subject="Phối hợp tuyên truyền phòng chống bạo lực gia đình",
            signer_competence="KT. CHỦ TỊCH",
            signer_position="Phó Chủ tịch",
            signer_name="Trần Văn Bình",
            attachments=[edxml.Attachment("cid:1", "cong-van.pdf", "application/pdf", PDF, "Văn bản chính")],
        )
    )


OUTSIDE = edxml.Organ(organ_id="000.00.00.H08", name="Ủy ban nhân dân tỉnh Bến Tre")


async def _count(session, org_id: int) -> int:  # type: ignore[no-untyped-def]
    return await session.scalar(select(func.count()).select_from(IncomingDocument).where(IncomingDocument.organization_id == org_id)) or 0


async def test_a_package_for_two_districts_is_refused_by_the_province_and_taken_once_by_each(demo_db_sqlite, og_settings) -> None:
    db, settings = demo_db_sqlite, og_settings
    async with db.session() as session:
        chauthanh, mocaynam = await flow.org(session, "hlhpn-chauthanh"), await flow.org(session, "hlhpn-mocaynam")
        # By identifier for one district, by name only for the other (as some senders write it).
        data = _package(
            sender=OUTSIDE,
            to=[
                edxml.Organ(organ_id=chauthanh.national_id or "", name=chauthanh.name),
                edxml.Organ(organ_id="", name=mocaynam.name.upper()),
            ],
        )
        province_clerk = await load_principal(session, await flow.user(session, "mai.tran"))
        province_id = (await flow.org(session, "hlhpn-bentre")).id
        before = await _count(session, province_id)
        with pytest.raises(InvalidInput) as refused:
            await exchange.import_package(session, settings=settings, principal=province_clerk, data=data)
        assert "huyện Châu Thành" in str(refused.value.message) and "MỎ CÀY NAM" in str(refused.value.message)
        assert await _count(session, province_id) == before

    for username, org in (("chauthanh.vanthu", chauthanh), ("mocaynam.vanthu", mocaynam)):
        async with db.session() as session:
            clerk = await load_principal(session, await flow.user(session, username))
            copy, package = await exchange.import_package(session, settings=settings, principal=clerk, data=data)
            again, _ = await exchange.import_package(session, settings=settings, principal=clerk, data=data)
            assert again.id == copy.id and copy.organization_id == org.id
            assert package.sender.organ_id == "000.00.00.H08"
        async with db.session() as session:
            doc = await session.get(IncomingDocument, copy.id)
            files = (
                await session.scalars(select(IncomingFile).where(IncomingFile.document_id == copy.id).order_by(IncomingFile.position))
            ).all()
            assert doc.number_notation == "07/UBND-VX" and doc.subject.startswith("Phối hợp")
            blobs = BlobStore.for_data_dir(settings.data_dir)
            assert [f.filename for f in files] == ["cong-van.pdf", exchange.RECEIVED_NAME]
            assert blobs.get(files[0].sha256) == PDF and blobs.get(files[1].sha256) == data  # kept as received

    # A clerk may not steer a package to one of her organisations that it does not name.
    async with db.session() as session:
        tanthach = await flow.org(session, "hlhpn-tanthach")
        clerk = await load_principal(session, await flow.user(session, "tanthach.vanthu"))
        with pytest.raises(InvalidInput):
            await exchange.import_package(session, settings=settings, principal=clerk, data=data, organization_id=tanthach.id)


async def test_the_national_identifier_is_checked_and_names_the_sender_in_exported_packages(
    demo_db_sqlite, og_settings, client_for
) -> None:
    db, settings = demo_db_sqlite, og_settings
    async with db.session() as session:
        province = await flow.org(session, "hlhpn-bentre")
        assert province.national_id == "000.00.31.H08"
        admin = flow.actor_of(await flow.user(session, "quantri"))
        with pytest.raises(InvalidInput):
            await directory.update_org(session, actor=admin, org=province, national_id="H08-31")
        district = await flow.org(session, "hlhpn-chauthanh")
        with pytest.raises(Conflict):
            await directory.update_org(session, actor=admin, org=district, national_id="000.00.31.h08")

    # The administrator's page saves it (normalised) and shows it.
    browser = await client_for(db)
    await sign_in(browser, "quantri")
    token = await csrf_of(browser, f"/admin/orgs/{district.id}")
    form = {"csrf_token": token, "name": district.name, "abbreviation": district.abbreviation, "active": "on"}
    saved = await browser.post(f"/admin/orgs/{district.id}", data={**form, "national_id": " 000.02.31.h08 "})
    assert saved.status_code == 303
    page = await browser.get(f"/admin/orgs/{district.id}")
    assert "Mã định danh điện tử" in page.text and 'value="000.02.31.H08"' in page.text
    wrong = await browser.post(f"/admin/orgs/{district.id}", data={**form, "national_id": "0000.2.31.H8"})
    assert wrong.status_code == 422 and "000.00.31.H08" in wrong.text

    # An issued document's package names sender and addressees by identifier.
    doc = await flow.issued(db, settings)
    async with db.session() as session:
        package = await exchange.package_for(session, settings=settings, doc=doc)
        ids = set((await session.scalars(select(Organization.national_id).where(Organization.national_id.is_not(None)))).all())
    assert package.sender.organ_id == "000.00.31.H08" and package.document_id.startswith("000.00.31.H08,")
    assert package.recipients and all(r.organ_id in ids for r in package.recipients)
