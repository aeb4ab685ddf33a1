"""Migration 0013 gives existing entries the bytes their hashes were made over: old chains still verify."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy import update

from services.audit import chain, keys
from services.audit import service as audit
from services.audit.models import AuditCheckpoint, AuditEntry
from services.db import Database, UTCDateTime
from services.migrate import upgrade
from tests.conftest import PG_ADMIN, _pg_url

AWKWARD = ['say "hi"', "back\\slash", "tab\tnew\nline\x01\x7f", "Trích yếu: Đã ký số", "😀 \u2028", None]


async def test_entries_written_before_the_migration_still_verify(backend, tmp_path, settings) -> None:
    if backend == "sqlite":
        url, name = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}", None
    else:
        name = f"lt_mig_{uuid.uuid4().hex[:10]}"
        subprocess.run(["psql", PG_ADMIN, "-qc", f"CREATE DATABASE {name}"], check=True)
        url = _pg_url(name)
    try:
        await asyncio.to_thread(upgrade, url, "0011")
        old_entries = sa.table(
            "audit_entries", *(sa.column(c) for c in ("seq", "actor_id", "actor_name", "organization_id", "action",
                                                       "object_type", "object_id", "details", "ip", "prev_hash", "entry_hash")),
            sa.column("at", UTCDateTime(timezone=True)),
        )
        database = Database(url)
        prev, rows = chain.GENESIS_HASH, []
        for seq, value in enumerate(AWKWARD, 1):  # as `record` wrote them before 0013
            row = {"seq": seq, "at": datetime(2026, 3, seq, 8, 0, seq * 1000 % 60, 0 if seq == 2 else 1234, timezone.utc),
                   "actor_id": None, "actor_name": value, "organization_id": None, "action": "test.old",
                   "object_type": value, "object_id": str(seq), "details": chain.canonical_json({"v": value}), "ip": value,
                   "prev_hash": prev}
            row["entry_hash"] = prev = chain.entry_hash(row, prev)
            rows.append(row)
        async with database.session() as session:
            await session.execute(sa.insert(old_entries), rows)
            await session.execute(sa.text("UPDATE audit_head SET seq = :s, entry_hash = :h"), {"s": len(rows), "h": prev})
            # A checkpoint over 1..6, signed as `create_checkpoint` did.
            private, created = keys.load_or_create_system_key(settings.data_dir), datetime(2026, 3, 9, tzinfo=timezone.utc)
            root = chain.merkle_root(r["entry_hash"] for r in rows)
            message = chain.checkpoint_message(first_seq=1, last_seq=6, merkle_root=root, created_at=chain.canonical_time(created))
            await session.execute(sa.insert(AuditCheckpoint), [{
                "first_seq": 1, "last_seq": 6, "merkle_root": root, "created_at": created,
                "key_id": keys.key_id(private.public_key()), "signature": private.sign(message).hex()}])
        await database.dispose()

        await asyncio.to_thread(upgrade, url)
        database = Database(url)
        async with database.session() as session:
            await audit.record(session, actor=audit.Actor.system(), action="test.after_migration")
            stored = await session.scalar(sa.select(AuditEntry.canonical).where(AuditEntry.seq == 3))
        assert hashlib.sha256(stored).hexdigest() == rows[2]["entry_hash"]
        async with database.read() as session:
            result = await audit.verify_database(session, data_dir=settings.data_dir)
        assert result.ok, result.problems
        assert (result.entries_checked, result.checkpoints_checked, result.entries_rechecked) == (7, 1, 0)

        async with database.session() as session:
            await session.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(actor_name="Người khác"))
        async with database.read() as session:
            result = await audit.verify_database(session, data_dir=settings.data_dir)
        assert not result.ok and result.first_bad_seq == 4
        await database.dispose()
    finally:
        if name:
            subprocess.run(["psql", PG_ADMIN, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)
