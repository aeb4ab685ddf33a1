"""Checks shared by the browser tests of the signing pages: the page images shown above the PIN
field are those of the exact file to sign, and a refused PIN gives the same form back."""

from __future__ import annotations

import hashlib
import re
import subprocess
import tempfile
from pathlib import Path


def pdf_pages(data: bytes) -> int:
    """The page count of a PDF, by poppler (independent of the app's own counting)."""
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "file.pdf"
        path.write_bytes(data)
        out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def check_viewer(page, scope: str, pdf: bytes, url_prefix: str) -> None:  # type: ignore[no-untyped-def]
    """Under `scope`: one image per page of `pdf`, named by its hash, before the PIN field."""
    viewer = page.locator(f"{scope} .pdf-pages")
    viewer.wait_for()
    sha = hashlib.sha256(pdf).hexdigest()
    assert viewer.get_attribute("data-pdf-sha") == sha, "the page shows another file than the one to sign"
    images = viewer.locator("img")
    assert images.count() == pdf_pages(pdf) == int(viewer.get_attribute("data-pages"))
    for n in range(images.count()):
        assert images.nth(n).get_attribute("src") == f"{url_prefix}/pdf/{sha}/pages/{n + 1}.png"
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=images.first.element_handle())
    pin = page.locator(f"{scope} input[name=pin]")
    # The document comes first: in the page's order and on the screen.
    assert viewer.evaluate("(v, pin) => !!(v.compareDocumentPosition(pin) & Node.DOCUMENT_POSITION_FOLLOWING)", pin.element_handle())
    assert viewer.bounding_box()["y"] < pin.bounding_box()["y"]
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert images.first.bounding_box()["width"] >= min(width - 100, 600)  # as wide as the screen allows


def wrong_pin(page, scope: str, button: str, with_pages: bool = True) -> str:  # type: ignore[no-untyped-def]
    """Type a wrong PIN: the same form comes back with the message, the PIN field empty."""
    page.locator(f"{scope} input[name=pin]").fill("000000")
    page.locator(scope).get_by_role("button", name=button, exact=True).click()
    error = page.locator(f"{scope} [data-pin-error]")
    error.wait_for()
    message = error.inner_text()
    assert "Mã PIN" in message and "Còn" in message and "lần thử" in message, message
    assert page.locator(f"{scope} input[name=pin]").input_value() == ""
    if with_pages:
        assert page.locator(f"{scope} .pdf-pages img").count() >= 1
    return message
