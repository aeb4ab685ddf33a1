"""audit: each entry keeps the exact bytes its hash was made over (`canonical`)

Verification then hashes stored bytes instead of re-encoding every entry, and proves in the
database that the readable columns agree with them. Existing entries get the canonical form
their hashes were computed over (services.audit.chain.canonical_entry as of this revision,
frozen here), so existing chains still verify; an entry already altered keeps failing.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-02
"""

import json
from datetime import UTC

import sqlalchemy as sa
from alembic import op

from services.db import UTCDateTime

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

HASHED_FIELDS = ("seq", "at", "actor_id", "actor_name", "organization_id", "action", "object_type", "object_id", "details", "ip")
BATCH = 5000


def _canonical(row) -> bytes:
    payload = {name: getattr(row, name) for name in HASHED_FIELDS}
    payload["at"] = row.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload["prev_hash"] = row.prev_hash
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def upgrade() -> None:
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("canonical", sa.LargeBinary(), nullable=True))
    entries = sa.table(
        "audit_entries",
        *(sa.column(name) for name in HASHED_FIELDS if name != "at"),
        sa.column("at", UTCDateTime(timezone=True)),
        sa.column("prev_hash"),
        sa.column("canonical", sa.LargeBinary()),
    )
    bind = op.get_bind()
    update = sa.update(entries).where(entries.c.seq == sa.bindparam("b_seq")).values(canonical=sa.bindparam("b_canonical"))
    after = 0
    while rows := bind.execute(sa.select(entries).where(entries.c.seq > after).order_by(entries.c.seq).limit(BATCH)).all():
        bind.execute(update, [{"b_seq": row.seq, "b_canonical": _canonical(row)} for row in rows])
        after = rows[-1].seq
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.alter_column("canonical", existing_type=sa.LargeBinary(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_column("canonical")
