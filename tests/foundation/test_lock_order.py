"""One lock order on PostgreSQL (services/db.py): domain rows, then register counters, then the
audit head, then the event head.

Representative flows run with every row-locking statement recorded per transaction, and each
transaction must take its rows in that order; a concurrency test replays the inversion that
incoming documents had (an opinion audited before touching the document, against a direction
that changes the document before auditing), which PostgreSQL answered with `deadlock detected`;
others replay an imported edXML status against a recall, and removing a webhook against disabling it.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Mapper

from demo import minutes as demo_minutes
from meetings import attendance, polls, scheduling
from meetings.models import PollOption, PollVisibility, Threshold
from services.db import LOCK_ORDER, Database, utcnow
from services.incoming import service as incoming
from services.reports import service as reports
from services.webhooks import service as webhooks
from tests.helpers import other_waits_on_a_lock_or_is_done
from tests.incoming.conftest import direct_to, register
from tests.incoming.conftest import org_id as incoming_org_id
from tests.incoming.conftest import principal as incoming_principal
from tests.meetings.factory import CHAIR, MEMBERS, build_meeting
from tests.meetings.factory import principal as meeting_principal
from tests.reports.factory import bulk_orgs, create_request, submit
from tests.reports.factory import principal as report_principal

pytestmark = pytest.mark.postgres

# A part's row may be locked after the heads when its root's row is held (services/db.py).
ROOTS = {
    "meeting_units": "meetings",
    "meeting_participants": "meetings",
    "meeting_agenda_items": "meetings",
    "meeting_speakers": "meetings",
    "meeting_polls": "meetings",
    "meeting_poll_options": "meeting_polls",
    "meeting_poll_voters": "meeting_polls",
    "outgoing_recipients": "outgoing_documents",
}
_WRITE = re.compile(r"^\s*(?:UPDATE\s+(\w+)|DELETE\s+FROM\s+(\w+))", re.I)
_SELECT = re.compile(r"\bFROM\s+(\w+)", re.I)
_BY_ID = re.compile(r"WHERE (\w+)\.id = \$(\d+)")
_INSERT = re.compile(r"^\s*INSERT INTO (\w+)", re.I)


def _rank(table: str) -> int:
    """Domain tables 0 (those named in LOCK_ORDER in their order), then counters and heads."""
    return LOCK_ORDER.index(table) if table in LOCK_ORDER else 0


@dataclass
class Transaction:
    locks: list[tuple[str, object]] = field(default_factory=list)  # (table, row id or None: some rows)
    created: set[str] = field(default_factory=set)  # tables with rows inserted here (nobody else sees them yet)
    new_rows: set[tuple[str, object]] = field(default_factory=set)  # those rows, where the ORM inserted them
    problems: list[str] = field(default_factory=list)
    late_parts: set[str] = field(default_factory=set)  # parts locked after a head, their root held
    orphans: set[str] = field(default_factory=set)  # parts locked without their root

    def take(self, table: str, row: object) -> None:
        held = {t for t, _ in self.locks}
        again = (table, row) in self.locks or (table in held and (row is None or (table, None) in self.locks))
        root = ROOTS.get(table)
        # A row inserted here; by its id where the ORM inserted the table's rows (so an older row of
        # a table that also got a new one still counts).
        fresh = table in self.created and (row is None or (table, row) in self.new_rows or table not in {t for t, _ in self.new_rows})
        covered = again or root in held or fresh
        top = max(self.locks, key=lambda lock: _rank(lock[0]), default=None)
        if not covered and top is not None and _rank(top[0]) > _rank(table):
            self.problems.append(f"{table} locked after {top[0]}: {' > '.join(t for t, _ in self.locks)} > {table}")
        if root is not None and not again and not fresh:
            if root not in held and root not in self.created:
                self.orphans.add(table)
            elif top is not None and _rank(top[0]) > _rank(table):
                self.late_parts.add(table)
        self.locks.append((table, row))


class LockRecorder:
    """Records, per transaction of one database, the rows its statements lock."""

    def __init__(self, database: Database) -> None:
        self.engine = database.engine.sync_engine
        self.done: list[Transaction] = []
        self.listeners = [("begin", self._begin), ("before_cursor_execute", self._execute), ("commit", self._end), ("rollback", self._end)]

    def __enter__(self) -> LockRecorder:
        for name, fn in self.listeners:
            event.listen(self.engine, name, fn)
        event.listen(Mapper, "after_insert", self._inserted)
        return self

    def __exit__(self, *exc: object) -> None:
        for name, fn in self.listeners:
            event.remove(self.engine, name, fn)
        event.remove(Mapper, "after_insert", self._inserted)

    def _inserted(self, mapper: Any, conn: Any, target: Any) -> None:
        tx = conn.info.get("lock_order")
        key = mapper.primary_key_from_instance(target)
        if tx is not None and len(key) == 1:
            tx.new_rows.add((mapper.local_table.name, key[0]))

    def _begin(self, conn: Any) -> None:
        conn.info["lock_order"] = Transaction()

    def _execute(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        tx = conn.info.get("lock_order")
        if tx is None:
            return
        inserted = _INSERT.match(statement)
        if inserted:
            tx.created.add(inserted.group(1))
            return
        written = _WRITE.match(statement)
        if written:
            table = written.group(1) or written.group(2)
        elif statement.lstrip().upper().startswith("SELECT") and re.search(r"FOR (NO KEY )?UPDATE", statement, re.I):
            table = _SELECT.search(statement).group(1)  # type: ignore[union-attr]
        else:
            return
        by_id = _BY_ID.search(statement)
        row = parameters[int(by_id.group(2)) - 1] if by_id and by_id.group(1) == table and not executemany else None
        tx.take(table, row)

    def _end(self, conn: Any) -> None:
        tx = conn.info.pop("lock_order", None)
        if tx is not None:
            self.done.append(tx)

    def problems(self) -> list[str]:
        return [p for tx in self.done for p in tx.problems] + parts_without_root(self.done)


def parts_without_root(done: list[Transaction]) -> list[str]:
    """A part may follow the heads only because its root's lock keeps out everyone else who
    would take it: one transaction that locks the part without its root (and then a head) and one
    that holds the root and a head and then takes the part deadlock."""
    late = {t for tx in done for t in tx.late_parts}
    return [
        f"{table} locked without its root {ROOTS[table]}, and elsewhere after the heads under its root"
        for table in sorted(late & {t for tx in done for t in tx.orphans})
    ]


def test_the_checker_sees_a_domain_row_taken_after_the_audit_head() -> None:
    tx = Transaction()
    for lock in [("incoming_documents", 1), ("register_counters", None), ("audit_head", 1), ("incoming_documents", 1), ("event_head", 1)]:
        tx.take(*lock)
    assert tx.problems == []
    late = Transaction()
    for lock in [("audit_head", 1), ("incoming_documents", 1)]:
        late.take(*lock)
    assert late.problems == ["incoming_documents locked after audit_head: audit_head > incoming_documents"]
    crossed = Transaction()
    for lock in [("report_requests", 1), ("outgoing_documents", 2)]:
        crossed.take(*lock)
    assert crossed.problems, "outgoing documents come before report requests"
    meeting = Transaction()
    for lock in [("meetings", 1), ("audit_head", 1), ("meeting_units", 4), ("event_head", 1)]:
        meeting.take(*lock)
    assert meeting.problems == []
    alone = Transaction()  # the unit without its meeting, then the head: fine on its own…
    for lock in [("meeting_units", 4), ("audit_head", 1)]:
        alone.take(*lock)
    assert alone.problems == [] and parts_without_root([alone]) == []
    assert parts_without_root([meeting, alone]), "…not beside one that takes it after the head under its meeting"
    replacing = Transaction(created={"incoming_documents"}, new_rows={("incoming_documents", 9)})
    for lock in [("incoming_documents", 9), ("audit_head", 1), ("incoming_documents", 9), ("incoming_documents", 3)]:
        replacing.take(*lock)
    assert replacing.problems == [
        "incoming_documents locked after audit_head: incoming_documents > audit_head > incoming_documents > incoming_documents"
    ], "a row inserted here may follow the heads, an older row of its table may not"


async def test_representative_flows_take_their_rows_in_the_declared_order(demo_db_pg, settings) -> None:
    db = demo_db_pg
    with LockRecorder(db) as recorder:
        # Incoming: register (number, then audit), direct, an opinion, progress, the result.
        doc = await register(db, settings)
        await direct_to(db, doc.id)
        leader, lead = await incoming_principal(db, "lan.nguyen"), await incoming_principal(db, "thu.le")
        async with db.session() as session:
            await incoming.add_opinion(session, principal=leader, document_id=doc.id, body="Lưu ý tiến độ.")
        async with db.session() as session:
            await incoming.record_progress(session, principal=lead, document_id=doc.id, body="Đang thực hiện.")
        async with db.session() as session:
            await incoming.complete(session, principal=lead, document_id=doc.id, result="Đã hoàn thành.")
        # Outgoing and reports: the request's letter issued (number, seal, the request opens), the
        # letter delivered to a target's register, every target reports (the last completes it).
        orgs = await bulk_orgs(db, 2, prefix="lockorder")
        req = await create_request(db, settings, orgs, deadline=utcnow() + timedelta(days=3))
        async with db.session() as session:
            await reports.deliver(session, settings=settings, request_id=req.id, organization_id=orgs[0])
        officer = await report_principal(db, "lockorder.officer")
        for oid in orgs:
            await submit(db, settings, req.id, oid, officer)
        # A meeting: opened, members check in, a vote is cast and closed.
        built = await build_meeting(db, settings)
        chair = await meeting_principal(db, CHAIR)
        members = [await meeting_principal(db, name) for name in MEMBERS[:2]]
        async with db.session() as session:
            await scheduling.open_meeting(session, principal=chair, meeting_id=built.meeting_id)
        for member in members:
            async with db.session() as session:
                await attendance.check_in(session, principal=member, meeting_id=built.meeting_id)
        async with db.session() as session:
            poll = await polls.open_poll(
                session,
                principal=chair,
                meeting_id=built.meeting_id,
                question="Thông qua chương trình?",
                visibility=PollVisibility.named,
                threshold=Threshold.majority_present,
            )
            options = {o.key: o.id for o in await polls_options(session, poll.id)}
        for voter in [chair, *members]:
            async with db.session() as session:
                await polls.vote(session, principal=voter, meeting_id=built.meeting_id, poll_id=poll.id, option_id=options["yes"])
        async with db.session() as session:
            await polls.close_poll(session, principal=chair, meeting_id=built.meeting_id, poll_id=poll.id)
    async with db.read() as session:
        assert (await reports.get_request(session, request_id=req.id)).status == "completed"
    tables = {t for tx in recorder.done for t, _ in tx.locks}
    assert {"incoming_documents", "outgoing_documents", "report_requests", "report_targets", "meetings", "meeting_polls"} <= tables
    assert {"register_counters", "audit_head", "event_head"} <= tables
    assert recorder.problems() == [], "\n".join(recorder.problems())
    assert not [tx for tx in recorder.done if "meeting_polls" in tx.orphans], "a vote locks its poll without its meeting"


async def subscribe(db: Database, settings: Any, org_code: str, events: list[str]) -> Any:
    """The administrator subscribes the organisation's portal to `events`."""
    admin, org_id = await meeting_principal(db, "quantri"), await incoming_org_id(db, org_code)
    async with db.session() as session:
        sub, _secret = await webhooks.create(
            session,
            principal=admin,
            settings=settings,
            organization_id=org_id,
            url="https://congthongtin.example.vn/hooks",
            events=events,
        )
    return sub


async def polls_options(session: Any, poll_id: int) -> list[PollOption]:
    from sqlalchemy import select

    return list((await session.scalars(select(PollOption).where(PollOption.poll_id == poll_id))).all())


def hold_at_audit(monkeypatch: Any, module: Any, db: Database, role: str) -> tuple[asyncio.Event, list[int], asyncio.Event]:
    """`module.record` patched: the session marked `session.info["lock_test"] = role` flushes
    (its changed rows locked), sets the first event, and waits until the other session (its
    backend pid put in the list) waits on a lock or is done (the second event, for it to set)."""
    holds, other_pid, other_done = asyncio.Event(), [], asyncio.Event()
    real_record = module.record

    async def record(session: Any, **kwargs: Any) -> Any:
        if session.info.get("lock_test") == role:
            await session.flush()
            holds.set()
            await other_waits_on_a_lock_or_is_done(db, other_pid, other_done)
        return await real_record(session, **kwargs)

    monkeypatch.setattr(module, "record", record)
    return holds, other_pid, other_done


async def test_an_opinion_and_a_direction_of_one_document_do_not_deadlock(demo_db_pg, settings, monkeypatch) -> None:
    """The opinion holds the audit head; the direction then changes the document and waits for
    the head; the opinion goes on to touch the document. Before the document was locked ahead of
    the audit head this was a deadlock every time; now the direction waits for the document."""
    db = demo_db_pg
    real_record = incoming.record
    opinion_holds_head: asyncio.Event
    direction_went_on: asyncio.Event
    direction_pid: list[int] = []

    async def record(session: Any, **kwargs: Any) -> Any:
        role = session.info.get("lock_test")
        if role == "direction":
            await session.flush()  # the document's row: taken here, or waited for
            direction_went_on.set()
        entry = await real_record(session, **kwargs)
        if role == "opinion":
            opinion_holds_head.set()
            await other_waits_on_a_lock_or_is_done(db, direction_pid, direction_went_on)
        return entry

    monkeypatch.setattr(incoming, "record", record)
    leader = await incoming_principal(db, "lan.nguyen")
    lead_id = (await incoming_principal(db, "hue.do")).user.id
    for attempt in range(3):
        opinion_holds_head, direction_went_on = asyncio.Event(), asyncio.Event()
        direction_pid.clear()
        doc = await register(db, settings, notation=f"{20 + attempt}/KH-UBND")
        await direct_to(db, doc.id)

        async def opinion(document_id: int = doc.id) -> None:
            async with db.session() as session:
                session.info["lock_test"] = "opinion"
                await incoming.add_opinion(session, principal=leader, document_id=document_id, body="Ý kiến.")

        async def direction(document_id: int = doc.id) -> None:
            await opinion_holds_head.wait()
            async with db.session() as session:
                session.info["lock_test"] = "direction"
                direction_pid.append(await session.scalar(text("SELECT pg_backend_pid()")))
                await incoming.direct(
                    session,
                    principal=leader,
                    document_id=document_id,
                    instruction="Giao lại.",
                    handlers=incoming.Handlers(lead_user_id=lead_id),
                )

        async with asyncio.timeout(60):
            await asyncio.gather(opinion(), direction())
        async with db.read() as session:
            assert (await incoming.get_for(session, principal=leader, document_id=doc.id))[0].lead_user_id == lead_id


async def _minutes_held(db: Database, settings: Any, title: str) -> int:
    """Minutes written for a meeting held (two items, no vote)."""
    from tests.minutes.conftest import ITEMS, Plan, hold_meeting

    held = await hold_meeting(db, settings, Plan(title=title, items=ITEMS[:2], poll=None))
    return await demo_minutes.write(db, held, demo_minutes.sample_content(held, conclusions=["Thông qua.", "Giao các huyện."]))


async def _close_and_render(db: Database, settings: Any, minutes_id: int) -> None:
    from meetings.minutes import service as minutes_service
    from services.outbox.service import tell
    from workflows.context import ActivityContext
    from workflows.minutes.activities import MinutesActivities, RenderInput

    secretary = await meeting_principal(db, demo_minutes.SECRETARY)
    async with db.session() as session:
        minutes = await minutes_service.get(session, minutes_id=minutes_id)
        closed = await minutes_service.close(
            session, settings=settings, principal=secretary, minutes_id=minutes_id, revision=minutes.revision
        )
        await tell(session, "minutes", minutes_id, "closed", closed.round)
        round_ = closed.round
    assert await MinutesActivities(ActivityContext(settings, db)).render(RenderInput(minutes_id=minutes_id, round=round_))


async def _sign_number_distribute(db: Database, settings: Any, minutes_id: int) -> str:
    """The secretary then the chair sign (PIN), each signature checked; numbered, validated and
    distributed: the minutes' notation."""
    from workflows.context import ActivityContext
    from workflows.minutes.activities import AcceptInput, MinutesActivities

    activities = MinutesActivities(ActivityContext(settings, db))
    for username, role in [(demo_minutes.SECRETARY, "secretary"), (demo_minutes.CHAIR, "chair")]:
        sha = await demo_minutes.sign(db, settings, minutes_id, username, client=True)  # tells the workflow too
        assert await activities.accept_signature(AcceptInput(minutes_id=minutes_id, role=role, sha256=sha))
    notation = await activities.number(minutes_id)
    assert (await activities.validate_final(minutes_id)).all_valid
    assert await activities.distribute(minutes_id)
    return notation


async def test_minutes_signing_takes_its_rows_in_the_declared_order(demo_db_pg, demo_signing) -> None:
    """Minutes closed, rendered, returned once, signed by the secretary then the chair (PIN),
    each signature checked, numbered (a webhook event), validated and distributed."""
    from meetings.minutes import service as minutes_service
    from meetings.minutes.models import MinutesStatus
    from workflows.context import ActivityContext
    from workflows.minutes.activities import MinutesActivities, NoticeInput

    db, settings = demo_db_pg, demo_signing
    minutes_id = await _minutes_held(db, settings, "Hội nghị sơ kết")
    await subscribe(db, settings, "hlhpn-bentre", ["minutes.signed"])  # the meeting's organisation
    chair = await meeting_principal(db, demo_minutes.CHAIR)
    with LockRecorder(db) as recorder:
        await _close_and_render(db, settings, minutes_id)
        async with db.session() as session:
            await minutes_service.refuse(session, principal=chair, minutes_id=minutes_id, comment="Bổ sung kết luận.")
        await _close_and_render(db, settings, minutes_id)
        await MinutesActivities(ActivityContext(settings, db)).signing_notice(
            NoticeInput(minutes_id=minutes_id, role="secretary", kind="reminder", round=2)
        )
        notation = await _sign_number_distribute(db, settings, minutes_id)
    async with db.read() as session:
        minutes = await minutes_service.get(session, minutes_id=minutes_id)
        assert minutes.status == MinutesStatus.distributed and minutes.notation == notation
    tables = {t for tx in recorder.done for t, _ in tx.locks}
    assert {"minutes", "register_counters", "audit_head", "event_head"} <= tables
    assert recorder.problems() == [], "\n".join(recorder.problems())


async def test_signing_keys_exchange_and_archive_take_their_rows_in_the_declared_order(demo_db_pg, demo_signing) -> None:
    """Wrong PINs counted until the key locks, an administrator unlocks it, a right PIN resets the
    count; a certificate proposed, confirmed and revoked; a document issued (PIN, seal), exported
    as edXML and its status imported; packages imported from outside and from another system; the
    exchange inbox takes a package, its update, its recall and its replacement (the document has
    two copies here by then); a closed year's register archived; the archive pass stamps the
    final files of each kind (the issued document, signed minutes, the register's book)."""
    import dataclasses

    from sqlalchemy import select

    from demo.pdf import demo_pdf
    from services import calendar
    from services.audit.models import AuditEntry
    from services.blobs import BlobStore
    from services.documents import register_archive
    from services.errors import DomainError
    from services.exchange import inbox
    from services.exchange.service import incoming_ref
    from services.incoming.models import IncomingDocument
    from services.keys import certificates, pins
    from services.keys.models import CertSource
    from services.outgoing import edxml, exchange
    from services.outgoing import service as outgoing
    from signing import service as signing
    from signing.keystore import system_certificate_der
    from tests.outgoing import flow
    from workflows.archive import refresh

    db, settings = demo_db_pg, demo_signing
    settings.pin_delay_seconds = 0  # the growing wait has its own test
    admin = await meeting_principal(db, "quantri")
    minutes_id = await _minutes_held(db, settings, "Hội nghị giao ban")  # signed minutes to stamp (their own test traces signing)
    await _close_and_render(db, settings, minutes_id)
    await _sign_number_distribute(db, settings, minutes_id)
    with LockRecorder(db) as recorder:
        async with db.session() as session:
            lan = await flow.user(session, "lan.nguyen")
            for pin in ["000000"] * settings.pin_max_failures:
                with pytest.raises(DomainError):
                    await signing.open_signer(session, settings=settings, actor=flow.actor_of(lan), pin=pin, user=lan)
            await pins.unlock(session, actor=admin.actor, key=f"person:{lan.username}")
        async with db.session() as session:
            with pytest.raises(DomainError):
                await signing.open_signer(session, settings=settings, actor=flow.actor_of(lan), pin="000000", user=lan)
            await signing.open_signer(session, settings=settings, actor=flow.actor_of(lan), pin=demo_minutes.DEMO_PIN, user=lan)
        der = system_certificate_der(data_dir=settings.data_dir, owner="person:hue.do", settings=settings)
        assert der is not None
        async with db.session() as session:
            hue = await flow.user(session, "hue.do")
            proposed = await certificates.register(
                session, actor=flow.actor_of(hue), der_or_pem=der, source=CertSource.self, user_id=hue.id
            )
        async with db.session() as session:
            await certificates.register(session, actor=admin.actor, der_or_pem=der, source=CertSource.admin, user_id=hue.id)
        async with db.session() as session:
            await certificates.revoke(session, actor=admin.actor, cert_id=proposed.id, reason="Mất thiết bị ký số.")

        doc = await flow.issued(db, settings)
        async with db.session() as session:  # the dispatch's step: one in-system recipient's copy
            inside = next(r for r in await outgoing.recipients(session, document_id=doc.id) if not r.external)
            await outgoing.deliver(session, settings=settings, document_id=doc.id, recipient_id=inside.id)
        clerk = await meeting_principal(db, "mai.tran")
        async with db.session() as session:
            _name, data = await exchange.export_package(session, settings=settings, actor=clerk.actor, doc=doc)
        package = edxml.parse(data)
        answer = edxml.Status(
            sender=edxml.Organ(organ_id="000.00.31.H07", name="Tỉnh đoàn Bến Tre"), response_for=package.document_id, code="03"
        )
        async with db.session() as session:
            await exchange.import_status(session, settings=settings, principal=clerk, data=edxml.build_status(answer))
        district_clerk = await meeting_principal(db, "chauthanh.vanthu")
        async with db.session() as session:  # from another system that names our province as sender
            await exchange.import_package(session, settings=settings, principal=district_clerk, data=data)
        async with db.session() as session:
            district = await flow.org(session, "hlhpn-chauthanh")
        outside = edxml.Organ(organ_id="000.00.00.H08", name="Ủy ban nhân dân tỉnh Bến Tre")
        letter = edxml.build(
            edxml.Package(
                sender=outside,
                recipients=[edxml.Organ(organ_id=district.national_id or district.code, name=district.name)],
                code_number=7,
                code_notation="UBND-VX",
                place="Bến Tre",
                promulgation_date=utcnow().date(),
                doc_type="CV",
                type_name="Công văn",
                subject="Phối hợp tuyên truyền",
                signer_competence="KT. CHỦ TỊCH",
                signer_position="Phó Chủ tịch",
                signer_name="Trần Văn Bình",
                attachments=[edxml.Attachment("cid:1", "cong-van.pdf", "application/pdf", b"%PDF-1.7\n%%EOF\n", "Văn bản chính")],
            )
        )
        async with db.session() as session:  # from outside: registered at once, with its number
            await exchange.import_package(session, settings=settings, principal=district_clerk, data=letter)

        def changed(kind: str, **fields: Any) -> bytes:
            return edxml.build(dataclasses.replace(package, business_type=edxml.BUSINESS[kind], business_reason="Ban hành nhầm.", **fields))

        replacement = changed("replace", received_id="", code_number=package.code_number + 1, response_for=package.document_id)
        files = {"1-vanban": data, "2-capnhat": changed("update"), "3-thuhoi": changed("recall"), "4-thaythe": replacement}
        settings.inbox_dir.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (settings.inbox_dir / f"{name}.edxml").write_bytes(content)
        taken = await inbox.sweep(db, settings)
        assert taken == [
            ("1-vanban.edxml", "document"),
            ("2-capnhat.edxml", "update"),
            ("3-thuhoi.edxml", "recall"),
            ("4-thaythe.edxml", "document"),
        ]

        today = calendar.vn_today()
        book = BlobStore.for_settings(settings).put(demo_pdf("Sổ đăng ký văn bản đi"))  # unstamped: the pass stamps it
        async with db.session() as session:
            province = await flow.org(session, "hlhpn-bentre")
            await register_archive.archive(
                session,
                principal=clerk,
                organization_id=province.id,
                kind="outgoing",
                series="chung",
                year=today.year - 1,
                entries=0,
                pdf_sha256=book,
                today=today,
            )

        done = await refresh.refresh(db, settings, now=utcnow(), margin=timedelta(days=30), retry=timedelta(days=1))
        assert done.stamped >= 3 and not done.failed, done
    async with db.read() as session:
        guard = await pins.state(session, key=f"person:{lan.username}")
        assert guard is not None and guard.failures == 0
        copies = (
            await session.scalars(select(IncomingDocument.id).where(IncomingDocument.outgoing_ref == incoming_ref(package.document_id)))
        ).all()
        assert len(copies) == 2, "the inbox's update and recall reach two copies"
        stamped = set((await session.scalars(select(AuditEntry.object_type).where(AuditEntry.action == "archive.timestamp"))).all())
        assert stamped == {"outgoing", "minutes", "register"}, stamped
    tables = {t for tx in recorder.done for t, _ in tx.locks}
    assert {"pin_guards", "signer_certificates", "outgoing_documents", "outgoing_recipients", "register_counters", "audit_head"} <= tables
    assert recorder.problems() == [], "\n".join(recorder.problems())


async def test_webhooks_take_their_rows_in_the_declared_order(demo_db_pg, settings) -> None:
    """Subscriptions created, events queued by a change, delivered (a failure, then a retry), sent
    again, a test ping, disabled and enabled, removed with their deliveries; the outbox relayed."""
    import httpx

    from services.outbox import service as outbox
    from services.webhooks import delivery

    db = demo_db_pg
    admin = await meeting_principal(db, "quantri")
    answers = iter([500, 204, 204, 204, 204, 204])
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(next(answers))))
    with LockRecorder(db) as recorder:
        sub = await subscribe(db, settings, "hlhpn-chauthanh", ["incoming.arrived", "document.status_changed"])
        doc = await register(db, settings, org="hlhpn-chauthanh", clerk="chauthanh.vanthu")  # queues both events
        now = utcnow()
        assert await delivery.deliver_due(db, settings, client=client, now=now) == 2
        assert await delivery.deliver_due(db, settings, client=client, now=now + timedelta(hours=1)) == 1  # the retry
        async with db.session() as session:
            [first, *_] = await webhooks.deliveries(session, subscription_id=sub.id)
            await webhooks.redeliver(session, principal=admin, subscription_id=sub.id, delivery_id=first.id)
        async with db.session() as session:
            await webhooks.send_test(session, principal=admin, subscription_id=sub.id)
        assert await delivery.deliver_due(db, settings, client=client, now=now + timedelta(hours=2)) == 2
        async with db.session() as session:
            await webhooks.set_active(session, principal=admin, subscription_id=sub.id, active=False)
        async with db.session() as session:
            await webhooks.set_active(session, principal=admin, subscription_id=sub.id, active=True)
        async with db.session() as session:
            for command in await outbox.claim(session):
                await outbox.failed(session, command=command, error="Temporal away")
        async with db.session() as session:
            await outbox.delivered(session, ids=[c.id for c in await outbox.claim(session, lease=timedelta(0))])
        async with db.session() as session:
            await webhooks.remove(session, principal=admin, subscription_id=sub.id)
    await client.aclose()
    assert doc.id
    tables = {t for tx in recorder.done for t, _ in tx.locks}
    assert {"webhook_subscriptions", "webhook_deliveries", "webhook_attempts", "audit_head"} <= tables
    assert recorder.problems() == [], "\n".join(recorder.problems())


async def test_register_prints_take_their_rows_in_the_declared_order(demo_db_pg, settings) -> None:
    """A register print and a closed year's archive run their steps as the worker does (asked
    for, begun, sized, a part done, ended: kept, or recorded as the archived book; one failed)."""
    from services import calendar
    from services.documents import register_prints as prints
    from services.errors import InvalidInput

    db = demo_db_pg
    clerk = await meeting_principal(db, "mai.tran")
    province = clerk.me.organization_id
    year = calendar.vn_today().year
    with LockRecorder(db) as recorder:
        for purpose, book_year, ending in (
            (prints.PRINT, year, "done"),
            (prints.ARCHIVE, year - 1, "done"),
            (prints.PRINT, year - 2, "failed"),
        ):
            async with db.session() as session:
                job = await prints.start(
                    session, principal=clerk, kind="incoming", series="chung", organization_id=province, year=book_year, purpose=purpose
                )
            async with db.session() as session:
                assert await prints.claim(session, print_id=job.id) is not None
            async with db.session() as session:
                await prints.sized(session, print_id=job.id, rows=3, parts=1)
            async with db.session() as session:
                await prints.keep_part(session, print_id=job.id, position=0, source_sha256="1" * 64, pdf_sha256="2" * 64)
            async with db.session() as session:
                await prints.progressed(session, print_id=job.id, parts_done=1, rows_done=3)
            async with db.session() as session:
                if ending == "done":
                    assert await prints.finish(session, print_id=job.id, pdf_sha256="0" * 64) == ["2" * 64]  # the part's
                else:
                    await prints.fail(session, print_id=job.id, reason=InvalidInput(prints.GAVE_UP))
    tables = {t for tx in recorder.done for t, _ in tx.locks}
    assert {"register_prints", "register_print_parts", "audit_head", "event_head"} <= tables
    assert recorder.problems() == [], "\n".join(recorder.problems())


async def test_minutes_returned_while_a_signature_is_recorded_keep_no_signature(demo_db_pg, demo_signing) -> None:
    """The secretary's signature is being recorded (the minutes read again after signing) when the
    chair returns the minutes. Both lock the minutes row first: the return waits, then clears the
    signature. Before, the return read the row unlocked and committed first, and the signature was
    then written onto returned minutes (and blocked the next round: "being checked")."""
    from meetings.minutes import service as minutes_service
    from meetings.minutes.models import MinutesStatus
    from services.outbox.service import tell
    from tests.minutes.conftest import ITEMS, Plan, hold_meeting
    from workflows.context import ActivityContext
    from workflows.minutes.activities import MinutesActivities, RenderInput

    db, settings = demo_db_pg, demo_signing
    held = await hold_meeting(db, settings, Plan(title="Hội nghị giao ban", items=ITEMS[:1], poll=None))
    minutes_id = await demo_minutes.write(db, held, demo_minutes.sample_content(held, conclusions=["Thông qua."]))
    secretary, chair = await meeting_principal(db, demo_minutes.SECRETARY), await meeting_principal(db, demo_minutes.CHAIR)
    async with db.session() as session:
        revision = (await minutes_service.get(session, minutes_id=minutes_id)).revision
        closed = await minutes_service.close(session, settings=settings, principal=secretary, minutes_id=minutes_id, revision=revision)
        await tell(session, "minutes", minutes_id, "closed", closed.round)
    assert await MinutesActivities(ActivityContext(settings, db)).render(RenderInput(minutes_id=minutes_id, round=closed.round))

    checked, returned = asyncio.Event(), asyncio.Event()
    return_pid: list[int] = []

    async def record_signature() -> None:  # web/minutes_signing.finish, once the PDF is signed
        async with db.session() as session:
            minutes, _acc, role, _pdf = await minutes_service.turn(
                session, settings=settings, principal=secretary, minutes_id=minutes_id, for_update=True
            )
            assert role == "secretary"
            checked.set()
            await other_waits_on_a_lock_or_is_done(db, return_pid, returned)
            await minutes_service.record_signature(session, principal=secretary, minutes=minutes, role=role, signed_sha="ab" * 32)

    async def give_back() -> None:
        await checked.wait()
        async with db.session() as session:
            return_pid.append(await session.scalar(text("SELECT pg_backend_pid()")))
            await minutes_service.refuse(session, principal=chair, minutes_id=minutes_id, comment="Bổ sung kết luận.")
        returned.set()

    async with asyncio.timeout(60):
        await asyncio.gather(record_signature(), give_back())
    async with db.read() as session:
        minutes = await minutes_service.get(session, minutes_id=minutes_id)
        assert minutes.status == MinutesStatus.returned
        assert minutes.secretary_pdf_sha is None, "a signature kept on returned minutes"


async def test_an_imported_status_and_a_recall_of_one_document_do_not_deadlock(demo_db_pg, demo_signing, tmp_path, monkeypatch) -> None:
    """A clerk imports a partner's status: its recipient row changes, then the audit head is taken.
    A recall of the same document holds the document and the head when it marks that partner's
    row 13. Before the status locked the document first, it held the row and waited for the head
    while the recall held the head and waited for the row: a deadlock. Now the recall waits."""
    from services.config import ExchangePartner
    from services.outgoing import edxml, exchange
    from services.outgoing import service as outgoing
    from tests.outgoing import flow

    db, settings = demo_db_pg, demo_signing
    partner = edxml.Organ(organ_id="000.00.31.H07", name="Tỉnh đoàn Bến Tre")  # the draft's outside recipient
    settings.exchange_partners = [ExchangePartner(organ_id=partner.organ_id, name=partner.name, drop=tmp_path / "drop")]
    doc_id = (await flow.issued(db, settings)).id  # its package queued for the partner
    clerk = await meeting_principal(db, "mai.tran")
    async with db.session() as session:
        package = await exchange.package_for(session, settings=settings, doc=await outgoing.get(session, document_id=doc_id))
    answer = edxml.build_status(edxml.Status(sender=partner, response_for=package.document_id, code="03"))
    status_holds_row, recall_pid, recalled = hold_at_audit(monkeypatch, exchange, db, "status")  # the recipient's row

    async def status() -> None:
        async with db.session() as session:
            session.info["lock_test"] = "status"
            await exchange.import_status(session, settings=settings, principal=clerk, data=answer)

    async def recall() -> None:
        await status_holds_row.wait()
        async with db.session() as session:
            recall_pid.append(await session.scalar(text("SELECT pg_backend_pid()")))
            doc = await outgoing.get(session, document_id=doc_id)
            await outgoing.recall(session, settings=settings, principal=None, actor=clerk.actor, doc=doc, reason="Ban hành nhầm.")
        recalled.set()

    async with asyncio.timeout(60):
        await asyncio.gather(status(), recall())
    async with db.read() as session:
        [row] = [r for r in await outgoing.recipients(session, document_id=doc_id) if r.external]
        assert row.status_code == "13", "the recall came second"


async def test_removing_and_disabling_a_webhook_do_not_deadlock(demo_db_pg, settings, monkeypatch) -> None:
    """Disabling a subscription changes its row, then takes the audit head. Removing it used to
    audit first and then delete the row: each held what the other waited for. Now removing locks
    the subscription first and waits for the disabling."""
    from services.webhooks.models import WebhookSubscription

    db = demo_db_pg
    admin = await meeting_principal(db, "quantri")
    sub = await subscribe(db, settings, "hlhpn-chauthanh", ["incoming.arrived"])
    disable_holds_row, remove_pid, removed = hold_at_audit(monkeypatch, webhooks, db, "disable")  # the subscription's row

    async def disable() -> None:
        async with db.session() as session:
            session.info["lock_test"] = "disable"
            await webhooks.set_active(session, principal=admin, subscription_id=sub.id, active=False)

    async def remove() -> None:
        await disable_holds_row.wait()
        async with db.session() as session:
            remove_pid.append(await session.scalar(text("SELECT pg_backend_pid()")))
            await webhooks.remove(session, principal=admin, subscription_id=sub.id)
        removed.set()

    async with asyncio.timeout(60):
        await asyncio.gather(disable(), remove())
    async with db.read() as session:
        assert await session.get(WebhookSubscription, sub.id) is None
