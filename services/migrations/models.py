"""Imports every domain's tables so that `Base.metadata` is complete (migrations, tests)."""

from services.audit.models import AuditCheckpoint, AuditEntry, AuditHead  # noqa: F401
from services.auth.models import ApiToken, LoginAttempt, UserSession  # noqa: F401
from services.db import Base
from services.directory.models import Organization, RoleAssignment, SigningProfile, Unit, User  # noqa: F401
from services.events.models import Event, EventHead  # noqa: F401
from services.calendar import Holiday  # noqa: F401
from services.deadlines.models import DeadlineNotice  # noqa: F401
from services.incoming.models import IncomingAssignment, IncomingDocument, IncomingFile, IncomingNote, IncomingSenderStatus  # noqa: F401
from services.notifications.models import Notification  # noqa: F401
from meetings.models import AgendaItem, Meeting, MeetingDocument, MeetingDocumentViewer, MeetingParticipant, MeetingUnit, Poll, PollOption, PollVoter, SpeakerRequest  # noqa: F401
from services.outgoing.models import OutgoingAttachment, OutgoingDocument, OutgoingRecipient, OutgoingReview, OutgoingVersion  # noqa: F401
from services.registers import RegisterCounter  # noqa: F401
from meetings.minutes.models import Minutes, MinutesRevision  # noqa: F401
from services.tasks.models import Task, TaskUpdate  # noqa: F401
from services.reports.models import ReportField, ReportRequest, ReportSubmission, ReportTarget  # noqa: F401
from services.outbox.models import Deployment, OutboxCommand  # noqa: F401
from services.keys.models import PinGuard, SignerCertificate  # noqa: F401

metadata = Base.metadata
