"""recipient_language: users.language and notifications.message (msgid + parameters)

Notifications and e-mails are rendered in the recipient's language. Existing people get
Vietnamese; existing notifications keep their stored Vietnamese title and body (message NULL).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), server_default="vi", nullable=False))
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("message", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("message")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")
