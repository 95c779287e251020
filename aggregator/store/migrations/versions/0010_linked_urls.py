"""Pages reached through a redirect are known by the address the crawl asked for

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 06:10:00

A listing that links an article at an address the site redirects (a moved slug, a numeric link to a named page)
made every incremental run fetch it again: the archive knew only the address it ended at. Articles and rejects
now keep the address asked for (``linked_url``, NULL when there was no redirect); existing rows have none until
their next fetch.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('linked_url', sa.String(length=2000), nullable=True))
    with op.batch_alter_table('rejects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('linked_url', sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('rejects', schema=None) as batch_op:
        batch_op.drop_column('linked_url')
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_column('linked_url')
