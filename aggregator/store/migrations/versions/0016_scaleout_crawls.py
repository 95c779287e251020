"""The workers of one scale-out crawl are known as one: runs record the crawl they were a worker of

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 10:00:00

Several ``aggregator crawl`` workers sharing one frontier in Redis each wrote a run row with nothing tying them
together, so ``aggregator health`` judged a crawl by whichever worker finished last (its share of the pages, its
coverage of its share) and ``aggregator runs`` listed the workers as unrelated runs. ``crawl_id`` names the crawl
(the frontier generation, ``aggregator.scaleout``) a run was a worker of; rows written before are runs of their own
(NULL), as every run outside scale-out stays.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('crawl_id', sa.String(length=32), nullable=True))
        batch_op.create_index('ix_crawl_runs_crawl_id', ['crawl_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_crawl_runs_crawl_id')
        batch_op.drop_column('crawl_id')
