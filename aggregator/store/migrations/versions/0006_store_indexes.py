"""Story buckets without rowid on SQLite; most-read by publication time and views

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 15:40:00

- ``story_buckets`` on SQLite becomes a WITHOUT ROWID table (the primary key's b-tree holds the rows: one b-tree
  written per bucket row instead of a rowid table plus the key's index), rebuilt in key order;
- ``ix_articles_published_at_views`` (published_at, views, id): "most read in the last 24 hours" from the index
  alone.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUCKETS_DDL = """CREATE TABLE {name} (
	band INTEGER NOT NULL,
	bucket BIGINT NOT NULL,
	article_id INTEGER NOT NULL,
	CONSTRAINT pk_story_buckets PRIMARY KEY (band, bucket, article_id),
	CONSTRAINT fk_story_buckets_article_id_articles FOREIGN KEY(article_id) REFERENCES articles (id) ON DELETE CASCADE
){options}"""


def _rebuild_buckets(options: str) -> None:
    op.execute(BUCKETS_DDL.format(name="story_buckets_rebuilt", options=options))
    op.execute(
        "INSERT INTO story_buckets_rebuilt (band, bucket, article_id) "
        "SELECT band, bucket, article_id FROM story_buckets ORDER BY band, bucket, article_id"
    )
    op.execute("DROP TABLE story_buckets")
    op.execute("ALTER TABLE story_buckets_rebuilt RENAME TO story_buckets")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_buckets(" WITHOUT ROWID")
    op.create_index('ix_articles_published_at_views', 'articles', ['published_at', 'views', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_articles_published_at_views', table_name='articles')
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_buckets("")
