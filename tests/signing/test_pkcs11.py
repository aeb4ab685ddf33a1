"""PKCS#11 signers against a real SoftHSM2 token (RSA and ECDSA keys generated on the token)."""

from __future__ import annotations

from io import BytesIO
from typing import TYPE_CHECKING

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.validation import async_validate_pdf_signature

from services.config import Settings, SigningKeyRef
from signing.errors import NoSigningKey, WrongPin
from signing.keystore import signer_for_person
from signing.signers import load_pkcs11_signer

if TYPE_CHECKING:
    from tests.signing.conftest import DevPKIFixture, SoftHSMToken


async def _sign_and_validate(dev_pki: DevPKIFixture, pdf: bytes, signer: signers.Signer) -> str:
    meta = signers.PdfSignatureMetadata(field_name="Sig1", subfilter=SigSeedSubFilter.PADES)
    out = await signers.PdfSigner(meta, signer=signer).async_sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)))
    (signature,) = PdfFileReader(BytesIO(out.getvalue())).embedded_signatures
    async with dev_pki.trust.validation_session(for_signing=False) as vc:
        status = await async_validate_pdf_signature(signature, vc)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    return str(status.signing_cert.subject.native["common_name"])


@pytest.mark.parametrize(
    ("key", "mechanism", "name"),
    [("rsa", "sha256_rsa", "Võ Thị Hồng Nhung"), ("ec", "sha256_ecdsa", "Huỳnh Thị Kim Ngân")],
)
async def test_softhsm_keys_produce_signatures_that_validate(
    dev_pki: DevPKIFixture, softhsm_token: SoftHSMToken, tiny_pdf: bytes, key: str, mechanism: str, name: str
) -> None:
    signer = load_pkcs11_signer(
        module_path=softhsm_token.module_path,
        token_label=softhsm_token.token_label,
        key_label=softhsm_token.rsa_key_label if key == "rsa" else softhsm_token.ec_key_label,
        pin=softhsm_token.pin,
    )
    assert signer.get_signature_mechanism_for_digest("sha256")["algorithm"].native == mechanism
    assert await _sign_and_validate(dev_pki, tiny_pdf, signer) == name


def test_pkcs11_signer_is_reused_and_refuses_a_wrong_pin(softhsm_token: SoftHSMToken) -> None:
    kwargs = {
        "module_path": softhsm_token.module_path,
        "token_label": softhsm_token.token_label,
        "key_label": softhsm_token.rsa_key_label,
    }
    first = load_pkcs11_signer(**kwargs, pin=softhsm_token.pin)
    assert load_pkcs11_signer(**kwargs, pin=softhsm_token.pin) is first
    with pytest.raises(WrongPin):
        load_pkcs11_signer(**kwargs, pin="000000")


def test_pkcs11_missing_token_or_key_is_reported_as_no_signing_key(softhsm_token: SoftHSMToken) -> None:
    with pytest.raises(NoSigningKey, match="token"):
        load_pkcs11_signer(module_path=softhsm_token.module_path, token_label="khong-co", key_label="x", pin=softhsm_token.pin)
    with pytest.raises(NoSigningKey) as caught:
        load_pkcs11_signer(
            module_path=softhsm_token.module_path,
            token_label=softhsm_token.token_label,
            key_label="khong-co",
            pin=softhsm_token.pin,
        )
    assert "khong-co" in caught.value.message


async def test_keystore_uses_a_configured_token_key_for_a_person(
    dev_pki: DevPKIFixture, softhsm_token: SoftHSMToken, tiny_pdf: bytes
) -> None:
    settings = Settings(
        data_dir=dev_pki.data_dir,
        pkcs11_module=softhsm_token.module_path,
        signing_keys={"person:nhung.vo": SigningKeyRef(token_label=softhsm_token.token_label, key_label=softhsm_token.ec_key_label)},
    )
    signer = signer_for_person(data_dir=dev_pki.data_dir, username="nhung.vo", pin=softhsm_token.pin, settings=settings)
    assert await _sign_and_validate(dev_pki, tiny_pdf, signer) == "Huỳnh Thị Kim Ngân"
