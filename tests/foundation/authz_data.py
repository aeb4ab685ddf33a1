"""Demo-like data for the authorisation matrix: one principal per role at a district (Châu Thành)
and, in that district, its parent (the province), a child (xã Tân Thạch) and an unrelated
district (Mỏ Cày Nam), the same objects — an incoming document with its file, an outgoing draft
with an attachment, a held meeting with its minutes and a poll, a task, a report request with a
submission, a print of the incoming register — made through the services, as users would."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from demo.directory import DEMO_PASSWORD
from demo.incoming import demo_pdf
from meetings import agenda, polls, scheduling
from meetings.minutes import service as minutes_service
from meetings.minutes.models import MinutesRevision
from meetings.models import MeetingParticipant, MeetingUnit
from services.audit.service import Actor
from services.auth import service as auth
from services.authz import Principal, load_principal
from services.blobs import BlobStore
from services.calendar import add_holiday, vn_today
from services.config import Settings
from services.db import Database, utcnow
from services.directory import service as directory
from services.directory.models import Organization, Role, RoleAssignment, Unit, User
from services.documents import register_prints
from services.incoming import service as incoming
from services.incoming.models import IncomingFile
from services.notifications.service import notify
from services.outgoing import service as outgoing
from services.reports import service as reports
from services.reports.models import ReportSubmission
from services.tasks import service as tasks
from services.tasks.models import OwnerKind
from services.uploads import CheckedUpload
from services.webhooks import service as webhooks

OWN, PARENT, CHILD, OTHER = "own", "parent", "child", "other"
RELATIONS = (OWN, PARENT, CHILD, OTHER)
# The organisation of each relation, seen from the principals (all at Châu Thành), and its people.
ORGS = {OWN: "hlhpn-chauthanh", PARENT: "hlhpn-bentre", CHILD: "hlhpn-tanthach", OTHER: "hlhpn-mocaynam"}
PEOPLE = {  # leader, clerk, officer
    OWN: ("chauthanh.chutich", "chauthanh.vanthu", "chauthanh.chuyenvien"),
    PARENT: ("lan.nguyen", "mai.tran", "thu.le"),
    CHILD: ("tanthach.chutich", "tanthach.vanthu", "tanthach.chuyenvien"),
    OTHER: ("mocaynam.chutich", "mocaynam.vanthu", "mocaynam.chuyenvien"),
}
# Who reports to a relation's report request (none for the commune, which has nobody below it).
REPORTERS = {
    OWN: ("hlhpn-tanthach", "tanthach.chuyenvien"),
    PARENT: ("hlhpn-tpbentre", "tpbentre.chuyenvien"),
    OTHER: ("hlhpn-andinh", "andinh.chuyenvien"),
}
# One principal per role, all at Châu Thành; the demo has the first three, the others are added.
ROLE_USERS = {
    Role.admin: "chauthanh.quantri",
    Role.clerk: "chauthanh.vanthu",
    Role.leader: "chauthanh.chutich",
    Role.deputy_leader: "chauthanh.phochutich",
    Role.officer: "chauthanh.chuyenvien",
    Role.secretary: "chauthanh.chanhvanphong",
    Role.auditor: "chauthanh.kiemtra",
}
# The organisation below each relation's that its meeting invites (none for the commune), never Châu Thành.
INVITED = {OWN: "hlhpn-ankhanh", PARENT: "hlhpn-tpbentre", OTHER: "hlhpn-daphuochoi"}


@dataclass
class MatrixData:
    """Sample path parameters per object family and relation, and each role's sign-in."""

    samples: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # family -> relation -> param -> value
    mine: dict[Role, dict[str, dict[str, str]]] = field(default_factory=dict)  # role -> family -> param (own objects)
    sessions: dict[Role, tuple[str, str]] = field(default_factory=dict)  # role -> (cookie, CSRF token)
    user_ids: dict[Role, int] = field(default_factory=dict)


async def _principal(database: Database, username: str) -> Principal:
    async with database.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None, username
        return await load_principal(session, user)


def _pdf(name: str) -> CheckedUpload:
    return CheckedUpload(filename=f"{name}.pdf", content_type="application/pdf", data=demo_pdf(name))


async def _add_role_users(database: Database) -> None:
    async with database.session() as session:
        org = await session.scalar(select(Organization).where(Organization.code == ORGS[OWN]))
        existing = set((await session.scalars(select(User.username))).all())
        for role, username in ROLE_USERS.items():
            if username not in existing:
                await directory.create_user(
                    session,
                    actor=Actor.system("matrix"),
                    username=username,
                    password=DEMO_PASSWORD,
                    full_name=f"Người thử {role.value}",
                    position=role.value,
                    organization_id=org.id,
                    roles=[role],
                )


async def _objects(database: Database, settings: Settings, relation: str, ids: dict[str, int]) -> dict[str, dict[str, str]]:
    """The objects of one organisation, made by its own people."""
    leader, clerk, officer = [await _principal(database, name) for name in PEOPLE[relation]]
    org_id = ids[ORGS[relation]]
    today = vn_today()
    out: dict[str, dict[str, str]] = {}
    async with database.session() as session:
        doc = await incoming.register(
            session,
            principal=clerk,
            organization_id=org_id,
            blobs=BlobStore.for_data_dir(settings.data_dir),
            meta=incoming.Metadata(
                issuer_name="UBND tỉnh Bến Tre",
                number_notation=f"{org_id}/UBND-VX",
                document_date=today,
                doc_type="CV",
                subject=f"Công văn thử ({relation})",
            ),
            files=[incoming.NewFile("cong-van.pdf", "application/pdf", demo_pdf("cong van"))],
        )
        file_id = await session.scalar(select(IncomingFile.id).where(IncomingFile.document_id == doc.id))
        out["incoming"] = {"document_id": str(doc.id), "file_id": str(file_id), "page": "1"}
        out["audit"] = {"object_type": "incoming", "object_id": str(doc.id)}
    async with database.session() as session:
        draft = await outgoing.create_draft(
            session,
            settings=settings,
            actor=officer.actor,
            organization_id=org_id,
            fields=outgoing.DraftFields(doc_type="CV", subject=f"Dự thảo thử ({relation})", signer_id=leader.user.id),
        )
        attachment = await outgoing.add_attachment(session, settings=settings, actor=officer.actor, doc=draft, upload=_pdf("phu-luc"))
        # A draft has no PDF yet: its page images answer 404 whoever asks.
        out["outgoing"] = {"document_id": str(draft.id), "attachment_id": str(attachment.id), "number": "1", "sha": "0" * 64, "page": "1"}
    start = utcnow() + timedelta(minutes=5)
    async with database.session() as session:
        meeting = await scheduling.create_meeting(
            session,
            principal=leader,
            settings=settings,
            organization_id=org_id,
            title=f"Họp thử ({relation})",
            chair_id=leader.user.id,
            secretary_id=officer.user.id,
            starts_at=start,
            ends_at=start + timedelta(hours=1),
        )
        meeting_id = meeting.id
        await scheduling.add_participants(session, principal=leader, meeting_id=meeting_id, user_ids=[clerk.user.id])
        if relation in INVITED:
            await scheduling.invite_units(session, principal=leader, meeting_id=meeting_id, org_ids=[ids[INVITED[relation]]])
        item = await agenda.add_item(session, principal=leader, meeting_id=meeting_id, title="Báo cáo tình hình")
        document = await scheduling.add_document(
            session, principal=leader, settings=settings, meeting_id=meeting_id, filename="tai-lieu.pdf", data=demo_pdf("tai lieu")
        )
        await scheduling.schedule_meeting(session, principal=leader, meeting_id=meeting_id)
        participant = await session.scalar(
            select(MeetingParticipant.id).where(MeetingParticipant.meeting_id == meeting_id, MeetingParticipant.user_id == clerk.user.id)
        )
        unit = await session.scalar(select(MeetingUnit.id).where(MeetingUnit.meeting_id == meeting_id))
    async with database.session() as session:
        await scheduling.open_meeting(session, principal=leader, meeting_id=meeting_id)
    async with database.session() as session:
        poll = await polls.open_poll(session, principal=leader, meeting_id=meeting_id, question="Thông qua chương trình?")
        await polls.close_poll(session, principal=leader, meeting_id=meeting_id, poll_id=poll.id)
    async with database.session() as session:
        await scheduling.close_meeting(session, principal=leader, meeting_id=meeting_id)
    out["meeting"] = {
        "meeting_id": str(meeting_id),
        "participant_id": str(participant),
        **({"unit_id": str(unit)} if unit else {}),
        "item_id": str(item.id),
        "document_id": str(document.id),
        "poll_id": str(poll.id),
        "sha": document.sha256,
        "page": "1",
        "action": "raise-hand",
        "token": meeting.projector_token,
    }
    async with database.session() as session:
        minutes = await minutes_service.start(session, principal=officer, meeting_id=meeting_id)
        minutes_id = minutes.id
    async with database.session() as session:
        await minutes_service.save(
            session,
            principal=officer,
            minutes_id=minutes_id,
            base_revision=minutes.revision,
            content={"opening": "Khai mạc.", "items": {}, "closing": ""},
        )
        revision = await session.scalar(select(MinutesRevision.id).where(MinutesRevision.minutes_id == minutes_id))
    out["minutes"] = {
        "minutes_id": str(minutes_id),
        "revision_id": str(revision),
        "kind": "docx",
        "sha": "0" * 64,
        "page": "1",
    }  # no PDF before the minutes are closed
    async with database.session() as session:
        task = await tasks.create(
            session,
            actor=leader.actor,
            organization_id=org_id,
            created_by=leader.user.id,
            tree=leader.tree,
            new=tasks.NewTask(
                title=f"Nhiệm vụ thử ({relation})", due_date=today + timedelta(days=7), owner_kind=OwnerKind.user, owner_id=officer.user.id
            ),
        )
        out["task"] = {"task_id": str(task.id)}
    async with database.session() as session:
        # The incoming register's print, asked for by the clerk (queued: no worker runs here).
        job = await register_prints.start(
            session, principal=clerk, kind="incoming", series="chung", organization_id=org_id, year=today.year
        )
        out["print"] = {"print_id": str(job.id)}
    if relation in REPORTERS:
        target_code, reporter = REPORTERS[relation]
        async with database.session() as session:
            req = await reports.create_request(
                session,
                principal=leader,
                settings=settings,
                organization_id=org_id,
                title=f"Báo cáo thử ({relation})",
                instructions="Báo cáo số liệu.",
                deadline=utcnow() + timedelta(days=5),
                target_ids=[ids[target_code]],
                fields=[reports.FieldSpec("Số hội viên", "người", "integer")],
            )
            request_id, field_id = req.id, req.fields[0].id
        from tests.reports.factory import issue_letter

        await issue_letter(database, settings, request_id)
        who = await _principal(database, reporter)
        async with database.session() as session:
            await reports.submit(
                session,
                principal=who,
                settings=settings,
                request_id=request_id,
                organization_id=ids[target_code],
                file=_pdf("bao-cao"),
                figures={str(field_id): "12"},
            )
            submission = await session.scalar(select(ReportSubmission.id).order_by(ReportSubmission.id.desc()))
        out["report"] = {
            "request_id": str(request_id),
            "organization_id": str(ids[target_code]),
            "submission_id": str(submission),
            "fmt": "csv",
            "kind": "letter",
        }
    async with database.session() as session:
        unit_id = await session.scalar(select(Unit.id).where(Unit.organization_id == org_id))
        assignment = await session.scalar(select(RoleAssignment.id).where(RoleAssignment.user_id == leader.user.id))
        out["admin"] = {"org_id": str(org_id), "unit_id": str(unit_id), "user_id": str(leader.user.id), "assignment_id": str(assignment)}
    out["admin"] |= await _webhook(database, settings, org_id)
    out["person"] = await _personal(database, leader)
    return out


async def _webhook(database: Database, settings: Settings, org_id: int) -> dict[str, str]:
    """A webhook of the organisation with one delivery, made by the province's administrator."""
    admin = await _principal(database, "quantri")
    async with database.session() as session:
        sub, _ = await webhooks.create(
            session,
            principal=admin,
            settings=settings,
            organization_id=org_id,
            url="https://hooks.example.vn/lt",
            events=["incoming.arrived"],
        )
        test = await webhooks.send_test(session, principal=admin, subscription_id=sub.id)
        return {"subscription_id": str(sub.id), "delivery_id": str(test.id)}


async def _personal(database: Database, who: Principal) -> dict[str, str]:
    """A notification and an API token of one person."""
    async with database.session() as session:
        [note] = await notify(session, user_ids=[who.user.id], kind="test", title="Thông báo thử", link="/", email=False)
        token, _ = await auth.create_api_token(session, actor=who.actor, user=who.user, name="matrix")
        return {"notification_id": str(note.id), "token_id": str(token.id), "user_id": str(who.user.id)}


async def build(database: Database, settings: Settings) -> MatrixData:
    await _add_role_users(database)
    async with database.session() as session:
        ids = {o.code: o.id for o in (await session.scalars(select(Organization))).all()}
        holiday = await add_holiday(session, actor=Actor.system("matrix"), day=date(vn_today().year + 2, 3, 17), name="Ngày nghỉ thử")
        holiday_id = holiday.id
    data = MatrixData()
    for relation in RELATIONS:
        for family, params in (await _objects(database, settings, relation, ids)).items():
            data.samples.setdefault(family, {})[relation] = params
    data.samples["holiday"] = {OWN: {"holiday_id": str(holiday_id)}}
    # Parameters that name no object of an organisation.
    data.samples["-"] = {
        OWN: {
            "year": str(vn_today().year),
            "code": "vi",
            "key": "documents",
            "queue": "to-direct",
            "digest": "0" * 64,
            "cert_id": "987654",
            "organization_id": str(ids[ORGS[OWN]]),
        }
    }
    for role, username in ROLE_USERS.items():
        who = await _principal(database, username)
        data.user_ids[role] = who.user.id
        data.mine[role] = {"person": await _personal(database, who)}
        async with database.session() as session:
            signed = await auth.sign_in(
                session, settings=settings, username=username, password=DEMO_PASSWORD, ip="10.9.9.9", user_agent="matrix"
            )
            data.sessions[role] = (signed.token, signed.session.csrf_token)
    return data


def params_of(data: MatrixData, family: str, relation: str, role: Role | None) -> dict[str, Any] | None:
    """Path parameters for a family's object in a relation; `person` objects of the own relation
    are the principal's own."""
    if family == "person" and relation == OWN and role is not None:
        return data.mine[role]["person"]
    return data.samples.get(family, {}).get(relation)
