"""Search folds the letters a keyboard may lack: "еще" finds "ещё", "Baki" finds "Bakı", "seher" finds "şəhər"

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 04:00:00

Russian readers type "е" for "ё" as a rule; Azerbaijani ones without an Azerbaijani layout type "e" for "ə", "i" for
"ı", "s" for "ş" and so on. The index now holds the folded words and a query is folded the same way
(``aggregator.store.search.fold``), so either spelling finds both.

- SQLite: FTS5's ``remove_diacritics 2`` already folded the Latin letters with a mark (ş ç ğ ö ü İ), not ё, ə and ı,
  which are letters of their own to Unicode. The index's content becomes ``articles_search``, a view of ``articles``
  with those three replaced (bm25 reads it, with ``detail=column``), the triggers index the same folded text, and
  the index is rebuilt. SQLite refuses to rename a table while a view names a table that is not there: a later
  migration that rebuilds ``articles`` with batch_alter_table must drop the view first and make it and the
  triggers again (the triggers go with the old table, as 0005 says).
- PostgreSQL: ``search_vector`` is generated again from the folded title and body (``translate``), which also folds
  what the ``simple`` configuration never did (ş ç ğ ö ü İ); the column is rewritten and its index made again.

The letter lists here are this revision's and stay as they are; ``aggregator.store.search.FOLDS`` is the query side.
"""

import logging
from collections.abc import Sequence

from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

FTS = "articles_fts"
VIEW = "articles_search"
SQLITE_FOLDS = (("ё", "е"), ("Ё", "Е"), ("ə", "e"), ("Ə", "E"), ("ı", "i"))
"""What FTS5's unicode61 tokenizer (lower case, diacritics removed) does not fold by itself."""
PG_FROM, PG_TO = "ёЁəƏıİşŞçÇğĞöÖüÜ", "еЕeEiIsScCgGoOuU"


def _sqlite_folded(column: str) -> str:
    for letter, plain in SQLITE_FOLDS:
        column = f"replace({column}, '{letter}', '{plain}')"
    return column


def _sqlite_index(*, folded: bool) -> None:
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS {FTS}_{name}")
    op.execute(f"DROP TABLE IF EXISTS {FTS}")
    op.execute(f"DROP VIEW IF EXISTS {VIEW}")
    if folded:
        op.execute(
            f"CREATE VIEW {VIEW} AS SELECT id, {_sqlite_folded('title')} AS title, "
            f"{_sqlite_folded('body_text')} AS body_text FROM articles"
        )
    op.execute(
        f"CREATE VIRTUAL TABLE {FTS} USING fts5(title, body_text, content='{VIEW if folded else 'articles'}', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 2', detail=column)"
    )
    op.execute(f"INSERT INTO {FTS}({FTS}, rank) VALUES ('automerge', 16)")

    def values(row: str) -> str:
        if folded:
            return f"{row}.id, {_sqlite_folded(row + '.title')}, {_sqlite_folded(row + '.body_text')}"
        return f"{row}.id, {row}.title, {row}.body_text"

    new = f"INSERT INTO {FTS}(rowid, title, body_text) VALUES ({values('new')});"
    old = f"INSERT INTO {FTS}({FTS}, rowid, title, body_text) VALUES ('delete', {values('old')});"
    op.execute(f"CREATE TRIGGER {FTS}_insert AFTER INSERT ON articles BEGIN {new} END")
    op.execute(f"CREATE TRIGGER {FTS}_delete AFTER DELETE ON articles BEGIN {old} END")
    op.execute(f"CREATE TRIGGER {FTS}_update AFTER UPDATE OF title, body_text ON articles BEGIN {old} {new} END")
    log.info("rebuilding the search index (about half a minute a million articles)")
    op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")


def _pg_vector(*, folded: bool) -> None:
    def words(column: str, weight: str) -> str:
        text = f"coalesce({column}, '')"
        if folded:
            text = f"translate({text}, '{PG_FROM}', '{PG_TO}')"
        config = "CASE WHEN language = 'ru' THEN 'russian'::regconfig ELSE 'simple'::regconfig END"
        return f"setweight(to_tsvector({config}, {text}), '{weight}')"

    log.info("rewriting the search column of articles (a few minutes a million articles)")
    op.execute("ALTER TABLE articles DROP COLUMN search_vector")  # its index goes with it
    op.execute(
        "ALTER TABLE articles ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
        f"{words('title', 'A')} || {words('body_text', 'B')}) STORED"
    )
    op.execute("CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_index(folded=True)
    elif dialect == "postgresql":
        _pg_vector(folded=True)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_index(folded=False)
    elif dialect == "postgresql":
        _pg_vector(folded=False)
