"""Errors raised by the signing package; each is a `services.errors.DomainError` with a
Vietnamese message for pages and an English one for logs and the API."""

from __future__ import annotations

from services.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, TooManyAttempts


class SigningError(DomainError):
    """Any failure to sign or validate."""


class InvalidPdf(InvalidInput, SigningError):
    """Not a PDF, truncated or unreadable."""


class EncryptedPdf(InvalidInput, SigningError):
    """Encrypted PDFs are refused: we cannot sign or inspect them safely."""


class ChangesForbidden(Conflict, SigningError):
    """A certification signature (DocMDP) forbids the change we were asked to make."""


class WrongPin(InvalidInput, SigningError):
    """The signing PIN does not open the key."""


class CertificateRevoked(Conflict, SigningError):
    """The signer's certificate is revoked."""


class CertificateExpired(Conflict, SigningError):
    """The signer's certificate is expired or not yet valid."""


class NoSigningKey(NotFound, SigningError):
    """The person or organisation has no signing key configured."""


class MarkerNotFound(InvalidInput, SigningError):
    """The PDF has no signing block where a stamp was asked for."""


class PinLocked(Forbidden, SigningError):
    """Too many wrong PINs: the token (or key) is locked until an administrator unlocks it."""


class CertificateNotUsable(InvalidInput, SigningError):
    """The certificate may not sign documents (no nonRepudiation key usage, wrong chain…)."""


class UntrustedCertificate(Conflict, SigningError):
    """The certificate does not chain to a configured trust root."""


class UnexpectedSigner(Conflict, SigningError):
    """The document is not validly signed by the person or organisation expected to sign it."""


class PinDelayed(TooManyAttempts, SigningError):
    """A wrong PIN was typed moments ago: the key refuses attempts until a given instant."""
