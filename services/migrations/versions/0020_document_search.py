"""document_search: a word index over incoming and outgoing documents

Search matches every word typed, in any order, ignoring case and diacritics ("kế hoạch chuyển
đổi số" finds "Kế hoạch … chuyển đổi số"). Each document keeps `search_text`: its number/notation,
subject and issuer (incoming) or recipients (outgoing), folded and cut into words by
`services.textsearch`; the models keep it current. This revision adds the column, fills it for
existing documents (with the fold as of this revision, frozen here) and indexes it:
PostgreSQL full text: a generated column `search_vector = to_tsvector('simple', search_text)`
with a GIN index (no extension needed, the words are folded already; stored, so that testing a
row costs no parsing), SQLite an external-content FTS5 table `<table>_fts` kept by triggers.

A later SQLite `batch_alter_table` on these tables recreates them without the triggers: such a
migration must create them again (`_sqlite_index` below).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TABLES = ("incoming_documents", "outgoing_documents")
BATCH = 2000
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def _words(text):
    decomposed = unicodedata.normalize("NFD", text or "")
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", bare.replace("đ", "d").replace("Đ", "D").lower()).split()


def _index_text(*fields):
    return " | ".join(joined for field in fields if (joined := " ".join(_words(field))))


def _fill(bind, table: str, columns: tuple[str, ...], extra=None) -> None:
    rows_table = sa.table(
        table, sa.column("id", sa.Integer()), sa.column("search_text", sa.Text()), *(sa.column(c, sa.Text()) for c in columns)
    )
    update = sa.update(rows_table).where(rows_table.c.id == sa.bindparam("b_id")).values(search_text=sa.bindparam("b_text"))
    after = 0
    while rows := bind.execute(
        sa.select(rows_table.c.id, *(rows_table.c[c] for c in columns))
        .where(rows_table.c.id > after)
        .order_by(rows_table.c.id)
        .limit(BATCH)
    ).all():
        extras = extra([row.id for row in rows]) if extra else {}
        bind.execute(update, [{"b_id": row.id, "b_text": _index_text(*row[1:], *extras.get(row.id, []))} for row in rows])
        after = rows[-1].id


def _recipient_names(bind):
    def names(ids):
        found: dict[int, list[str]] = {}
        for document_id, name in bind.execute(
            sa.text("SELECT document_id, name FROM outgoing_recipients WHERE document_id IN :ids ORDER BY id").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": ids},
        ):
            found.setdefault(document_id, []).append(name)
        return found

    return names


def _sqlite_index(table: str) -> None:
    fts = f"{table}_fts"
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5(search_text, content='{table}', content_rowid='id', tokenize='unicode61', prefix='2 3')"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN INSERT INTO {fts}(rowid, search_text) VALUES (new.id, new.search_text); END"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.id, old.search_text); END"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_au AFTER UPDATE OF search_text ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
        f"INSERT INTO {fts}(rowid, search_text) VALUES (new.id, new.search_text); END"
    )
    op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        op.add_column(table, sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    _fill(bind, "incoming_documents", ("number_notation", "subject", "issuer_name"))
    _fill(bind, "outgoing_documents", ("notation", "subject"), _recipient_names(bind))
    for table in TABLES:
        if bind.dialect.name == "postgresql":
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED"
            )
            op.execute(f"CREATE INDEX ix_{table}_search ON {table} USING gin (search_vector)")
        else:
            _sqlite_index(table)


def downgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        if bind.dialect.name == "postgresql":
            op.execute(f"DROP INDEX ix_{table}_search")
            op.execute(f"ALTER TABLE {table} DROP COLUMN search_vector")
        else:
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER {table}_fts_{suffix}")
            op.execute(f"DROP TABLE {table}_fts")
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("search_text")
