"""Archive time stamps (PAdES B-LTA): a sealed document gets a document time stamp over the whole
file, the chain extends with the next one, earlier signatures stay valid, and the refresh rule
acts before the authority's certificate expires."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from signing_docs import outgoing_flow

from signing.archive import add_archive_timestamp, archive_chain, newest_stamp_facts, refresh_due
from signing.validation import validate_pdf

MARGIN, RETRY = timedelta(days=90), timedelta(days=30)


def test_the_archive_chain_grows_and_every_signature_stays_valid(dev_pki) -> None:
    sealed = outgoing_flow(dev_pki, level="B-LT").sealed
    assert asyncio.run(archive_chain(sealed, trust=dev_pki.trust)) == [] and newest_stamp_facts(sealed) is None
    first = asyncio.run(add_archive_timestamp(sealed, trust=dev_pki.trust))
    second = asyncio.run(add_archive_timestamp(first, trust=dev_pki.trust))
    assert first.startswith(sealed) and second.startswith(first)  # incremental: nothing rewritten
    chain = asyncio.run(archive_chain(second, trust=dev_pki.trust))
    assert len(chain) == 2 and chain[0].time <= chain[1].time
    assert all(s.intact and s.valid and s.trusted and s.covers_document for s in chain)
    assert chain[-1].authority == "Liên Thông Dev TSA" and chain[-1].authority_expires > datetime.now(UTC) + timedelta(days=365)
    report = validate_pdf(second, trust=dev_pki.trust)
    assert report.all_valid and len(report.signatures) == 2 and report.document_timestamps == 2
    assert [s.time for s in report.archive] == [s.time for s in chain]
    assert all(s.pades_level == "B-LTA" for s in report.signatures)


def test_refresh_is_due_without_a_stamp_and_before_the_authority_expires(dev_pki) -> None:
    stamped = asyncio.run(add_archive_timestamp(outgoing_flow(dev_pki, level="B-LT").sealed, trust=dev_pki.trust))
    facts = newest_stamp_facts(stamped)
    assert facts is not None
    stamped_at, expires = facts
    now = datetime.now(UTC)
    assert refresh_due(None, now=now, margin=MARGIN, retry=RETRY)
    assert not refresh_due(facts, now=now, margin=MARGIN, retry=RETRY)
    assert not refresh_due(facts, now=expires - MARGIN - timedelta(days=1), margin=MARGIN, retry=RETRY)
    assert refresh_due(facts, now=expires - MARGIN + timedelta(days=1), margin=MARGIN, retry=RETRY)
    # Refreshed moments ago with a certificate that is still expiring: not again before `retry`.
    assert not refresh_due((expires - MARGIN, expires), now=expires - MARGIN + timedelta(days=1), margin=MARGIN, retry=RETRY)


def test_verify_shows_the_archive_chain_and_fails_a_broken_stamp(dev_pki, tmp_path, capsys) -> None:
    from test_cli_sign import run

    from signing.cli import EXIT_INVALID, EXIT_OK

    stamped = asyncio.run(add_archive_timestamp(outgoing_flow(dev_pki, level="B-LT").sealed, trust=dev_pki.trust))
    good = tmp_path / "archived.pdf"
    good.write_bytes(stamped)
    assert run(["verify", str(good), "--data-dir", str(dev_pki.data_dir)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "Chuỗi dấu thời gian lưu trữ (B-LTA) / Archive time stamp chain: 1" in out
    assert "Liên Thông Dev TSA" in out and "hợp lệ/valid" in out
    assert run(["verify", str(good), "--json", "--data-dir", str(dev_pki.data_dir)]) == EXIT_OK
    chain = json.loads(capsys.readouterr().out)["archive"]
    assert len(chain) == 1 and chain[0]["trusted"] and chain[0]["covers_document"]

    # Flip one byte inside the stamp's signed range (after the seal's revision): the stamp breaks.
    sealed_length = len(outgoing_flow(dev_pki, level="B-LT").sealed)
    broken = bytearray(stamped)
    broken[sealed_length + 40] ^= 0x01
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(bytes(broken))
    assert run(["verify", str(bad), "--data-dir", str(dev_pki.data_dir)]) == EXIT_INVALID
    assert "KHÔNG HỢP LỆ/INVALID" in capsys.readouterr().out
