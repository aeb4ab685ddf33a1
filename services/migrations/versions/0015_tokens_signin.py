"""auth: API tokens get a scope (read / full) and an expiry

Existing tokens keep the full scope they had and expire 90 days after this migration (the
default for new tokens): scripts keep working meanwhile, the account page shows the date, and no
token lives forever.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from services.db import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=16), nullable=False, server_default="full"))
        batch_op.add_column(sa.Column("expires_at", UTCDateTime(timezone=True), nullable=True))
    tokens = sa.table("api_tokens", sa.column("expires_at", UTCDateTime(timezone=True)))
    op.execute(tokens.update().values(expires_at=datetime.now(UTC) + timedelta(days=90)))
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column("scope", server_default=None)
        batch_op.alter_column("expires_at", existing_type=UTCDateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
        batch_op.drop_column("scope")
