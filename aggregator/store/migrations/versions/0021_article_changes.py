"""Articles know when anything shown of them last changed: a downstream site can sync by a change feed

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 10:00:00

A site that mirrors the archive through the read API asked for the articles published since its last sync, so an
article published earlier and archived (or edited, withdrawn, restored) after it never came back. ``updated_at`` is
when the content last changed, and means that alone: the feeds' and sitemaps' dates and what a crawl run counts as
updated are read from it, so a withdrawal or a move to another story must not touch it. ``changed_at`` is when
anything a reader is shown of the row last changed (the content, the address, the story, a withdrawal or a
restoration), and ``ix_articles_changed_at`` (changed_at, id) lists the rows changed since an instant, oldest change
first (``/api/changes``, ``export --changed-since``).

Existing rows get their latest known change: the withdrawal when it is later than the last update, else the update
(a withdrawal lifted before this revision left no trace). Filling it writes every row once: measured here, about
10 s for 100,000 articles of 8 KB of text on SQLite (each row's record is copied, texts and all), 2 s on PostgreSQL
(whose long texts, kept apart, are not); writes to ``articles`` wait meanwhile: run it between crawls. SQLite adds
a NOT NULL column only with a default: the column keeps one there (the epoch, which no row holds once filled);
PostgreSQL's has none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LATEST_CHANGE = (
    "UPDATE articles SET changed_at = CASE WHEN withdrawn_at IS NOT NULL AND withdrawn_at > updated_at "
    "THEN withdrawn_at ELSE updated_at END"
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # Not batch_alter_table: on SQLite that would copy the table into a new one, and the search index's triggers and
    # view (0017) would go with the old one. SQLite's ADD COLUMN adds it in place.
    op.add_column(
        'articles',
        sa.Column(
            'changed_at',
            sa.DateTime(timezone=True),
            nullable=not sqlite,
            server_default=sa.text("'1970-01-01 00:00:00.000000'") if sqlite else None,
        ),
    )
    op.execute(LATEST_CHANGE)
    if not sqlite:
        op.alter_column('articles', 'changed_at', nullable=False)
    op.create_index('ix_articles_changed_at', 'articles', ['changed_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_articles_changed_at', table_name='articles')
    # SQLite drops a column in place (3.35 and later), its triggers kept
    op.execute("ALTER TABLE articles DROP COLUMN changed_at")
