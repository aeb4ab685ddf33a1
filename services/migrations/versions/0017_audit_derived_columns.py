"""audit: the readable columns of an entry are computed from its hashed bytes

Every column of `audit_entries` but `seq`, `entry_hash` and `canonical` becomes a generated
column over `canonical`: VIRTUAL on SQLite, STORED on PostgreSQL (through two IMMUTABLE SQL
functions). They can then no longer disagree with what the hash covers, and verification no
longer rebuilds every entry's JSON to prove that they agree (issue 11: verify at ≤ 2× a bare
hashlib loop). Expressions frozen here; services.audit.models holds the same text.

Before changing anything, the upgrade proves the existing columns agree with the bytes: an
entry whose column was edited would otherwise be silently "healed" (the hashed value would
replace the edited one and the evidence would be gone). It stops and names such entries.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import json
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from alembic import op

from services.db import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

DERIVED = ("at", "actor_id", "actor_name", "organization_id", "action", "object_type", "object_id", "details", "ip", "prev_hash")
TYPES: dict[str, tuple[Any, bool]] = {
    "at": (UTCDateTime(timezone=True), False),
    "actor_id": (sa.Integer(), True),
    "actor_name": (sa.String(length=255), True),
    "organization_id": (sa.Integer(), True),
    "action": (sa.String(length=64), False),
    "object_type": (sa.String(length=64), True),
    "object_id": (sa.String(length=64), True),
    "details": (sa.Text(), False),
    "ip": (sa.String(length=64), True),
    "prev_hash": (sa.String(length=64), False),
}
INDEXES = (
    ("ix_audit_entries_action", ["action"]),
    ("ix_audit_entries_actor_id", ["actor_id"]),
    ("ix_audit_entries_at", ["at"]),
    ("ix_audit_entries_object", ["object_type", "object_id"]),
    ("ix_audit_entries_organization_id", ["organization_id"]),
)
FOREIGN_KEYS = (
    ("fk_audit_entries_actor_id_users", "actor_id", "users"),
    ("fk_audit_entries_organization_id_organizations", "organization_id", "organizations"),
)

SQLITE_JSON = "CAST(canonical AS TEXT)"
SQLITE_EXPRESSIONS = {
    "at": f"replace(rtrim(json_extract({SQLITE_JSON}, '$.at'), 'Z'), 'T', ' ')",
    **{name: f"json_extract({SQLITE_JSON}, '$.{name}')" for name in DERIVED if name != "at"},
}
PG_FUNCTIONS = {
    "lienthong_audit_field(canonical bytea, name text)": ("text", "SELECT convert_from(canonical, 'UTF8')::jsonb ->> name"),
    "lienthong_audit_time(value text)": ("timestamptz", "SELECT value::timestamptz"),
}
PG_EXPRESSIONS = {
    "at": "lienthong_audit_time(lienthong_audit_field(canonical, 'at'))",
    "actor_id": "(lienthong_audit_field(canonical, 'actor_id'))::integer",
    "organization_id": "(lienthong_audit_field(canonical, 'organization_id'))::integer",
    **{
        name: f"lienthong_audit_field(canonical, '{name}')"
        for name in ("actor_name", "action", "object_type", "object_id", "details", "ip", "prev_hash")
    },
}
BATCH = 5000


def _disagreeing(bind: Any) -> list[int]:
    """Entries whose readable columns say something else than their canonical bytes."""
    entries = sa.table(
        "audit_entries",
        sa.column("seq"),
        sa.column("canonical", sa.LargeBinary()),
        sa.column("at", UTCDateTime(timezone=True)),
        *(sa.column(n) for n in DERIVED if n != "at"),
    )
    found, after = [], 0
    while rows := bind.execute(sa.select(entries).where(entries.c.seq > after).order_by(entries.c.seq).limit(BATCH)).all():
        for row in rows:
            try:
                hashed = json.loads(row.canonical)
            except (TypeError, ValueError):
                found.append(row.seq)
                continue
            ours = {name: getattr(row, name) for name in (*DERIVED, "seq")}
            ours["at"] = row.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if not isinstance(hashed, dict) or any(hashed.get(k, ...) != v for k, v in ours.items()):
                found.append(row.seq)
        after = rows[-1].seq
    return found


def upgrade() -> None:
    bind = op.get_bind()
    if disagreeing := _disagreeing(bind):
        raise RuntimeError(
            f"audit entries {', '.join(map(str, disagreeing[:20]))}{' …' if len(disagreeing) > 20 else ''} have "
            "readable columns that no longer match their hashed bytes (changed after they were written?). "
            "Run `lienthong audit verify` with the previous version and investigate before migrating: this "
            "migration would replace those columns by the hashed values."
        )
    if bind.dialect.name == "postgresql":
        for signature, (returns, body) in PG_FUNCTIONS.items():
            op.execute(f"CREATE FUNCTION {signature} RETURNS {returns} LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $${body}$$")
        # In place: dropping a column drops its indexes and foreign keys; the table is rewritten once.
        op.execute(
            "ALTER TABLE audit_entries "
            + ", ".join(
                [f"DROP COLUMN {name}" for name in DERIVED]
                + [
                    f"ADD COLUMN {name} {sa.types.to_instance(TYPES[name][0]).compile(dialect=bind.dialect)} "
                    f"GENERATED ALWAYS AS ({PG_EXPRESSIONS[name]}) STORED{'' if TYPES[name][1] else ' NOT NULL'}"
                    for name in DERIVED
                ]
            )
        )
        for name, column, target in FOREIGN_KEYS:
            op.create_foreign_key(name, "audit_entries", target, [column], ["id"])
        for name, columns in INDEXES:
            op.create_index(name, "audit_entries", columns)
        return
    # SQLite cannot add a generated column that reads existing rows in place: a new table, the
    # hashed bytes copied into it, then swapped in (what batch mode does, minus its column copy).
    op.create_table(
        "audit_entries_new",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        *(
            sa.Column(name, type_, sa.Computed(SQLITE_EXPRESSIONS[name], persisted=False), nullable=nullable)
            for name, (type_, nullable) in TYPES.items()
        ),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("canonical", sa.LargeBinary(), nullable=False),
        *(sa.ForeignKeyConstraint([column], [f"{target}.id"], name=name) for name, column, target in FOREIGN_KEYS),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_entries"),
    )
    op.execute(
        "INSERT INTO audit_entries_new (seq, entry_hash, canonical) SELECT seq, entry_hash, canonical FROM audit_entries ORDER BY seq"
    )
    op.drop_table("audit_entries")
    op.rename_table("audit_entries_new", "audit_entries")
    for name, columns in INDEXES:
        op.create_index(name, "audit_entries", columns)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_entries " + ", ".join(f"ALTER COLUMN {name} DROP EXPRESSION" for name in DERIVED))
        for signature in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION {signature.split('(')[0]}")
        return
    op.create_table(
        "audit_entries_old",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        *(sa.Column(name, type_, nullable=nullable) for name, (type_, nullable) in TYPES.items()),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("canonical", sa.LargeBinary(), nullable=False),
        *(sa.ForeignKeyConstraint([column], [f"{target}.id"], name=name) for name, column, target in FOREIGN_KEYS),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_entries"),
    )
    columns = ", ".join(("seq", *DERIVED, "entry_hash", "canonical"))
    op.execute(f"INSERT INTO audit_entries_old ({columns}) SELECT {columns} FROM audit_entries ORDER BY seq")
    op.drop_table("audit_entries")
    op.rename_table("audit_entries_old", "audit_entries")
    for name, columns_ in INDEXES:
        op.create_index(name, "audit_entries", columns_)
