"""exchange_messages: edXML packages and statuses queued for partners' drop folders

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

import services.db

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("partner", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("destination", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_exchange_messages"),
        sa.UniqueConstraint("kind", "document_id", "partner", "code", name="uq_exchange_messages_kind_document_id_partner_code"),
    )


def downgrade() -> None:
    op.drop_table("exchange_messages")
