"""outbox: commands for Temporal written with the change they follow; the deployment prefix

Revision ID: 0010
Revises: 0002
Create Date: 2026-12-02
"""

import uuid

import sqlalchemy as sa
from alembic import op

from services.db import UTCDateTime

revision = "0010"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("signal", sa.String(length=64), nullable=True),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index("ix_outbox_pending", "outbox", ["delivered_at", "due_at"])
    deployment = op.create_table(
        "deployment",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("workflow_prefix", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment")),
    )
    op.bulk_insert(deployment, [{"id": 1, "workflow_prefix": uuid.uuid4().hex[:8] + "-"}])


def downgrade() -> None:
    op.drop_table("deployment")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")
