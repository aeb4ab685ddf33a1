"""Indexes for the incoming lists at a million documents: open-handling queues and their badge
counts (status), the done list (by organisation or lead, newest completion first) and the search
by arrival period (bench/bench_pages.py)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03
"""

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_incoming_documents_status": ["status"],
    "ix_incoming_documents_org_completed": ["organization_id", "completed_at"],
    "ix_incoming_documents_lead_completed": ["lead_user_id", "completed_at"],
    "ix_incoming_documents_arrival_date": ["arrival_date"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "incoming_documents", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="incoming_documents")
