"""register_print_parts: the converted parts of a print under way, so that a print tried again
(a lost worker, LibreOffice killed) converts only the parts not done yet

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "register_print_parts",
        sa.Column("print_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["print_id"], ["register_prints.id"], name="fk_register_print_parts_print_id_register_prints"),
        sa.PrimaryKeyConstraint("print_id", "position", name="pk_register_print_parts"),
    )


def downgrade() -> None:
    op.drop_table("register_print_parts")
