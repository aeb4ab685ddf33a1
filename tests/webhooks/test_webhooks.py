"""Webhooks: deliveries written with the change that caused them, signed, retried with backoff,
every attempt recorded; a real HTTP receiver verifies each signature (issue 17)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy import inspect as sa_inspect

from demo.incoming import demo_pdf
from services.authz import Principal, load_principal
from services.blobs import BlobStore
from services.calendar import vn_today
from services.db import utcnow
from services.directory.models import Organization, User
from services.errors import InvalidInput
from services.incoming import service as incoming
from services.webhooks import delivery
from services.webhooks import service as webhooks
from services.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.helpers import free_port
from tests.webhooks.receiver import Receiver, serve


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve() as state:
        yield state


async def _principal(database, username: str) -> Principal:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
        return await load_principal(session, user)


async def _org(database, code: str) -> int:  # type: ignore[no-untyped-def]
    async with database.read() as session:
        return await session.scalar(select(Organization.id).where(Organization.code == code))


async def _subscribe(database, settings, org_id: int, url: str, events=("incoming.arrived", "document.status_changed")):  # type: ignore[no-untyped-def]
    admin = await _principal(database, "quantri")
    async with database.session() as session:
        sub, secret = await webhooks.create(session, principal=admin, settings=settings, organization_id=org_id, url=url, events=events)
        return sub.id, secret


async def _register(database, settings, clerk: Principal, org_id: int, notation: str) -> int:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        doc = await incoming.register(
            session,
            principal=clerk,
            organization_id=org_id,
            blobs=BlobStore.for_data_dir(settings.data_dir),
            meta=incoming.Metadata(
                issuer_name="UBND tỉnh Bến Tre",
                number_notation=notation,
                document_date=vn_today(),
                doc_type="CV",
                subject="Công văn về chuyển đổi số",
            ),
            files=[incoming.NewFile("cong-van.pdf", "application/pdf", demo_pdf("cong van"))],
        )
        return doc.id


def _copy(row: object) -> SimpleNamespace:
    return SimpleNamespace(**{c.key: getattr(row, c.key) for c in sa_inspect(row).mapper.column_attrs})


async def _deliveries(database, subscription_id: int) -> list[SimpleNamespace]:  # type: ignore[no-untyped-def]
    """The subscription's deliveries, newest first, with their attempts (read apart: plain values)."""
    async with database.read() as session:
        rows = await webhooks.deliveries(session, subscription_id=subscription_id)
        return [SimpleNamespace(**vars(_copy(d)), attempt_rows=[_copy(a) for a in d.attempt_rows]) for d in rows]


async def test_registering_a_document_queues_its_events_for_its_organisation_only(demo_db, settings, receiver) -> None:
    settings.webhook_allow_http_localhost = True
    district, province = await _org(demo_db, "hlhpn-chauthanh"), await _org(demo_db, "hlhpn-bentre")
    mine, receiver.secret = await _subscribe(demo_db, settings, district, receiver.url)
    parents, _ = await _subscribe(demo_db, settings, province, receiver.url)
    clerk = await _principal(demo_db, "chauthanh.vanthu")

    doc_id = await _register(demo_db, settings, clerk, district, "12/UBND-VX")

    queued = await _deliveries(demo_db, mine)
    assert sorted(d.event_type for d in queued) == ["document.status_changed", "incoming.arrived"]
    assert all(d.status == "pending" for d in queued)
    # The province sees nothing of a district's document: the event is the district's.
    assert await _deliveries(demo_db, parents) == []

    assert await delivery.deliver_due(demo_db, settings) == 2
    assert len(receiver.received) == 2 and all(r["valid"] for r in receiver.received)
    arrived = next(r["body"] for r in receiver.received if r["body"]["type"] == "incoming.arrived")
    assert arrived["object"] == {"id": doc_id, "kind": "incoming", "url": f"{settings.base_url}/incoming/{doc_id}"}
    assert arrived["organization"]["id"] == district and arrived["id"].startswith("evt_") and arrived["occurred_at"]
    changed = next(r["body"] for r in receiver.received if r["body"]["type"] == "document.status_changed")
    assert changed["data"] == {"from": "arrived", "to": "awaiting_direction"}
    assert all(d.status == "delivered" for d in await _deliveries(demo_db, mine))


async def test_a_change_that_rolls_back_queues_nothing(demo_db, settings, receiver) -> None:
    settings.webhook_allow_http_localhost = True
    district = await _org(demo_db, "hlhpn-chauthanh")
    mine, _ = await _subscribe(demo_db, settings, district, receiver.url)
    clerk = await _principal(demo_db, "chauthanh.vanthu")

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon):
        async with demo_db.session() as session:
            await incoming.register(
                session,
                principal=clerk,
                organization_id=district,
                blobs=BlobStore.for_data_dir(settings.data_dir),
                meta=incoming.Metadata(
                    issuer_name="UBND tỉnh Bến Tre", number_notation="13/UBND-VX", document_date=vn_today(), doc_type="CV", subject="Thử"
                ),
                files=[incoming.NewFile("cong-van.pdf", "application/pdf", demo_pdf("cong van"))],
            )
            # Written inside the transaction…
            assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 2
            raise Abandon
    # …and gone with it.
    assert await _deliveries(demo_db, mine) == []
    assert await delivery.deliver_due(demo_db, settings) == 0 and receiver.received == []


async def test_a_receiver_failing_twice_gets_the_event_on_the_third_attempt(demo_db_sqlite, settings, receiver) -> None:
    settings.webhook_allow_http_localhost = True
    settings.webhook_backoff_seconds = 30
    database = demo_db_sqlite
    sub_id, receiver.secret = await _subscribe(database, settings, await _org(database, "hlhpn-chauthanh"), receiver.url)
    receiver.fail = 2
    admin = await _principal(database, "quantri")
    async with database.session() as session:
        test = await webhooks.send_test(session, principal=admin, subscription_id=sub_id)
        delivery_id, event_id = test.id, test.event_id

    t0 = utcnow()
    assert await delivery.deliver_due(database, settings, now=t0) == 1  # 500
    assert await delivery.deliver_due(database, settings, now=t0 + timedelta(seconds=29)) == 0  # not due yet
    assert await delivery.deliver_due(database, settings, now=t0 + timedelta(seconds=30)) == 1  # 500, then waits 60 s
    assert await delivery.deliver_due(database, settings, now=t0 + timedelta(seconds=89)) == 0
    t3 = t0 + timedelta(seconds=90)
    assert await delivery.deliver_due(database, settings, now=t3) == 1  # 204
    assert await delivery.deliver_due(database, settings, now=t3 + timedelta(days=1)) == 0  # delivered: never again

    [row] = await _deliveries(database, sub_id)
    assert row.id == delivery_id and row.status == "delivered" and row.attempts == 3 and row.last_status_code == 204
    assert [(a.status_code, a.error) for a in row.attempt_rows] == [(500, "HTTP 500"), (500, "HTTP 500"), (204, None)]
    assert [a.at for a in row.attempt_rows] == [t0, t0 + timedelta(seconds=30), t3]
    # One event, three requests with its ID; each signed over its own timestamp.
    assert [r["event_id"] for r in receiver.received] == [event_id] * 3 and all(r["valid"] for r in receiver.received)
    assert receiver.received[0]["body"]["type"] == "ping"
    last = receiver.received[-1]
    assert delivery.verify(receiver.secret, last["raw"], last["signature"], now=t3.timestamp())
    # A receiver refuses an old timestamp (a replayed request) and a wrong secret.
    assert not delivery.verify(receiver.secret, last["raw"], last["signature"], now=t3.timestamp() + 3600)
    assert not delivery.verify("whsec_other", last["raw"], last["signature"], now=t3.timestamp())
    assert not delivery.verify(receiver.secret, last["raw"] + b" ", last["signature"], now=t3.timestamp())


async def test_a_delivery_fails_after_the_last_attempt_and_can_be_sent_again(demo_db_sqlite, settings) -> None:
    settings.webhook_allow_http_localhost = True
    settings.webhook_max_attempts = 2
    database = demo_db_sqlite
    closed = f"http://127.0.0.1:{free_port()}/nobody-listens"
    sub_id, _ = await _subscribe(database, settings, await _org(database, "hlhpn-chauthanh"), closed)
    admin = await _principal(database, "quantri")
    async with database.session() as session:
        delivery_id = (await webhooks.send_test(session, principal=admin, subscription_id=sub_id)).id

    t0 = utcnow()
    await delivery.deliver_due(database, settings, now=t0)
    await delivery.deliver_due(database, settings, now=t0 + timedelta(hours=1))
    assert await delivery.deliver_due(database, settings, now=t0 + timedelta(days=1)) == 0
    [row] = await _deliveries(database, sub_id)
    assert row.status == "failed" and row.attempts == 2 and row.last_status_code is None and "Connect" in (row.last_error or "")
    assert all(a.status_code is None and a.error for a in row.attempt_rows)

    async with database.session() as session:
        await webhooks.redeliver(session, principal=admin, subscription_id=sub_id, delivery_id=delivery_id)
    [row] = await _deliveries(database, sub_id)
    assert row.status == "pending" and row.attempts == 0 and len(row.attempt_rows) == 2  # the old attempts stay on record
    assert await delivery.deliver_due(database, settings, now=utcnow()) == 1
    async with database.read() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookAttempt)) == 3


async def test_a_disabled_subscription_gets_nothing_until_enabled(demo_db_sqlite, settings, receiver) -> None:
    settings.webhook_allow_http_localhost = True
    database = demo_db_sqlite
    sub_id, receiver.secret = await _subscribe(database, settings, await _org(database, "hlhpn-chauthanh"), receiver.url)
    admin = await _principal(database, "quantri")
    async with database.session() as session:
        await webhooks.send_test(session, principal=admin, subscription_id=sub_id)
        await webhooks.set_active(session, principal=admin, subscription_id=sub_id, active=False)
    assert await delivery.deliver_due(database, settings) == 0
    # Not queued while disabled: a real event passes it by.
    await _register(database, settings, await _principal(database, "chauthanh.vanthu"), await _org(database, "hlhpn-chauthanh"), "14/UBND")
    assert len(await _deliveries(database, sub_id)) == 1
    async with database.session() as session:
        await webhooks.set_active(session, principal=admin, subscription_id=sub_id, active=True)
    assert await delivery.deliver_due(database, settings) == 1 and receiver.received[0]["valid"]


@pytest.mark.parametrize(
    ("url", "allowed_locally", "ok"),
    [
        ("https://hooks.example.vn/lienthong", False, True),
        ("http://hooks.example.vn/lienthong", False, False),  # HTTPS only
        ("http://127.0.0.1:8080/hooks", False, False),
        ("http://127.0.0.1:8080/hooks", True, True),  # tests: only when the setting says so
        ("http://localhost/hooks", True, True),
        ("http://10.0.0.5/hooks", True, False),  # http only on this host
        ("https://10.0.0.5/hooks", False, False),  # a private network
        ("https://10.0.0.5/hooks", True, False),  # whatever the setting
        ("https://[::1]/hooks", False, False),
        ("https://localhost/hooks", False, False),
        ("https://user:pw@hooks.example.vn/", False, False),
        ("ftp://hooks.example.vn/", False, False),
        ("https:///nohost", False, False),
    ],
)
def test_endpoints_are_https_on_public_hosts(settings, url: str, allowed_locally: bool, ok: bool) -> None:
    settings.webhook_allow_http_localhost = allowed_locally
    if ok:
        assert webhooks.check_url(url, settings) == url
    else:
        with pytest.raises(InvalidInput):
            webhooks.check_url(url, settings)


async def test_only_an_administrator_of_the_organisation_subscribes(demo_db_sqlite, settings) -> None:
    from services.errors import NotFound

    district = await _org(demo_db_sqlite, "hlhpn-chauthanh")
    province = await _org(demo_db_sqlite, "hlhpn-bentre")
    for username, org_id in (("chauthanh.vanthu", district), ("quantri", 10**6)):
        who = await _principal(demo_db_sqlite, username)
        async with demo_db_sqlite.session() as session:
            with pytest.raises(NotFound):
                await webhooks.create(
                    session, principal=who, settings=settings, organization_id=org_id, url="https://a.example.vn/", events=["ping"]
                )
    admin = await _principal(demo_db_sqlite, "quantri")
    async with demo_db_sqlite.session() as session:
        with pytest.raises(InvalidInput):  # "ping" is the test event, not a subscription
            await webhooks.create(
                session, principal=admin, settings=settings, organization_id=province, url="https://a.example.vn/", events=["ping"]
            )
        sub, secret = await webhooks.create(
            session, principal=admin, settings=settings, organization_id=province, url="https://a.example.vn/", events=["minutes.signed"]
        )
        assert secret.startswith("whsec_") and len(secret) > 40
        sub_id = sub.id
    # The audit entry names the subscription, never its secret.
    from services.audit.models import AuditEntry

    async with demo_db_sqlite.read() as session:
        canonical = await session.scalar(select(AuditEntry.canonical).where(AuditEntry.action == "webhook.created"))
        assert canonical is not None and str(sub_id) in canonical.decode() and secret not in canonical.decode()


async def test_issuing_an_outgoing_document_sends_issued_and_its_status_change(demo_db_sqlite, settings) -> None:
    from services.audit.service import Actor
    from services.outgoing import service as outgoing
    from services.outgoing.models import OutgoingDocument, Status

    database = demo_db_sqlite
    province = await _org(database, "hlhpn-bentre")
    sub_id, _ = await _subscribe(
        database, settings, province, "https://hooks.example.vn/lt", ("outgoing.issued", "document.status_changed")
    )
    blob = outgoing.BlobStore.for_data_dir(settings.data_dir).put(b"%PDF-1.7 leader-signed placeholder")
    async with database.session() as session:
        drafter = await session.scalar(select(User).where(User.username == "thu.le"))
        leader = await session.scalar(select(User).where(User.username == "lan.nguyen"))
        draft = OutgoingDocument(
            organization_id=province,
            drafter_id=drafter.id,
            signer_id=leader.id,
            doc_type="CV",
            subject="Công văn thử",
            body="",
            external_recipients="",
            status=Status.signed,
            leader_pdf_sha=blob,
        )
        session.add(draft)
        await session.flush()
        doc_id = draft.id
    assert await _deliveries(database, sub_id) == []  # a new document is no status change

    async def seal(stamp: outgoing.IssueStamp) -> outgoing.IssuedFiles:
        return outgoing.IssuedFiles(pdf=b"%PDF-1.7 issued")

    async with database.session() as session:
        doc = await outgoing.issue(session, settings=settings, principal=None, actor=Actor.system(), document_id=doc_id, seal=seal)
        notation = doc.notation
    rows = await _deliveries(database, sub_id)
    events = {d.event_type: json.loads(d.payload) for d in rows}
    assert sorted(events) == ["document.status_changed", "outgoing.issued"]
    assert events["document.status_changed"]["data"] == {"from": "signed", "to": "issued"}
    assert events["outgoing.issued"]["data"] == {"notation": notation}
    assert events["outgoing.issued"]["object"] == {"id": doc_id, "kind": "outgoing", "path": f"/outgoing/{doc_id}"}


async def test_scheduling_a_meeting_sends_meeting_scheduled_to_its_organisation(demo_db_sqlite, settings) -> None:
    from tests.meetings.factory import build_meeting

    database = demo_db_sqlite
    province, district = await _org(database, "hlhpn-bentre"), await _org(database, "hlhpn-chauthanh")
    events = ("meeting.scheduled",)
    mine, _ = await _subscribe(database, settings, province, "https://hooks.example.vn/lt", events)
    invited, _ = await _subscribe(database, settings, district, "https://hooks.example.vn/lt", events)
    built = await build_meeting(database, settings, units=("hlhpn-chauthanh",))
    [row] = await _deliveries(database, mine)
    payload = json.loads(row.payload)
    assert payload["object"] == {"id": built.meeting_id, "kind": "meeting", "path": f"/meetings/{built.meeting_id}"}
    assert payload["data"]["starts_at"]
    # An invited organisation's webhooks are not told: the meeting is the organiser's.
    assert await _deliveries(database, invited) == []
