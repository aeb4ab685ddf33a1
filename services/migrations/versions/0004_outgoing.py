"""outgoing documents: documents, versions, attachments, reviews, recipients

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import services.db

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outgoing_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("drafter_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("doc_type", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("external_recipients", sa.Text(), nullable=False),
        sa.Column("signer_id", sa.Integer(), nullable=False),
        sa.Column("authority_prefix", sa.String(length=8), nullable=True),
        sa.Column("authority_line", sa.String(length=128), nullable=True),
        sa.Column(
            "urgency", sa.Enum("normal", "urgent", "very_urgent", "flash", name="urgency", native_enum=False, length=24), nullable=False
        ),
        sa.Column(
            "secrecy", sa.Enum("normal", "secret", "top_secret", "absolute", name="secrecy", native_enum=False, length=24), nullable=False
        ),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "in_review",
                "returned",
                "awaiting_signature",
                "signed",
                "issued",
                "cancelled",
                "recalled",
                "replaced",
                name="status",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("review_round", sa.Integer(), nullable=False),
        sa.Column("review_mode", sa.Enum("sequential", "parallel", name="reviewmode", native_enum=False, length=24), nullable=False),
        sa.Column("prepared_pdf_sha", sa.String(length=64), nullable=True),
        sa.Column("prepared_version", sa.Integer(), nullable=True),
        sa.Column("leader_pdf_sha", sa.String(length=64), nullable=True),
        sa.Column("signed_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("signed_by_id", sa.Integer(), nullable=True),
        sa.Column("sign_method", sa.String(length=16), nullable=True),
        sa.Column("series", sa.String(length=32), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("notation", sa.String(length=64), nullable=True),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("issued_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("issued_by_id", sa.Integer(), nullable=True),
        sa.Column("issued_pdf_sha", sa.String(length=64), nullable=True),
        sa.Column("validation_report", sa.Text(), nullable=True),
        sa.Column("closing_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("replaced_by_id", sa.Integer(), nullable=True),
        sa.Column("source_ref", sa.String(length=128), nullable=True),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["drafter_id"], ["users.id"], name=op.f("fk_outgoing_documents_drafter_id_users")),
        sa.ForeignKeyConstraint(["issued_by_id"], ["users.id"], name=op.f("fk_outgoing_documents_issued_by_id_users")),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_outgoing_documents_organization_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"], ["outgoing_documents.id"], name=op.f("fk_outgoing_documents_replaced_by_id_outgoing_documents")
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"], ["outgoing_documents.id"], name=op.f("fk_outgoing_documents_replaces_id_outgoing_documents")
        ),
        sa.ForeignKeyConstraint(["signed_by_id"], ["users.id"], name=op.f("fk_outgoing_documents_signed_by_id_users")),
        sa.ForeignKeyConstraint(["signer_id"], ["users.id"], name=op.f("fk_outgoing_documents_signer_id_users")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_outgoing_documents_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_documents")),
        sa.UniqueConstraint(
            "organization_id", "series", "year", "number", name=op.f("uq_outgoing_documents_organization_id_series_year_number")
        ),
        sa.UniqueConstraint("source_ref", name=op.f("uq_outgoing_documents_source_ref")),
    )
    op.create_index(op.f("ix_outgoing_documents_drafter_id"), "outgoing_documents", ["drafter_id"], unique=False)
    op.create_index(op.f("ix_outgoing_documents_organization_id"), "outgoing_documents", ["organization_id"], unique=False)
    op.create_index(op.f("ix_outgoing_documents_status"), "outgoing_documents", ["status"], unique=False)
    op.create_table(
        "outgoing_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("sha", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sealed_sha", sa.String(length=64), nullable=True),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["outgoing_documents.id"],
            name=op.f("fk_outgoing_attachments_document_id_outgoing_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_attachments")),
    )
    op.create_index(op.f("ix_outgoing_attachments_document_id"), "outgoing_attachments", ["document_id"], unique=False)
    op.create_table(
        "outgoing_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("external", sa.Boolean(), nullable=False),
        sa.Column("delivered_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("incoming_id", sa.Integer(), nullable=True),
        sa.Column("status_code", sa.String(length=4), nullable=True),
        sa.Column("status_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notice", sa.String(length=16), nullable=True),
        sa.Column("notice_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["outgoing_documents.id"],
            name=op.f("fk_outgoing_recipients_document_id_outgoing_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_outgoing_recipients_organization_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_recipients")),
        sa.UniqueConstraint("document_id", "organization_id", name=op.f("uq_outgoing_recipients_document_id_organization_id")),
    )
    op.create_index(op.f("ix_outgoing_recipients_document_id"), "outgoing_recipients", ["document_id"], unique=False)
    op.create_index(op.f("ix_outgoing_recipients_organization_id"), "outgoing_recipients", ["organization_id"], unique=False)
    op.create_table(
        "outgoing_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("due_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "decision",
            sa.Enum("pending", "initialled", "commented", "returned", "skipped", name="decision", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("version_number", sa.Integer(), nullable=True),
        sa.Column("decided_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"], ["outgoing_documents.id"], name=op.f("fk_outgoing_reviews_document_id_outgoing_documents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"], name=op.f("fk_outgoing_reviews_reviewer_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_reviews")),
    )
    op.create_index(op.f("ix_outgoing_reviews_document_id"), "outgoing_reviews", ["document_id"], unique=False)
    op.create_index(op.f("ix_outgoing_reviews_reviewer_id"), "outgoing_reviews", ["reviewer_id"], unique=False)
    op.create_table(
        "outgoing_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("docx_sha", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_outgoing_versions_created_by_id_users")),
        sa.ForeignKeyConstraint(
            ["document_id"], ["outgoing_documents.id"], name=op.f("fk_outgoing_versions_document_id_outgoing_documents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_versions")),
        sa.UniqueConstraint("document_id", "number", name=op.f("uq_outgoing_versions_document_id_number")),
    )
    op.create_index(op.f("ix_outgoing_versions_document_id"), "outgoing_versions", ["document_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_outgoing_versions_document_id"), table_name="outgoing_versions")
    op.drop_table("outgoing_versions")
    op.drop_index(op.f("ix_outgoing_reviews_reviewer_id"), table_name="outgoing_reviews")
    op.drop_index(op.f("ix_outgoing_reviews_document_id"), table_name="outgoing_reviews")
    op.drop_table("outgoing_reviews")
    op.drop_index(op.f("ix_outgoing_recipients_organization_id"), table_name="outgoing_recipients")
    op.drop_index(op.f("ix_outgoing_recipients_document_id"), table_name="outgoing_recipients")
    op.drop_table("outgoing_recipients")
    op.drop_index(op.f("ix_outgoing_attachments_document_id"), table_name="outgoing_attachments")
    op.drop_table("outgoing_attachments")
    op.drop_index(op.f("ix_outgoing_documents_status"), table_name="outgoing_documents")
    op.drop_index(op.f("ix_outgoing_documents_organization_id"), table_name="outgoing_documents")
    op.drop_index(op.f("ix_outgoing_documents_drafter_id"), table_name="outgoing_documents")
    op.drop_table("outgoing_documents")
