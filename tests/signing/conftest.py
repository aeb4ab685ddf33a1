"""Signing fixtures: one development PKI with live trust services per test session, a SoftHSM2
token with RSA and ECDSA keys, and a tiny PDF.

`dev_pki` interface (kept stable; other signing tests depend on it):

    dev_pki.pki            signing.pki.DevPKI
    dev_pki.trust          signing.trust.TrustConfig (root = dev root, TSA = dev TSA)
    dev_pki.pin            the PIN of every PKCS#12 file ("123456")
    dev_pki.base_url       http://127.0.0.1:<port> of the running CRL/OCSP/TSA service
    dev_pki.tsa_url / .ocsp_url / .crl_url
    dev_pki.data_dir, dev_pki.pki_dir
    dev_pki.people         {username: PersonSpec}; dev_pki.orgs {code: OrgSpec}
    dev_pki.person_signer(username) / dev_pki.org_signer(code)   -> pyHanko signer
    dev_pki.p12_path(owner)
    dev_pki.revoke(owner, reason="key_compromise")
    dev_pki.fresh_person(prefix="tmp") -> PersonSpec   a new person nobody else uses
    dev_pki.bad_signer("expired" | "no_non_repudiation" | "not_yet_valid")
    dev_pki.services       the TrustServicesHandle

The PKI is shared by the whole session: never revoke the shared people or organisations;
revoke a `fresh_person()` instead.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pyhanko.sign.signers.pdf_cms import Signer

from demo.incoming import demo_pdf
from signing.keystore import signer_for_org, signer_for_person
from signing.pki import (
    CertEntry,
    DevPKI,
    OrgSpec,
    PersonSpec,
    TestCertKind,
    init_dev_pki,
    issue_certificate,
    issue_test_certificate,
)
from signing.signers import load_pkcs12_signer
from signing.trust import TrustConfig
from signing.trust_services import TrustServicesHandle, start_trust_services
from tests.helpers import free_port, skip_or_fail_without

PIN = "123456"
ORG_PROVINCE = "Hội Liên hiệp Phụ nữ tỉnh Bến Tre"
ORG_DISTRICT = "Hội Liên hiệp Phụ nữ huyện Châu Thành"

PEOPLE = [
    PersonSpec("lan.nguyen", "Nguyễn Thị Lan", ORG_PROVINCE, "Chủ tịch", "lan.nguyen@hlhpn-bentre.vn", PIN),
    PersonSpec("hue.do", "Đỗ Thị Huệ Anh", ORG_PROVINCE, "Phó Chủ tịch", "hue.do@hlhpn-bentre.vn", PIN),
    PersonSpec("thu.tran", "Trần Thị Minh Thư", ORG_PROVINCE, "Văn thư", "thu.tran@hlhpn-bentre.vn", PIN),
    PersonSpec("ngoc.pham", "Phạm Thị Ngọc Ánh", ORG_DISTRICT, "Chủ tịch", "ngoc.pham@hlhpn-chauthanh.vn", PIN),
]
ORGS = [
    OrgSpec("HLHPN-BT", ORG_PROVINCE, "HLHPN", PIN),
    OrgSpec("HLHPN-CT", ORG_DISTRICT, "HLHPN", PIN),
]


@dataclass
class DevPKIFixture:
    """The session's development PKI and its running trust services."""

    pki: DevPKI
    trust: TrustConfig
    pin: str
    base_url: str
    data_dir: Path
    services: TrustServicesHandle
    people: dict[str, PersonSpec]
    orgs: dict[str, OrgSpec]
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def pki_dir(self) -> Path:
        return self.pki.dir

    @property
    def tsa_url(self) -> str:
        return self.pki.tsa_url

    @property
    def ocsp_url(self) -> str:
        return self.pki.ocsp_url

    @property
    def crl_url(self) -> str:
        return self.pki.crl_url

    def person_signer(self, username: str, pin: str | None = None) -> Signer:
        return signer_for_person(data_dir=self.data_dir, username=username, pin=pin or self.pin)

    def org_signer(self, code: str, pin: str | None = None) -> Signer:
        return signer_for_org(data_dir=self.data_dir, org_code=code, pin=pin or self.pin)

    def p12_path(self, owner: str) -> Path:
        return self.pki.p12_path(owner)

    def revoke(self, owner: str, reason: str = "key_compromise") -> CertEntry:
        return self.pki.revoke(owner, reason)

    def fresh_person(self, prefix: str = "tmp", *, full_name: str = "Lê Thị Thu Hà") -> PersonSpec:
        """Issue a certificate for a new person no other test uses (for revocation tests)."""
        username = f"{prefix}.{next(self._counter)}.{os.getpid()}"
        spec = PersonSpec(username, full_name, ORG_PROVINCE, "Chuyên viên", f"{username}@example.vn", self.pin)
        issue_certificate(data_dir=self.data_dir, spec=spec)
        self.people[username] = spec
        return spec

    def bad_signer(self, kind: TestCertKind) -> Signer:
        """A signer whose certificate must be refused (expired, no nonRepudiation…).

        Loaded directly from its PKCS#12 file: the keystore itself refuses such certificates.
        """
        entry = issue_test_certificate(data_dir=self.data_dir, name=f"bad-{kind}", kind=kind, pin=self.pin)
        assert entry.p12_path is not None
        return load_pkcs12_signer(path=self.pki.dir / entry.p12_path, pin=self.pin)


@pytest.fixture(scope="session")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevPKIFixture]:
    data_dir = tmp_path_factory.mktemp("signing-data")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    pki = init_dev_pki(data_dir=data_dir, people=PEOPLE, orgs=ORGS, base_url=base_url)
    services = start_trust_services(data_dir, host="127.0.0.1", port=port)
    try:
        yield DevPKIFixture(
            pki=pki,
            trust=pki.trust(),
            pin=PIN,
            base_url=base_url,
            data_dir=data_dir,
            services=services,
            people={p.username: p for p in PEOPLE},
            orgs={o.code: o for o in ORGS},
        )
    finally:
        services.stop()


# --------------------------------------------------------------------------------------------
# SoftHSM2

SOFTHSM_MODULE_CANDIDATES = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
]


@dataclass
class SoftHSMToken:
    """A SoftHSM2 token holding one RSA-2048 and one ECDSA P-256 key, certified by the dev CA."""

    module_path: str
    token_label: str
    pin: str
    so_pin: str
    conf_path: Path
    rsa_key_label: str
    ec_key_label: str
    rsa_cert: Any
    ec_cert: Any


@pytest.fixture(scope="session")
def softhsm_token(dev_pki: DevPKIFixture, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHSMToken]:
    module = next((p for p in SOFTHSM_MODULE_CANDIDATES if Path(p).exists()), None)
    if module is None or shutil.which("softhsm2-util") is None:
        skip_or_fail_without("SoftHSM2 is not installed (apt-get install softhsm2)")
    import pkcs11
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding, load_der_public_key
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
    from pkcs11.util.x509 import decode_x509_certificate

    from signing.pki import issue_external_certificate

    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    token_label, pin, so_pin = "lienthong-test", "246810", "13579135"
    # SoftHSM reads its configuration when the module is initialised, which happens once per
    # process: the variable must be set before python-pkcs11 loads the library.
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", token_label, "--pin", pin, "--so-pin", so_pin],
            check=True,
            capture_output=True,
        )
        lib = pkcs11.lib(module)
        token = lib.get_token(token_label=token_label)
        spec = PersonSpec("hsm.rsa", "Võ Thị Hồng Nhung", ORG_PROVINCE, "Chủ tịch", "", PIN)
        with token.open(rw=True, user_pin=pin) as session:
            # Keys are generated on the token and never leave it; only public keys are certified.
            rsa_pub, _ = session.generate_keypair(
                pkcs11.KeyType.RSA,
                2048,
                label="rsa-sign",
                id=b"\x01",
                store=True,
                capabilities=pkcs11.MechanismFlag.SIGN | pkcs11.MechanismFlag.VERIFY,
            )
            rsa_public = rsa.RSAPublicNumbers(
                int.from_bytes(rsa_pub[pkcs11.Attribute.PUBLIC_EXPONENT], "big"),
                int.from_bytes(rsa_pub[pkcs11.Attribute.MODULUS], "big"),
            ).public_key()
            params = session.create_domain_parameters(
                pkcs11.KeyType.EC,
                {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True,
            )
            ec_pub, _ = params.generate_keypair(
                label="ec-sign",
                id=b"\x02",
                store=True,
                capabilities=pkcs11.MechanismFlag.SIGN | pkcs11.MechanismFlag.VERIFY,
            )
            ec_public = load_der_public_key(encode_ec_public_key(ec_pub))

            _, rsa_cert = issue_external_certificate(data_dir=dev_pki.data_dir, name="hsm-rsa", spec=spec, public_key=rsa_public)
            _, ec_cert = issue_external_certificate(
                data_dir=dev_pki.data_dir,
                name="hsm-ec",
                spec=PersonSpec("hsm.ec", "Huỳnh Thị Kim Ngân", ORG_PROVINCE, "Phó Chủ tịch", "", PIN),
                public_key=ec_public,  # type: ignore[arg-type]
            )
            for label, key_id, cert in (("rsa-sign", b"\x01", rsa_cert), ("ec-sign", b"\x02", ec_cert)):
                attrs = decode_x509_certificate(cert.public_bytes(Encoding.DER))
                attrs.update({pkcs11.Attribute.LABEL: label, pkcs11.Attribute.ID: key_id, pkcs11.Attribute.TOKEN: True})
                session.create_object(attrs)
        yield SoftHSMToken(
            module_path=module,
            token_label=token_label,
            pin=pin,
            so_pin=so_pin,
            conf_path=conf,
            rsa_key_label="rsa-sign",
            ec_key_label="ec-sign",
            rsa_cert=rsa_cert,
            ec_cert=ec_cert,
        )
    finally:
        from signing.signers import clear_signer_cache

        clear_signer_cache()
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous


# --------------------------------------------------------------------------------------------
# PDFs


def make_tiny_pdf(text: str = "Liên Thông test") -> bytes:
    """A valid one-page A4 PDF (the demo data's builder), ASCII text only."""
    return demo_pdf(text)


@pytest.fixture
def tiny_pdf() -> bytes:
    return make_tiny_pdf()
