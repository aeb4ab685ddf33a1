"""Domain errors. `web/` maps each to one HTTP answer; services never raise HTTPException.

Every error carries a message a clerk understands, in Vietnamese (`message`) and English
(`message_en`).
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a user may see."""

    status_code = 400

    def __init__(self, message: str, message_en: str | None = None, **details: object) -> None:
        super().__init__(message_en or message)
        self.message = message
        self.message_en = message_en or message
        self.details = details
        # An audit entry to write after the failed transaction rolled back (a failed attempt
        # that must stay on the record); see `record_after_rollback`.
        self.audit: dict[str, object] | None = None

    def record_after_rollback(self, **entry: object) -> DomainError:
        """Ask the web layer to record this failed attempt (keyword arguments of audit.record)."""
        self.audit = entry
        return self


class InvalidInput(DomainError):
    status_code = 422


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class Unauthenticated(DomainError):
    status_code = 401


class TooManyAttempts(DomainError):
    """Refused until a later instant; the web layer answers 429 with `Retry-After`."""

    status_code = 429

    def __init__(self, message: str, message_en: str | None = None, *, retry_after: int = 60, **details: object) -> None:
        super().__init__(message, message_en, **details)
        self.retry_after = retry_after
