"""incoming_tallies: the statistics' daily roll-up of finished incoming documents, and each
document's share of it (tally_*), filled from the documents already finished

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from services.incoming.tally import rebuild

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incoming_tallies",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.Column("late", sa.Integer(), nullable=False),
        sa.Column("days_total", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name="fk_incoming_tallies_organization_id_organizations"),
        sa.PrimaryKeyConstraint("organization_id", "day", "unit_id", name="pk_incoming_tallies"),
    )
    op.add_column("incoming_documents", sa.Column("tally_day", sa.Date(), nullable=True))
    op.add_column("incoming_documents", sa.Column("tally_unit", sa.Integer(), nullable=True))
    op.add_column("incoming_documents", sa.Column("tally_late", sa.Boolean(), nullable=True))
    op.add_column("incoming_documents", sa.Column("tally_days", sa.Float(), nullable=True))
    for statement in rebuild():
        op.execute(statement)
    op.create_index(
        "ix_incoming_documents_untallied",
        "incoming_documents",
        ["organization_id", "arrival_date"],
        postgresql_where=sa.text("tally_day IS NULL"),
        sqlite_where=sa.text("tally_day IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_incoming_documents_untallied", table_name="incoming_documents")
    for column in ("tally_days", "tally_late", "tally_unit", "tally_day"):
        op.drop_column("incoming_documents", column)
    op.drop_table("incoming_tallies")
