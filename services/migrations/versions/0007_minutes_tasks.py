"""minutes and tasks: minutes (biên bản) with revisions, tracked tasks with their history

Revision ID: 0007
Revises: 0002
Depends on: 0005 (meetings)
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import services.db

revision = "0007"
down_revision = "0002"
branch_labels = None
depends_on = "0005"


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("source_item_id", sa.Integer(), nullable=True),
        sa.Column("source_label", sa.String(length=500), nullable=False),
        sa.Column("source_link", sa.String(length=255), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_kind", sa.Enum("user", "unit", "organization", name="ownerkind", native_enum=False, length=16), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("owner_unit_id", sa.Integer(), nullable=True),
        sa.Column("owner_org_id", sa.Integer(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("waiting", "in_progress", "done", "cancelled", name="taskstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("reminded_for", sa.Date(), nullable=True),
        sa.Column("overdue_for", sa.Date(), nullable=True),
        sa.Column("escalated_for", sa.Date(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_tasks_created_by_users")),
        sa.ForeignKeyConstraint(["done_by"], ["users.id"], name=op.f("fk_tasks_done_by_users")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name=op.f("fk_tasks_organization_id_organizations")),
        sa.ForeignKeyConstraint(["owner_org_id"], ["organizations.id"], name=op.f("fk_tasks_owner_org_id_organizations")),
        sa.ForeignKeyConstraint(["owner_unit_id"], ["units.id"], name=op.f("fk_tasks_owner_unit_id_units")),
        sa.ForeignKeyConstraint(["owner_user_id"], ["users.id"], name=op.f("fk_tasks_owner_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tasks_due_date"), ["due_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_owner_org_id"), ["owner_org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_owner_unit_id"), ["owner_unit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_owner_user_id"), ["owner_user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_source_id"), ["source_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_status"), ["status"], unique=False)

    op.create_table(
        "minutes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "rendering",
                "awaiting_secretary",
                "awaiting_chair",
                "returned",
                "signed",
                "distributed",
                name="minutesstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("updated_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("closed_revision", sa.Integer(), nullable=True),
        sa.Column("docx_sha", sa.String(length=64), nullable=True),
        sa.Column("pdf_sha", sa.String(length=64), nullable=True),
        sa.Column("secretary_pdf_sha", sa.String(length=64), nullable=True),
        sa.Column("secretary_signed_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("chair_pdf_sha", sa.String(length=64), nullable=True),
        sa.Column("chair_signed_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("final_pdf_sha", sa.String(length=64), nullable=True),
        sa.Column("secretary_due", sa.Date(), nullable=True),
        sa.Column("chair_due", sa.Date(), nullable=True),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("notation", sa.String(length=64), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("return_comment", sa.Text(), nullable=True),
        sa.Column("returned_by", sa.Integer(), nullable=True),
        sa.Column("verify_error", sa.Text(), nullable=True),
        sa.Column("validation", sa.Text(), nullable=True),
        sa.Column("distributed_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], name=op.f("fk_minutes_meeting_id_meetings"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name=op.f("fk_minutes_organization_id_organizations")),
        sa.ForeignKeyConstraint(["returned_by"], ["users.id"], name=op.f("fk_minutes_returned_by_users")),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], name=op.f("fk_minutes_updated_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_minutes")),
        sa.UniqueConstraint("meeting_id", name=op.f("uq_minutes_meeting_id")),
    )
    with op.batch_alter_table("minutes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_minutes_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_minutes_status"), ["status"], unique=False)

    op.create_table(
        "task_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_task_updates_task_id_tasks"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_task_updates_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_updates")),
    )
    with op.batch_alter_table("task_updates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_updates_task_id"), ["task_id"], unique=False)

    op.create_table(
        "minutes_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("minutes_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("base_number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("saved_by", sa.Integer(), nullable=True),
        sa.Column("saved_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["minutes_id"], ["minutes.id"], name=op.f("fk_minutes_revisions_minutes_id_minutes"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["saved_by"], ["users.id"], name=op.f("fk_minutes_revisions_saved_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_minutes_revisions")),
        sa.UniqueConstraint("minutes_id", "number", name=op.f("uq_minutes_revisions_minutes_id_number")),
    )
    with op.batch_alter_table("minutes_revisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_minutes_revisions_minutes_id"), ["minutes_id"], unique=False)

    # ### end Alembic commands ###


def downgrade() -> None:
    with op.batch_alter_table("minutes_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_minutes_revisions_minutes_id"))

    op.drop_table("minutes_revisions")
    with op.batch_alter_table("task_updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_updates_task_id"))

    op.drop_table("task_updates")
    with op.batch_alter_table("minutes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_minutes_status"))
        batch_op.drop_index(batch_op.f("ix_minutes_organization_id"))

    op.drop_table("minutes")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_status"))
        batch_op.drop_index(batch_op.f("ix_tasks_source_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_owner_user_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_owner_unit_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_owner_org_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_organization_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_due_date"))

    op.drop_table("tasks")
    # ### end Alembic commands ###
