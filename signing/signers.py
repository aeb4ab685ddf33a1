"""pyHanko signers for PKCS#12 files and PKCS#11 tokens, loaded once per process.

pyHanko's `SimpleSigner` re-parses its private key on every signature (≈100 ms for RSA); we parse
each key once, keep the parsed key beside the signer and reuse the signer for later signatures.
The cache key is the file path, its mtime and size, and an HMAC of the PIN under a random
per-process secret: a wrong PIN never hits the cache (it must open the file), a re-encrypted or
replaced file is re-read, and the PIN itself is never stored. PINs and keys are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.keys.internal import (
    translate_pyca_cryptography_cert_to_asn1,
    translate_pyca_cryptography_key_to_asn1,
)
from pyhanko.sign.signers import SimpleSigner
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from services.i18n import _l
from signing.errors import (
    CertificateExpired,
    CertificateNotUsable,
    NoSigningKey,
    PinLocked,
    WrongPin,
)

if TYPE_CHECKING:
    from pyhanko.sign.pkcs11 import PKCS11Signer

log = logging.getLogger(__name__)

_CACHE_SECRET = secrets.token_bytes(32)
_CACHE_SIZE = 128

WRONG_PIN = _l("The signing PIN is wrong.")


def _pin_tag(pin: str) -> bytes:
    return hmac.new(_CACHE_SECRET, pin.encode("utf-8"), hashlib.sha256).digest()


class _LRU:
    """A tiny thread-safe LRU cache (functools.lru_cache cannot key on file mtimes)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Any | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def drop(self, predicate: Callable[[tuple[Any, ...]], bool]) -> None:
        with self._lock:
            for key in [k for k in self._data if predicate(k)]:
                del self._data[key]


_p12_cache = _LRU(_CACHE_SIZE)
_p11_cache = _LRU(_CACHE_SIZE)


def clear_signer_cache() -> None:
    """Forget every cached signer (tests; after rotating keys). Open PKCS#11 sessions close."""
    _p12_cache.clear()
    with _p11_lock:
        for _, session in _p11_sessions.values():
            _close_quietly(session)
        _p11_sessions.clear()
    _p11_cache.clear()


# --------------------------------------------------------------------------------------------
# PKCS#12


class CachedKeySigner(SimpleSigner):
    """A `SimpleSigner` that keeps its parsed private key instead of re-parsing it per signature."""

    def __init__(
        self,
        *,
        signing_cert: asn1_x509.Certificate,
        private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        cert_registry: SimpleCertificateStore,
    ) -> None:
        super().__init__(
            signing_cert=signing_cert,
            signing_key=translate_pyca_cryptography_key_to_asn1(private_key),
            cert_registry=cert_registry,
        )
        self._private_key = private_key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        algo = mechanism["algorithm"].native
        hash_algo = get_pyca_cryptography_hash(digest_algorithm)
        key = self._private_key
        if algo in ("sha256_rsa", "sha384_rsa", "sha512_rsa", "rsassa_pkcs1v15") and isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, PKCS1v15(), hash_algo)
        if algo.endswith("ecdsa") and isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(hash_algo))
        # PSS and anything exotic: pyHanko's own (slower) path.
        return super().sign_raw(data, digest_algorithm)


def load_pkcs12_signer(
    *,
    path: Path,
    pin: str,
    other_certs: Iterable[asn1_x509.Certificate] = (),
) -> CachedKeySigner:
    """Open a PKCS#12 file with the signing PIN and return a pyHanko signer (cached per process).

    Raises `NoSigningKey` when the file does not exist and `WrongPin` when the PIN does not open
    it. The returned signer carries the chain stored in the file (plus `other_certs`).
    """
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise NoSigningKey(
            _l("The signing key file does not exist."),
            path=str(path),
        ) from None
    extra = tuple(other_certs)
    key = (
        str(path.resolve()),
        stat.st_mtime_ns,
        stat.st_size,
        _pin_tag(pin),
        tuple(c.sha256 for c in extra),
    )
    cached = _p12_cache.get(key)
    if cached is not None:
        return cached

    data = path.read_bytes()
    try:
        private_key, cert, chain = pkcs12.load_key_and_certificates(data, pin.encode("utf-8"))
    except ValueError:
        # cryptography reports a wrong password and a corrupt file the same way; with our own
        # files the PIN is by far the likelier cause, and the message says what to do.
        raise WrongPin(WRONG_PIN) from None
    if private_key is None or cert is None:
        raise NoSigningKey(
            _l("The PKCS#12 file holds no key or no certificate."),
            path=str(path),
        )
    if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise CertificateNotUsable(
            _l("Unsupported key type (RSA or ECDSA only)."),
        )
    registry = SimpleCertificateStore()
    registry.register_multiple([translate_pyca_cryptography_cert_to_asn1(c) for c in chain])
    registry.register_multiple(extra)
    signer = CachedKeySigner(
        signing_cert=translate_pyca_cryptography_cert_to_asn1(cert),
        private_key=private_key,
        cert_registry=registry,
    )
    _p12_cache.put(key, signer)
    log.debug("loaded PKCS#12 signer from %s", path.name)
    return signer


# --------------------------------------------------------------------------------------------
# Certificate checks shared by every signer kind


@dataclass(frozen=True)
class SignerCertificateInfo:
    """What a page shows about a signing certificate."""

    subject_cn: str
    organization: str | None
    title: str | None
    serial_hex: str
    not_before: datetime
    not_after: datetime


def describe_certificate(cert: asn1_x509.Certificate) -> SignerCertificateInfo:
    subject = cert.subject.native
    return SignerCertificateInfo(
        subject_cn=str(subject.get("common_name", "")),
        organization=subject.get("organization_name"),
        title=subject.get("title"),
        serial_hex=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before,
        not_after=cert.not_valid_after,
    )


def check_certificate_usable(
    cert: asn1_x509.Certificate | x509.Certificate,
    *,
    at: datetime | None = None,
    owner_label: str = "",
    owner_label_en: str = "",
) -> None:
    """Refuse certificates that cannot sign documents now: expired, not yet valid, or lacking
    the nonRepudiation key usage. (Revocation and trust are checked by pyHanko's validator.)"""
    if isinstance(cert, x509.Certificate):
        from signing.trust import asn1_cert

        cert = asn1_cert(cert)
    at = at or datetime.now(UTC)
    who = f" của {owner_label}" if owner_label else ""
    who_en = f" of {owner_label_en or owner_label}" if (owner_label_en or owner_label) else ""
    if at > cert.not_valid_after:
        day = cert.not_valid_after.astimezone(UTC).strftime("%d/%m/%Y")
        raise CertificateExpired(
            _l(
                "The certificate{who_en} expired on {isoformat}.",
                who_en=who_en,
                isoformat=cert.not_valid_after.date().isoformat(),
                who=who,
                day=day,
            ),
        )
    if at < cert.not_valid_before:
        raise CertificateExpired(
            _l("The certificate{who_en} is not valid yet.", who_en=who_en, who=who),
        )
    usage = cert.key_usage_value.native if cert.key_usage_value is not None else None
    if usage is not None and "non_repudiation" not in usage:
        raise CertificateNotUsable(
            _l("The certificate{who_en} lacks the nonRepudiation key usage needed to sign documents.", who_en=who_en, who=who),
        )


# --------------------------------------------------------------------------------------------
# PKCS#11

_p11_lock = threading.Lock()
# (module, token label) -> (PIN tag, logged-in session): one session per token and process.
_p11_sessions: dict[tuple[str, str], tuple[bytes, Any]] = {}


def _close_quietly(session: Any) -> None:
    try:
        session.close()
    except Exception:  # closing a dead session must not mask the real error
        log.debug("closing PKCS#11 session failed", exc_info=True)


class _LockedKey:
    """Serialises operations on one PKCS#11 key: a session runs one sign operation at a time,
    and pyHanko signs from executor threads."""

    def __init__(self, key: Any, lock: threading.Lock) -> None:
        self._key = key
        self._lock = lock

    def sign(self, data: bytes, **kwargs: Any) -> bytes:
        with self._lock:
            return bytes(self._key.sign(data, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._key, name)


def _pkcs11_signer_class() -> Callable[..., PKCS11Signer]:
    from pyhanko.sign.pkcs11 import PKCS11Signer

    class LockedPKCS11Signer(PKCS11Signer):
        """`PKCS11Signer` whose key handle is used by one thread at a time."""

        def __init__(self, *args: Any, op_lock: threading.Lock, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._op_lock = op_lock

        def _load_objects(self) -> None:
            super()._load_objects()
            if self._key_handle is not None and not isinstance(self._key_handle, _LockedKey):
                self._key_handle = _LockedKey(self._key_handle, self._op_lock)  # type: ignore[assignment]  # a proxy with the key's methods

    return LockedPKCS11Signer


def load_pkcs11_signer(
    *,
    module_path: Path | str,
    token_label: str,
    key_label: str,
    pin: str,
    cert_label: str | None = None,
    ecdsa_raw: bool | None = None,
    other_certs: Iterable[asn1_x509.Certificate] = (),
) -> Signer:
    """A pyHanko signer for a key on a PKCS#11 token, selected by token label (slot numbers
    move around) and key label; the certificate is read from the token (`cert_label`, default
    the key label). Cached per process with its logged-in session.

    `ecdsa_raw`: sign ECDSA keys with the raw `CKM_ECDSA` mechanism over a digest computed here.
    `None` (default) turns it on for EC keys, because SoftHSM 2.6 and several tokens lack
    `CKM_ECDSA_SHA256`; RSA keys use `CKM_SHA256_RSA_PKCS` as usual.

    Raises `NoSigningKey` (no token, key or certificate), `WrongPin` or `PinLocked`.
    """
    import pkcs11
    from pkcs11 import exceptions as p11_errors
    from pyhanko.sign.general import SigningError as PyHankoSigningError
    from pyhanko.sign.pkcs11 import PKCS11Error, TokenCriteria, open_pkcs11_session

    module = str(module_path)
    extra = tuple(other_certs)
    tag = _pin_tag(pin)
    cache_key = (module, token_label, key_label, cert_label, ecdsa_raw, tag, tuple(c.sha256 for c in extra))
    cached = _p11_cache.get(cache_key)
    if cached is not None:
        return cached

    missing = NoSigningKey(
        _l("No key {key_label!r} on PKCS#11 token {token_label!r}.", key_label=key_label, token_label=token_label),
    )
    with _p11_lock:
        token_key = (module, token_label)
        current = _p11_sessions.get(token_key)
        if current is not None and current[0] != tag:
            # PKCS#11 login state is shared by every session of the process: a second C_Login
            # with another PIN answers "already logged in" without checking it. To really
            # verify a different PIN, log the token out (close our session) and forget every
            # signer bound to it; they log in again with their own PIN on next use.
            _close_quietly(current[1])
            del _p11_sessions[token_key]
            _p11_cache.drop(lambda k: k[0] == module and k[1] == token_label)
            current = None
        if current is None:
            try:
                session = open_pkcs11_session(module, token_criteria=TokenCriteria(label=token_label), user_pin=pin)
            except (p11_errors.PinIncorrect, p11_errors.PinInvalid, p11_errors.PinLenRange):
                raise WrongPin(WRONG_PIN) from None
            except p11_errors.PinLocked:
                raise PinLocked(
                    _l("The token is locked after too many wrong PINs."),
                ) from None
            except (PKCS11Error, PyHankoSigningError):
                raise NoSigningKey(
                    _l("No PKCS#11 token labelled {token_label!r}.", token_label=token_label),
                ) from None
            _p11_sessions[token_key] = (tag, session)
        else:
            session = current[1]
        try:
            key = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=key_label)
        except (p11_errors.NoSuchKey, p11_errors.MultipleObjectsReturned):
            raise missing from None
        use_raw = ecdsa_raw if ecdsa_raw is not None else key.key_type == pkcs11.KeyType.EC
        signer_cls = _pkcs11_signer_class()
        signer = signer_cls(
            session,
            key_label=key_label,
            cert_label=cert_label or key_label,
            ca_chain=list(extra),
            use_raw_mechanism=use_raw,
            op_lock=threading.Lock(),
        )
        try:
            # Load eagerly so a missing certificate fails here, not in the middle of a signature.
            signer._load_objects()
        except (PKCS11Error, PyHankoSigningError):
            raise missing from None
    _p11_cache.put(cache_key, signer)
    log.debug("loaded PKCS#11 signer %s on token %s", key_label, token_label)
    return signer
