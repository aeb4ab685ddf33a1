"""Which key signs for whom: a person's or an organisation's signer, with clear refusals.

Lookup order for `person:<username>` / `org:<code>`:
1. `Settings.signing_keys[...]` when given (production: a PKCS#12 path, or a PKCS#11 token key);
2. the development PKI in `<data_dir>/pki/` (outside production only).

Before a signer is handed out its certificate must be current and carry nonRepudiation, and
(for dev PKI certificates) not be revoked in the index. Full chain and OCSP/CRL checks happen in
pyHanko when signing at B-LT (`TrustConfig.validation_context(for_signing=True)`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pyhanko.sign.signers.pdf_cms import Signer

from services.i18n import _l
from signing.errors import CertificateRevoked, NoSigningKey
from signing.pki import DevPKI
from signing.signers import check_certificate_usable, load_pkcs11_signer, load_pkcs12_signer

if TYPE_CHECKING:
    from services.config import Settings, SigningKeyRef


def _from_ref(ref: SigningKeyRef, *, pin: str, settings: Settings, label: str, label_en: str) -> Signer:
    if ref.p12_path is not None:
        return load_pkcs12_signer(path=ref.p12_path, pin=pin)
    module = ref.pkcs11_module or settings.pkcs11_module
    if module is None or not ref.token_label or not ref.key_label:
        raise NoSigningKey(
            _l("The signing key configuration of {label_en} is incomplete.", label_en=label_en, label=label),
        )
    return load_pkcs11_signer(
        module_path=module,
        token_label=ref.token_label,
        key_label=ref.key_label,
        cert_label=ref.cert_label,
        pin=pin,
    )


def _signer(
    *,
    data_dir: Path,
    owner: str,
    label: str,
    label_en: str,
    pin: str,
    settings: Settings | None,
) -> Signer:
    if settings is not None and owner in settings.signing_keys:
        signer = _from_ref(settings.signing_keys[owner], pin=pin, settings=settings, label=label, label_en=label_en)
        check_certificate_usable(signer.signing_cert, owner_label=label, owner_label_en=label_en)
        return signer
    if settings is not None and settings.production:
        raise _no_key(label, label_en)
    try:
        pki = DevPKI.load(Path(data_dir))
        entry = pki.entry(owner)
    except (FileNotFoundError, KeyError):
        raise _no_key(label, label_en) from None
    if entry.revoked:
        raise CertificateRevoked(
            _l("The certificate of {label_en} is revoked.", label_en=label_en, label=label),
            serial=entry.serial_hex,
        )
    if entry.p12_path is None:
        raise _no_key(label, label_en)
    signer = load_pkcs12_signer(path=pki.dir / entry.p12_path, pin=pin)
    check_certificate_usable(signer.signing_cert, owner_label=label, owner_label_en=label_en)
    return signer


def _no_key(label: str, label_en: str) -> NoSigningKey:
    return NoSigningKey(
        _l(
            "{label_en}{label_en2} has no signing certificate.",
            label_en=label_en[:1].upper(),
            label_en2=label_en[1:],
            label=label[:1].upper(),
            label2=label[1:],
        ),
    )


def signer_for_person(*, data_dir: Path, username: str, pin: str, settings: Settings | None = None) -> Signer:
    """The personal signer of `username`, opened with their PIN.

    Raises `NoSigningKey`, `WrongPin`, `CertificateRevoked`, `CertificateExpired` or
    `CertificateNotUsable`.
    """
    return _signer(
        data_dir=data_dir,
        owner=f"person:{username}",
        label=f"người dùng {username}",
        label_en=f"user {username}",
        pin=pin,
        settings=settings,
    )


def signer_for_org(*, data_dir: Path, org_code: str, pin: str, settings: Settings | None = None) -> Signer:
    """The seal (organisation) signer of `org_code`, opened with the clerk's seal PIN.

    Raises like `signer_for_person`.
    """
    return _signer(
        data_dir=data_dir,
        owner=f"org:{org_code}",
        label=f"đơn vị {org_code}",
        label_en=f"organisation {org_code}",
        pin=pin,
        settings=settings,
    )


def system_certificate_der(*, data_dir: Path, owner: str, settings: Settings | None = None) -> bytes | None:
    """The certificate (DER) of the key the system holds for `owner`, readable without a PIN:
    the development PKI's. A key configured in `Settings.signing_keys` shows its certificate
    only once opened with the PIN, so it is registered on first use instead."""
    if settings is not None and (owner in settings.signing_keys or settings.production):
        return None
    try:
        pki = DevPKI.load(Path(data_dir))
        entry = pki.entry(owner)
    except (FileNotFoundError, KeyError):
        return None
    if entry.revoked:
        return None
    from cryptography.hazmat.primitives.serialization import Encoding

    return pki.certificate(owner).public_bytes(Encoding.DER)
