"""Every address that redirects to a page is kept, not only the latest one an article was fetched through

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 12:30:00

Migration 0010 let an article be known by the address a listing links when the site redirects it (``linked_url``),
but only by one. An article linked at two redirecting addresses (a numeric link and an old slug) was fetched again
at every run through whichever address the archive did not hold, and a redirect that a run did not follow, because
it led to a page the run had fetched already, was not recorded at all. ``redirects`` keeps each address with where
it led; the articles' linked addresses are copied into it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'redirects',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=True),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('target', sa.String(length=2000), nullable=False),
        sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_redirects')),
        sa.UniqueConstraint('url', name=op.f('uq_redirects_url')),
    )
    with op.batch_alter_table('redirects', schema=None) as batch_op:
        batch_op.create_index('ix_redirects_source', ['source'], unique=False)
        batch_op.create_index('ix_redirects_target', ['target'], unique=False)
    # One row an address: where two articles name the same one, the later row's.
    op.execute(
        "INSERT INTO redirects (source, url, target, first_seen_at, last_seen_at) "
        "SELECT source, linked_url, fetched_url, last_seen_at, last_seen_at FROM articles "
        "WHERE id IN (SELECT max(id) FROM articles WHERE linked_url IS NOT NULL GROUP BY linked_url)"
    )


def downgrade() -> None:
    with op.batch_alter_table('redirects', schema=None) as batch_op:
        batch_op.drop_index('ix_redirects_target')
        batch_op.drop_index('ix_redirects_source')
    op.drop_table('redirects')
