"""holiday_years: the years whose public holidays an administrator keeps in the table

Other years take Vietnam's statutory holidays from the `holidays` package (services.calendar).
Years that already have rows (the 2026–2027 list earlier versions inserted, and any the
administrator added) are kept as they are.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

import services.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holiday_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_holiday_years")),
    )
    bind = op.get_bind()
    years = sorted(
        {day.year if hasattr(day, "year") else int(str(day)[:4]) for (day,) in bind.execute(sa.text("SELECT day FROM holidays"))}
    )
    if years:
        table = sa.table("holiday_years", sa.column("year", sa.Integer()), sa.column("created_at", services.db.UTCDateTime(timezone=True)))
        op.bulk_insert(table, [{"year": y, "created_at": services.db.utcnow()} for y in years])


def downgrade() -> None:
    op.drop_table("holiday_years")
