"""Shown and withdrawn articles are counted from an index

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 16:30:00

``/api/sources`` and ``/metrics`` count each source's shown articles (``withdrawn_at`` NULL), find its newest and
count its withdrawn ones; ``aggregator articles list`` counts the articles it lists from ("50 of N"). No index held
``withdrawn_at``, so each of them read every row of the table, the row's overflow pages too where its texts are
long (``withdrawn_at`` is stored after them): on a 1,000,000-article SQLite archive ``/metrics`` answered in 5.5 s,
longer than many scrape timeouts, and the list's count took 1.2 s. ``(source, withdrawn_at, published_at,
archived_at, withdrawn_by)`` answers them from the index alone. Building it reads the table once (about 3 s a
million rows on SQLite); on PostgreSQL, writes to ``articles`` wait for it meanwhile.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_articles_source_withdrawn',
        'articles',
        ['source', 'withdrawn_at', 'published_at', 'archived_at', 'withdrawn_by'],
    )


def downgrade() -> None:
    op.drop_index('ix_articles_source_withdrawn', table_name='articles')
