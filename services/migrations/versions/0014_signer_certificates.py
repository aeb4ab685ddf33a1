"""signer certificates registered per person and organisation; wrong-PIN counters per key

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

import services.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signer_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=1000), nullable=False),
        sa.Column("common_name", sa.String(length=255), nullable=False),
        sa.Column("issuer", sa.String(length=1000), nullable=False),
        sa.Column("serial_hex", sa.String(length=80), nullable=False),
        sa.Column("not_before", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("not_after", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.Enum("pending", "confirmed", "revoked", name="certstatus", native_enum=False, length=16), nullable=False),
        sa.Column("source", sa.Enum("admin", "self", "system", name="certsource", native_enum=False, length=16), nullable=False),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("revoked_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.Column("revoke_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint("(user_id IS NULL) <> (organization_id IS NULL)", name=op.f("ck_signer_certificates_one_owner")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_signer_certificates_user_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_signer_certificates_organization_id_organizations")
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_signer_certificates_created_by_users")),
        sa.ForeignKeyConstraint(["confirmed_by"], ["users.id"], name=op.f("fk_signer_certificates_confirmed_by_users")),
        sa.ForeignKeyConstraint(["revoked_by"], ["users.id"], name=op.f("fk_signer_certificates_revoked_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signer_certificates")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_signer_certificates_fingerprint")),
    )
    op.create_index(op.f("ix_signer_certificates_user_id"), "signer_certificates", ["user_id"])
    op.create_index(op.f("ix_signer_certificates_organization_id"), "signer_certificates", ["organization_id"])
    op.create_table(
        "pin_guards",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("not_before", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_pin_guards_user_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name=op.f("fk_pin_guards_organization_id_organizations")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_pin_guards")),
    )


def downgrade() -> None:
    op.drop_table("pin_guards")
    op.drop_index(op.f("ix_signer_certificates_organization_id"), table_name="signer_certificates")
    op.drop_index(op.f("ix_signer_certificates_user_id"), table_name="signer_certificates")
    op.drop_table("signer_certificates")
