"""Rejects and story buckets are indexed by their article: deleting or merging an article no longer reads them whole

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 12:00:00

Deleting an article (``reextract`` merging a row archived twice under two forms of its URL: ``Archive._merge``) sets
its rejects' ``article_id`` to NULL and deletes its ``story_buckets`` rows (the foreign keys' ON DELETE actions), and
the merge moves the rejects to the kept row (``UPDATE rejects ... WHERE article_id = ?``). Neither column led an
index (``story_buckets``' primary key is (band, bucket, article_id)), so each of those statements read its table
whole: on a 1,000,000-article SQLite archive (12,000,000 bucket rows, 200,000 rejects) deleting one article took
0.7-1.1 s, and a re-keying that merges thousands of rows took as many seconds; with these indexes 0.1 ms.

What they cost, measured on the same archive: the file grows by 220 MB (the bucket index holds (article_id, band,
bucket), as large as the table; the rejects' is small); a batch of 1,000 new articles' 12,000 bucket rows costs about
10 % more to write (their ids are the newest: the index grows at its end), and 12,000 rows of articles matched again
(``stories rebuild``, ``reextract``) about 40 % more (their ids are spread across the index).

Building them reads each table once: about 9 s for the 12,000,000 bucket rows on SQLite. On PostgreSQL writes to
``rejects`` and ``story_buckets`` wait meanwhile: run it between crawls.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_rejects_article_id', 'rejects', ['article_id'], unique=False)
    op.create_index('ix_story_buckets_article_id', 'story_buckets', ['article_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_story_buckets_article_id', table_name='story_buckets')
    op.drop_index('ix_rejects_article_id', table_name='rejects')
