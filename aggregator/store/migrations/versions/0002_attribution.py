"""Articles keep their attribution line and the outlets their text cites.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 10:49:20.492785
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op



revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attribution_line', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('cited_outlets', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_column('cited_outlets')
        batch_op.drop_column('attribution_line')

