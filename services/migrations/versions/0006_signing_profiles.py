"""signing profiles: signature and seal images, per-organisation PAdES level

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import services.db

revision = "0006"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("image_sha256", sa.String(length=64), nullable=True),
        sa.Column("pades_level", sa.String(length=8), nullable=True),
        sa.Column("updated_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name=op.f("fk_signing_profiles_organization_id_organizations")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_signing_profiles_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_profiles")),
        sa.UniqueConstraint("organization_id", name=op.f("uq_signing_profiles_organization_id")),
        sa.UniqueConstraint("user_id", name=op.f("uq_signing_profiles_user_id")),
    )


def downgrade() -> None:
    op.drop_table("signing_profiles")
