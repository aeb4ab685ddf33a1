"""Pages of a register book (sổ đăng ký): a year's book can hold tens of thousands of rows, so
the page shows BOOK_PAGE of them at a time, keyset by register number (a deep page costs what
the first does), with the way to the next page, back to the start, and to any number."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOOK_PAGE = 100


@dataclass(frozen=True)
class BookPage:
    shown: int  # rows on this page
    size: int  # documents in the whole register
    start_url: str  # the book's first page ("" on it)
    next_url: str  # the page after this one ("" on the last)
    base: str  # the book's address (path and query), without a page

    @property
    def path(self) -> str:
        return urlsplit(self.base).path

    @property
    def params(self) -> list[tuple[str, str]]:
        """The book's own parameters (organisation, year, register), kept by the "go to number" form."""
        return parse_qsl(urlsplit(self.base).query)


def book_page(rows: list[dict[str, Any]], *, after: Any, size: int, base: str, cursor: Callable[[dict[str, Any]], str]) -> BookPage:
    """`rows`: up to BOOK_PAGE + 1 rows after `after` (one more than shown tells that a next page exists)."""
    shown = rows[:BOOK_PAGE]
    more = len(rows) > BOOK_PAGE
    return BookPage(
        shown=len(shown),
        size=size,
        start_url=base if after else "",
        next_url=f"{base}&after={cursor(shown[-1])}" if more and shown else "",
        base=base,
    )
