"""Articles can be withdrawn from the downstream site without leaving the archive

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 00:05:00

A re-publisher is asked to take an article down (a correction, a court order, the source's request), and a source
deletes articles it no longer stands by. ``withdrawn_at`` takes an article off every list, feed, search and story
the downstream site reads, while the archive keeps the row, its versions and its links; ``withdrawn_by`` says
whether a crawl found the page gone (``source``) or an operator withdrew it (``operator``), ``withdrawn_reason``
why. Existing articles are all shown (NULL).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_by', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_reason', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_column('withdrawn_reason')
        batch_op.drop_column('withdrawn_by')
        batch_op.drop_column('withdrawn_at')
