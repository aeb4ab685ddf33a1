"""votes_attendance: the quorum at a vote's opening and the chair's override reason; leaving
times and substitutes (người dự thay) of meeting participants

The quorum base is the voting members invited by name: delegates named by an invited unit
attend for their site without a vote, so existing ones lose theirs.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

import services.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meeting_polls") as batch:
        batch.add_column(sa.Column("present_at_open", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("members_at_open", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("override_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("meeting_participants") as batch:
        batch.add_column(sa.Column("left_at", services.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("substitute_for_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("authorisation", sa.Text(), nullable=False, server_default=""))
        batch.create_foreign_key(
            op.f("fk_meeting_participants_substitute_for_id_meeting_participants"),
            "meeting_participants",
            ["substitute_for_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("meeting_participants") as batch:
        batch.alter_column("authorisation", server_default=None)
    op.execute("UPDATE meeting_participants SET voting = false WHERE unit_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("meeting_participants") as batch:
        batch.drop_constraint(op.f("fk_meeting_participants_substitute_for_id_meeting_participants"), type_="foreignkey")
        batch.drop_column("authorisation")
        batch.drop_column("left_at")
        batch.drop_column("substitute_for_id")
    with op.batch_alter_table("meeting_polls") as batch:
        batch.drop_column("override_reason")
        batch.drop_column("members_at_open")
        batch.drop_column("present_at_open")
