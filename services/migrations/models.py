"""Imports every domain's tables so that `Base.metadata` is complete (migrations, tests)."""

from meetings.minutes.models import Minutes, MinutesRevision
from meetings.models import (
    AgendaItem,
    Meeting,
    MeetingDocument,
    MeetingDocumentViewer,
    MeetingParticipant,
    MeetingUnit,
    Poll,
    PollOption,
    PollVoter,
    SpeakerRequest,
)
from services.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from services.auth.models import ApiToken, IdempotentRequest, LoginAttempt, UserSession
from services.calendar import Holiday
from services.db import Base
from services.deadlines.models import DeadlineNotice
from services.directory.models import Organization, RoleAssignment, SigningProfile, Unit, User
from services.documents.register_archive import RegisterArchive
from services.documents.register_prints import RegisterPrint, RegisterPrintPart
from services.events.models import Event, EventHead
from services.exchange.models import ExchangeMessage
from services.incoming.models import IncomingAssignment, IncomingDocument, IncomingFile, IncomingNote, IncomingSenderStatus
from services.keys.models import PinGuard, SignerCertificate
from services.notifications.models import Notification
from services.outbox.models import Deployment, OutboxCommand
from services.outgoing.models import OutgoingAttachment, OutgoingDocument, OutgoingRecipient, OutgoingReview, OutgoingVersion
from services.registers import RegisterCounter
from services.reports.models import ReportField, ReportRequest, ReportSubmission, ReportTarget
from services.tasks.models import Task, TaskUpdate
from services.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

metadata = Base.metadata
