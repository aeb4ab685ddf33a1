"""report_requests.letter_outgoing_id: the request letter is an outgoing document; number and
notation come from the outgoing register once it is issued (empty until then)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("letter_outgoing_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_report_requests_letter_outgoing_id"), ["letter_outgoing_id"], unique=True)
        batch_op.alter_column("number", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("notation", existing_type=sa.String(length=64), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("report_requests", schema=None) as batch_op:
        batch_op.alter_column("notation", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("number", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index(batch_op.f("ix_report_requests_letter_outgoing_id"))
        batch_op.drop_column("letter_outgoing_id")
