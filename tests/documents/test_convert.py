"""DOCX → PDF through the shared LibreOffice converter: concurrent callers all get their PDF,
a dead office is replaced, a broken file is refused in Vietnamese, and without the UNO bridge
conversion still works one office per document."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import zipfile

import docx
import pytest

import signing.convert as convert_module
from services.errors import InvalidInput
from signing.convert import ConversionFailed, Converter, get_converter

BROKEN_MESSAGE = "Không chuyển được tệp DOCX sang PDF. Hãy kiểm tra tệp và thử lại."


def _docx(text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _pdf_text(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


async def test_five_concurrent_conversions_all_get_their_own_pdf() -> None:
    converter = get_converter()
    texts = [f"Văn bản số {i:02d} của Hội LHPN tỉnh Bến Tre" for i in range(1, 6)]
    pdfs = await asyncio.gather(*(converter.to_pdf(_docx(text)) for text in texts))
    for text, pdf in zip(texts, pdfs):
        assert pdf.startswith(b"%PDF")
        assert text in _pdf_text(pdf)
    assert converter.persistent
    # Every job's temporary files are gone once its PDF is returned.
    assert list(converter._jobs.iterdir()) == []


async def test_killed_office_is_restarted_on_the_next_conversion() -> None:
    converter = get_converter()
    await converter.to_pdf(_docx("khởi động"))
    [before] = converter.office_pids
    os.killpg(before, signal.SIGKILL)
    pdf = await converter.to_pdf(_docx("Sau khi khởi động lại"))
    assert "Sau khi khởi động lại" in _pdf_text(pdf)
    [after] = converter.office_pids
    assert after != before


@pytest.mark.parametrize("blob", [b"", b"not a docx at all", b"PK\x03\x04truncated"])
async def test_non_docx_bytes_are_refused_in_vietnamese(blob: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        await get_converter().to_pdf(blob)
    assert caught.value.message == BROKEN_MESSAGE


async def test_docx_with_corrupt_body_is_refused_and_the_office_keeps_working() -> None:
    source = zipfile.ZipFile(io.BytesIO(_docx("x")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as broken:
        for name in source.namelist():
            broken.writestr(name, b"<w:document><<garbage" if name == "word/document.xml" else source.read(name))
    converter = get_converter()
    with pytest.raises(ConversionFailed) as caught:
        await converter.to_pdf(out.getvalue())
    assert caught.value.message == BROKEN_MESSAGE
    assert "vẫn chạy" in _pdf_text(await converter.to_pdf(_docx("vẫn chạy")))


async def test_conversion_past_the_timeout_fails_and_the_next_one_works() -> None:
    converter = get_converter()
    await converter.to_pdf(_docx("khởi động"))
    saved = converter.timeout
    converter.timeout = 0.001
    try:
        with pytest.raises(ConversionFailed):
            await converter.to_pdf(_docx("quá hạn"))
    finally:
        converter.timeout = saved
    assert "tiếp tục" in _pdf_text(await converter.to_pdf(_docx("tiếp tục")))


def test_without_the_uno_bridge_conversion_falls_back_to_one_office_per_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(convert_module, "SYSTEM_PYTHON", "/nonexistent/python3")
    with Converter() as converter:
        pdf = converter.convert(_docx("Chế độ dự phòng"))
        assert not converter.persistent
        assert converter.office_pids == []
    assert "Chế độ dự phòng" in _pdf_text(pdf)


def test_the_office_goes_with_a_process_killed_by_sigkill(tmp_path) -> None:
    """A worker killed with SIGKILL leaves no LibreOffice running: its bridge sees stdin close and
    takes the office (which lives in its own process group) down with it."""
    import sys
    import time

    script = tmp_path / "owner.py"
    script.write_text(
        "import io, sys, time, docx\n"
        "from signing.convert import Converter\n"
        "d = docx.Document(); d.add_paragraph('x'); out = io.BytesIO(); d.save(out)\n"
        "c = Converter(); c.convert(out.getvalue())\n"
        "print(*c.office_pids, flush=True)\n"
        "time.sleep(600)\n"
    )
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, cwd=os.getcwd())
    try:
        pids = [int(p) for p in owner.stdout.readline().split()]  # type: ignore[union-attr]
        assert pids and all(os.path.exists(f"/proc/{p}") for p in pids)
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        deadline = time.monotonic() + 30
        while any(os.path.exists(f"/proc/{p}") and "Z" not in _state(p) for p in pids):
            assert time.monotonic() < deadline, f"office {pids} outlived its owner"
            time.sleep(0.1)
    finally:
        if owner.poll() is None:
            owner.kill()


def _state(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"
