"""Domain errors. `web/` maps each to one HTTP answer; services never raise HTTPException.

Every error carries a message a clerk understands: an English msgid with named parameters,
`_l("… {name} …", name=value)`, whose Vietnamese is in the Babel catalogues. The web layer shows
it in the request's language (`text(locale)`); `message` (Vietnamese) and `message_en` read it.
"""

from __future__ import annotations

from services.i18n import Message, render


class DomainError(Exception):
    """Base of every error a user may see."""

    status_code = 400

    def __init__(self, message: Message | str, message_en: str | None = None, **details: object) -> None:
        # A plain (vi, en) pair is the old form, still understood; tests/foundation/test_i18n.py
        # refuses it in the code so every message is in the catalogues.
        self._text = message if isinstance(message, Message) or message_en is None else {"vi": message, "en": message_en}
        super().__init__(self.message_en)
        self.details = details
        # An audit entry to write after the failed transaction rolled back (a failed attempt
        # that must stay on the record); see `record_after_rollback`.
        self.audit: dict[str, object] | None = None

    def text(self, locale: str) -> str:
        """The message in `locale` ("vi" or "en")."""
        if isinstance(self._text, dict):
            return self._text["en" if locale == "en" else "vi"]
        return render(self._text, locale)

    @property
    def message(self) -> str:
        return self.text("vi")

    @property
    def message_en(self) -> str:
        return self.text("en")

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

    def __init__(self, message: Message | str, message_en: str | None = None, *, retry_after: int = 60, **details: object) -> None:
        super().__init__(message, message_en, **details)
        self.retry_after = retry_after
