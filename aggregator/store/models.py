"""The archive's tables (names fixed by the design so that operators' SQL keeps working across releases)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


URL_LENGTH = 2000
"""The longest URL a row keeps (PostgreSQL enforces the column's length; SQLite does not)."""
SHORT_TEXT_LENGTH = 200
"""The longest printed date (``published_raw``) or category a row keeps."""
MAX_ID = 2**31 - 1
"""The largest id a row can have: ids are INTEGER columns, which PostgreSQL keeps in 32 bits."""


def names_a_row(value: int) -> bool:
    """Whether ``value`` can be a row's id. A lookup by any other finds nothing without asking the database, where
    binding it fails ("integer out of range" on PostgreSQL, an OverflowError past 64 bits on SQLite)."""
    return 1 <= value <= MAX_ID


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every back end (SQLite keeps no zone: store naive UTC, return aware)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to an aware UTC column")
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Source(Base):
    """A site we re-publish from, as the registry describes it (synced on every crawl)."""

    __tablename__ = "sources"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    homepage: Mapped[str] = mapped_column(String(500))
    domains: Mapped[list[Any]]
    languages: Mapped[list[Any]]
    timezone: Mapped[str] = mapped_column(String(64))


SHOWN_COUNTED = ("source", "withdrawn_at", "published_at", "archived_at", "withdrawn_by", "language")


class Article(Base):
    """One row per canonical source URL: the current version of the article."""

    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_source_published_at", "source", "published_at"),
        Index("ix_articles_published_at", "published_at"),
        Index("ix_articles_archived_at", "archived_at"),
        Index("ix_articles_published_at_views", "published_at", "views", "id"),
        # "Most read in the last N hours" ranks a range of published_at by views: this index answers it alone
        # (index-only), where the published_at index made the database read every recent row's text.
        # Counts from these two indexes alone, where each read every row of the table (and of a row whose texts are
        # long, its overflow pages: the columns after them are stored there). This one: each source's shown articles
        # and its newest (``/api/sources``, ``/metrics``), its withdrawn ones, and the articles a list shows
        # (``articles list``: "50 of N"); at 1,000,000 articles /metrics took 5.5 s, that count 1.2 s.
        Index("ix_articles_source_withdrawn", *SHOWN_COUNTED),
        # A language's articles, newest first (``/api/articles?language=``): walking the published_at index for a
        # language no article has read every row (3.3 s at 1,000,000, a request anyone can send).
        Index("ix_articles_language_shown", "language", "withdrawn_at", "published_at"),
        # The stories told by several articles, latest first (``stories list``: 3.6 s at 1,000,000), and a story's
        # articles (``story_id = ?``).
        Index("ix_articles_story_id", "story_id", "withdrawn_at", "published_at", "archived_at", "source"),
        # The change feed (``/api/changes``, ``export --changed-since``): the rows changed since an instant, oldest
        # change first, read in the index's order from where the client's cursor left off.
        Index("ix_articles_changed_at", "changed_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(ForeignKey("sources.key"), index=False)
    url: Mapped[str] = mapped_column(String(URL_LENGTH), unique=True)
    """The source link: the article's canonical URL on the source site."""
    fetched_url: Mapped[str] = mapped_column(String(URL_LENGTH))
    """The URL as last fetched (before canonicalisation)."""
    linked_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    """The address the crawl asked for when the site redirected it to ``fetched_url`` from elsewhere (a moved
    slug): incremental crawls know the article by it too. NULL when it was not redirected."""
    language: Mapped[str | None] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    published_raw: Mapped[str | None] = mapped_column(String(SHORT_TEXT_LENGTH))
    cover_image_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    category: Mapped[str | None] = mapped_column(String(SHORT_TEXT_LENGTH))
    content_hash: Mapped[str] = mapped_column(String(64))
    attribution_line: Mapped[str | None] = mapped_column(Text)
    """The re-publisher's line naming the source, in the article's language."""
    cited_outlets: Mapped[list[Any] | None]
    """Outlets the source's own text cites, in order of appearance."""
    archived_at: Mapped[datetime] = mapped_column(default=utcnow)
    """When the article first entered the archive."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    """When the archived content last changed."""
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    """When a crawl last fetched it, changed or not."""
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"))
    """The story this article tells, shared with near-duplicates from other sources."""
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The body text's similarity sketch (packed MinHash values), kept to verify bucket candidates."""
    views: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How many times the downstream site showed it (``POST /api/articles/{id}/views``)."""
    withdrawn_at: Mapped[datetime | None]
    """When the article was taken off the downstream site: every list, feed, search and story leaves it out, and its
    pages answer 410 Gone. The archive keeps it, its versions and its links. NULL for an article that is shown."""
    withdrawn_by: Mapped[str | None] = mapped_column(String(16))
    """``source`` (a re-fetch found the page gone: HTTP 404 or 410; a later fetch that finds it again shows it
    again) or ``operator`` (``aggregator articles withdraw``: only ``articles restore`` shows it again)."""
    withdrawn_reason: Mapped[str | None] = mapped_column(String(SHORT_TEXT_LENGTH))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    """When anything a reader of the downstream site is shown of the row last changed: its content (``updated_at``),
    and also its address (``db rekey``), its story (a story merged into another, ``stories rebuild``), its withdrawal
    or restoration. ``updated_at`` stays the content's time alone (the feeds' and sitemaps' dates, what a crawl run
    counts as updated). Not its views, which every reading changes. The change feed is ordered by it."""

    snapshots: Mapped[list[Snapshot]] = relationship(
        back_populates="article", order_by="Snapshot.fetched_at", cascade="all, delete-orphan"
    )


class Story(Base):
    """Near-duplicate articles (the same news text, usually from several sources) share a story."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class StoryBucket(Base):
    """LSH buckets of the articles' sketches, in the database so a lookup costs the same at any archive size."""

    __tablename__ = "story_buckets"
    # SQLite keeps the rows in the primary key's b-tree itself (no rowid table beside it). An article's rows are
    # found from its stored sketch (story_index) when it is matched again; the index by article serves deleting one
    # (the foreign key's cascade, as a merge does: it read the whole table, 0.7 s at 1,000,000 articles), and costs
    # new articles' rows ~10 % more to write (their ids are the newest: it grows at its end). See migration 0020.
    __table_args__ = (
        Index("ix_story_buckets_article_id", "article_id"),
        {"sqlite_with_rowid": False},
    )

    band: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    """A signed 64-bit hash of the band's MinHash values."""
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)


class Snapshot(Base):
    """Every distinct version of an article we fetched: the raw response, compressed, with its validators."""

    __tablename__ = "snapshots"
    # Not unique on (article_id, content_hash): a page edited and put back (A, B, A) is a third version (0018).
    __table_args__ = (Index("ix_snapshots_article_id", "article_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    """Indexed with the id: an article's versions, and its newest one, are read from the index."""
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    """The URL the response came from (the real site's)."""
    fetched_at: Mapped[datetime]
    http_status: Mapped[int]
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    content_hash: Mapped[str] = mapped_column(String(64))
    """Hash of the extracted content (title, body, date). A fetch whose hash is the article's current one adds no
    snapshot (``Archive.save`` compares them); one that returns to an earlier version's hash adds one."""
    encoding: Mapped[str | None] = mapped_column(String(40))
    """The text encoding the page was decoded with."""
    compression: Mapped[str] = mapped_column(String(16), default="zlib")
    raw_body: Mapped[bytes] = mapped_column(LargeBinary)

    article: Mapped[Article] = relationship(back_populates="snapshots")


class Reject(Base):
    """Quarantine: what a crawl refused or could not fetch, why, and the item, so nothing is silently lost."""

    __tablename__ = "rejects"
    __table_args__ = (
        Index("ix_rejects_source_created_at", "source", "created_at"),
        Index("ix_rejects_url", "url"),
        # Deleting old runs sets their rejects' crawl_run_id to NULL: without it, a search of every reject per run.
        Index("ix_rejects_crawl_run_id", "crawl_run_id"),
        # Likewise deleting an article (its rejects' article_id set to NULL) and a merge moving them to the kept row.
        Index("ix_rejects_article_id", "article_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    linked_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    """As ``Article.linked_url``: the address the crawl asked for, when a redirect led to ``url``."""
    stage: Mapped[str] = mapped_column(String(32))
    """Where it was refused: ``fetch`` (HTTP or network error), a pipeline's name, or ``error``."""
    reason: Mapped[str] = mapped_column(Text)
    http_status: Mapped[int | None]
    item: Mapped[dict[str, Any] | None]
    """The item as it was when refused (without the raw body, which is in ``raw_body``)."""
    raw_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The response body, zlib-compressed, so a retry needs no network."""
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    """When the page was first refused (for this stage and reason)."""
    attempts: Mapped[int] = mapped_column(default=1, server_default="1")
    """How many fetches of the page were refused in a row for this stage and reason: a crawl that meets the same
    refusal again counts it here (with the newest item, page and run) instead of adding a row."""
    last_seen_at: Mapped[datetime | None]
    """When the page was last refused so; incremental crawls wait before fetching it again, longer after each
    refusal (``aggregator.incremental``)."""
    resolved_at: Mapped[datetime | None]
    """When the page was archived after all (``aggregator rejects retry``, or a later crawl that accepted it); NULL
    while it is still refused."""
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    """The article a successful retry archived."""


class Redirect(Base):
    """An address the site redirects to another page (a moved slug, a numeric link to a named page), as a crawl met
    it: incremental crawls know the page by it, so that listings linking it do not make every run fetch it again.

    ``articles.linked_url`` keeps one such address an article was fetched through; this table keeps every one,
    including those whose redirect a run did not follow because it had already fetched the page it leads to (Scrapy's
    duplicate filter drops the redirected request).
    """

    __tablename__ = "redirects"
    __table_args__ = (
        Index("ix_redirects_source", "source"),
        Index("ix_redirects_target", "target"),  # an article's addresses (``articles show``)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(URL_LENGTH), unique=True)
    """The address the crawl asked for (what a listing links): the first of the redirect chain."""
    target: Mapped[str] = mapped_column(String(URL_LENGTH))
    """Where the redirects ended: the page's address as fetched. For an address that served an article's page
    without a redirect (its canonical link naming the article), the article's URL (``repository._aliases``)."""
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    """When a crawl last met the redirect."""


class CrawlRun(Base):
    """One row per run of one spider."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    spider: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")
    """running, finished, partial or failed."""
    finish_reason: Mapped[str | None] = mapped_column(String(100))
    stats: Mapped[dict[str, Any] | None]
    pages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Responses received (articles, listings, feeds, robots.txt)."""
    items_new: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    items_updated: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    items_unchanged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rejected: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    http_errors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    dates_unparsed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    health: Mapped[dict[str, Any] | None]
    """The source's health after this run (coverage, item count against the median, error rate, verdict)."""
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None]
    """Which process ran it, so a run left "running" by a killed process can be recognised as stale."""
    crawl_id: Mapped[str | None] = mapped_column(String(32), index=True)
    """The scale-out crawl this run is a worker of: the workers sharing one frontier generation share it
    (``aggregator.scaleout``), and are judged and listed together. None for a run on its own."""
