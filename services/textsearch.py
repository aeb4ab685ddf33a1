"""Case- and accent-insensitive matching of Vietnamese text, the same on SQLite and PostgreSQL.

People type "ke hoach" for "Kế hoạch" and "HỘI LHPN" for "Hội LHPN". Both sides are folded to
lowercase letters without diacritics: the needle in Python, the column in the database (SQLite
through `fold` registered on each connection, PostgreSQL with `translate()` over every Vietnamese
letter, which needs no extension and does not depend on the database's locale).

Document search ("kế hoạch chuyển đổi số": all words, any order) runs on a word index. Each
searchable table keeps `search_text`, its searched fields folded here and cut into words (one
fold for the documents and the queries, so đ/Đ, decomposed input and case agree on both
databases); the database only indexes those words: PostgreSQL full text (a generated column
`search_vector = to_tsvector('simple', search_text)` with a GIN index), SQLite FTS5
(`<table>_fts`, kept by triggers). Both are made by migration 0017. Results are ranked: the
words as typed, side by side, first; then the rest; newest first within each.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, String, and_, case, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement


def fold(text: str | None) -> str | None:
    """Lowercase without diacritics: "Kế hoạch Đảng" → "ke hoach dang"."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.replace("đ", "d").replace("Đ", "D").lower()


def _letters() -> str:
    tones = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")  # huyền, sắc, hỏi, ngã, nặng
    bases = ("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y")
    letters = {unicodedata.normalize("NFC", base + tone) for base in bases for tone in tones}
    letters |= {letter.upper() for letter in letters} | {"đ", "Đ"} | set(string.ascii_uppercase)
    return "".join(sorted(letter for letter in letters if fold(letter) != letter))


_FROM = _letters()
_TO = "".join(fold(letter) or "" for letter in _FROM)
assert len(_FROM) == len(_TO)


class folded(FunctionElement[str]):
    """A column folded like `fold` inside the database."""

    type = String()
    name = "lt_fold"
    inherit_cache = True


@compiles(folded, "sqlite")
def _fold_sqlite(element: folded, compiler: Any, **kw: Any) -> str:
    return f"lt_fold({compiler.process(element.clauses, **kw)})"


@compiles(folded, "postgresql")
def _fold_postgresql(element: folded, compiler: Any, **kw: Any) -> str:
    return f"translate({compiler.process(element.clauses, **kw)}, '{_FROM}', '{_TO}')"


def contains(column: Any, needle: str) -> ColumnElement[bool]:
    """`column` contains `needle`, ignoring case and diacritics (LIKE wildcards in it are literal)."""
    return folded(column).contains(fold(needle.strip()) or "", autoescape=True)


# --------------------------------------------------------------------------- word index

_NOT_WORD = re.compile(r"[^0-9a-z]+")
FIELD_BREAK = " | "  # between fields, so that a phrase never spans two of them
MAX_WORDS = 12  # a longer query adds nothing but work


def words(text: str | None) -> list[str]:
    """Folded words: "15/QĐ-HLHPN Kế hoạch" → ["15", "qd", "hlhpn", "ke", "hoach"]."""
    return _NOT_WORD.sub(" ", fold(text) or "").split()


def index_text(*fields: str | None) -> str:
    """The value of a `search_text` column for these fields."""
    return FIELD_BREAK.join(joined for field in fields if (joined := " ".join(words(field))))


@dataclass(frozen=True)
class Query:
    """What someone typed, as words. Every word must be in the document, whole, in any order.
    (Not the start of a word: "so:*" unions every word beginning with "so", which at a million
    documents cost more than the rest of the search.)"""

    words: tuple[str, ...]

    @classmethod
    def parse(cls, typed: str | None) -> Query | None:
        found = words(typed)[:MAX_WORDS]
        return cls(tuple(found)) if found else None

    def tsquery(self) -> str:  # PostgreSQL: 'ke & hoach & so' (words are [0-9a-z]+: nothing to quote)
        return " & ".join(self.words)

    def fts5(self) -> str:  # SQLite FTS5: '"ke" "hoach" "so"'
        return " ".join(f'"{w}"' for w in self.words)

    def phrase(self) -> str:
        return " " + " ".join(self.words) + " "


class _matches(ColumnElement[bool]):
    """`table`'s row has every word of `query` in its `search_text` (through the word index)."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, table: Any, query: Query, indexed: bool) -> None:
        self.table = table
        self.query = query
        self.indexed = indexed


@compiles(_matches, "postgresql")
def _matches_postgresql(element: _matches, compiler: Any, **kw: Any) -> str:
    # search_vector is generated by the database (migration 0017), not a mapped column.
    column = f"{compiler.preparer.format_table(element.table)}.search_vector"
    needle = compiler.process(literal(element.query.tsquery()), **kw)
    if element.indexed:
        return f"{column} @@ to_tsquery('simple', {needle})"
    return f"ts_match_vq({column}, to_tsquery('simple', {needle}))"  # the same test, which no index serves


@compiles(_matches, "sqlite")
def _matches_sqlite(element: _matches, compiler: Any, **kw: Any) -> str:
    name = element.table.name
    row_id = compiler.process(element.table.c.id, **kw)
    needle = compiler.process(literal(element.query.fts5()), **kw)
    return f"{row_id} IN (SELECT rowid FROM {name}_fts WHERE {name}_fts MATCH {needle})"


def matches(model: Any, query: Query, *, indexed: bool = True) -> ColumnElement[bool]:
    """Every word of `query` is in the document (a model with a `search_text` column); not
    `indexed`: tested row by row on rows found otherwise (PostgreSQL)."""
    return _matches(model.__table__, query, indexed)


def as_typed(model: Any, query: Query) -> ColumnElement[bool]:
    """The words side by side in the order typed, within one field (the first rank)."""
    padded = literal(" ") + model.search_text + literal(" ")
    return padded.contains(query.phrase(), autoescape=True)


def rank_of(doc: Any, query: Query) -> int:
    """The rank `ranked` gave `doc` (0: as typed), for the cursor of the next page."""
    return 0 if query.phrase() in f" {doc.search_text} " else 1


@dataclass(frozen=True)
class Cursor:
    """Where a ranked page ends: the rank of its last row and that row's id."""

    rank: int
    id: int


RECENT = 4000  # documents looked at newest first before the word index is asked for the rest


async def ranked(session: Any, base: Any, model: Any, query: Query, *, after: Cursor | None, limit: int) -> list[tuple[Any, int]]:
    """(document, rank) for `base` (a select of `model` with its filters) matching `query`: rank 0
    (as typed) then rank 1, newest first within a rank, at most `limit`, after `after`.

    A common word ("kế hoạch") matches a large share of all documents: asking the word index for
    all of them, then keeping the best, costs seconds at a million documents (and the planner,
    which cannot tell common words from rare ones well, picks that plan). So the newest RECENT
    documents the filters allow come first (a walk down the id index, the words tested row by
    row, else the planner would still ask the index for every match), which fills a page at once
    for a common word; the word index is asked for the older ones only when that page may still
    change, which is cheap for exactly the rarer words that did not fill it. Both parts keep
    their best `limit` by (rank, newest); merged, they are the best overall."""
    rank = case((as_typed(model, query), 0), else_=1)
    wanted = base.add_columns(rank.label("rank")).where(matches(model, query, indexed=False))
    if after is not None:
        later = model.id < after.id
        wanted = wanted.where(and_(rank == 1, later) if after.rank == 1 else or_(rank == 1, later))
    recent = base.with_only_columns(model.id).order_by(model.id.desc()).limit(RECENT).subquery()
    floor = await session.scalar(select(func.min(recent.c.id)))
    if floor is None:
        return []

    async def best(statement: Any) -> list[tuple[Any, int]]:
        rows = await session.execute(statement.order_by(rank, model.id.desc()).limit(limit))
        return [(doc, int(r)) for doc, r in rows.all()]

    found = await best(wanted.where(model.id >= floor))
    first = after.rank if after is not None else 0
    if sum(1 for _, r in found if r == first) < limit:  # older documents may still rank higher
        older = wanted.where(model.id < floor, matches(model, query))  # now through the word index
        found = sorted(found + await best(older), key=lambda hit: (hit[1], -hit[0].id))
    return found[:limit]
