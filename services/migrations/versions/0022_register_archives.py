"""register_archives: the archived, time-stamped book of each register of a closed year

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

import services.db

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "register_archives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("series", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("archived_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("archived_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name="fk_register_archives_organization_id_organizations"),
        sa.ForeignKeyConstraint(["archived_by_id"], ["users.id"], name="fk_register_archives_archived_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_register_archives"),
        sa.UniqueConstraint("organization_id", "kind", "series", "year", name="uq_register_archives_organization_id_kind_series_year"),
    )
    op.create_index("ix_register_archives_organization_id", "register_archives", ["organization_id"])


def downgrade() -> None:
    op.drop_index("ix_register_archives_organization_id", table_name="register_archives")
    op.drop_table("register_archives")
