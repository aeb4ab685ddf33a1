"""incoming documents and public holidays

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import services.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holidays",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holidays")),
        sa.UniqueConstraint("day", name=op.f("uq_holidays_day")),
    )
    op.create_table(
        "incoming_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("arrival_number", sa.Integer(), nullable=True),
        sa.Column("arrival_series", sa.String(length=16), nullable=False),
        sa.Column("arrival_year", sa.Integer(), nullable=True),
        sa.Column("arrival_date", sa.Date(), nullable=True),
        sa.Column("issuer_org_id", sa.Integer(), nullable=True),
        sa.Column("issuer_name", sa.String(length=255), nullable=False),
        sa.Column("number_notation", sa.String(length=64), nullable=False),
        sa.Column("document_date", sa.Date(), nullable=True),
        sa.Column("doc_type", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("secrecy", sa.String(length=16), nullable=False),
        sa.Column("doc_due_date", sa.Date(), nullable=True),
        sa.Column("receiving_unit_id", sa.Integer(), nullable=True),
        sa.Column("signer_name", sa.String(length=255), nullable=True),
        sa.Column("outgoing_ref", sa.String(length=128), nullable=True),
        sa.Column("sender_org_id", sa.Integer(), nullable=True),
        sa.Column("registered_by_id", sa.Integer(), nullable=True),
        sa.Column("registered_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("directed_by_id", sa.Integer(), nullable=True),
        sa.Column("directed_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("instruction", sa.Text(), nullable=True),
        sa.Column("lead_user_id", sa.Integer(), nullable=True),
        sa.Column("lead_unit_id", sa.Integer(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("started_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("returned_by_id", sa.Integer(), nullable=True),
        sa.Column("reminded_for", sa.Date(), nullable=True),
        sa.Column("overdue_for", sa.Date(), nullable=True),
        sa.Column("escalated_for", sa.Date(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["directed_by_id"], ["users.id"], name=op.f("fk_incoming_documents_directed_by_id_users")),
        sa.ForeignKeyConstraint(["issuer_org_id"], ["organizations.id"], name=op.f("fk_incoming_documents_issuer_org_id_organizations")),
        sa.ForeignKeyConstraint(["lead_unit_id"], ["units.id"], name=op.f("fk_incoming_documents_lead_unit_id_units")),
        sa.ForeignKeyConstraint(["lead_user_id"], ["users.id"], name=op.f("fk_incoming_documents_lead_user_id_users")),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_incoming_documents_organization_id_organizations")
        ),
        sa.ForeignKeyConstraint(["receiving_unit_id"], ["units.id"], name=op.f("fk_incoming_documents_receiving_unit_id_units")),
        sa.ForeignKeyConstraint(["registered_by_id"], ["users.id"], name=op.f("fk_incoming_documents_registered_by_id_users")),
        sa.ForeignKeyConstraint(["returned_by_id"], ["users.id"], name=op.f("fk_incoming_documents_returned_by_id_users")),
        sa.ForeignKeyConstraint(["sender_org_id"], ["organizations.id"], name=op.f("fk_incoming_documents_sender_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incoming_documents")),
        sa.UniqueConstraint("organization_id", "arrival_year", "arrival_series", "arrival_number", name="uq_incoming_documents_arrival"),
        sa.UniqueConstraint("organization_id", "outgoing_ref", name=op.f("uq_incoming_documents_organization_id_outgoing_ref")),
    )
    with op.batch_alter_table("incoming_documents", schema=None) as batch_op:
        batch_op.create_index("ix_incoming_documents_dup", ["organization_id", "number_notation", "document_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_incoming_documents_lead_user_id"), ["lead_user_id"], unique=False)
        batch_op.create_index("ix_incoming_documents_org_status", ["organization_id", "status"], unique=False)

    op.create_table(
        "incoming_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_incoming_assignments_created_by_id_users")),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["incoming_documents.id"],
            name=op.f("fk_incoming_assignments_document_id_incoming_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_incoming_assignments_unit_id_units")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_incoming_assignments_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incoming_assignments")),
    )
    with op.batch_alter_table("incoming_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incoming_assignments_document_id"), ["document_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incoming_assignments_user_id"), ["user_id"], unique=False)

    op.create_table(
        "incoming_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_main", sa.Boolean(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("validation", sa.Text(), nullable=True),
        sa.Column("signatures_ok", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"], ["incoming_documents.id"], name=op.f("fk_incoming_files_document_id_incoming_documents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incoming_files")),
    )
    with op.batch_alter_table("incoming_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incoming_files_document_id"), ["document_id"], unique=False)

    op.create_table(
        "incoming_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=255), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_incoming_notes_author_id_users")),
        sa.ForeignKeyConstraint(
            ["document_id"], ["incoming_documents.id"], name=op.f("fk_incoming_notes_document_id_incoming_documents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incoming_notes")),
    )
    with op.batch_alter_table("incoming_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incoming_notes_document_id"), ["document_id"], unique=False)

    op.create_table(
        "incoming_sender_statuses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("outgoing_ref", sa.String(length=128), nullable=False),
        sa.Column("sender_org_id", sa.Integer(), nullable=False),
        sa.Column("recipient_org_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["incoming_documents.id"],
            name=op.f("fk_incoming_sender_statuses_document_id_incoming_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_org_id"], ["organizations.id"], name=op.f("fk_incoming_sender_statuses_recipient_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["sender_org_id"], ["organizations.id"], name=op.f("fk_incoming_sender_statuses_sender_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incoming_sender_statuses")),
        sa.UniqueConstraint("document_id", "code", name=op.f("uq_incoming_sender_statuses_document_id_code")),
    )
    with op.batch_alter_table("incoming_sender_statuses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incoming_sender_statuses_outgoing_ref"), ["outgoing_ref"], unique=False)

    # Public holidays: the defaults come from the `holidays` package at run time (services.calendar);
    # this table keeps only the years an administrator has edited (0016).


def downgrade() -> None:
    with op.batch_alter_table("incoming_sender_statuses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incoming_sender_statuses_outgoing_ref"))

    op.drop_table("incoming_sender_statuses")
    with op.batch_alter_table("incoming_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incoming_notes_document_id"))

    op.drop_table("incoming_notes")
    with op.batch_alter_table("incoming_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incoming_files_document_id"))

    op.drop_table("incoming_files")
    with op.batch_alter_table("incoming_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incoming_assignments_user_id"))
        batch_op.drop_index(batch_op.f("ix_incoming_assignments_document_id"))

    op.drop_table("incoming_assignments")
    with op.batch_alter_table("incoming_documents", schema=None) as batch_op:
        batch_op.drop_index("ix_incoming_documents_org_status")
        batch_op.drop_index(batch_op.f("ix_incoming_documents_lead_user_id"))
        batch_op.drop_index("ix_incoming_documents_dup")

    op.drop_table("incoming_documents")
    op.drop_table("holidays")
