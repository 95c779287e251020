"""Rejects record when a retry archived them, and as which article.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 11:22:19.224341
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op



revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('rejects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('article_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_rejects_article_id_articles'), 'articles', ['article_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('rejects', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_rejects_article_id_articles'), type_='foreignkey')
        batch_op.drop_column('article_id')
        batch_op.drop_column('resolved_at')

