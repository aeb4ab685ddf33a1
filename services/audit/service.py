"""Appending to, querying, exporting and verifying the audit trail.

`record` is the one way anything writes an audit entry; it runs inside the caller's
transaction so the change and its entry commit together or not at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, false, func, insert, inspect, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services import appends
from services.audit import chain, keys, models
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
) -> None:
    """Append one entry to the chain with the caller's transaction: it is written, linked to the
    entry committed just before it, when the transaction commits (services/appends.py)."""
    fields = {
        "actor_id": actor.user_id,
        "actor_name": actor.name,
        "organization_id": organization_id if organization_id is not None else actor.organization_id,
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "details": chain.canonical_json(details or {}),
        "ip": actor.ip,
    }
    await appends.append(session, "audit", fields)


_HEAD = cast(Table, AuditHead.__table__)
_ENTRIES = cast(Table, AuditEntry.__table__)
# Built once: these run in every commit that audits.
_TAKE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + bindparam("n")).returning(_HEAD.c.seq, _HEAD.c.entry_hash)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(entry_hash=bindparam("digest"))
_INSERT_ENTRIES = insert(_ENTRIES)


@appends.writer("audit")
def _write_entries(session: Session, entries: list[dict[str, Any]]) -> None:
    """The transaction's entries at its commit. Updating the head takes its row's lock, so
    concurrent commits queue here and each one links to the entry committed just before it:
    the chain cannot fork. Every entry of one commit has the commit's instant."""
    row = session.execute(_TAKE_HEAD, {"n": len(entries)}).one_or_none()
    if row is None:
        raise RuntimeError("the audit head row is missing: run `lienthong migrate`")
    last, digest = row
    at = utcnow()
    rows = []
    for seq, fields in enumerate(entries, start=last - len(entries) + 1):
        canonical = chain.canonical_entry({**fields, "seq": seq, "at": at}, digest)
        digest = hashlib.sha256(canonical).hexdigest()
        # Only the hashed bytes are written: the database computes every readable column from them.
        rows.append({"seq": seq, "canonical": canonical, "entry_hash": digest})
    session.execute(_INSERT_ENTRIES, rows)
    session.execute(_MOVE_HEAD, {"digest": digest})


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
        "tree": checkpoint.tree,
        "created_at": chain.canonical_time(checkpoint.created_at),
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
    }


async def _iter_entries(session: AsyncSession, batch: int = 2000) -> AsyncIterator[AuditEntry]:
    last = 0
    while True:
        rows = (await session.scalars(select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch))).all()
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
    hashes = (await session.scalars(select(AuditEntry.entry_hash).where(AuditEntry.seq >= first).order_by(AuditEntry.seq))).all()
    if not hashes:
        return None
    private = keys.signing_key(data_dir, first_checkpoint=last_cp is None)
    created_at = utcnow()
    tree = chain.CHECKPOINT_TREE
    root = chain.merkle_root(hashes, tree=tree)
    last = first + len(hashes) - 1
    message = chain.checkpoint_message(
        first_seq=first, last_seq=last, merkle_root=root, created_at=chain.canonical_time(created_at), tree=tree
    )
    checkpoint = AuditCheckpoint(
        first_seq=first,
        last_seq=last,
        merkle_root=root,
        tree=tree,
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


# One batch of entries for verification, read in one statement: their stored canonical bytes
# joined by newlines and their entry hashes concatenated (with a count of those of the right
# length, so that concatenation cannot hide a shifted boundary). Python hashes each entry once,
# and reads each entry's link and sequence number from the tail of its bytes
# (`chain.ChainVerifier.add_canonical_batch`). The readable columns need no per-entry check:
# the database computes them from these bytes (services.audit.models; `check_schema` proves
# that it still does).
# The aggregates take the rows in the subquery's order (PostgreSQL documents this as what
# usually happens; an ORDER BY inside them would sort every batch, on disk past work_mem). Were
# a batch ever joined in another order, its hashes would not line up and it would go through
# the row-by-row check: slower, never wrong.
_BATCH_SQL = {
    "sqlite": text(
        """
        SELECT count(*), min(seq), max(seq), CAST(group_concat(canonical, char(10)) AS BLOB),
               group_concat(entry_hash, ''), sum(length(entry_hash) = 64)
        FROM (SELECT seq, entry_hash, canonical FROM audit_entries WHERE seq > :after ORDER BY seq LIMIT :limit)
        """
    ),
    "postgresql": text(
        """
        SELECT count(*), min(seq), max(seq), string_agg(canonical, '\\x0a'::bytea),
               string_agg(entry_hash, ''), count(*) FILTER (WHERE length(entry_hash) = 64)
        FROM (SELECT seq, entry_hash, canonical FROM audit_entries WHERE seq > :after ORDER BY seq LIMIT :limit) AS batch
        """
    ),
}
VERIFY_BATCH = 20_000


@dataclass
class VerifyProgress:
    """Where a running verification is; `on_batch` receives it after every batch."""

    entries_checked: int
    last_seq: int


def _check_columns(result: chain.VerifyResult, row: Any) -> None:
    """Fail unless the entry's readable columns say what its canonical bytes say."""
    if row.canonical is None:
        return  # the chain check reports the missing bytes
    field_name = chain.disagreeing_field(row.canonical, entry_dict(row))
    if field_name == "canonical":
        result.fail(row.seq, f"entry {row.seq}: the bytes its hash was made over are not a well-formed entry")
    elif field_name is not None:
        result.fail(
            row.seq, f"entry {row.seq}: its {field_name} was changed after it was written (the column no longer matches the hashed record)"
        )


def _normalized(expression: str) -> str:
    """An expression as compared with the catalog's: without spaces, brackets, quotes or ::text
    (PostgreSQL prints `f(canonical, 'x'::text)` for `f(canonical, 'x')`)."""
    return "".join(expression.lower().replace("::text", "").replace("(", "").replace(")", "").replace('"', "").split())


async def check_schema(session: AsyncSession) -> list[str]:
    """The readable columns of audit entries that are no longer computed from the hashed bytes
    by the expressions of services.audit.models (problems as sentences; empty when all are).

    One look at the catalog instead of a check per entry: a column that is still generated by
    the right expression cannot disagree with the bytes. On PostgreSQL the two functions the
    expressions call must also still have their bodies."""
    connection = await session.connection()
    dialect = connection.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        return []
    expected = models.SQLITE_EXPRESSIONS if dialect == "sqlite" else models.PG_EXPRESSIONS
    columns = await connection.run_sync(lambda sync: {c["name"]: c for c in inspect(sync).get_columns("audit_entries")})
    problems = []
    for name in models.DERIVED_COLUMNS:
        computed = columns[name].get("computed") if name in columns else None
        # VIRTUAL on SQLite: a stored copy could be edited behind a restored schema.
        persisted_ok = computed is not None and bool(computed.get("persisted")) == (dialect == "postgresql")
        if not persisted_ok or _normalized(str(computed["sqltext"])) != _normalized(expected[name]):  # type: ignore[index]
            problems.append(f"the {name} column of audit entries is no longer computed from the hashed bytes")
    if dialect == "postgresql":
        for signature, (_returns, body) in models.PG_FUNCTIONS.items():
            name = signature.split("(")[0]
            found = (
                await session.execute(
                    text("SELECT prosrc, provolatile::text AS provolatile FROM pg_proc WHERE proname = :name"), {"name": name}
                )
            ).all()
            if [(row.prosrc.strip(), row.provolatile) for row in found] != [(body, "i")]:
                problems.append(f"the function {name}, which computes audit columns from the hashed bytes, was changed")
    return problems


async def verify_database(
    session: AsyncSession,
    *,
    data_dir: Path,
    batch: int = VERIFY_BATCH,
    on_batch: Callable[[VerifyProgress], Awaitable[None]] | None = None,
) -> chain.VerifyResult:
    """Recompute the whole chain and every checkpoint from the database.

    Streams the entries' stored canonical bytes in batches of `batch` and hashes each once.
    The readable columns are computed from those bytes by the database; one catalog check
    proves they still are (if not, every entry's columns are compared with its bytes, to name
    the entries). Keeps nothing per entry, so memory does not grow with the trail. Run it in
    `Database.read()`: a snapshot that blocks no writer. `on_batch` must not use the session:
    the next batch is being read meanwhile.
    """
    checkpoints = [
        checkpoint_dict(row)  # type: ignore[arg-type]  # the row has the model's attributes
        for row in await session.execute(select(*AuditCheckpoint.__table__.c).order_by(AuditCheckpoint.last_seq))
    ]
    verifier = chain.ChainVerifier(checkpoints, public_keys=keys.known_public_keys(data_dir))
    result = verifier.result
    entries = AuditEntry.__table__
    batch_sql = _BATCH_SQL.get((await session.connection()).dialect.name)
    schema_problems = await check_schema(session)
    for problem in schema_problems:
        result.fail(None, problem)
    every_row = bool(schema_problems) or batch_sql is None  # compare each entry's columns with its bytes

    async def one_by_one(after: int, last: int | None) -> list[Any]:
        """Rows after..last read by SQLAlchemy (Python values), to name exactly what is wrong."""
        query = select(*entries.c).where(entries.c.seq > after).order_by(entries.c.seq)
        if last is not None:
            query = query.where(entries.c.seq <= last)
        return list((await session.execute(query.limit(batch) if last is None else query)).all())

    if batch_sql is None:  # another backend: every entry through Python
        after = 0
        while rows := await one_by_one(after, None):
            for row in rows:
                verifier.add_stored(seq=row.seq, canonical=row.canonical, prev_hash=row.prev_hash, entry_hash=row.entry_hash)
                _check_columns(result, row)
            after = rows[-1].seq
            if on_batch is not None:
                await on_batch(VerifyProgress(entries_checked=result.entries_checked, last_seq=after))
    else:

        def fetch(after: int) -> asyncio.Future[Any]:
            return asyncio.ensure_future(session.execute(batch_sql, {"after": after, "limit": batch}))

        after = 0
        pending = fetch(after)
        try:
            while True:
                count, first, last, canonical, entry_hashes, well_formed = (await pending).one()
                if not count:
                    break
                # The database reads the next batch, in its own thread on SQLite, its own process
                # on PostgreSQL, while this one is hashed here.
                pending = fetch(last)
                await asyncio.sleep(0.001)  # long enough for the driver to hand the statement over (aiosqlite: a cursor first)
                fast = (
                    well_formed == count
                    and canonical is not None
                    and verifier.add_canonical_batch(
                        first_seq=first,
                        last_seq=last,
                        count=count,
                        canonical=bytes(canonical),
                        entry_hashes=entry_hashes or "",
                    )
                )
                del canonical, entry_hashes
                if not fast or every_row:
                    await asyncio.wait({pending})  # one statement at a time on the session
                    for row in await one_by_one(after, last):
                        if not fast:  # name what is wrong with the chain
                            verifier.add_stored(seq=row.seq, canonical=row.canonical, prev_hash=row.prev_hash, entry_hash=row.entry_hash)
                        result.entries_rechecked += 1
                        _check_columns(result, row)
                after = last
                if on_batch is not None:
                    await on_batch(VerifyProgress(entries_checked=result.entries_checked, last_seq=after))
        finally:
            if not pending.done():  # cancelled or failed mid-batch: leave the session idle for the rollback
                await asyncio.wait({pending})
            if not pending.cancelled():
                pending.exception()  # retrieved, so an abandoned prefetch's error is not logged as lost
    head_row = (await session.execute(select(AuditHead.seq, AuditHead.entry_hash).where(AuditHead.id == 1))).one_or_none()
    head = {"seq": head_row.seq, "entry_hash": head_row.entry_hash} if head_row else None
    return verifier.finish(head)


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
    objects: list[tuple[str, str]] | None = None  # (object_type, object_id): any of these


async def search(session: AsyncSession, *, filters: AuditFilter, before_seq: int | None = None, limit: int = 50) -> list[AuditEntry]:
    """Newest first, keyset-paginated by sequence number."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if filters.organization_ids is not None:
        query = query.where(AuditEntry.organization_id.in_(filters.organization_ids))
    if filters.object_type:
        query = query.where(AuditEntry.object_type == filters.object_type)
    if filters.object_id:
        query = query.where(AuditEntry.object_id == filters.object_id)
    if filters.objects is not None:
        by_type: dict[str, list[str]] = {}
        for object_type, object_id in filters.objects:
            by_type.setdefault(object_type, []).append(object_id)
        query = query.where(or_(false(), *(and_(AuditEntry.object_type == t, AuditEntry.object_id.in_(ids)) for t, ids in by_type.items())))
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
