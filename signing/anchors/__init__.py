"""Trust anchors shipped with Liên Thông: the public roots of Vietnam's two signature
infrastructures, checked against their published SHA-256 fingerprints when loaded.

- RootCA chuyên dùng Chính phủ G2 (Ban Cơ yếu Chính phủ, ca.gov.vn): signatures of state bodies
  and political-social organisations such as the Women's Union; its issuing CA "CA phục vụ các
  cơ quan Nhà nước G2" helps build chains;
- Vietnam National Root CA (NEAC, rootca.gov.vn): the public PKI (VNPT-CA, Viettel-CA, FPT-CA,
  BKAV-CA…) behind officers' personal tokens.

`trust_profile = "vn"` (the default) trusts these; `"none"` trusts only the configured files
(and, outside production, the development PKI). A province adds its provider's intermediates
with `LIENTHONG_TRUST_INTERMEDIATES` (docs/operations.md, "Certificates and tokens").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Anchor:
    file: str
    name: str
    sha256: str  # of the DER certificate, as `openssl x509 -fingerprint -sha256` prints it
    root: bool  # a trust root, or an intermediate that only helps path building


VN = (
    Anchor(
        "rootcag2.pem",
        "RootCA chuyên dùng Chính phủ G2",
        "F0:4B:A4:B4:59:A7:C9:A1:B9:71:AD:9B:1C:B8:33:E6:95:A8:0C:79:AE:A6:3B:17:4B:66:A7:0E:DF:E2:FD:B8",
        root=True,
    ),
    Anchor(
        "cpcag2.pem",
        "CA phục vụ các cơ quan Nhà nước G2",
        "D8:CA:B7:A4:AE:F9:2E:6B:B2:50:9D:7C:61:CE:E7:B4:4F:37:31:B2:D2:10:74:96:35:30:27:7B:36:6F:AE:4B",
        root=False,
    ),
    Anchor(
        "vnrca256.pem",
        "Vietnam National Root CA",
        "BA:C8:BF:60:9A:B4:20:A8:EE:17:80:D7:4F:4D:E5:C7:F7:18:49:59:D2:A7:37:5B:0A:75:E4:C2:9F:09:08:E7",
        root=True,
    ),
)
PROFILES: dict[str, tuple[Anchor, ...]] = {"vn": VN, "none": ()}


def fingerprint(der: bytes) -> str:
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def load(anchor: Anchor) -> asn1_x509.Certificate:
    """The anchor's certificate; refuses a file whose fingerprint is not the published one."""
    data = (HERE / anchor.file).read_bytes()
    der = pem.unarmor(data)[2] if pem.detect(data) else data
    if fingerprint(der) != anchor.sha256:
        raise ValueError(f"trust anchor {anchor.file} does not match its published SHA-256 fingerprint")
    return asn1_x509.Certificate.load(der)


def profile(name: str) -> tuple[list[asn1_x509.Certificate], list[asn1_x509.Certificate]]:
    """(roots, intermediates) of a trust profile."""
    if name not in PROFILES:
        raise ValueError(f"unknown trust profile {name!r} (choose {', '.join(PROFILES)})")
    anchors = PROFILES[name]
    return [load(a) for a in anchors if a.root], [load(a) for a in anchors if not a.root]
