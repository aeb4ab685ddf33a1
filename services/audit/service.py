"""Appending to, querying, exporting and verifying the audit trail.

`record` is the one way anything writes an audit entry; it runs inside the caller's
transaction so the change and its entry commit together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import chain, keys
from services.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from services.db import utcnow

EXPORT_FORMAT = "lienthong-audit/1"


@dataclass(frozen=True)
class Actor:
    """Who acts and from where; passed explicitly to every service function that changes state."""

    user_id: int | None
    name: str | None
    organization_id: int | None = None
    ip: str | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(user_id=None, name=name)


async def record(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    object_type: str | None = None,
    object_id: object = None,
    organization_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the chain inside the caller's transaction."""
    # The UPDATE takes the head row's write lock first, so concurrent writers queue here and
    # each one links to the entry committed just before it: the chain cannot fork.
    row = (
        await session.execute(
            update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
            .returning(AuditHead.seq, AuditHead.entry_hash)
        )
    ).one_or_none()
    if row is None:
        raise RuntimeError("the audit head row is missing: run `lienthong migrate`")
    seq, prev_hash = row
    entry = AuditEntry(
        seq=seq,
        at=utcnow(),
        actor_id=actor.user_id,
        actor_name=actor.name,
        organization_id=organization_id if organization_id is not None else actor.organization_id,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=chain.canonical_json(details or {}),
        ip=actor.ip,
        prev_hash=prev_hash,
    )
    entry.entry_hash = chain.entry_hash(entry_dict(entry), prev_hash)
    session.add(entry)
    await session.execute(update(AuditHead).where(AuditHead.id == 1).values(entry_hash=entry.entry_hash))
    return entry


def entry_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": chain.canonical_time(entry.at),
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "organization_id": entry.organization_id,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "details": entry.details,
        "ip": entry.ip,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }


def checkpoint_dict(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    return {
        "first_seq": checkpoint.first_seq,
        "last_seq": checkpoint.last_seq,
        "merkle_root": checkpoint.merkle_root,
        "created_at": chain.canonical_time(checkpoint.created_at),
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
    }


async def _iter_entries(session: AsyncSession, batch: int = 2000) -> AsyncIterator[AuditEntry]:
    last = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1].seq


async def create_checkpoint(session: AsyncSession, *, data_dir: Path) -> AuditCheckpoint | None:
    """Sign a Merkle root over the entries since the last checkpoint; None when nothing is new.

    Idempotent: a retried call finds the checkpoint already covering the latest entry.
    """
    last_cp = await session.scalar(select(func.max(AuditCheckpoint.last_seq)))
    first = (last_cp or 0) + 1
    hashes = (
        await session.scalars(
            select(AuditEntry.entry_hash).where(AuditEntry.seq >= first).order_by(AuditEntry.seq)
        )
    ).all()
    if not hashes:
        return None
    private = keys.load_or_create_system_key(data_dir)
    created_at = utcnow()
    root = chain.merkle_root(hashes)
    last = first + len(hashes) - 1
    message = chain.checkpoint_message(
        first_seq=first, last_seq=last, merkle_root=root, created_at=chain.canonical_time(created_at)
    )
    checkpoint = AuditCheckpoint(
        first_seq=first,
        last_seq=last,
        merkle_root=root,
        created_at=created_at,
        key_id=keys.key_id(private.public_key()),
        signature=private.sign(message).hex(),
    )
    session.add(checkpoint)
    await record(
        session,
        actor=Actor.system(),
        action="audit.checkpoint",
        object_type="audit_checkpoint",
        object_id=last,
        details={"first_seq": first, "last_seq": last, "merkle_root": root},
    )
    return checkpoint


async def verify_database(session: AsyncSession, *, data_dir: Path) -> chain.VerifyResult:
    """Recompute the whole chain and every checkpoint from the database."""
    entries = [entry_dict(e) async for e in _iter_entries(session)]
    checkpoints = [
        checkpoint_dict(c)
        for c in (await session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.last_seq))).all()
    ]
    head_row = await session.get(AuditHead, 1)
    head = {"seq": head_row.seq, "entry_hash": head_row.entry_hash} if head_row else None
    return chain.verify_chain(entries, checkpoints, public_keys=keys.known_public_keys(data_dir), head=head)


async def export_lines(session: AsyncSession, *, data_dir: Path) -> AsyncIterator[str]:
    """The whole trail as JSON lines: header with public keys, entries, checkpoints, head."""
    public_keys = keys.known_public_keys(data_dir)
    yield chain.canonical_json(
        {
            "type": "header",
            "format": EXPORT_FORMAT,
            "exported_at": chain.canonical_time(utcnow()),
            "public_keys": {kid: keys.public_key_pem(k) for kid, k in public_keys.items()},
        }
    )
    async for entry in _iter_entries(session):
        yield chain.canonical_json({"type": "entry", **entry_dict(entry)})
    for checkpoint in (await session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.last_seq))).all():
        yield chain.canonical_json({"type": "checkpoint", **checkpoint_dict(checkpoint)})
    head = await session.get(AuditHead, 1)
    if head is not None:
        yield chain.canonical_json({"type": "head", "seq": head.seq, "entry_hash": head.entry_hash})


def verify_export(lines: Iterable[str], *, trusted_keys: dict[str, Any] | None = None) -> chain.VerifyResult:
    """Verify an exported trail offline, without the database.

    Checkpoint signatures are checked against `trusted_keys` when given (keys obtained
    out of band), otherwise against the keys in the export's header.
    """
    entries: list[dict[str, Any]] = []
    checkpoints: list[dict[str, Any]] = []
    head: dict[str, Any] | None = None
    header_keys: dict[str, Any] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            result = chain.VerifyResult()
            result.fail(None, f"line {number} is not valid JSON: {exc}")
            return result
        kind = item.pop("type", None)
        if kind == "header":
            header_keys = {kid: keys.load_public_key_pem(pem) for kid, pem in item["public_keys"].items()}
        elif kind == "entry":
            entries.append(item)
        elif kind == "checkpoint":
            checkpoints.append(item)
        elif kind == "head":
            head = item
    entries.sort(key=lambda e: int(e["seq"]))
    return chain.verify_chain(entries, checkpoints, public_keys=trusted_keys or header_keys, head=head)


@dataclass
class AuditFilter:
    object_type: str | None = None
    object_id: str | None = None
    actor_id: int | None = None
    organization_ids: list[int] | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def search(
    session: AsyncSession, *, filters: AuditFilter, before_seq: int | None = None, limit: int = 50
) -> list[AuditEntry]:
    """Newest first, keyset-paginated by sequence number."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if filters.organization_ids is not None:
        query = query.where(AuditEntry.organization_id.in_(filters.organization_ids))
    if filters.object_type:
        query = query.where(AuditEntry.object_type == filters.object_type)
    if filters.object_id:
        query = query.where(AuditEntry.object_id == filters.object_id)
    if filters.actor_id:
        query = query.where(AuditEntry.actor_id == filters.actor_id)
    if filters.action:
        query = query.where(AuditEntry.action.startswith(filters.action))
    if filters.since:
        query = query.where(AuditEntry.at >= filters.since)
    if filters.until:
        query = query.where(AuditEntry.at < filters.until)
    if before_seq:
        query = query.where(AuditEntry.seq < before_seq)
    return list((await session.scalars(query)).all())


async def latest_checkpoint(session: AsyncSession) -> AuditCheckpoint | None:
    return await session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.last_seq.desc()).limit(1))
