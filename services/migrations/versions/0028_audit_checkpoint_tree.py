"""Audit checkpoints record their Merkle tree format: 1 for those signed so far, 2 from now on

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every checkpoint signed before this revision used the binary tree (1); the signatures of
    # tree 2 cover the format, those of tree 1 do not, so the default names the old ones exactly.
    op.add_column("audit_checkpoints", sa.Column("tree", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.drop_column("tree")
