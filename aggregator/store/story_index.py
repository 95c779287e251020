"""Stories in the database: each article's LSH buckets in ``story_buckets``, matched inside the writer's transaction.

Matching one article costs one indexed query on its (band, bucket) pairs (the table's primary key starts with
them), then a check of the few candidates' stored sketches: the cost depends on how many near-duplicates there
are, not on the size of the archive.

Rules:
- every article with a body gets a story; an article with no near-duplicate is a story of its own;
- a new or changed article joins the story of its most similar verified candidate (``aggregator.stories``);
- an article whose text changed gets its buckets replaced and is matched again; when nothing matches any longer it
  keeps its story only if no other article shares it, otherwise it starts a new one;
- an article that matches articles of several stories joins them into one (the oldest): a story is a connected
  group of near-duplicates, so the grouping does not depend on the order in which sources were crawled (the agency
  copy's versions A ~ B and B ~ C are one story even when A and C, crawled first, matched nothing).

Concurrent writers: on SQLite every write transaction holds the database's write lock from its start
(``BEGIN IMMEDIATE``), so matching always sees every committed article. On PostgreSQL the matching step of a batch
takes a transaction-level advisory lock first, so two crawls writing near-duplicates at the same moment take
turns and the second sees the first's buckets (READ COMMITTED reads what committed before each statement): two
writers never create two stories for one pair. The lock is held from the matching step to the commit, which is the
end of the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, TextClause, delete, func, insert, select, text, update

from aggregator.store.models import Article, Story, StoryBucket, utcnow
from aggregator.stories import BANDS, Sketch

STORY_LOCK = 0x73746F72  # the advisory lock key of story matching on PostgreSQL


@dataclass(frozen=True, slots=True)
class Match:
    article_id: int
    story_id: int | None
    similarity: float


def lock_stories(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STORY_LOCK})


def _probe() -> TextClause:
    """The bucket lookup, built once: one (band = ? AND bucket = ?) pair per band, OR-ed, so that SQLite (multi-index
    OR) and PostgreSQL (BitmapOr) probe the primary key once per pair (a row-value IN list made SQLite scan the
    table), and no expression is rebuilt per article (building 40 pairs in SQLAlchemy cost more than running them)."""
    pairs = " OR ".join(f"(band = :band{i} AND bucket = :bucket{i})" for i in range(BANDS))
    return text(f"SELECT DISTINCT article_id FROM story_buckets WHERE {pairs}")


PROBE = _probe()


def candidates(conn: Connection, article_id: int | None, sketch: Sketch) -> list[Match]:
    """Articles sharing a bucket with ``sketch`` that verify as the same story, most similar first."""
    pairs = sketch.buckets()
    if not pairs:
        return []
    params: dict[str, int] = {}
    for i, (band, bucket) in enumerate(pairs):
        params[f"band{i}"], params[f"bucket{i}"] = band, bucket
    ids = [found for found in conn.execute(PROBE, params).scalars() if found != article_id]
    if not ids:
        return []
    articles = Article.__table__.c
    rows = conn.execute(select(articles.id, articles.story_id, articles.minhash).where(articles.id.in_(ids)))
    found = []
    for other_id, story_id, blob in rows:
        other = Sketch.unpack(blob)
        if other is not None and sketch.same_story(other):
            found.append(Match(other_id, story_id, sketch.containment(other)))
    found.sort(key=lambda m: (-m.similarity, m.article_id))
    return found


def assign(conn: Connection, items: Sequence[tuple[int, bytes | None]]) -> dict[int, int]:
    """Match each (article id, packed sketch) of a batch, in order, and record its story and buckets.

    Runs inside the caller's transaction; returns article id -> story id.
    """
    if not items:
        return {}
    lock_stories(conn)
    articles = Article.__table__.c
    ids = [article_id for article_id, _ in items]
    current = dict(conn.execute(select(articles.id, articles.story_id).where(articles.id.in_(ids))).all())
    conn.execute(delete(StoryBucket).where(StoryBucket.article_id.in_(ids)))
    now = utcnow()
    assigned: dict[int, int] = {}
    for article_id, blob in items:
        sketch = Sketch.unpack(blob)
        matches = candidates(conn, article_id, sketch) if sketch is not None else []
        matched = sorted({m.story_id for m in matches if m.story_id is not None})
        story_id = matched[0] if matched else None
        if story_id is None:
            story_id = _own_story(conn, article_id, current.get(article_id), now)
        else:
            conn.execute(update(Story).where(Story.id == story_id).values(updated_at=now))
            if len(matched) > 1:  # this article bridges stories: one story from now on
                others = matched[1:]
                conn.execute(update(Article).where(Article.story_id.in_(others)).values(story_id=story_id))
                conn.execute(delete(Story).where(Story.id.in_(others)))
                for key, value in list(assigned.items()):
                    if value in others:
                        assigned[key] = story_id
        conn.execute(update(Article).where(Article.id == article_id).values(story_id=story_id, minhash=blob))
        if sketch is not None and sketch.eligible:
            conn.execute(
                insert(StoryBucket), [{"band": b, "bucket": h, "article_id": article_id} for b, h in sketch.buckets()]
            )
        assigned[article_id] = story_id
    left = {story for article_id, story in current.items() if story is not None and assigned.get(article_id) != story}
    if left:  # stories their only article moved out of
        members = select(articles.story_id).where(articles.story_id.in_(left)).distinct().scalar_subquery()
        conn.execute(delete(Story).where(Story.id.in_(left), Story.id.not_in(members)))
    return assigned


def _own_story(conn: Connection, article_id: int, previous: int | None, now: datetime) -> int:
    """The article's own story: the one it had when nobody else shares it, else a new one."""
    articles = Article.__table__.c
    if previous is not None:
        others = conn.execute(
            select(func.count()).where(articles.story_id == previous, articles.id != article_id)
        ).scalar_one()
        if others == 0:
            return previous
    story_id = conn.execute(insert(Story).values(created_at=now, updated_at=now).returning(Story.id)).scalar_one()
    return int(story_id)
