"""Rejects repeated before 0009 are merged: one open row per page, stage and reason

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 06:20:00

Before 0009 a crawl added a reject row each time it refused a page, so an archive that ran scheduled crawls holds
many open rows for one broken page (the store now counts a repeat on the page's row). The open rows of each page,
stage and reason become the newest of them, counting the others' attempts and keeping the first one's time;
resolved rows are history and stay as they are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

rejects = sa.table(
    'rejects',
    sa.column('id', sa.Integer), sa.column('source', sa.String), sa.column('url', sa.String),
    sa.column('stage', sa.String), sa.column('reason', sa.Text), sa.column('attempts', sa.Integer),
    sa.column('created_at', sa.DateTime), sa.column('resolved_at', sa.DateTime),
)  # fmt: skip


def upgrade() -> None:
    other = rejects.alias("other")
    same_refusal = sa.and_(
        other.c.resolved_at.is_(None),
        other.c.source.is_not_distinct_from(rejects.c.source),
        other.c.url == rejects.c.url,
        other.c.stage == rejects.c.stage,
        other.c.reason == rejects.c.reason,
    )
    open_rows = rejects.c.resolved_at.is_(None)
    groups = [rejects.c.source, rejects.c.url, rejects.c.stage, rejects.c.reason]
    keep = sa.select(sa.func.max(rejects.c.id)).where(open_rows).group_by(*groups)
    repeated = keep.having(sa.func.count() > 1)
    # The kept row of each repeated refusal counts all of them, and was first refused when the first one was.
    op.execute(
        rejects.update()
        .where(rejects.c.id.in_(repeated.scalar_subquery()))
        .values(
            attempts=sa.select(sa.func.sum(other.c.attempts)).where(same_refusal).scalar_subquery(),
            created_at=sa.select(sa.func.min(other.c.created_at)).where(same_refusal).scalar_subquery(),
        )
    )
    op.execute(rejects.delete().where(open_rows, rejects.c.id.not_in(keep.scalar_subquery())))


def downgrade() -> None:
    """Nothing to undo: the merged rows hold what the repeated ones said."""
