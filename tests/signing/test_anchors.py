"""The shipped Vietnamese trust anchors are the published certificates: each file's SHA-256
fingerprint is the one ca.gov.vn / rootca.gov.vn publish (../shared/trust-vn/README.md), a
file that differs is refused, and the default profile trusts the two roots."""

from __future__ import annotations

import dataclasses

import pytest

from services.config import Settings
from signing import anchors


@pytest.mark.parametrize("anchor", anchors.VN, ids=lambda a: a.file)
def test_each_anchor_file_has_its_published_fingerprint(anchor: anchors.Anchor) -> None:
    cert = anchors.load(anchor)
    assert anchors.fingerprint(cert.dump()) == anchor.sha256
    assert anchor.name in cert.subject.native["common_name"]
    assert cert.ca


def test_a_file_that_differs_from_its_fingerprint_is_refused() -> None:
    wrong = dataclasses.replace(anchors.VN[0], sha256=anchors.VN[2].sha256)
    with pytest.raises(ValueError, match="fingerprint"):
        anchors.load(wrong)


def test_the_default_profile_trusts_vgca_and_the_national_root(tmp_path) -> None:
    assert Settings(data_dir=tmp_path).trust_profile == "vn"
    roots, intermediates = anchors.profile("vn")
    assert sorted(c.subject.native["common_name"] for c in roots) == ["RootCA chuyên dùng Chính phủ G2", "Vietnam National Root CA"]
    assert [c.subject.native["common_name"] for c in intermediates] == ["CA phục vụ các cơ quan Nhà nước G2"]
    assert all(c.self_signed != "no" for c in roots)
    assert anchors.profile("none") == ([], [])
