"""What the archive counts is counted from indexes, and a language's articles are listed from one

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 16:30:00

``/api/sources`` and ``/metrics`` count each source's shown articles (``withdrawn_at`` NULL), find its newest and
count its withdrawn ones; ``aggregator articles list`` counts the articles it lists from ("50 of N"), by source or
language; ``aggregator stories list`` groups the articles by story to find the stories several of them tell. No
index held ``withdrawn_at``, so each of them read every row of the table, and a row's overflow pages too where its
texts are long (the columns after them are stored there): on a 1,000,000-article SQLite archive ``/metrics``
answered in 5.5 s (longer than many scrape timeouts), the list's count took 1.2 s and the stories 3.6 s. And
``/api/articles?language=xx`` walked the published_at index through every article looking for one in that
language: 3.3 s, for a request anyone can send.

``(source, withdrawn_at, published_at, archived_at, withdrawn_by, language)`` answers the counts from the index
alone, ``ix_articles_story_id`` (``story_id`` until now) gains the columns the stories are grouped and ordered by,
and ``(language, withdrawn_at, published_at)`` lists a language's articles newest first (the id after it in the
index is the order's tie-break). Building them
reads the table once (a few seconds a million rows on SQLite); on PostgreSQL, writes to ``articles`` wait for it
meanwhile.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHOWN = ['source', 'withdrawn_at', 'published_at', 'archived_at', 'withdrawn_by', 'language']
STORY = ['story_id', 'withdrawn_at', 'published_at', 'archived_at', 'source']
LANGUAGE = ['language', 'withdrawn_at', 'published_at']


def upgrade() -> None:
    op.create_index('ix_articles_source_withdrawn', 'articles', SHOWN)
    op.create_index('ix_articles_language_shown', 'articles', LANGUAGE)
    op.drop_index('ix_articles_story_id', table_name='articles')
    op.create_index('ix_articles_story_id', 'articles', STORY)


def downgrade() -> None:
    op.drop_index('ix_articles_story_id', table_name='articles')
    op.create_index('ix_articles_story_id', 'articles', ['story_id'])
    op.drop_index('ix_articles_language_shown', table_name='articles')
    op.drop_index('ix_articles_source_withdrawn', table_name='articles')
