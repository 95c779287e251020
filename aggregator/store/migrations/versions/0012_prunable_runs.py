"""Old crawl runs can be deleted: rejects are indexed by the run that refused them

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 07:30:00

``crawl_runs`` gained a row per run of each source for good (a schedule every ten minutes writes over 50,000 a year
for each, each with its Scrapy stats); runs older than ``AGGREGATOR_RUNS_KEEP_DAYS`` are now deleted. Deleting a run
sets ``rejects.crawl_run_id`` to NULL, and without an index on that column each deleted run costs a search of every
reject row.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_rejects_crawl_run_id', 'rejects', ['crawl_run_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_rejects_crawl_run_id', table_name='rejects')
