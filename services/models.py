"""Imports every domain's tables so that `Base.metadata` is complete (migrations, tests)."""

from services.audit.models import AuditCheckpoint, AuditEntry, AuditHead  # noqa: F401
from services.auth.models import ApiToken, LoginAttempt, UserSession  # noqa: F401
from services.db import Base
from services.directory.models import Organization, RoleAssignment, SigningProfile, Unit, User  # noqa: F401
from services.events.models import Event, EventHead  # noqa: F401
from services.notifications.models import Notification  # noqa: F401
from services.registers import RegisterCounter  # noqa: F401

metadata = Base.metadata
