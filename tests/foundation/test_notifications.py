"""`notify`: each person told once per key, with their badge's count, in a few statements a call."""

from __future__ import annotations

import json

from sqlalchemy import select

from services.directory.models import User
from services.events.models import Event
from services.events.service import user_channel
from services.notifications.models import Notification
from services.notifications.service import notify
from tests.helpers import statements_of


async def test_telling_several_people_costs_a_few_statements_and_each_once(demo_db) -> None:
    async with demo_db.read() as session:
        people = list((await session.scalars(select(User.id).where(User.active.is_(True)).order_by(User.id).limit(4))).all())
    async with demo_db.session() as session:  # the first one was told already
        await notify(session, user_ids=people[:1], kind="test.once", title="Đã báo", dedupe_key="test-once")
    with statements_of(demo_db) as statements:
        async with demo_db.session() as session:
            created = await notify(session, user_ids=[*people, people[0]], kind="test.once", title="Xin chào", dedupe_key="test-once")
    assert sorted(note.user_id for note in created) == people[1:]
    # Three reads for the call: the keys told already, the addresses, the badges' counts (before:
    # a key, an address and a count a person, and the badge event's two statements).
    reads = [s for s in statements if s.startswith("SELECT") and ("notifications" in s or "FROM users" in s)]
    assert len(reads) == 3, reads
    async with demo_db.read() as session:
        for user_id in people:
            rows = (await session.scalars(select(Notification).where(Notification.user_id == user_id))).all()
            assert [n.dedupe_key for n in rows if n.kind == "test.once"] == [f"test-once:{user_id}"]
            badge = await session.scalar(
                select(Event.payload).where(Event.channel == user_channel(user_id), Event.kind == "notification").order_by(Event.seq.desc())
            )
            assert badge is not None and json.loads(badge)["unread"] == len([n for n in rows if n.read_at is None])
