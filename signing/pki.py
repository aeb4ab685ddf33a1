"""Development PKI: a root CA, an issuing CA, one personal certificate per officer, one seal
certificate per organisation, plus the time-stamping (TSA) and OCSP responder certificates the
loopback trust services use.

Everything lives in `<data_dir>/pki/`:

```
pki/
  index.json                 owners → serials, subjects, p12 paths, revocation state (no secrets)
  root-ca.crt.pem  root-ca.key.pem          (keys 0600, unencrypted: the dev CA's own keys)
  issuing-ca.crt.pem  issuing-ca.key.pem
  tsa.crt.pem  tsa.key.pem  ocsp.crt.pem  ocsp.key.pem
  people/<username>.p12  people/<username>.crt.pem
  orgs/<org_code>.p12    orgs/<org_code>.crt.pem
  test/<name>.p12        deliberately bad certificates for tests (expired, no nonRepudiation)
  crl/issuing-ca.crl  crl/root-ca.crl      rewritten on every revocation
```

Signing keys of people and organisations exist only inside PKCS#12 files encrypted with the
signing PIN. This PKI is for development and tests; production uses certificates from a licensed
Vietnamese CA (keys on tokens/HSMs) configured through `signing.trust.TrustConfig.from_settings`.

Key algorithm: RSA-2048 by default. Vietnamese public CAs (the government CA of Ban Cơ yếu Chính
phủ, VNPT-CA, Viettel-CA…) issue RSA-2048 certificates on their USB tokens, so RSA exercises the
same signature path as production; pyHanko's `DummyTimeStamper` (our TSA) is RSA-only anyway.
The cost (slower key parsing) is paid once per process because signers are cached
(`signing.signers`). ECDSA P-256 is available with `key_algorithm="ecdsa-p256"`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    import argparse

    from signing.trust import TrustConfig

log = logging.getLogger(__name__)

KeyAlgorithm = Literal["rsa2048", "ecdsa-p256"]
DEFAULT_KEY_ALGORITHM: KeyAlgorithm = "rsa2048"

# Default port of the loopback trust services (CRL, OCSP, TSA); mirrors Settings.trust_services_port.
DEFAULT_TRUST_SERVICES_PORT = 8765
DEFAULT_BASE_URL = f"http://127.0.0.1:{DEFAULT_TRUST_SERVICES_PORT}"

# Validity periods. Everything starts one day in the past so that clock skew between machines
# (or a test runner) never makes a fresh certificate "not yet valid".
_BACKDATE = timedelta(days=1)
_ROOT_LIFETIME = timedelta(days=365 * 20)
_ISSUING_LIFETIME = timedelta(days=365 * 10)
_SERVICE_LIFETIME = timedelta(days=365 * 5)
_SUBSCRIBER_LIFETIME = timedelta(days=365 * 3)
# A short CRL lifetime means a validator that cached a CRL re-fetches it soon after a revocation.
CRL_LIFETIME = timedelta(hours=1)

_KEY_FILE_MODE = 0o600
_INDEX_VERSION = 1

RevocationReason = Literal[
    "unspecified",
    "key_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
    "privilege_withdrawn",
]
_REASON_FLAGS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "privilege_withdrawn": x509.ReasonFlags.privilege_withdrawn,
}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

# Owner kinds (`kind:name`) and the index table holding their current certificate.
_OWNER_TABLES = {
    "person": "people",
    "org": "orgs",
    "service": "services",
    "test": "tests",
    "external": "external",
}


# --------------------------------------------------------------------------------------------
# Specs and index entries


@dataclass(frozen=True)
class PersonSpec:
    """An officer who gets a personal signing certificate."""

    username: str
    full_name: str
    org_name: str
    position: str
    email: str
    pin: str = field(repr=False)


@dataclass(frozen=True)
class OrgSpec:
    """An organisation that gets a seal (organisation signature) certificate."""

    code: str
    name: str
    abbreviation: str
    pin: str = field(repr=False)


@dataclass
class CertEntry:
    """One issued end-entity certificate as recorded in `index.json` (never a secret)."""

    owner: str
    """`person:<username>`, `org:<code>`, `service:<tsa|ocsp>`, `test:<name>` or
    `external:<name>` (a key held on a token, certified by the dev CA)."""
    serial: int
    subject: str
    issuer: str
    not_before: str
    not_after: str
    cert_path: str
    """Relative to the `pki/` directory."""
    p12_path: str | None = None
    key_algorithm: str = DEFAULT_KEY_ALGORITHM
    revoked: bool = False
    revoked_at: str | None = None
    revocation_reason: str | None = None

    @property
    def serial_hex(self) -> str:
        return format(self.serial, "x")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        # JSON numbers lose precision beyond 2**53 in many readers; serials are 159 bits.
        data["serial"] = self.serial_hex
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CertEntry:
        data = dict(data)
        data["serial"] = int(data["serial"], 16)
        return cls(**data)


# --------------------------------------------------------------------------------------------
# Small helpers


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _nfc(text: str) -> str:
    # Names typed on different keyboards arrive in NFC or NFD; certificates must compare equal.
    return unicodedata.normalize("NFC", text.strip())


def _generate_key(algorithm: KeyAlgorithm) -> PrivateKey:
    if algorithm == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unsupported key algorithm {algorithm!r}")


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret file created with mode 0600 (never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, _KEY_FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _load_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path.name}: unsupported key type")
    return key


def _signature_hash(key: PrivateKey) -> hashes.SHA256:
    return hashes.SHA256()


def _key_algorithm_of(key: PrivateKey | PublicKey) -> KeyAlgorithm:
    is_ec = isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey)
    return "ecdsa-p256" if is_ec else "rsa2048"


def p12_encryption(pin: str) -> serialization.KeySerializationEncryption:
    """PKCS#12 encryption used for every signing key: PBES2 / AES-256-CBC, SHA-256 MAC.

    Explicit rather than `BestAvailableEncryption` so the format does not drift with the
    `cryptography` version (older builds default to 3DES/RC2, which OpenSSL 3 refuses).
    """
    return (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(100_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(pin.encode("utf-8"))
    )


def _subject_text(name: x509.Name) -> str:
    return name.rfc4514_string()


# --------------------------------------------------------------------------------------------
# The PKI on disk


class DevPKI:
    """Handle on a development PKI in `<data_dir>/pki/`; read-mostly, every write under a lock."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.dir = self.data_dir / "pki"

    # -- loading ------------------------------------------------------------------------------

    @classmethod
    def load(cls, data_dir: Path) -> DevPKI:
        """Open an existing PKI; raise `FileNotFoundError` when `init_dev_pki` never ran."""
        pki = cls(Path(data_dir))
        if not pki.index_path.exists():
            raise FileNotFoundError(f"no development PKI in {pki.dir} (run `lienthong pki init`)")
        return pki

    @property
    def index_path(self) -> Path:
        return self.dir / "index.json"

    def read_index(self) -> dict[str, Any]:
        """The index as stored; re-read on every call so another process's revocation is seen."""
        with self.index_path.open(encoding="utf-8") as fh:
            data: dict[str, Any] = json.load(fh)
        return data

    @property
    def base_url(self) -> str:
        return str(self.read_index()["base_url"])

    @property
    def crl_url(self) -> str:
        return f"{self.base_url}/crl/issuing-ca.crl"

    @property
    def root_crl_url(self) -> str:
        return f"{self.base_url}/crl/root-ca.crl"

    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url}/ocsp"

    @property
    def tsa_url(self) -> str:
        return f"{self.base_url}/tsa"

    # -- certificates ---------------------------------------------------------------------------

    def root_cert(self) -> x509.Certificate:
        return _load_cert(self.dir / "root-ca.crt.pem")

    def issuing_cert(self) -> x509.Certificate:
        return _load_cert(self.dir / "issuing-ca.crt.pem")

    def tsa_cert(self) -> x509.Certificate:
        return _load_cert(self.dir / "tsa.crt.pem")

    def ocsp_cert(self) -> x509.Certificate:
        return _load_cert(self.dir / "ocsp.crt.pem")

    def service_key(self, name: Literal["root-ca", "issuing-ca", "tsa", "ocsp"]) -> PrivateKey:
        """A CA or service private key (unencrypted PEM, 0600); for the trust services only."""
        return _load_key(self.dir / f"{name}.key.pem")

    def entries(self) -> list[CertEntry]:
        """Every end-entity certificate ever issued, including revoked and replaced ones."""
        return [CertEntry.from_json(e) for e in self.read_index()["certificates"].values()]

    def entry(self, owner: str) -> CertEntry:
        """Current certificate of a person (username), organisation (code) or `kind:name` owner.

        Raises `KeyError` when the owner has no certificate.
        """
        index = self.read_index()
        serial = self._current_serial(index, owner)
        return CertEntry.from_json(index["certificates"][serial])

    def has_owner(self, owner: str) -> bool:
        try:
            self._current_serial(self.read_index(), owner)
        except KeyError:
            return False
        return True

    def entry_by_serial(self, serial: int | str) -> CertEntry | None:
        key = serial if isinstance(serial, str) else format(serial, "x")
        raw = self.read_index()["certificates"].get(key.lower())
        return CertEntry.from_json(raw) if raw else None

    def certificate(self, owner: str) -> x509.Certificate:
        return _load_cert(self.dir / self.entry(owner).cert_path)

    def p12_path(self, owner: str) -> Path:
        """Path of the PKCS#12 file of a person (username) or organisation (code)."""
        entry = self.entry(owner)
        if entry.p12_path is None:
            raise KeyError(owner)
        return self.dir / entry.p12_path

    def is_revoked(self, serial: int | str) -> bool:
        entry = self.entry_by_serial(serial)
        return bool(entry and entry.revoked)

    def chain(self) -> list[x509.Certificate]:
        """Issuing CA then root: what a signer embeds after its own certificate."""
        return [self.issuing_cert(), self.root_cert()]

    def trust(self) -> TrustConfig:
        """Trust configuration whose only root is this PKI's root and whose TSA is ours."""
        from signing.trust import TrustConfig

        return TrustConfig.from_dev_pki(self)

    @staticmethod
    def _current_serial(index: dict[str, Any], owner: str) -> str:
        kind, _, name = owner.partition(":")
        if name and kind in _OWNER_TABLES:
            return str(index.get(_OWNER_TABLES[kind], {})[name]["serial"])
        in_people = owner in index["people"]
        in_orgs = owner in index["orgs"]
        if in_people and in_orgs:
            raise KeyError(f"{owner!r} is both a username and an organisation code; prefix it")
        if in_people:
            return str(index["people"][owner]["serial"])
        if in_orgs:
            return str(index["orgs"][owner]["serial"])
        raise KeyError(owner)

    # -- mutations ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked_index(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write of the index under an exclusive file lock (CLI and server may race)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                index = self.read_index() if self.index_path.exists() else None
                holder: dict[str, Any] = index if index is not None else {}
                yield holder
                _write_public(
                    self.index_path,
                    json.dumps(holder, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8"),
                )
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def revoke(self, owner: str, reason: RevocationReason | str = "unspecified") -> CertEntry:
        """Revoke the current certificate of a person or organisation; CRLs are rewritten at once.

        Revoking twice is harmless (the first revocation time and reason are kept).
        """
        if reason not in _REASON_FLAGS:
            raise ValueError(f"unknown revocation reason {reason!r}; one of {sorted(_REASON_FLAGS)}")
        with self._locked_index() as index:
            serial = self._current_serial(index, owner)
            raw = index["certificates"][serial]
            if not raw["revoked"]:
                raw["revoked"] = True
                raw["revoked_at"] = _now().isoformat()
                raw["revocation_reason"] = reason
                self._sync_owner_tables(index, serial)
            entry = CertEntry.from_json(raw)
        self.write_crls()
        log.info("revoked certificate %s of %s (%s)", entry.serial_hex, entry.owner, reason)
        return entry

    @staticmethod
    def _sync_owner_tables(index: dict[str, Any], serial: str) -> None:
        raw = index["certificates"][serial]
        kind, _, name = raw["owner"].partition(":")
        row = index.get(_OWNER_TABLES[kind], {}).get(name)
        if row and row["serial"] == serial:
            row["revoked"] = raw["revoked"]

    # -- CRLs -----------------------------------------------------------------------------------

    def build_crl(self, issuer: Literal["issuing-ca", "root-ca"] = "issuing-ca") -> bytes:
        """A fresh DER CRL signed by `issuer`, listing every revoked certificate it issued."""
        index = self.read_index()
        issuer_cert = self.issuing_cert() if issuer == "issuing-ca" else self.root_cert()
        issuer_key = self.service_key(issuer)
        now = _now()
        crl_numbers: dict[str, int] = index.get("crl_numbers", {})
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer_cert.subject)
            .last_update(now)
            .next_update(now + CRL_LIFETIME)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
            # Monotonic across regenerations within a second: time-based with the stored counter.
            .add_extension(
                x509.CRLNumber(max(int(now.timestamp()), crl_numbers.get(issuer, 0))),
                critical=False,
            )
        )
        for raw in index["certificates"].values():
            if raw["issuer"] != issuer or not raw["revoked"]:
                continue
            revoked = (
                x509.RevokedCertificateBuilder()
                .serial_number(int(raw["serial"], 16))
                .revocation_date(datetime.fromisoformat(raw["revoked_at"]))
            )
            reason = raw.get("revocation_reason") or "unspecified"
            if reason != "unspecified":
                revoked = revoked.add_extension(x509.CRLReason(_REASON_FLAGS[reason]), critical=False)
            builder = builder.add_revoked_certificate(revoked.build())
        crl = builder.sign(issuer_key, _signature_hash(issuer_key))
        return crl.public_bytes(serialization.Encoding.DER)

    def write_crls(self) -> None:
        """Regenerate both CRL files (called on every revocation and by the trust services)."""
        for issuer in ("issuing-ca", "root-ca"):
            _write_public(self.dir / "crl" / f"{issuer}.crl", self.build_crl(issuer))


# --------------------------------------------------------------------------------------------
# Building certificates


def _ca_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Liên Thông (phát triển)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _person_name(spec: PersonSpec) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _nfc(spec.org_name)),
        x509.NameAttribute(NameOID.TITLE, _nfc(spec.position)),
        x509.NameAttribute(NameOID.COMMON_NAME, _nfc(spec.full_name)),
    ]
    if spec.email:
        attrs.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, spec.email))
    return x509.Name(attrs)


def _org_name(spec: OrgSpec) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _nfc(spec.name)),
            x509.NameAttribute(NameOID.COMMON_NAME, _nfc(spec.name)),
        ]
    )


def _make_ca(
    *,
    subject: x509.Name,
    key: PrivateKey,
    issuer_cert: x509.Certificate | None,
    issuer_key: PrivateKey | None,
    lifetime: timedelta,
    path_length: int | None,
    crl_url: str | None,
) -> x509.Certificate:
    now = _now()
    signer_key = issuer_key or key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), critical=False)
    )
    if crl_url:
        builder = builder.add_extension(_crl_dp(crl_url), critical=False)
    return builder.sign(signer_key, _signature_hash(signer_key))


def _crl_dp(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(url)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def _signing_key_usage(*, non_repudiation: bool = True) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _end_entity(
    *,
    pki: DevPKI,
    subject: x509.Name,
    key: PrivateKey | PublicKey,
    key_usage: x509.KeyUsage,
    extended_key_usage: list[x509.ObjectIdentifier] | None = None,
    email: str | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    revocation_pointers: bool = True,
    ocsp_no_check: bool = False,
) -> x509.Certificate:
    issuer_cert = pki.issuing_cert()
    issuer_key = pki.service_key("issuing-ca")
    public_key = key.public_key() if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) else key
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - _BACKDATE)
        .not_valid_after(not_after or now + _SUBSCRIBER_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if extended_key_usage:
        # RFC 3161 §2.3 requires the TSA's timeStamping EKU to be the only one, and critical.
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended_key_usage), critical=True)
    if email:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
    if revocation_pointers:
        builder = builder.add_extension(_crl_dp(pki.crl_url), critical=False).add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(pki.ocsp_url),
                    ),
                    x509.AccessDescription(
                        x509.AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(f"{pki.base_url}/ca/issuing-ca.crt"),
                    ),
                ]
            ),
            critical=False,
        )
    if ocsp_no_check:
        # The responder's own certificate is not checked for revocation (RFC 6960 §4.2.2.2.1).
        builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
    return builder.sign(issuer_key, _signature_hash(issuer_key))


def _record(
    index: dict[str, Any],
    *,
    table: str,
    name: str,
    entry: CertEntry,
) -> None:
    serial = entry.serial_hex
    index["certificates"][serial] = entry.to_json()
    index[table][name] = {
        "serial": serial,
        "subject": entry.subject,
        "p12_path": entry.p12_path,
        "cert_path": entry.cert_path,
        "revoked": entry.revoked,
    }


def _entry_for(
    *,
    owner: str,
    cert: x509.Certificate,
    cert_path: str,
    p12_path: str | None,
    key: PrivateKey | PublicKey,
) -> CertEntry:
    return CertEntry(
        owner=owner,
        serial=cert.serial_number,
        subject=_subject_text(cert.subject),
        issuer="issuing-ca",
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        cert_path=cert_path,
        p12_path=p12_path,
        key_algorithm=_key_algorithm_of(key),
    )


def _write_p12(pki: DevPKI, *, rel_path: str, friendly_name: str, key: PrivateKey, cert: x509.Certificate, pin: str) -> None:
    if not pin:
        raise ValueError("a signing PIN is required to protect the PKCS#12 file")
    data = pkcs12.serialize_key_and_certificates(
        name=friendly_name.encode("utf-8"),
        key=key,
        cert=cert,
        cas=pki.chain(),
        encryption_algorithm=p12_encryption(pin),
    )
    _write_private(pki.dir / rel_path, data)


def _issue_person(pki: DevPKI, index: dict[str, Any], spec: PersonSpec, algorithm: KeyAlgorithm) -> CertEntry:
    key = _generate_key(algorithm)
    cert = _end_entity(pki=pki, subject=_person_name(spec), key=key, key_usage=_signing_key_usage(), email=spec.email or None)
    cert_rel, p12_rel = f"people/{spec.username}.crt.pem", f"people/{spec.username}.p12"
    _write_p12(pki, rel_path=p12_rel, friendly_name=spec.username, key=key, cert=cert, pin=spec.pin)
    _write_public(pki.dir / cert_rel, _pem_cert(cert))
    entry = _entry_for(owner=f"person:{spec.username}", cert=cert, cert_path=cert_rel, p12_path=p12_rel, key=key)
    _record(index, table="people", name=spec.username, entry=entry)
    return entry


def _issue_org(pki: DevPKI, index: dict[str, Any], spec: OrgSpec, algorithm: KeyAlgorithm) -> CertEntry:
    key = _generate_key(algorithm)
    cert = _end_entity(pki=pki, subject=_org_name(spec), key=key, key_usage=_signing_key_usage())
    cert_rel, p12_rel = f"orgs/{spec.code}.crt.pem", f"orgs/{spec.code}.p12"
    _write_p12(pki, rel_path=p12_rel, friendly_name=spec.code, key=key, cert=cert, pin=spec.pin)
    _write_public(pki.dir / cert_rel, _pem_cert(cert))
    entry = _entry_for(owner=f"org:{spec.code}", cert=cert, cert_path=cert_rel, p12_path=p12_rel, key=key)
    _record(index, table="orgs", name=spec.code, entry=entry)
    return entry


def _validate_name(value: str, what: str) -> None:
    # Usernames and codes become file names: refuse anything that could escape the directory.
    if not value or "/" in value or "\\" in value or value.startswith(".") or "\x00" in value:
        raise ValueError(f"invalid {what}: {value!r}")


def _ensure_authorities(pki: DevPKI, index: dict[str, Any], base_url: str) -> None:
    """Create root, issuing CA, TSA and OCSP certificates that do not exist yet."""
    if not index:
        index.update(
            {
                "version": _INDEX_VERSION,
                "base_url": base_url,
                "people": {},
                "orgs": {},
                "services": {},
                "tests": {},
                "external": {},
                "certificates": {},
                "crl_numbers": {},
            }
        )
        # Persist base_url at once: certificate builders below read it through `pki.base_url`.
        _write_public(pki.index_path, json.dumps(index, ensure_ascii=False).encode("utf-8"))
    elif index["base_url"] != base_url:
        log.warning(
            "development PKI in %s was created for %s; keeping it (asked for %s)",
            pki.dir,
            index["base_url"],
            base_url,
        )

    root_crt, root_key_path = pki.dir / "root-ca.crt.pem", pki.dir / "root-ca.key.pem"
    if not root_crt.exists():
        root_key = _generate_key(DEFAULT_KEY_ALGORITHM)
        root = _make_ca(
            subject=_ca_name("Liên Thông Dev Root CA"),
            key=root_key,
            issuer_cert=None,
            issuer_key=None,
            lifetime=_ROOT_LIFETIME,
            path_length=1,
            crl_url=None,
        )
        _write_private(root_key_path, _pem_key(root_key))
        _write_public(root_crt, _pem_cert(root))
        # A new root invalidates everything below it.
        for stale in ("issuing-ca.crt.pem", "tsa.crt.pem", "ocsp.crt.pem"):
            (pki.dir / stale).unlink(missing_ok=True)

    issuing_crt = pki.dir / "issuing-ca.crt.pem"
    if not issuing_crt.exists():
        root, root_key = pki.root_cert(), pki.service_key("root-ca")
        key = _generate_key(DEFAULT_KEY_ALGORITHM)
        issuing = _make_ca(
            subject=_ca_name("Liên Thông Dev Issuing CA"),
            key=key,
            issuer_cert=root,
            issuer_key=root_key,
            lifetime=_ISSUING_LIFETIME,
            path_length=0,
            crl_url=f"{index['base_url']}/crl/root-ca.crl",
        )
        _write_private(pki.dir / "issuing-ca.key.pem", _pem_key(key))
        _write_public(issuing_crt, _pem_cert(issuing))
        index["certificates"][format(issuing.serial_number, "x")] = CertEntry(
            owner="service:issuing-ca",
            serial=issuing.serial_number,
            subject=_subject_text(issuing.subject),
            issuer="root-ca",
            not_before=issuing.not_valid_before_utc.isoformat(),
            not_after=issuing.not_valid_after_utc.isoformat(),
            cert_path="issuing-ca.crt.pem",
        ).to_json()
        for stale in ("tsa.crt.pem", "ocsp.crt.pem"):
            (pki.dir / stale).unlink(missing_ok=True)

    services: list[tuple[str, str, list[x509.ObjectIdentifier], x509.KeyUsage]] = [
        ("tsa", "Liên Thông Dev TSA", [ExtendedKeyUsageOID.TIME_STAMPING], _signing_key_usage()),
        ("ocsp", "Liên Thông Dev OCSP Responder", [ExtendedKeyUsageOID.OCSP_SIGNING], _signing_key_usage(non_repudiation=False)),
    ]
    for name, cn, eku, usage in services:
        crt = pki.dir / f"{name}.crt.pem"
        if crt.exists():
            continue
        # RSA for the TSA: pyHanko's DummyTimeStamper, which signs our tokens, is RSA-only.
        key = _generate_key("rsa2048")
        cert = _end_entity(
            pki=pki,
            subject=_ca_name(cn),
            key=key,
            key_usage=usage,
            extended_key_usage=eku,
            not_after=_now() + _SERVICE_LIFETIME,
            revocation_pointers=name == "tsa",
            ocsp_no_check=name == "ocsp",
        )
        _write_private(pki.dir / f"{name}.key.pem", _pem_key(key))
        _write_public(crt, _pem_cert(cert))
        entry = _entry_for(owner=f"service:{name}", cert=cert, cert_path=f"{name}.crt.pem", p12_path=None, key=key)
        _record(index, table="services", name=name, entry=entry)


def init_dev_pki(
    *,
    data_dir: Path,
    people: list[PersonSpec],
    orgs: list[OrgSpec],
    base_url: str = DEFAULT_BASE_URL,
    key_algorithm: KeyAlgorithm = DEFAULT_KEY_ALGORITHM,
) -> DevPKI:
    """Create (or complete) the development PKI in `<data_dir>/pki/`.

    Idempotent: the CAs and every existing certificate are kept; only missing people and
    organisations get new certificates (so re-running after adding a user works). `base_url`
    is where the trust services will answer (CRL, OCSP, TSA); it is baked into certificates,
    so it only takes effect when the PKI is first created.
    """
    for spec in people:
        _validate_name(spec.username, "username")
    for org in orgs:
        _validate_name(org.code, "organisation code")
    pki = DevPKI(Path(data_dir))
    base_url = base_url.rstrip("/")
    with pki._locked_index() as index:
        _ensure_authorities(pki, index, base_url)
        for spec in people:
            if spec.username not in index["people"]:
                _issue_person(pki, index, spec, key_algorithm)
                log.info("issued development certificate for %s", spec.username)
        for org in orgs:
            if org.code not in index["orgs"]:
                _issue_org(pki, index, org, key_algorithm)
                log.info("issued development seal certificate for %s", org.code)
    if not (pki.dir / "crl" / "issuing-ca.crl").exists():
        pki.write_crls()
    return pki


def issue_certificate(
    *,
    data_dir: Path,
    spec: PersonSpec | OrgSpec,
    replace: bool = False,
    key_algorithm: KeyAlgorithm = DEFAULT_KEY_ALGORITHM,
) -> CertEntry:
    """Issue one certificate for a person or organisation in an existing development PKI.

    Used when an administrator creates a user. If the owner already has a certificate it is
    returned unchanged, unless `replace=True`: then the old one is revoked as `superseded` and a
    new key and certificate are issued (for a forgotten PIN or a new position).
    """
    pki = DevPKI.load(Path(data_dir))
    table, name = ("people", spec.username) if isinstance(spec, PersonSpec) else ("orgs", spec.code)
    _validate_name(name, "owner")
    superseded = False
    with pki._locked_index() as index:
        existing = index[table].get(name)
        if existing and not replace:
            return CertEntry.from_json(index["certificates"][existing["serial"]])
        if existing:
            old = index["certificates"][existing["serial"]]
            if not old["revoked"]:
                old.update(revoked=True, revoked_at=_now().isoformat(), revocation_reason="superseded")
                superseded = True
        if isinstance(spec, PersonSpec):
            entry = _issue_person(pki, index, spec, key_algorithm)
        else:
            entry = _issue_org(pki, index, spec, key_algorithm)
    if superseded:
        pki.write_crls()
    return entry


TestCertKind = Literal["expired", "no_non_repudiation", "not_yet_valid"]


def issue_test_certificate(
    *,
    data_dir: Path,
    name: str,
    kind: TestCertKind,
    pin: str,
    full_name: str = "Người Thử Nghiệm",
    org_name: str = "Liên Thông (thử nghiệm)",
    key_algorithm: KeyAlgorithm = DEFAULT_KEY_ALGORITHM,
) -> CertEntry:
    """Issue a deliberately unusable certificate (`pki/test/<name>.p12`) for bad-input tests.

    `expired`: valid from 31 days ago to 1 day ago; `not_yet_valid`: starts in 30 days;
    `no_non_repudiation`: current, but key usage digitalSignature only (pyHanko refuses it
    for document signatures by default). Issuing the same name twice returns the first one.
    """
    _validate_name(name, "test certificate name")
    pki = DevPKI.load(Path(data_dir))
    with pki._locked_index() as index:
        index.setdefault("tests", {})
        if name in index["tests"]:
            return CertEntry.from_json(index["certificates"][index["tests"][name]["serial"]])
        spec = PersonSpec(username=name, full_name=full_name, org_name=org_name, position="Thử nghiệm", email="", pin=pin)
        now = _now()
        not_before = not_after = None
        if kind == "expired":
            not_before, not_after = now - timedelta(days=31), now - timedelta(days=1)
        elif kind == "not_yet_valid":
            not_before, not_after = now + timedelta(days=30), now + timedelta(days=400)
        key = _generate_key(key_algorithm)
        cert = _end_entity(
            pki=pki,
            subject=_person_name(spec),
            key=key,
            key_usage=_signing_key_usage(non_repudiation=kind != "no_non_repudiation"),
            not_before=not_before,
            not_after=not_after,
        )
        cert_rel, p12_rel = f"test/{name}.crt.pem", f"test/{name}.p12"
        _write_p12(pki, rel_path=p12_rel, friendly_name=name, key=key, cert=cert, pin=pin)
        _write_public(pki.dir / cert_rel, _pem_cert(cert))
        entry = _entry_for(owner=f"test:{name}", cert=cert, cert_path=cert_rel, p12_path=p12_rel, key=key)
        _record(index, table="tests", name=name, entry=entry)
    return entry


def issue_external_certificate(
    *,
    data_dir: Path,
    name: str,
    spec: PersonSpec | OrgSpec,
    public_key: PublicKey,
) -> tuple[CertEntry, x509.Certificate]:
    """Certify a public key whose private key lives elsewhere (a PKCS#11 token or HSM).

    No PKCS#12 file is written; the certificate is recorded as `external:<name>` so OCSP and
    CRLs cover it and it can be revoked like any other. Issuing the same name twice returns the
    first certificate. Returns the index entry and the certificate to load onto the token.
    """
    _validate_name(name, "external key name")
    pki = DevPKI.load(Path(data_dir))
    with pki._locked_index() as index:
        index.setdefault("external", {})
        if name in index["external"]:
            entry = CertEntry.from_json(index["certificates"][index["external"][name]["serial"]])
            return entry, _load_cert(pki.dir / entry.cert_path)
        subject = _person_name(spec) if isinstance(spec, PersonSpec) else _org_name(spec)
        email = spec.email if isinstance(spec, PersonSpec) and spec.email else None
        cert = _end_entity(pki=pki, subject=subject, key=public_key, key_usage=_signing_key_usage(), email=email)
        cert_rel = f"external/{name}.crt.pem"
        _write_public(pki.dir / cert_rel, _pem_cert(cert))
        entry = _entry_for(owner=f"external:{name}", cert=cert, cert_path=cert_rel, p12_path=None, key=public_key)
        _record(index, table="external", name=name, entry=entry)
    return entry, cert


# --------------------------------------------------------------------------------------------
# CLI pieces (wired into `lienthong` by web/cli.py)

PeopleProvider = Callable[["argparse.Namespace"], tuple[list[PersonSpec], list[OrgSpec]]]
"""Returns the people and organisations `pki init` should cover (the demo directory, the DB…)."""


def load_specs_json(path: Path) -> tuple[list[PersonSpec], list[OrgSpec]]:
    """Read `{"people": [{username, full_name, org_name, position, email, pin}], "orgs": [...]}`."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    people = [PersonSpec(**p) for p in data.get("people", [])]
    orgs = [OrgSpec(**o) for o in data.get("orgs", [])]
    return people, orgs
