"""Migration 0013 gives existing entries the bytes their hashes were made over: old chains still verify.
Migration 0017 computes the readable columns from those bytes: it refuses a trail whose columns
were edited, and its downgrade gives back ordinary columns with the same values. Migration 0028:
checkpoints signed over the binary tree still verify beside the new wide-tree ones."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import update

from services.audit import chain, keys
from services.audit import service as audit
from services.audit.models import AuditCheckpoint, AuditEntry
from services.db import Database, UTCDateTime
from services.migrate import upgrade
from tests.conftest import database_at

AWKWARD = ['say "hi"', "back\\slash", "tab\tnew\nline\x01\x7f", "Trích yếu: Đã ký số", "😀 \u2028", None]


async def test_entries_written_before_the_migration_still_verify(backend, tmp_path, settings) -> None:
    async with database_at(backend, tmp_path, "0011") as url:
        old_entries = sa.table(
            "audit_entries",
            *(
                sa.column(c)
                for c in (
                    "seq",
                    "actor_id",
                    "actor_name",
                    "organization_id",
                    "action",
                    "object_type",
                    "object_id",
                    "details",
                    "ip",
                    "prev_hash",
                    "entry_hash",
                )
            ),
            sa.column("at", UTCDateTime(timezone=True)),
        )
        database = Database(url)
        prev, rows = chain.GENESIS_HASH, []
        for seq, value in enumerate(AWKWARD, 1):  # as `record` wrote them before 0013
            row = {
                "seq": seq,
                "at": datetime(2026, 3, seq, 8, 0, seq * 1000 % 60, 0 if seq == 2 else 1234, UTC),
                "actor_id": None,
                "actor_name": value,
                "organization_id": None,
                "action": "test.old",
                "object_type": value,
                "object_id": str(seq),
                "details": chain.canonical_json({"v": value}),
                "ip": value,
                "prev_hash": prev,
            }
            row["entry_hash"] = prev = chain.entry_hash(row, prev)
            rows.append(row)
        async with database.session() as session:
            await session.execute(sa.insert(old_entries), rows)
            await session.execute(sa.text("UPDATE audit_head SET seq = :s, entry_hash = :h"), {"s": len(rows), "h": prev})
            # A checkpoint over 1..6, signed as `create_checkpoint` did then (the binary tree).
            private, created = keys.signing_key(settings.data_dir, first_checkpoint=True), datetime(2026, 3, 9, tzinfo=UTC)
            root = chain.merkle_root((r["entry_hash"] for r in rows), tree=chain.BINARY_TREE)
            message = chain.checkpoint_message(
                first_seq=1, last_seq=6, merkle_root=root, created_at=chain.canonical_time(created), tree=chain.BINARY_TREE
            )
            await session.execute(
                sa.insert(AuditCheckpoint),
                [
                    {
                        "first_seq": 1,
                        "last_seq": 6,
                        "merkle_root": root,
                        "created_at": created,
                        "key_id": keys.key_id(private.public_key()),
                        "signature": private.sign(message).hex(),
                    }
                ],
            )
        await database.dispose()

        await asyncio.to_thread(upgrade, url)
        database = Database(url)
        async with database.session() as session:
            await audit.record(session, actor=audit.Actor.system(), action="test.after_migration")
            stored = await session.scalar(sa.select(AuditEntry.canonical).where(AuditEntry.seq == 3))
        assert hashlib.sha256(stored).hexdigest() == rows[2]["entry_hash"]
        async with database.session() as session:  # migration 0028: the old checkpoint is tree 1, the next one tree 2
            assert await session.scalar(sa.select(AuditCheckpoint.tree)) == chain.BINARY_TREE
            new = await audit.create_checkpoint(session, data_dir=settings.data_dir)
            assert new is not None and (new.first_seq, new.last_seq, new.tree) == (7, 7, chain.WIDE_TREE)
        async with database.read() as session:
            result = await audit.verify_database(session, data_dir=settings.data_dir)
        assert result.ok, result.problems
        assert (result.entries_checked, result.checkpoints_checked, result.entries_rechecked) == (8, 2, 0)

        async with database.session() as session:
            tampered = (await session.scalar(sa.select(AuditEntry.canonical).where(AuditEntry.seq == 4))).replace(
                b'"test.old"', b'"test.new"'
            )
            await session.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(canonical=tampered))
            assert await session.scalar(sa.select(AuditEntry.action).where(AuditEntry.seq == 4)) == "test.new"
        async with database.read() as session:
            result = await audit.verify_database(session, data_dir=settings.data_dir)
        assert not result.ok and result.first_bad_seq == 4
        await database.dispose()


async def _append(url: str, n: int) -> None:
    database = Database(url)
    for i in range(n):
        async with database.session() as session:  # `record` as of 0016 wrote every column itself
            await session.execute(
                sa.text(
                    "INSERT INTO audit_entries (seq, at, actor_id, actor_name, organization_id, action, object_type, "
                    "object_id, details, ip, prev_hash, entry_hash, canonical) VALUES (:seq, :at, NULL, :actor_name, NULL, "
                    ":action, 'thing', :object_id, :details, :ip, :prev_hash, :entry_hash, :canonical)"
                ).bindparams(sa.bindparam("at", type_=UTCDateTime(timezone=True))),
                _old_row(await session.scalar(sa.text("SELECT entry_hash FROM audit_head")), i + 1),
            )
            await session.execute(
                sa.text(
                    "UPDATE audit_head SET seq = seq + 1, entry_hash = (SELECT entry_hash FROM audit_entries ORDER BY seq DESC LIMIT 1)"
                )
            )
    await database.dispose()


def _old_row(prev: str, seq: int) -> dict:  # type: ignore[type-arg]
    row = {
        "seq": seq,
        "at": datetime(2026, 11, seq, 9, 30, 0, seq * 111, UTC),
        "actor_id": None,
        "actor_name": AWKWARD[seq % len(AWKWARD)],
        "organization_id": None,
        "action": "test.old",
        "object_type": "thing",
        "object_id": str(seq),
        "details": chain.canonical_json({"i": seq}),
        "ip": "10.0.0.1",
        "prev_hash": prev,
    }
    row["canonical"] = chain.canonical_entry(row, prev)
    row["entry_hash"] = hashlib.sha256(row["canonical"]).hexdigest()
    return row


async def test_0017_refuses_a_trail_whose_columns_were_edited(backend, tmp_path) -> None:
    async with database_at(backend, tmp_path, "0016") as url:
        await _append(url, 4)
        database = Database(url)
        async with database.session() as session:
            await session.execute(sa.text("UPDATE audit_entries SET action = 'test.forged' WHERE seq = 3"))
        await database.dispose()
        try:
            await asyncio.to_thread(upgrade, url)
        except RuntimeError as exc:
            assert "audit entries 3 have readable columns that no longer match their hashed bytes" in str(exc)
        else:
            raise AssertionError("the migration went through")
        database = Database(url)
        async with database.session() as session:  # nothing changed: the edited column is still there
            assert await session.scalar(sa.text("SELECT action FROM audit_entries WHERE seq = 3")) == "test.forged"
        await database.dispose()


async def test_0017_upgrade_and_downgrade_keep_every_value(backend, tmp_path, settings) -> None:
    from alembic import command

    from services.migrate import alembic_config

    columns = (
        "seq, at, actor_id, actor_name, organization_id, action, object_type, object_id, details, ip, prev_hash, entry_hash, canonical"
    )
    query = sa.text(f"SELECT {columns} FROM audit_entries ORDER BY seq").columns(at=UTCDateTime(timezone=True))
    async with database_at(backend, tmp_path, "0016") as url:
        await _append(url, 6)
        database = Database(url)
        async with database.session() as session:
            before = (await session.execute(query)).all()
        await database.dispose()
        await asyncio.to_thread(upgrade, url)
        database = Database(url)
        async with database.session() as session:
            assert (await session.execute(query)).all() == before
            await audit.record(session, actor=audit.Actor.system(), action="test.after")
        async with database.read() as session:
            result = await audit.verify_database(session, data_dir=settings.data_dir)
        assert result.ok and result.entries_checked == 7, result.problems
        async with database.session() as session:
            after = (await session.execute(query)).all()
        await database.dispose()
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0016")
        database = Database(url)
        async with database.session() as session:
            assert (await session.execute(query)).all() == after
            await session.execute(sa.text("UPDATE audit_entries SET action = 'writable again' WHERE seq = 1"))
        await database.dispose()
