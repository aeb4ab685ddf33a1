"""meetings: meetings, invited units, participants, agenda, documents, speakers, polls

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import services.db

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("chair_id", sa.Integer(), nullable=False),
        sa.Column("secretary_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("mode", sa.Enum("in_person", "online", "hybrid", name="meetingmode", native_enum=False, length=24), nullable=False),
        sa.Column("place", sa.String(length=255), nullable=False),
        sa.Column("video_url", sa.String(length=500), nullable=True),
        sa.Column(
            "status",
            sa.Enum("draft", "scheduled", "open", "closed", "cancelled", name="meetingstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("quorum_ratio", sa.Float(), nullable=False),
        sa.Column("current_item_id", sa.Integer(), nullable=True),
        sa.Column("projector_token", sa.String(length=64), nullable=False),
        sa.Column("schedule_version", sa.Integer(), nullable=False),
        sa.Column("invitations_sent_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("invitation_docx_sha", sa.String(length=64), nullable=True),
        sa.Column("invitation_pdf_sha", sa.String(length=64), nullable=True),
        sa.Column("invitation_outgoing_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["chair_id"], ["users.id"], name=op.f("fk_meetings_chair_id_users")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_meetings_created_by_users")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name=op.f("fk_meetings_organization_id_organizations")),
        sa.ForeignKeyConstraint(["secretary_id"], ["users.id"], name=op.f("fk_meetings_secretary_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
        sa.UniqueConstraint("projector_token", name=op.f("uq_meetings_projector_token")),
    )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meetings_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_meetings_starts_at"), ["starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_meetings_status"), ["status"], unique=False)

    op.create_table(
        "meeting_agenda_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("presenter_id", sa.Integer(), nullable=True),
        sa.Column("presenter_name", sa.String(length=255), nullable=False),
        sa.Column("planned_minutes", sa.Integer(), nullable=False),
        sa.Column("status", sa.Enum("pending", "running", "done", name="itemstatus", native_enum=False, length=24), nullable=False),
        sa.Column("started_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("added_live", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_agenda_items_meeting_id_meetings"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["presenter_id"], ["users.id"], name=op.f("fk_meeting_agenda_items_presenter_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_agenda_items")),
    )
    with op.batch_alter_table("meeting_agenda_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_agenda_items_meeting_id"), ["meeting_id"], unique=False)

    op.create_table(
        "meeting_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("reply", sa.Enum("pending", "answered", "declined", name="unitreply", native_enum=False, length=24), nullable=False),
        sa.Column("reply_note", sa.Text(), nullable=False),
        sa.Column("replied_by", sa.Integer(), nullable=True),
        sa.Column("replied_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("site_present", sa.Boolean(), nullable=False),
        sa.Column("site_marked_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_units_meeting_id_meetings"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name=op.f("fk_meeting_units_organization_id_organizations")),
        sa.ForeignKeyConstraint(["replied_by"], ["users.id"], name=op.f("fk_meeting_units_replied_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_units")),
        sa.UniqueConstraint("meeting_id", "organization_id", name=op.f("uq_meeting_units_meeting_id_organization_id")),
    )
    with op.batch_alter_table("meeting_units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_units_meeting_id"), ["meeting_id"], unique=False)

    op.create_table(
        "meeting_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("agenda_item_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agenda_item_id"],
            ["meeting_agenda_items.id"],
            name=op.f("fk_meeting_documents_agenda_item_id_meeting_agenda_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_documents_meeting_id_meetings"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"], name=op.f("fk_meeting_documents_uploaded_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_documents")),
    )
    with op.batch_alter_table("meeting_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_documents_meeting_id"), ["meeting_id"], unique=False)

    op.create_table(
        "meeting_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role", sa.Enum("chair", "secretary", "member", "guest", name="participantrole", native_enum=False, length=24), nullable=False
        ),
        sa.Column("voting", sa.Boolean(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("reply", sa.Enum("none", "accepted", "declined", name="reply", native_enum=False, length=24), nullable=False),
        sa.Column("attendance", sa.Enum("unknown", "present", "absent", name="attendance", native_enum=False, length=24), nullable=False),
        sa.Column("checked_in_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("checked_in_by", sa.Integer(), nullable=True),
        sa.Column("in_room", sa.Boolean(), nullable=False),
        sa.Column("absence_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["checked_in_by"], ["users.id"], name=op.f("fk_meeting_participants_checked_in_by_users")),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_participants_meeting_id_meetings"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["meeting_units.id"], name=op.f("fk_meeting_participants_unit_id_meeting_units"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_meeting_participants_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_participants")),
        sa.UniqueConstraint("meeting_id", "user_id", name=op.f("uq_meeting_participants_meeting_id_user_id")),
    )
    with op.batch_alter_table("meeting_participants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_participants_meeting_id"), ["meeting_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_meeting_participants_user_id"), ["user_id"], unique=False)

    op.create_table(
        "meeting_polls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("agenda_item_id", sa.Integer(), nullable=True),
        sa.Column("question", sa.String(length=1000), nullable=False),
        sa.Column("visibility", sa.Enum("open", "named", "secret", name="pollvisibility", native_enum=False, length=24), nullable=False),
        sa.Column(
            "threshold",
            sa.Enum(
                "majority_present",
                "two_thirds_present",
                "majority_members",
                "two_thirds_members",
                name="threshold",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("allow_change", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Enum("open", "closed", name="pollstatus", native_enum=False, length=24), nullable=False),
        sa.Column("opened_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("present_at_close", sa.Integer(), nullable=True),
        sa.Column("members_at_close", sa.Integer(), nullable=True),
        sa.Column("voted_at_close", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("winner_option_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agenda_item_id"],
            ["meeting_agenda_items.id"],
            name=op.f("fk_meeting_polls_agenda_item_id_meeting_agenda_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_polls_meeting_id_meetings"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_polls")),
    )
    with op.batch_alter_table("meeting_polls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_polls_meeting_id"), ["meeting_id"], unique=False)

    op.create_table(
        "meeting_speakers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("agenda_item_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column(
            "status",
            sa.Enum("waiting", "speaking", "done", "withdrawn", name="speakerstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("requested_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("granted_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agenda_item_id"],
            ["meeting_agenda_items.id"],
            name=op.f("fk_meeting_speakers_agenda_item_id_meeting_agenda_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_speakers_meeting_id_meetings"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_meeting_speakers_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_speakers")),
    )
    with op.batch_alter_table("meeting_speakers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_speakers_meeting_id"), ["meeting_id"], unique=False)

    op.create_table(
        "meeting_document_viewers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["meeting_documents.id"],
            name=op.f("fk_meeting_document_viewers_document_id_meeting_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_meeting_document_viewers_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_document_viewers")),
        sa.UniqueConstraint("document_id", "user_id", name=op.f("uq_meeting_document_viewers_document_id_user_id")),
    )
    with op.batch_alter_table("meeting_document_viewers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_document_viewers_document_id"), ["document_id"], unique=False)

    op.create_table(
        "meeting_poll_options",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["meeting_polls.id"], name=op.f("fk_meeting_poll_options_poll_id_meeting_polls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_poll_options")),
        sa.UniqueConstraint("poll_id", "position", name=op.f("uq_meeting_poll_options_poll_id_position")),
    )
    with op.batch_alter_table("meeting_poll_options", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_poll_options_poll_id"), ["poll_id"], unique=False)

    op.create_table(
        "meeting_poll_voters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("option_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["option_id"],
            ["meeting_poll_options.id"],
            name=op.f("fk_meeting_poll_voters_option_id_meeting_poll_options"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["meeting_polls.id"], name=op.f("fk_meeting_poll_voters_poll_id_meeting_polls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_meeting_poll_voters_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_poll_voters")),
        sa.UniqueConstraint("poll_id", "user_id", name=op.f("uq_meeting_poll_voters_poll_id_user_id")),
    )
    with op.batch_alter_table("meeting_poll_voters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_poll_voters_poll_id"), ["poll_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("meeting_poll_voters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_poll_voters_poll_id"))

    op.drop_table("meeting_poll_voters")
    with op.batch_alter_table("meeting_poll_options", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_poll_options_poll_id"))

    op.drop_table("meeting_poll_options")
    with op.batch_alter_table("meeting_document_viewers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_document_viewers_document_id"))

    op.drop_table("meeting_document_viewers")
    with op.batch_alter_table("meeting_speakers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_speakers_meeting_id"))

    op.drop_table("meeting_speakers")
    with op.batch_alter_table("meeting_polls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_polls_meeting_id"))

    op.drop_table("meeting_polls")
    with op.batch_alter_table("meeting_participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_participants_user_id"))
        batch_op.drop_index(batch_op.f("ix_meeting_participants_meeting_id"))

    op.drop_table("meeting_participants")
    with op.batch_alter_table("meeting_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_documents_meeting_id"))

    op.drop_table("meeting_documents")
    with op.batch_alter_table("meeting_units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_units_meeting_id"))

    op.drop_table("meeting_units")
    with op.batch_alter_table("meeting_agenda_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_agenda_items_meeting_id"))

    op.drop_table("meeting_agenda_items")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meetings_status"))
        batch_op.drop_index(batch_op.f("ix_meetings_starts_at"))
        batch_op.drop_index(batch_op.f("ix_meetings_organization_id"))

    op.drop_table("meetings")
