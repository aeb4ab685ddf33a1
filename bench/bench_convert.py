"""DOCX → PDF: a cold office per document versus the reused converter.

Run: ``.venv/bin/python bench/bench_convert.py [count]`` (default 10 documents each way).
Prints per-document times and the ratio; asserts nothing.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.documents import DocumentSpec, SigningBlock, build_document_docx
from signing.convert import Converter, convert_oneshot


def _sample_docx() -> bytes:
    spec = DocumentSpec(
        issuing_body="Hội LHPN tỉnh Bến Tre",
        doc_type="QĐ",
        notation_suffix="/QĐ-HLHPN",
        number=15,
        place="Bến Tre",
        date=dt.date(2026, 3, 9),
        subject="Về việc ban hành Quy chế quản lý văn bản điện tử",
        body=["Căn cứ Điều lệ Hội Liên hiệp Phụ nữ Việt Nam;"] * 3
        + ["Điều 1. Ban hành kèm theo Quyết định này Quy chế quản lý văn bản điện tử."] * 5,
        recipients=["Như Điều 3", "Thường trực Tỉnh ủy (để b/c)"],
        signers=[
            SigningBlock(authority_prefix="TM.", authority_line="BAN THƯỜNG VỤ", position="CHỦ TỊCH", signer_name="Nguyễn Thị Hồng Nhung")
        ],
    )
    return build_document_docx(spec)


def _summary(label: str, times: list[float]) -> None:
    print(
        f"{label:<34} mean {statistics.mean(times):6.3f} s   median {statistics.median(times):6.3f} s   "
        f"min {min(times):6.3f} s   max {max(times):6.3f} s"
    )


def main(count: int = 10) -> None:
    data = _sample_docx()
    with tempfile.TemporaryDirectory(prefix="bench-oneshot-") as profile:
        # One throwaway run creates the profile, so each measured run is a cold process only.
        convert_oneshot(data, profile_dir=Path(profile))
        cold: list[float] = []
        for _ in range(count):
            start = time.perf_counter()
            convert_oneshot(data, profile_dir=Path(profile))
            cold.append(time.perf_counter() - start)

    with Converter() as converter:
        start = time.perf_counter()
        converter.start()
        startup = time.perf_counter() - start
        warm: list[float] = []
        for _ in range(count):
            start = time.perf_counter()
            converter.convert(data)
            warm.append(time.perf_counter() - start)

    print(f"DOCX → PDF, {count} documents each way, {len(data)} bytes of DOCX")
    _summary("one-shot (cold office per doc)", cold)
    _summary("reused converter", warm)
    print(f"{'reused converter start (once)':<34} {startup:6.3f} s")
    print(f"ratio cold / reused (mean): {statistics.mean(cold) / statistics.mean(warm):.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
