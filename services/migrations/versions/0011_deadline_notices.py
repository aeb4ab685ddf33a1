"""deadlines: one table of deadline notices replaces the *_for columns of incoming documents,
tasks and report targets

Each non-null `reminded_for`/`overdue_for`/`escalated_for` becomes one row keyed by (object
kind, object id, step, due instant). A due date's instant is the end of that day in Vietnam
(00:00 +07:00 the next day), as services.deadlines.ladder.due_instant computes it; a report
target's deadline is its instant already.

It needs the three tables it changes, so it merges their branches (0007 tasks, 0008 reports,
0009 the tip of incoming) rather than branching off 0002 with `depends_on`: Alembic reads a
revision whose dependencies are several current heads as a merge of them, and then fails to
find 0002 among the heads.

Revision ID: 0011
Revises: 0007, 0008, 0009
Create Date: 2026-12-05
"""

from datetime import UTC, date, datetime, time, timedelta, timezone

import sqlalchemy as sa
from alembic import op

from services.db import UTCDateTime

revision = "0011"
down_revision = ("0007", "0008", "0009")
branch_labels = None
depends_on = None

VN = timezone(timedelta(hours=7))
STEPS = (("reminder", "reminded_for"), ("overdue", "overdue_for"), ("escalation", "escalated_for"))
# table, object kind, column type of the markers
SOURCES = (
    ("incoming_documents", "incoming", sa.Date()),
    ("tasks", "task", sa.Date()),
    ("report_targets", "report_target", UTCDateTime(timezone=True)),
)


def _due_at(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    assert isinstance(value, date)
    return datetime.combine(value + timedelta(days=1), time(0), tzinfo=VN).astimezone(UTC)


def _notices() -> sa.TableClause:
    return sa.table(
        "deadline_notices",
        sa.column("object_kind", sa.String()),
        sa.column("object_id", sa.Integer()),
        sa.column("step", sa.String()),
        sa.column("due_at", UTCDateTime(timezone=True)),
        sa.column("sent_at", UTCDateTime(timezone=True)),
    )


def upgrade() -> None:
    op.create_table(
        "deadline_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("object_kind", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_notices")),
        sa.UniqueConstraint(
            "object_kind", "object_id", "step", "due_at", name=op.f("uq_deadline_notices_object_kind_object_id_step_due_at")
        ),
    )
    bind = op.get_bind()
    now = datetime.now(UTC)  # when they were sent is not known: the migration's time
    for table_name, kind, type_ in SOURCES:
        table = sa.table(table_name, sa.column("id", sa.Integer()), *(sa.column(c, type_) for _, c in STEPS))
        rows = bind.execute(sa.select(table).where(sa.or_(*(table.c[c].is_not(None) for _, c in STEPS)))).all()
        moved = [
            {"object_kind": kind, "object_id": row.id, "step": step, "due_at": _due_at(getattr(row, column)), "sent_at": now}
            for row in rows
            for step, column in STEPS
            if getattr(row, column) is not None
        ]
        if moved:
            op.bulk_insert(_notices(), moved)
        with op.batch_alter_table(table_name) as batch:
            for _, column in STEPS:
                batch.drop_column(column)


def downgrade() -> None:
    bind = op.get_bind()
    notices = _notices()
    for table_name, kind, type_ in SOURCES:
        with op.batch_alter_table(table_name) as batch:
            for _, column in STEPS:
                batch.add_column(sa.Column(column, type_, nullable=True))
        table = sa.table(table_name, sa.column("id", sa.Integer()), *(sa.column(c, type_) for _, c in STEPS))
        rows = bind.execute(
            sa.select(notices.c.object_id, notices.c.step, notices.c.due_at).where(notices.c.object_kind == kind).order_by(notices.c.due_at)
        ).all()
        for object_id, step, due_at in rows:  # the latest due instant wins, as the columns held one
            value = due_at if isinstance(type_, UTCDateTime) else (due_at.astimezone(VN) - timedelta(days=1)).date()
            bind.execute(sa.update(table).where(table.c.id == object_id).values({dict(STEPS)[step]: value}))
    op.drop_table("deadline_notices")
