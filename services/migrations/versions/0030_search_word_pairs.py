"""Document search: an index of adjacent word pairs, so that the words as typed are found fast

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-04

A phrase of common words ("kế hoạch chuyển đổi số") is rare even when its words are not: the
pairs of adjacent words of each field ("ke hoach", "hoach chuyen", …) find the documents that
may hold it without reading every document that holds its words (services/textsearch.py).
PostgreSQL only: an expression GIN index over `lt_word_pairs(search_text)`; SQLite's FTS5 table
answers phrase queries already.
"""

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

TABLES = ("incoming_documents", "outgoing_documents")

# search_text is words joined by spaces, fields joined by " | ": a pair never spans two fields.
WORD_PAIRS = """
CREATE FUNCTION lt_word_pairs(search_text text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT array_to_tsvector(coalesce(array_agg(DISTINCT pair), '{}'))
FROM (SELECT w || ' ' || lead(w) OVER (ORDER BY n) AS pair
      FROM unnest(string_to_array(search_text, ' ')) WITH ORDINALITY AS t(w, n)) pairs
WHERE pair NOT LIKE '|%' AND pair NOT LIKE '%|'
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(WORD_PAIRS)
    for table in TABLES:
        op.execute(f"CREATE INDEX ix_{table}_search_pairs ON {table} USING gin (lt_word_pairs(search_text))")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP INDEX ix_{table}_search_pairs")
    op.execute("DROP FUNCTION lt_word_pairs(text)")
