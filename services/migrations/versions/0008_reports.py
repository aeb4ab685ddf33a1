"""reports: report requests, their figures, targets and submissions

Revision ID: 0008
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import services.db

revision = "0008"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("notation", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("template_filename", sa.String(length=255), nullable=True),
        sa.Column("template_content_type", sa.String(length=128), nullable=True),
        sa.Column("template_sha256", sa.String(length=64), nullable=True),
        sa.Column("letter_sha256", sa.String(length=64), nullable=True),
        sa.Column("deadline", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("requires_approval", sa.Boolean(), nullable=False),
        sa.Column("scope_label", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("target_count", sa.Integer(), nullable=False),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["closed_by_id"], ["users.id"], name=op.f("fk_report_requests_closed_by_id_users")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_report_requests_created_by_id_users")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name=op.f("fk_report_requests_organization_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_requests")),
    )
    with op.batch_alter_table("report_requests", schema=None) as batch_op:
        batch_op.create_index("ix_report_requests_org_status", ["organization_id", "status"], unique=False)

    op.create_table(
        "report_fields",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["report_requests.id"], name=op.f("fk_report_fields_request_id_report_requests"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_fields")),
        sa.UniqueConstraint("request_id", "position", name=op.f("uq_report_fields_request_id_position")),
    )
    with op.batch_alter_table("report_fields", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_fields_request_id"), ["request_id"], unique=False)

    op.create_table(
        "report_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("deadline", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("incoming_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("delivered_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_submitted_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("reminded_for", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("overdue_for", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("escalated_for", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], name=op.f("fk_report_targets_assignee_id_users")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name=op.f("fk_report_targets_organization_id_organizations")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["report_requests.id"], name=op.f("fk_report_targets_request_id_report_requests"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_targets")),
        sa.UniqueConstraint("request_id", "organization_id", name=op.f("uq_report_targets_request_id_organization_id")),
    )
    with op.batch_alter_table("report_targets", schema=None) as batch_op:
        batch_op.create_index("ix_report_targets_org_status", ["organization_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_targets_request_id"), ["request_id"], unique=False)

    op.create_table(
        "report_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("content_type", sa.String(length=128), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("submitted_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_report_submissions_created_by_id_users")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_report_submissions_decided_by_id_users")),
        sa.ForeignKeyConstraint(
            ["target_id"], ["report_targets.id"], name=op.f("fk_report_submissions_target_id_report_targets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_submissions")),
        sa.UniqueConstraint("target_id", "version", name=op.f("uq_report_submissions_target_id_version")),
    )
    with op.batch_alter_table("report_submissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_submissions_target_id"), ["target_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_submissions_target_id"))

    op.drop_table("report_submissions")
    with op.batch_alter_table("report_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_targets_request_id"))
        batch_op.drop_index("ix_report_targets_org_status")

    op.drop_table("report_targets")
    with op.batch_alter_table("report_fields", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_fields_request_id"))

    op.drop_table("report_fields")
    with op.batch_alter_table("report_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_report_requests_org_status")

    op.drop_table("report_requests")
