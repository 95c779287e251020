"""Lighter writes: the SQLite search index without word positions; no second index on snapshots.article_id

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 18:30:00

- SQLite: ``articles_fts`` is made again with ``detail=column``: the index records in which column each word
  occurs, not where. Searches are of words (``aggregator.store.search``), never phrases, so they find the same
  articles; bm25 counts a word once per column instead of once per occurrence. The positions were most of the
  index's size and of the pages an article's write touched (10,000 articles at a time: 3,900 -> 4,400 articles/s
  at 10,000 archived, more at a million). The triggers of 0005 stay as they are (they name columns, not options).
  Its segments are merged once 16 of a size are there instead of 4 (FTS5's ``automerge``; its most): each posting
  is then rewritten by fewer merges on its way up, which was a fifth of a write's time at a million articles
  (~4,300 -> ~5,900 articles/s), for a few more segments to read per search (a name: ~1 ms either way).
- ``ix_snapshots_article_id`` goes: the unique constraint on (article_id, content_hash) begins with the same
  column and serves every lookup it did, and each snapshot written updated both.

Rebuilding the search index reads every article: about half a minute a million articles on SQLite.
"""

import logging
from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS = "articles_fts"
log = logging.getLogger("alembic.runtime.migration")


def _search_index(detail: str, automerge: int) -> None:
    op.execute(f"DROP TABLE {FTS}")
    op.execute(
        f"CREATE VIRTUAL TABLE {FTS} USING fts5(title, body_text, content='articles', content_rowid='id', "
        f"tokenize='unicode61 remove_diacritics 2'{detail})"
    )
    op.execute(f"INSERT INTO {FTS}({FTS}, rank) VALUES ('automerge', {automerge})")
    log.info("rebuilding the search index (about half a minute a million articles)")
    op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _search_index(", detail=column", 16)
    op.drop_index('ix_snapshots_article_id', table_name='snapshots')


def downgrade() -> None:
    op.create_index('ix_snapshots_article_id', 'snapshots', ['article_id'], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        _search_index("", 4)
