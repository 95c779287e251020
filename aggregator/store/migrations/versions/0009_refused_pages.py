"""Refused pages are counted, not repeated: rejects record how many times in a row and when last

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 02:40:00

A scheduled crawl meets the same broken page at every run (every 10 minutes for months): the store now bumps the
open reject of the same page, stage and reason (``attempts``, ``last_seen_at``) instead of adding a row each time,
finds it by URL (``ix_rejects_url``, also used to resolve a page's rejects once a crawl archives it), and
incremental crawls wait longer after each refusal before they fetch the page again. Existing rows were each seen
once, when they were made.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('rejects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_rejects_url', ['url'], unique=False)
    op.execute("UPDATE rejects SET last_seen_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table('rejects', schema=None) as batch_op:
        batch_op.drop_index('ix_rejects_url')
        batch_op.drop_column('last_seen_at')
        batch_op.drop_column('attempts')
