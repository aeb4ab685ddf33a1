"""register_prints: register books printed (or archived) in the background, with their progress

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

import services.db

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "register_prints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("series", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("parts_done", sa.Integer(), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name="fk_register_prints_organization_id_organizations"),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"], name="fk_register_prints_requested_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_register_prints"),
    )
    op.create_index("ix_register_prints_register", "register_prints", ["organization_id", "kind", "series", "year", "purpose"])
    open_runs = sa.text("status IN ('queued', 'running')")
    op.create_index(
        "uq_register_prints_open",
        "register_prints",
        ["organization_id", "kind", "series", "year", "purpose"],
        unique=True,
        sqlite_where=open_runs,
        postgresql_where=open_runs,
    )


def downgrade() -> None:
    op.drop_index("uq_register_prints_open", table_name="register_prints")
    op.drop_index("ix_register_prints_register", table_name="register_prints")
    op.drop_table("register_prints")
