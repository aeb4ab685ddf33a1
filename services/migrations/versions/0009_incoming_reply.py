"""incoming: the outgoing document that replies to an incoming one

Revision ID: 0009
Revises: 0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0003"
branch_labels = None
depends_on = "0004"


def upgrade() -> None:
    # A plain integer like outgoing_recipients.incoming_id: SQLite cannot add a foreign key to an
    # existing table without rebuilding it, and the service checks the reference.
    with op.batch_alter_table("incoming_documents") as batch:
        batch.add_column(sa.Column("reply_outgoing_id", sa.Integer(), nullable=True))
        batch.create_index("ix_incoming_documents_reply_outgoing_id", ["reply_outgoing_id"])


def downgrade() -> None:
    with op.batch_alter_table("incoming_documents") as batch:
        batch.drop_index("ix_incoming_documents_reply_outgoing_id")
        batch.drop_column("reply_outgoing_id")
