"""The audit trail is a hash chain: tampering is detected, concurrent appends never fork it."""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from services.audit import service as audit
from services.audit.models import AuditCheckpoint, AuditEntry
from services.audit.service import Actor
from services.db import Database


async def _append(database, n: int, start: int = 0) -> None:  # type: ignore[no-untyped-def]
    for i in range(start, start + n):
        async with database.session() as session:
            await audit.record(
                session,
                actor=Actor(user_id=None, name="tester", ip="127.0.0.1"),
                action="test.step",
                object_type="thing",
                object_id=i,
                details={"i": i, "ghi chú": "Đã ký"},
            )


async def _verify(database, settings):  # type: ignore[no-untyped-def]
    async with database.read() as session:
        return await audit.verify_database(session, data_dir=settings.data_dir)


async def test_untouched_chain_verifies(database, settings) -> None:
    await _append(database, 10)
    result = await _verify(database, settings)
    assert result.ok and result.entries_checked == 10


async def _rewrite(session, seq: int, *, rehash: bool = True, **changes) -> None:  # type: ignore[no-untyped-def]
    """Rewrite an entry's hashed bytes (and its hash, with `rehash`) with `changes` applied."""
    from services.audit import chain

    row = (await session.execute(select(*AuditEntry.__table__.c).where(AuditEntry.seq == seq))).one()
    fields = {**audit.entry_dict(row), **changes}
    canonical = chain.canonical_entry(fields, fields["prev_hash"])
    values = {"canonical": canonical, **({"entry_hash": hashlib.sha256(canonical).hexdigest()} if rehash else {})}
    await session.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(values))


async def test_edited_bytes_change_what_the_column_says_and_break_the_chain(database, settings) -> None:
    """The readable columns are computed from the hashed bytes: editing the bytes is the only way
    to change what an entry says, and it breaks the hash chain at that entry."""
    await _append(database, 10)
    async with database.session() as session:
        await _rewrite(session, 4, details='{"i":999}')
        assert await session.scalar(select(AuditEntry.details).where(AuditEntry.seq == 4)) == '{"i":999}'
    result = await _verify(database, settings)
    assert not result.ok and result.first_bad_seq == 5
    assert result.problems == ["entry 5 does not link to the entry before it"]


@pytest.mark.parametrize(
    "column, value",
    [
        ("action", "test.forged"),
        ("actor_name", "someone else"),
        ("actor_name", None),
        ("actor_id", None),
        ("organization_id", None),
        ("object_type", "other"),
        ("object_id", "999"),
        ("object_id", None),
        ("ip", "10.9.9.9"),
        ("details", '{"i":7,"ghi chú":"Đã ký"}'),
        ("at", datetime(2020, 1, 1, tzinfo=UTC)),
        ("prev_hash", "0" * 64),
    ],
)
async def test_no_readable_column_can_be_written(database, settings, column, value) -> None:
    """The database itself refuses a readable column that would say something else than the bytes."""
    await _append(database, 6)
    with pytest.raises(DBAPIError, match="(?i)generated column|can only be updated to DEFAULT"):
        async with database.session() as session:
            await session.execute(update(AuditEntry).where(AuditEntry.seq == 5).values({column: value}))
    assert (await _verify(database, settings)).ok


async def test_a_column_no_longer_computed_from_the_bytes_is_reported_with_its_entry(database, settings, backend) -> None:
    """Tampering through the schema: on PostgreSQL the column's expression is dropped (it keeps
    its values and becomes writable) and one value changed; on SQLite the schema is edited so
    that the column reads another field. The catalog check reports the column, and every entry's
    columns are then compared with its bytes, which names the entries."""
    await _append(database, 6)
    if backend == "postgresql":
        async with database.session() as session:
            await session.execute(text("ALTER TABLE audit_entries ALTER COLUMN action DROP EXPRESSION"))
            await session.execute(update(AuditEntry).where(AuditEntry.seq == 5).values(action="test.forged"))
        bad_seqs = [5]
    else:
        async with database.engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            await raw.execute("PRAGMA writable_schema = ON")
            await raw.execute("UPDATE sqlite_schema SET sql = replace(sql, '$.action', '$.ip') WHERE name = 'audit_entries'")
            await raw.commit()
            await raw.execute("PRAGMA writable_schema = OFF")
        await database.engine.dispose()  # new connections read the edited schema
        bad_seqs = list(range(1, 7))  # every entry's action now reads its ip
    result = await _verify(database, settings)
    assert not result.ok and result.first_bad_seq == bad_seqs[0], result.problems
    assert "the action column of audit entries is no longer computed from the hashed bytes" in result.problems
    named = [p for p in result.problems if p.startswith("entry ")]
    assert named == [
        f"entry {seq}: its action was changed after it was written (the column no longer matches the hashed record)" for seq in bad_seqs
    ]


async def test_a_replaced_column_function_is_reported(database, settings, backend) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL computes the columns through SQL functions; SQLite has none")
    await _append(database, 3)
    async with database.session() as session:
        await session.execute(
            text(
                "CREATE OR REPLACE FUNCTION lienthong_audit_field(canonical bytea, name text) "
                "RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$SELECT 'forged'$$"
            )
        )
    result = await _verify(database, settings)
    assert not result.ok
    assert "the function lienthong_audit_field, which computes audit columns from the hashed bytes, was changed" in result.problems


async def test_edited_canonical_bytes_are_detected(database, settings) -> None:
    await _append(database, 6)
    async with database.session() as session:
        stored = await session.scalar(select(AuditEntry.canonical).where(AuditEntry.seq == 3))
        await session.execute(
            update(AuditEntry).where(AuditEntry.seq == 3).values(canonical=stored.replace(b'"test.step"', b'"test.stop"'))
        )
    result = await _verify(database, settings)
    assert not result.ok and result.first_bad_seq == 3
    assert "entry 3 was changed after it was written" in result.problems
    assert result.entries_checked == 6 and result.entries_rechecked == 6


async def test_bytes_and_hash_rewritten_together_break_the_link(database, settings) -> None:
    """A forger who rewrites an entry's bytes and hash consistently still breaks the next link."""
    await _append(database, 6)
    async with database.session() as session:
        await _rewrite(session, 3, action="test.forged")
    result = await _verify(database, settings)
    assert not result.ok and result.first_bad_seq == 4
    assert result.problems == ["entry 4 does not link to the entry before it"]


async def test_edited_entry_hash_is_detected(database, settings) -> None:
    await _append(database, 6)
    async with database.session() as session:
        await session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(entry_hash="a" * 64))
    result = await _verify(database, settings)
    assert not result.ok and result.first_bad_seq == 2
    assert "entry 2 was changed after it was written" in result.problems


async def test_reordered_entries_are_detected(database, settings) -> None:
    await _append(database, 6)
    async with database.session() as session:  # swap entries 3 and 4
        await session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(seq=-3))
        await session.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(seq=3))
        await session.execute(update(AuditEntry).where(AuditEntry.seq == -3).values(seq=4))
    result = await _verify(database, settings)
    assert not result.ok and result.first_bad_seq == 3
    assert "entry 3: its seq was changed after it was written (the column no longer matches the hashed record)" in result.problems
    assert "entry 3 does not link to the entry before it" in result.problems


def test_disagreeing_field_names_the_column() -> None:
    from services.audit import chain

    entry = {
        "seq": 1,
        "at": "2026-01-01T00:00:00.000000Z",
        "actor_id": None,
        "actor_name": "Lan",
        "organization_id": 2,
        "action": "x",
        "object_type": None,
        "object_id": "7",
        "details": "{}",
        "ip": None,
        "prev_hash": "0" * 64,
    }
    canonical = chain.canonical_entry(entry, entry["prev_hash"])
    assert chain.disagreeing_field(canonical, entry) is None
    assert chain.disagreeing_field(canonical, {**entry, "organization_id": "2"}) == "organization_id"
    assert chain.disagreeing_field(canonical, {**entry, "object_id": 7}) == "object_id"
    assert chain.disagreeing_field(canonical.replace(b'":', b'": '), entry) == "canonical"  # not the canonical form
    assert chain.disagreeing_field(b"not json", entry) == "canonical"
    assert chain.disagreeing_field(canonical.replace(b'"ip":null,', b""), entry) == "canonical"


async def test_deleted_row_is_detected(database, settings) -> None:
    await _append(database, 10)
    async with database.session() as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.seq == 6))
    result = await _verify(database, settings)
    assert not result.ok and result.first_bad_seq == 6


async def test_row_inserted_by_hand_is_detected(database, settings) -> None:
    await _append(database, 5)
    async with database.session() as session:
        last = await session.scalar(select(AuditEntry).where(AuditEntry.seq == 5))
        canonical = json.dumps(
            {"action": "forged", "at": "2026-01-01T00:00:00.000000Z", "details": "{}", "prev_hash": last.entry_hash}
        ).encode()
        await session.execute(insert(AuditEntry).values(seq=6, entry_hash="f" * 64, canonical=canonical))
    result = await _verify(database, settings)
    assert not result.ok and result.first_bad_seq == 6


async def test_valid_looking_row_appended_without_the_head_is_detected(database, settings) -> None:
    """A forger who recomputes the hash but cannot update the head row is still caught."""
    from services.audit import chain

    await _append(database, 5)
    async with database.session() as session:
        last = await session.scalar(select(AuditEntry).where(AuditEntry.seq == 5))
        forged = {**audit.entry_dict(last), "seq": 6, "actor_name": "x", "action": "forged", "details": "{}"}
        canonical = chain.canonical_entry(forged, last.entry_hash)
        await session.execute(insert(AuditEntry).values(seq=6, canonical=canonical, entry_hash=hashlib.sha256(canonical).hexdigest()))
    result = await _verify(database, settings)
    assert not result.ok and result.first_bad_seq == 6


async def test_concurrent_appends_keep_one_chain(database, settings) -> None:
    async def writer(k: int) -> None:
        async with database.session() as session:
            await audit.record(session, actor=Actor.system(f"w{k}"), action="test.concurrent", details={"k": k})

    await asyncio.gather(*(writer(k) for k in range(60)))
    async with database.session() as session:
        seqs = (await session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq))).all()
        prevs = (await session.scalars(select(AuditEntry.prev_hash))).all()
    assert list(seqs) == list(range(1, 61))
    assert len(set(prevs)) == 60  # no two entries link to the same predecessor: no fork
    assert (await _verify(database, settings)).ok


async def test_failed_transaction_leaves_no_entry(database, settings) -> None:
    try:
        async with database.session() as session:
            await audit.record(session, actor=Actor.system(), action="test.rollback")
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    await _append(database, 1)
    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 1
    assert (await _verify(database, settings)).ok


async def test_checkpoint_detects_a_rewritten_chain(database, settings) -> None:
    """Rewriting an entry and re-hashing everything after it still breaks the signed checkpoint."""
    from services.audit import chain

    await _append(database, 8)
    async with database.session() as session:
        checkpoint = await audit.create_checkpoint(session, data_dir=settings.data_dir)
    assert checkpoint is not None and (checkpoint.first_seq, checkpoint.last_seq) == (1, 8)
    async with database.session() as session:
        rows = (await session.execute(select(*AuditEntry.__table__.c).order_by(AuditEntry.seq))).all()
        prev = chain.GENESIS_HASH
        for row in rows:
            fields = audit.entry_dict(row)
            if row.seq == 3:
                fields["details"] = '{"i":"rewritten"}'
            canonical = chain.canonical_entry(fields, prev)
            prev = hashlib.sha256(canonical).hexdigest()
            await session.execute(update(AuditEntry).where(AuditEntry.seq == row.seq).values(canonical=canonical, entry_hash=prev))
        await session.execute(text("UPDATE audit_head SET entry_hash = :h"), {"h": prev})
    result = await _verify(database, settings)
    assert not result.ok and result.first_bad_seq == 1  # the checkpoint over 1..8 no longer matches
    assert any("checkpoint 1..8" in p for p in result.problems)


async def test_a_checkpoint_passed_off_as_another_tree_is_detected(database, settings, tmp_path) -> None:
    """New checkpoints sign their tree format: relabelled as the old binary tree (with that
    tree's root over the same entries), the signature no longer holds; an unknown format is
    named, in the database and in an export."""
    from services.audit import chain

    await _append(database, 5)
    async with database.session() as session:
        checkpoint = await audit.create_checkpoint(session, data_dir=settings.data_dir)
        assert checkpoint is not None and checkpoint.tree == chain.WIDE_TREE
        hashes = (await session.scalars(select(AuditEntry.entry_hash).where(AuditEntry.seq <= 5).order_by(AuditEntry.seq))).all()
    assert (await _verify(database, settings)).ok
    async with database.session() as session:
        binary_root = chain.merkle_root(hashes, tree=chain.BINARY_TREE)
        await session.execute(update(AuditCheckpoint).values(tree=chain.BINARY_TREE, merkle_root=binary_root))
    result = await _verify(database, settings)
    assert not result.ok and result.first_bad_seq == 1
    assert "checkpoint 1..5 has a bad signature" in result.problems

    async with database.session() as session:
        await session.execute(update(AuditCheckpoint).values(tree=9))
    result = await _verify(database, settings)
    assert not result.ok and "checkpoint 1..5 uses an unknown tree format" in result.problems
    async with database.read() as session:
        lines = [line async for line in audit.export_lines(session, data_dir=settings.data_dir)]
    assert not audit.verify_export(lines).ok


async def test_a_lost_checkpoint_key_is_never_replaced_silently(database, settings) -> None:
    """A restore without keys/: no checkpoint is signed with a key made on the spot, verify says
    the old checkpoint's key is unknown; `lienthong audit new-key` starts a new key on purpose,
    and the old checkpoints verify again once the lost key's public half is kept as retired."""
    from services.audit import keys

    await _append(database, 4)
    async with database.session() as session:
        first = await audit.create_checkpoint(session, data_dir=settings.data_dir)
    assert first is not None and keys.key_path(settings.data_dir).exists()
    lost = keys.load_system_key(settings.data_dir)
    assert lost is not None
    keys.key_path(settings.data_dir).unlink()

    await _append(database, 2, start=4)
    with pytest.raises(keys.CheckpointKeyMissing, match="audit new-key"):
        async with database.session() as session:
            await audit.create_checkpoint(session, data_dir=settings.data_dir)
    assert not keys.key_path(settings.data_dir).exists()
    result = await _verify(database, settings)
    assert not result.ok and any("unknown key" in p for p in result.problems), result.problems

    made = await asyncio.to_thread(_cli, settings, "audit", "new-key")
    assert made.returncode == 0, made.stderr
    again = await asyncio.to_thread(_cli, settings, "audit", "new-key")
    assert again.returncode == 1 and "exists" in again.stderr  # never over a key
    async with database.session() as session:
        second = await audit.create_checkpoint(session, data_dir=settings.data_dir)
    assert second is not None and second.key_id != first.key_id
    retired = settings.data_dir / "keys" / f"audit-retired-{first.key_id}.pub.pem"
    retired.write_text(keys.public_key_pem(lost.public_key()))
    assert (await _verify(database, settings)).ok


async def test_export_verifies_offline_and_detects_edits(database, settings, tmp_path) -> None:
    await _append(database, 6)
    async with database.session() as session:
        await audit.create_checkpoint(session, data_dir=settings.data_dir)
    await _append(database, 3, start=6)
    async with database.session() as session:
        lines = [line async for line in audit.export_lines(session, data_dir=settings.data_dir)]
    assert audit.verify_export(lines).ok
    tampered = []
    for line in lines:
        item = json.loads(line)
        if item.get("seq") == 3:
            item["details"] = '{"i":7}'
        tampered.append(json.dumps(item))
    result = audit.verify_export(tampered)
    assert not result.ok and result.first_bad_seq == 3


async def test_verify_reads_awkward_text_through_the_fast_path(database, settings) -> None:
    """Quotes, backslashes, control characters, Vietnamese and emoji: the database builds the
    same canonical bytes as the chain, so no intact entry needs the slow re-check."""
    awkward = ['say "hi"', "back\\slash", "tab\tnew\nline\r\x01\x1f\x7f", "Trích yếu: Đã ký số", "😀 \u2028 \ufeff", ""]
    for i, value in enumerate(awkward):
        async with database.session() as session:
            await audit.record(
                session,
                actor=Actor(user_id=None, name=value, ip=value),
                action="test.awkward",
                object_type=value or None,
                object_id=value,
                details={"v": value, "i": i},
            )
    async with database.session() as session:
        await audit.create_checkpoint(session, data_dir=settings.data_dir)
    result = await _verify(database, settings)
    assert result.ok, result.problems
    assert result.entries_checked == len(awkward) + 1 and result.entries_rechecked == 0


def test_streamed_merkle_root_matches_the_reference() -> None:
    from services.audit import chain

    for n in range(0, 70):
        hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]
        digests = [bytes.fromhex(h) for h in hashes]
        for step in (1, 3, 7, 64):
            accumulator = chain.merkle_accumulator(chain.BINARY_TREE)
            for start in range(0, n, step):
                accumulator.add(digests[start : start + step])
            assert accumulator.root() == chain.merkle_root(hashes, tree=chain.BINARY_TREE), (n, step)


def test_streamed_wide_merkle_root_matches_the_reference() -> None:
    """The 256-ary tree at the sizes where a level fills, spills over or gains a level."""
    from services.audit import chain

    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(256 * 256 + 300)]
    digests = [bytes.fromhex(h) for h in hashes]
    roots = set()
    for n in (0, 1, 2, 255, 256, 257, 511, 512, 513, 256 * 256 - 1, 256 * 256, 256 * 256 + 1, 256 * 256 + 300):
        reference = chain.merkle_root(hashes[:n], tree=chain.WIDE_TREE)
        for step in (1, 100, 256, 5000) if n < 600 or n % 256 else (999, 65536):
            accumulator = chain.merkle_accumulator(chain.WIDE_TREE)
            for start in range(0, n, step):
                accumulator.add(digests[start : min(start + step, n)])
            assert accumulator.count == n and accumulator.root() == reference, (n, step)
        roots.add(reference)
    assert len(roots) == 13  # each size its own root (one entry's root is not its own hash either)
    assert chain.merkle_root(hashes[:1], tree=chain.WIDE_TREE) != hashes[0]
    two = chain.merkle_root(hashes[:2], tree=chain.WIDE_TREE)
    assert two == hashlib.sha256(b"\x01" + digests[0] + digests[1]).hexdigest()
    swapped = chain.merkle_root([hashes[1], hashes[0]], tree=chain.WIDE_TREE)
    assert swapped != two


async def test_verify_takes_no_write_lock(database, settings) -> None:
    """While a verification is half way through the trail, another connection appends an entry
    (on SQLite: BEGIN IMMEDIATE, the write lock) and commits; the verification still sees one
    consistent snapshot."""
    await _append(database, 30)
    writer = Database(database.url, lock_timeout=2.0)  # fails after 2 s instead of waiting 15 s

    async def append_elsewhere() -> None:
        try:
            async with writer.session() as session:
                await audit.record(session, actor=Actor.system("writer"), action="test.during_verify")
        finally:
            await writer.dispose()

    appended: list[int] = []

    async def on_batch(progress: audit.VerifyProgress) -> None:
        if not appended:
            # Another thread with a fresh context, as another process would: this task's
            # context says a transaction (the verification's) is open.
            await asyncio.to_thread(contextvars.Context().run, asyncio.run, append_elsewhere())
            appended.append(progress.last_seq)

    async with database.read() as session:
        result = await audit.verify_database(session, data_dir=settings.data_dir, batch=10, on_batch=on_batch)
    assert appended == [10]
    assert result.ok and result.entries_checked == 30  # the snapshot taken before the append
    after = await _verify(database, settings)
    assert after.ok and after.entries_checked == 31


def _cli(settings, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "LIENTHONG_DATABASE_URL": settings.database_url, "LIENTHONG_DATA_DIR": str(settings.data_dir)}
    return subprocess.run([sys.executable, "-m", "web.cli", *args], env=env, capture_output=True, text=True, timeout=120)


async def test_cli_verify_exit_codes_and_offline_export(database, settings, tmp_path) -> None:
    await _append(database, 5)
    ok = await asyncio.to_thread(_cli, settings, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    out = tmp_path / "trail.jsonl"
    exported = await asyncio.to_thread(_cli, settings, "audit", "export", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    offline = await asyncio.to_thread(_cli, settings, "audit", "verify", "--file", str(out))
    assert offline.returncode == 0, offline.stderr
    async with database.session() as session:
        await _rewrite(session, 2, rehash=False, action="edited")
    bad = await asyncio.to_thread(_cli, settings, "audit", "verify")
    assert bad.returncode != 0
    assert "First bad sequence number: 2" in bad.stderr


async def test_an_event_first_and_an_audit_first_transaction_do_not_deadlock(database, settings) -> None:
    """Opening a meeting published its event before its audit entry while another action did the
    opposite: on PostgreSQL the two head rows deadlocked (a 500, found by the fault test). Both
    orders run interleaved here; both commit, and the chain and the event sequence stay whole."""
    from services.events import service as events

    event_first_holds_event_head, audit_first_holds_audit_head = asyncio.Event(), asyncio.Event()

    async def event_first() -> None:
        async with database.session() as session:
            await events.publish(session, channel="meeting:1", kind="opened", payload={})
            event_first_holds_event_head.set()
            await audit_first_holds_audit_head.wait()
            await audit.record(session, actor=Actor.system("a"), action="test.event_first")

    async def audit_first() -> None:
        await event_first_holds_event_head.wait()
        async with database.session() as session:
            # Without one lock order this waits for nothing here but holds the audit head...
            recording = asyncio.ensure_future(audit.record(session, actor=Actor.system("b"), action="test.audit_first"))
            done, _ = await asyncio.wait({recording}, timeout=1.0)
            audit_first_holds_audit_head.set()  # ...and the other transaction now wants it
            await recording
            await events.publish(session, channel="meeting:1", kind="changed", payload={})

    await asyncio.wait_for(asyncio.gather(event_first(), audit_first()), timeout=60)
    async with database.session() as session:
        report = await audit.verify_database(session, data_dir=settings.data_dir)
        assert report.ok, report
        assert await events.last_seq(session) == 2
