"""What we trust: the trust roots, the time-stamping authority and the revocation policy, and the
pyHanko `ValidationContext`s built from them.

In production the roots are configured PEM/DER files (for example the Vietnamese government
root CA of Ban Cơ yếu Chính phủ and the national root of the Ministry's NEAC), the TSA comes from
settings. In development they come from the dev PKI in the data dir (`signing.pki`).
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import aiohttp
import certifi
from asn1crypto import x509 as asn1_x509
from pyhanko.keys import load_certs_from_pemder
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.fetchers.aiohttp_fetchers.util import LazySession
from pyhanko_certvalidator.fetchers.api import OwnedFetcherBackend

if TYPE_CHECKING:
    from cryptography import x509 as pyca_x509

    from services.config import Settings
    from signing.pki import DevPKI

RevocationMode = Literal["soft-fail", "hard-fail", "require"]


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process. Building one reads the CA bundle (~16 ms of CPU here), and
    pyHanko's default HTTP session builds a new one for every validation and every time stamp."""
    return ssl.create_default_context(cafile=certifi.where())


class _HTTPSession(LazySession):
    """pyHanko's lazy HTTP session (opened on the first fetch, in the loop that fetches), on the
    shared TLS context; still one session per operation, closed with it."""

    def get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_tls_context()))
        return self._session


def asn1_cert(cert: pyca_x509.Certificate | asn1_x509.Certificate) -> asn1_x509.Certificate:
    """Convert a `cryptography` certificate to the asn1crypto form pyHanko wants."""
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    from cryptography.hazmat.primitives.serialization import Encoding

    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


@dataclass(frozen=True)
class TrustConfig:
    """Trust anchors, helper certificates, TSA and revocation policy for signing and validation."""

    trust_roots: list[asn1_x509.Certificate]
    tsa_url: str | None = None
    other_certs: list[asn1_x509.Certificate] = field(default_factory=list)
    """Intermediate CA certificates that help path building (never trusted by themselves)."""
    revocation_mode: RevocationMode = "hard-fail"
    """`hard-fail`: a certificate that points to revocation info must have fresh, good info."""
    validation_revocation_mode: RevocationMode = "soft-fail"
    """For validating received documents: their embedded LT data usually suffices, and an
    unreachable OCSP of another organisation's CA should not reject a document by itself."""
    allow_fetching: bool = True
    time_tolerance: timedelta = timedelta(seconds=60)
    """How far revocation data and time stamps may lie after the validation moment. pyHanko fixes
    "now" when a context is built and allows 1 s by default; an OCSP answer produced a few seconds
    later on a busy machine would be refused as "too recent" although nothing is wrong. Every
    validation (signing, checking, long-term) takes it from here: one place, no retry loops."""

    def __post_init__(self) -> None:
        if not self.trust_roots:
            # pyHanko would otherwise silently fall back to the operating system's roots.
            raise ValueError("TrustConfig needs at least one trust root")

    def validation_context(
        self,
        *,
        for_signing: bool,
        moment: datetime | None = None,
        allow_fetching: bool | None = None,
    ) -> ValidationContext:
        """A fresh pyHanko `ValidationContext` for one signing or validation operation.

        Fresh per operation on purpose: a context caches fetched OCSP/CRL data and its HTTP
        fetchers are tied to one event loop, so sharing one would both hide revocations and
        break across threads. `for_signing=True` applies the strict revocation mode (we refuse
        to sign with a revoked or unverifiable certificate and embed what we fetched for B-LT).

        Call `await vc.aclose()` at the end of the operation, inside the event loop that ran it
        (or use `validation_session`), or aiohttp warns about an unclosed session.
        """
        fetching = self.allow_fetching if allow_fetching is None else allow_fetching
        return ValidationContext(
            trust_roots=list(self.trust_roots),
            other_certs=list(self.other_certs),
            allow_fetching=fetching,
            # Owned: the context's aclose() closes the session.
            fetcher_backend=OwnedFetcherBackend(AIOHttpFetcherBackend(session=_HTTPSession())) if fetching else None,  # type: ignore[arg-type]  # typed ClientSession, takes a LazySession (its own default)
            revocation_mode=self.revocation_mode if for_signing else self.validation_revocation_mode,
            moment=moment,
            time_tolerance=self.time_tolerance,
        )

    @asynccontextmanager
    async def validation_session(self, *, for_signing: bool, moment: datetime | None = None) -> AsyncIterator[ValidationContext]:
        """`async with trust.validation_session(for_signing=True) as vc:` — closes its fetchers."""
        vc = self.validation_context(for_signing=for_signing, moment=moment)
        try:
            yield vc
        finally:
            await vc.aclose()

    @asynccontextmanager
    async def timestamping(self, *, timeout: float = 10) -> AsyncIterator[HTTPTimeStamper | None]:
        """`async with trust.timestamping() as timestamper:` — an RFC 3161 client for the
        configured TSA (None when no TSA is configured), its HTTP session closed on exit."""
        if not self.tsa_url:
            yield None
            return
        session = _HTTPSession()
        try:
            yield HTTPTimeStamper(self.tsa_url, timeout=timeout, session=session)
        finally:
            await session.close()

    # -- constructors -----------------------------------------------------------------------------

    @classmethod
    def from_files(
        cls,
        *,
        trust_roots: Iterable[Path],
        other_certs: Iterable[Path] = (),
        tsa_url: str | None = None,
        revocation_mode: RevocationMode = "hard-fail",
    ) -> TrustConfig:
        """Load roots (and intermediates) from PEM or DER files; a PEM file may hold several."""
        roots = list(load_certs_from_pemder([str(p) for p in trust_roots]))
        others = list(load_certs_from_pemder([str(p) for p in other_certs]))
        return cls(trust_roots=roots, other_certs=others, tsa_url=tsa_url, revocation_mode=revocation_mode)

    @classmethod
    def from_dev_pki(cls, pki: DevPKI, *, tsa_url: str | None = None) -> TrustConfig:
        """Trust only the development root; use the dev TSA unless another one is given."""
        return cls(
            trust_roots=[asn1_cert(pki.root_cert())],
            other_certs=[asn1_cert(pki.issuing_cert())],
            tsa_url=tsa_url or pki.tsa_url,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> TrustConfig:
        """The shipped profile's anchors (Vietnam's roots by default), the configured root and
        intermediate files, and — outside production, when it exists — the dev PKI in the data
        dir (its TSA too, unless another is configured). A development root is never trusted in
        production: it would make any locally minted certificate look legitimate.
        """
        from signing import anchors
        from signing.pki import DevPKI

        roots, others = anchors.profile(settings.trust_profile)
        roots += load_certs_from_pemder([str(p) for p in settings.trust_roots])
        others += load_certs_from_pemder([str(p) for p in settings.trust_intermediates])
        tsa_url = settings.tsa_url
        if not settings.production:
            try:
                pki = DevPKI.load(settings.data_dir)
            except FileNotFoundError:
                pass  # a machine with no `pki init`: the shipped and configured roots only
            else:
                dev = cls.from_dev_pki(pki, tsa_url=settings.tsa_url)
                roots, others, tsa_url = dev.trust_roots + roots, dev.other_certs + others, dev.tsa_url
        if not roots:
            raise RuntimeError("no trust root: set LIENTHONG_TRUST_PROFILE=vn or LIENTHONG_TRUST_ROOTS (PEM/DER root CA files)")
        return cls(trust_roots=roots, other_certs=others, tsa_url=tsa_url, revocation_mode=settings.revocation_mode)
