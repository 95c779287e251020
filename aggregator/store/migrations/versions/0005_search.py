"""Full-text search: FTS5 table and triggers on SQLite, a generated tsvector column and GIN index on PostgreSQL

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 12:20:00

The objects are outside the models (see aggregator/store/search.py). On SQLite, a later migration that rebuilds
``articles`` with batch_alter_table drops these triggers with the old table: it must create them again
(``sqlite_triggers()`` below) and rebuild the index.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS = "articles_fts"


def sqlite_triggers() -> list[str]:
    new = f"INSERT INTO {FTS}(rowid, title, body_text) VALUES (new.id, new.title, new.body_text);"
    old = f"INSERT INTO {FTS}({FTS}, rowid, title, body_text) VALUES ('delete', old.id, old.title, old.body_text);"
    return [
        f"CREATE TRIGGER {FTS}_insert AFTER INSERT ON articles BEGIN {new} END",
        f"CREATE TRIGGER {FTS}_delete AFTER DELETE ON articles BEGIN {old} END",
        f"CREATE TRIGGER {FTS}_update AFTER UPDATE OF title, body_text ON articles BEGIN {old} {new} END",
    ]


def language_config(column: str) -> str:
    return f"to_tsvector(CASE WHEN language = 'ru' THEN 'russian'::regconfig ELSE 'simple'::regconfig END, coalesce({column}, ''))"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE {FTS} USING fts5(title, body_text, content='articles', content_rowid='id', "
            "tokenize='unicode61 remove_diacritics 2')"
        )
        for trigger in sqlite_triggers():
            op.execute(trigger)
        op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")
    elif dialect == "postgresql":
        op.execute(
            "ALTER TABLE articles ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
            f"setweight({language_config('title')}, 'A') || setweight({language_config('body_text')}, 'B')) STORED"
        )
        op.execute("CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {FTS}_{name}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_articles_search_vector")
        op.execute("ALTER TABLE articles DROP COLUMN IF EXISTS search_vector")
