"""Reads shared by the operator CLI and the read API: filtered article lists, keyset pages, stats, streaming export.

Ordering is by the article's time (published, else archived) and id, newest first. That key is an expression no index
holds, so a page is read as two index-ordered queries (dated articles by ``published_at``, undated ones by
``archived_at``; SQLite keeps the rowid in every index, PostgreSQL reads the few rows it needs) merged here, which
costs the same at any archive size.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Select, case, func, or_, select, tuple_

from aggregator.store.models import Article, Reject, Snapshot, Source

# The columns a list needs (no bodies: they are the bulk of a row).
LIST_COLUMNS = (
    Article.id,
    Article.source,
    Article.language,
    Article.title,
    Article.url,
    Article.published_at,
    Article.published_raw,
    Article.archived_at,
    Article.updated_at,
    Article.category,
    Article.story_id,
    Article.views,
)


class InvalidCursorError(ValueError):
    """A pagination cursor this code did not hand out."""


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    """Which articles: every field left as None does not filter."""

    source: str | None = None
    language: str | None = None
    since: datetime | None = None
    """Articles whose time (published, else archived) is at or after this instant."""
    until: datetime | None = None
    """... and strictly before this one."""
    story: int | None = None
    undated: bool = False
    """Only the articles whose date could not be read."""

    def common(self, stmt: Any) -> Any:
        if self.source:
            stmt = stmt.where(Article.source == self.source)
        if self.language:
            stmt = stmt.where(Article.language == self.language)
        if self.story is not None:
            stmt = stmt.where(Article.story_id == self.story)
        return stmt


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the last article's time and id."""

    moment: datetime
    id: int

    def encode(self) -> str:
        raw = json.dumps([self.moment.astimezone(UTC).isoformat(), self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> Position:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            moment_text, article_id = json.loads(raw)
            moment = datetime.fromisoformat(moment_text)
            if moment.tzinfo is None or not isinstance(article_id, int) or not 0 < article_id < 2**31:
                raise ValueError("not ours")
            return cls(moment.astimezone(UTC), article_id)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError) as exc:
            raise InvalidCursorError(f"not a cursor this API gave out: {cursor[:40]!r}") from exc


def article_time(row: Any) -> datetime:
    """The time an article is listed and paged by."""
    return row.published_at or row.archived_at  # type: ignore[no-any-return]


def _dated_part(filters: ArticleFilter, after: Position | None) -> Select[Any] | None:
    if filters.undated:
        return None
    stmt: Select[Any] = filters.common(select(*LIST_COLUMNS)).where(Article.published_at.is_not(None))
    if filters.since:
        stmt = stmt.where(Article.published_at >= filters.since)
    if filters.until:
        stmt = stmt.where(Article.published_at < filters.until)
    if after:
        stmt = stmt.where(tuple_(Article.published_at, Article.id) < tuple_(after.moment, after.id))
    return stmt.order_by(Article.published_at.desc(), Article.id.desc())


def _undated_part(filters: ArticleFilter, after: Position | None, *, unindexed: bool = False) -> Select[Any]:
    undated = func.coalesce(Article.published_at, None) if unindexed else Article.published_at
    stmt: Select[Any] = filters.common(select(*LIST_COLUMNS)).where(undated.is_(None))
    if filters.since:
        stmt = stmt.where(Article.archived_at >= filters.since)
    if filters.until:
        stmt = stmt.where(Article.archived_at < filters.until)
    if after:
        stmt = stmt.where(tuple_(Article.archived_at, Article.id) < tuple_(after.moment, after.id))
    return stmt.order_by(Article.archived_at.desc(), Article.id.desc())


def list_page(
    conn: Connection, filters: ArticleFilter, *, limit: int, after: Position | None = None
) -> tuple[list[Any], Position | None]:
    """One page of articles, newest first, after ``after``; and the position to ask for the next page from (None
    on the last page). Inserting articles between two requests neither repeats nor skips any on later pages."""
    rows: list[Any] = []
    dated = _dated_part(filters, after)
    if dated is not None:
        rows.extend(conn.execute(dated.limit(limit + 1)))
    undated = _undated_part(filters, after)
    if len(rows) > limit:
        # Only undated articles newer than the dated page's end can be on this page: the archive-time index reads that
        # short range. (The "undated" test is then written so that no index serves it: SQLite, without statistics,
        # would otherwise pick the published-time index and sort every undated article.)
        undated = _undated_part(filters, after, unindexed=True).where(Article.archived_at >= article_time(rows[-1]))
    rows.extend(conn.execute(undated.limit(limit + 1)))
    rows.sort(key=lambda r: (article_time(r), r.id), reverse=True)
    page = rows[:limit]
    more = len(rows) > limit
    return page, (Position(article_time(page[-1]), page[-1].id) if more and page else None)


def iter_articles(engine: Engine, filters: ArticleFilter, *, batch: int = 500) -> Iterator[Any]:
    """Every matching article (all columns), newest first, read a page at a time: memory stays that of one page
    whatever the archive's size, and no transaction is held open between pages."""
    after: Position | None = None
    while True:
        with engine.connect() as conn:
            page, after = list_page(conn, filters, limit=batch, after=after)
            if not page:
                return
            ids = [r.id for r in page]
            full = {a.id: a for a in conn.execute(select(Article.__table__).where(Article.id.in_(ids)))}
        for article_id in ids:
            if article_id in full:
                yield full[article_id]
        if after is None:
            return


def count_articles(conn: Connection, filters: ArticleFilter) -> int:
    total = 0
    for part in (_dated_part(filters, None), _undated_part(filters, None)):
        if part is not None:
            total += conn.execute(select(func.count()).select_from(part.order_by(None).subquery())).scalar_one()
    return total


def story_siblings(conn: Connection, article_id: int, story_id: int | None) -> list[Any]:
    """The other articles telling the same story (sharing ``articles.story_id``), newest first."""
    if story_id is None:
        return []
    stmt = (
        select(*LIST_COLUMNS)
        .where(Article.story_id == story_id, Article.id != article_id)
        .order_by(Article.archived_at.desc(), Article.id.desc())
        .limit(50)
    )
    return list(conn.execute(stmt))


def most_read(conn: Connection, *, hours: int, limit: int, now: datetime | None = None) -> list[Any]:
    """Articles published or archived in the last ``hours``, by views (ties: newest first)."""
    cutoff = (now or datetime.now(UTC)) - timedelta(hours=hours)
    stmt = (
        select(*LIST_COLUMNS)
        .where(or_(Article.published_at >= cutoff, Article.archived_at >= cutoff))
        .order_by(Article.views.desc(), Article.archived_at.desc(), Article.id.desc())
        .limit(limit)
    )
    return list(conn.execute(stmt))


def get_article(conn: Connection, article_id: int) -> Any | None:
    return conn.execute(select(Article.__table__).where(Article.id == article_id)).first()


def get_source(conn: Connection, key: str) -> Any | None:
    return conn.execute(select(Source.__table__).where(Source.key == key)).first()


def list_sources(conn: Connection) -> list[Any]:
    """The sources in the archive, with how many articles each has and the newest one's archive time."""
    counts = (
        select(Article.source, func.count().label("articles"), func.max(Article.archived_at).label("latest"))
        .group_by(Article.source)
        .subquery()
    )
    stmt = (
        select(Source.__table__, func.coalesce(counts.c.articles, 0).label("articles"), counts.c.latest)
        .outerjoin(counts, counts.c.source == Source.key)
        .order_by(Source.key)
    )
    return list(conn.execute(stmt))


def versions(conn: Connection, article_id: int) -> list[Any]:
    """The fetched versions (snapshots) of an article, oldest first, without their pages."""
    stmt = (
        select(
            Snapshot.id,
            Snapshot.fetched_at,
            Snapshot.url,
            Snapshot.http_status,
            Snapshot.etag,
            Snapshot.content_hash,
            func.length(Snapshot.raw_body).label("stored_bytes"),
        )
        .where(Snapshot.article_id == article_id)
        .order_by(Snapshot.fetched_at, Snapshot.id)
    )
    return list(conn.execute(stmt))


# -- stats ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class DayCounts:
    articles: int = 0
    undated: int = 0
    rejects: int = 0


def _day(conn: Connection, column: Any) -> Any:
    """The UTC calendar day of a timestamp column, as the back end can group by it."""
    if conn.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def daily_stats(
    conn: Connection, *, days: int, source: str | None = None, today: date | None = None
) -> dict[tuple[str, date], DayCounts]:
    """Per (source, UTC day) of the last ``days`` days: articles archived, of those undated, and rejects."""
    today = today or datetime.now(UTC).date()
    start = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), tzinfo=UTC)
    result: dict[tuple[str, date], DayCounts] = {}

    def day_of(value: Any) -> date:
        return value if isinstance(value, date) else date.fromisoformat(str(value))

    article_day = _day(conn, Article.archived_at)
    undated = func.sum(case((Article.published_at.is_(None), 1), else_=0))
    stmt = (
        select(Article.source, article_day.label("day"), func.count(), undated)
        .where(Article.archived_at >= start)
        .group_by(Article.source, article_day)
    )
    if source:
        stmt = stmt.where(Article.source == source)
    for key, day, count, missing in conn.execute(stmt):
        counts = result.setdefault((key, day_of(day)), DayCounts())
        counts.articles, counts.undated = int(count), int(missing or 0)
    reject_day = _day(conn, Reject.created_at)
    reject_source = func.coalesce(Reject.source, "-")
    rejects = (
        select(reject_source, reject_day.label("day"), func.count())
        .where(Reject.created_at >= start)
        .group_by(reject_source, reject_day)
    )
    if source:
        rejects = rejects.where(Reject.source == source)
    for key, day, count in conn.execute(rejects):
        result.setdefault((key, day_of(day)), DayCounts()).rejects = int(count)
    return result
