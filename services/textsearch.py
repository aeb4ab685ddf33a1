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
words as typed, side by side, first; then the rest; newest first within each. The words as typed
are found through their adjacent pairs: on PostgreSQL an expression index over
`lt_word_pairs(search_text)` (migration 0030), on SQLite an FTS5 phrase query.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, String, and_, func, literal, not_, select
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

    def pairs_tsquery(self) -> str:  # PostgreSQL: "'ke hoach' & 'hoach so'", as `lt_word_pairs` indexes them
        return " & ".join(f"'{a} {b}'" for a, b in zip(self.words, self.words[1:]))

    def fts5_phrase(self) -> str:  # SQLite FTS5: '"ke hoach so"', the words side by side
        return '"' + " ".join(self.words) + '"'


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


class _typed_candidates(ColumnElement[bool]):
    """`table`'s row may have the words of `query` side by side (its adjacent pairs, through an index)."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, table: Any, query: Query) -> None:
        self.table = table
        self.query = query


@compiles(_typed_candidates, "postgresql")
def _typed_candidates_postgresql(element: _typed_candidates, compiler: Any, **kw: Any) -> str:
    if len(element.query.words) < 2:  # one word: every row that has it
        return compiler.process(_matches(element.table, element.query, True), **kw)
    # lt_word_pairs (migration 0030) and its expression index: each pair of adjacent words in a field.
    column = compiler.process(element.table.c.search_text, **kw)
    needle = compiler.process(literal(element.query.pairs_tsquery()), **kw)
    return f"lt_word_pairs({column}) @@ CAST({needle} AS tsquery)"


@compiles(_typed_candidates, "sqlite")
def _typed_candidates_sqlite(element: _typed_candidates, compiler: Any, **kw: Any) -> str:
    name = element.table.name
    row_id = compiler.process(element.table.c.id, **kw)
    needle = compiler.process(literal(element.query.fts5_phrase()), **kw)
    return f"{row_id} IN (SELECT rowid FROM {name}_fts WHERE {name}_fts MATCH {needle})"


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


WALK = 4000  # ids looked at newest first in one statement (PostgreSQL)
WALK_BUDGET = 24_000  # ids walked at most for one rank before its index is asked


async def ranked(session: Any, base: Any, model: Any, query: Query, *, after: Cursor | None, limit: int) -> list[tuple[Any, int]]:
    """(document, rank) for `base` (a select of `model` with its filters) matching `query`: rank 0
    (the words as typed) then rank 1 (in any order), newest first within a rank, at most `limit`,
    after `after`.

    Each rank is filled on its own, newest first, the cheaper of two ways. A common phrase or
    common words ("kế hoạch") match a large share of all documents: asking an index for all of
    them, then keeping the newest, costs tens of milliseconds at a million documents, while the
    newest few thousand documents, tested row by row, already fill a page. So (PostgreSQL) the
    newest documents are walked first, as long as the matches found so far say the page will
    fill within WALK_BUDGET ids; otherwise the rest of that rank comes from an index, which is
    cheap exactly when matches are rare: rank 0 from the index of adjacent word pairs (a phrase
    is rare even when its words are common), rank 1 from the word index. SQLite (FTS5) asks its
    indexes directly. One word has no rank 1: as typed is all there is."""
    typed = as_typed(model, query)
    every_word = matches(model, query, indexed=False)
    walk = (await session.connection()).dialect.name == "postgresql"
    found: list[tuple[Any, int]] = []
    for rank in (0, 1):
        if (after is not None and rank < after.rank) or (rank == 1 and len(query.words) == 1):
            continue
        upper = after.id if after is not None and after.rank == rank else None
        of_rank = and_(every_word, typed) if rank == 0 else and_(every_word, not_(typed))
        index = _typed_candidates(model.__table__, query) if rank == 0 else matches(model, query)
        docs = await _newest(session, base.where(of_rank), model, index, upper=upper, count=limit - len(found), walk=walk)
        found += [(doc, rank) for doc in docs]
        if len(found) >= limit:
            break
    return found


async def _newest(session: Any, wanted: Any, model: Any, index: Any, *, upper: int | None, count: int, walk: bool) -> list[Any]:
    """The newest `count` rows of `wanted` with ids below `upper` (None: all)."""
    got: list[Any] = []
    if walk:
        top = upper if upper is not None else (await session.scalar(select(func.max(model.id)))) or 0
        high, step, walked = top if upper is not None else top + 1, WALK, 0
        while high > 1 and walked < WALK_BUDGET:
            low = max(1, high - step)
            statement = wanted.where(model.id < high, model.id >= low).order_by(model.id.desc()).limit(count - len(got))
            got += (await session.scalars(statement)).all()
            walked, high = walked + (high - low), low
            if len(got) >= count:
                return got
            # Rows still missing at the density seen so far: walk on only if the budget covers them.
            needed = (count - len(got)) * walked / len(got) if got else float("inf")
            if needed > WALK_BUDGET - walked:
                break
            step = min(int(needed * 1.5) + 1, WALK_BUDGET - walked)
        upper = high
        if high <= 1:
            return got
    statement = wanted.where(index)
    if upper is not None:
        statement = statement.where(model.id < upper)
    got += (await session.scalars(statement.order_by(model.id.desc()).limit(count - len(got)))).all()
    return got
