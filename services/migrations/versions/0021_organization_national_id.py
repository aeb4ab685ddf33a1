"""organization_national_id: organizations.national_id (mã định danh điện tử)

The electronic identifier of Decision 20/2020/QĐ-TTg (``000.00.31.H08``): edXML packages name
senders and recipients by it. Optional and unique; existing organisations have none until an
administrator enters it (packages then fall back to the internal code).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("national_id", sa.String(length=32), nullable=True))
        batch.create_unique_constraint("uq_organizations_national_id", ["national_id"])


def downgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.drop_constraint("uq_organizations_national_id", type_="unique")
        batch.drop_column("national_id")
