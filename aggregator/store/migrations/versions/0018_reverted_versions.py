"""An edit reverted to an earlier text is a version of its own: snapshots are no longer unique per content hash

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 17:00:00

``snapshots`` was unique on (article_id, content_hash) and written with ``ON CONFLICT DO NOTHING``, so a page edited
and then put back (A, B, A: a retraction withdrawn, a correction undone) stored no third snapshot: ``articles
history`` ended at B while the article showed A, and ``reextract``, which reads each article's newest snapshot,
brought the retracted text B back. Unchanged re-fetches never relied on the constraint: ``Archive.save`` compares
the new content hash with the article's own and writes no snapshot when they are equal.

The constraint goes; ``ix_snapshots_article_id`` (article_id, id) takes over the lookups it served (an article's
versions, its newest one). SQLite cannot drop a constraint written into its ``CREATE TABLE``: the table is copied
into a new one (every stored page once: about 2 s for 100,000 snapshots of 200 MB here, and room on the disk for a
second copy while it runs). PostgreSQL drops it in place.

A downgrade keeps the first snapshot of each (article_id, content_hash), as the old code would have, and deletes the
later repeats, which the old schema cannot hold.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.drop_constraint('uq_snapshots_article_id', type_='unique')
        batch_op.create_index('ix_snapshots_article_id', ['article_id', 'id'], unique=False)


def downgrade() -> None:
    op.execute(
        "DELETE FROM snapshots WHERE id NOT IN "
        "(SELECT first FROM (SELECT min(id) AS first FROM snapshots GROUP BY article_id, content_hash) AS kept)"
    )
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_snapshots_article_id')
        batch_op.create_unique_constraint('uq_snapshots_article_id', ['article_id', 'content_hash'])
