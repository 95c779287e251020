"""The read API, the feeds and the article page the downstream site serves, over one archive.

Reads go through an engine that cannot write (SQLite ``query_only``, PostgreSQL read-only transactions); the views
counter, the one write, has an engine of its own. Handlers build plain dicts and serialise them once: the pydantic
models below document the responses in ``/openapi.json`` without re-validating every response.
"""

from __future__ import annotations

import base64
import functools
import gc
import hashlib
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, ParamSpec
from urllib.parse import urlsplit

import jinja2
import orjson
from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, Field
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    String,
    bindparam,
    create_engine,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, DBAPIError, DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Match, Route

from aggregator import present
from aggregator.api import sitemaps
from aggregator.api.feeds import ATOM_TYPE, RSS_TYPE, Channel, atom_feed, rss_feed
from aggregator.api.view_record import VIEW_WINDOW_SECONDS, VIEWS_PER_MINUTE, SharedViewRecord, ViewRecord
from aggregator.environment import env_settings
from aggregator.health_report import DEFAULT_MAX_AGE_HOURS, UNKNOWN, max_age, source_health
from aggregator.html import css, http_url
from aggregator.sources import UnknownSourceError, all_sources
from aggregator.sources import get_source as registry_source
from aggregator.store import queries
from aggregator.store import search as fulltext
from aggregator.store.db import connect, existing_file_url, normalise_url, sqlite_file
from aggregator.store.models import MAX_ID, Article, UTCDateTime
from aggregator.urls import DEFAULT_PORTS, canonical_url, web_origin

P = ParamSpec("P")
TEMPLATES = Path(__file__).resolve().parent / "templates"


def written_plainly(value: object) -> object:
    """A number in a path as the site writes it (``5``), not one of the other spellings an int would take
    (``05``, ``+5``, ``5.0``, ``1_0``, `` 5``): each of those would be a second address of the same page."""
    if isinstance(value, str) and not _PLAIN_NUMBER.fullmatch(value):
        raise ValueError("a number written in digits alone, without a leading zero")
    return value


_PLAIN_NUMBER = re.compile(r"0|[1-9][0-9]*")
ArticleId = Annotated[
    int, BeforeValidator(written_plainly), PathParam(ge=1, le=MAX_ID, description="The article's id.")
]
Edition = Literal["ru", "az", "en"]
"""The site's editions: the languages its pages have labels in (``present.LABELS``), which are the languages its
sources can write in (``sources.LANGUAGES``). A ``language`` of any other is answered alike everywhere: the API and
the feeds a 422 naming these ("Input should be 'ru', 'az' or 'en'"), the pages an HTML 400; an article list of a
language no article can have was a 200 with nothing in it, which read as "none yet"."""
FEED_SIZE = 50
FeedEdition = Annotated[
    Edition | None,
    Query(description="An edition (ru, az, en): only articles in this language, and the feed says it is in it."),
]
ListLanguage = Annotated[Edition | None, Query(description="Only articles in this language: ru, az or en.")]
MACHINE_PATHS = ("/api/", "/feeds/", "/sitemap", "/robots.txt", "/healthz", "/metrics", "/docs", "/redoc", "/openapi")
"""Where the addresses are for programs: an address there that no route has is a JSON 404, elsewhere a page."""
WITHOUT_ARCHIVE = ("/robots.txt",)
"""The routes that read nothing from the archive: never a 503 while it does not answer."""
MOST_READ_TTL = 10.0
"""Seconds a most-read list is reused (views counted meanwhile show on the article itself at once)."""
EDITION_MOST_READ = (
    select(*queries.LIST_COLUMNS)
    .where(
        or_(
            queries.ARTICLES.c.published_at >= bindparam("cutoff", type_=UTCDateTime()),
            queries.ARTICLES.c.archived_at >= bindparam("cutoff", type_=UTCDateTime()),
        ),
        # The language through an expression no index holds: the planner then reads the window's short ranges of
        # the two time indexes, as for the list of every language, not every article of the language from its own.
        func.coalesce(queries.ARTICLES.c.language, "") == bindparam("language", type_=String()),
        queries.ARTICLES.c.views > 0,
        queries.ARTICLES.c.withdrawn_at.is_(None),
    )
    .order_by(
        queries.ARTICLES.c.views.desc(),
        func.coalesce(queries.ARTICLES.c.published_at, queries.ARTICLES.c.archived_at).desc(),
        queries.ARTICLES.c.id.desc(),
    )
    .limit(bindparam("limit", type_=Integer()))
)
"""An edition's most-read list, as its article pages show it: the read articles (an unread one is no "most read",
and listing them filled the list with the newest ids) of the window in that language, by views, then newest first
(published time, else archive time)."""
SQLITE_MMAP_BYTES = 2 << 30
"""How much of an SQLite archive the read engine maps into memory (address space, not memory: the OS pages it in;
SQLite's own ceiling is just under 2 GiB)."""
SQLITE_CACHE_KIB = 32 << 10
"""Each read connection's own page cache (SQLite's default is 2 MiB)."""
GZIP_LEVEL = 6
"""zlib's level for the answers sent gzipped: 9 (Starlette's default) takes twice the CPU for 1-2% less (a sitemap
file of 50,000 pages: 4.7 MB, 141 KB at 6 in 15 ms, 138 KB at 9 in 29 ms)."""
RETRY_AFTER_SECONDS = 30
"""What a 503 for an archive that does not answer asks clients to wait (``Retry-After``): a database restart or a
fail-over takes seconds to a minute."""
NOT_KEPT = {"Cache-Control": "no-store"}
"""The probes' answers (``/healthz``, ``/api/health``, ``/metrics``) are of this moment: a cache in front must not
keep one (without a Cache-Control, Varnish keeps a 200 for two minutes: a source gone red would stay green)."""
METHOD_ORDER = {method: n for n, method in enumerate(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))}
"""The order a 405's ``Allow`` names methods in (the usual one; any other after them)."""
CORS_METHODS = ("GET", "HEAD", "POST")
"""What a script of another origin may ask (``AGGREGATOR_CORS_ORIGINS``): the reads, and the views counter's POST."""
CORS_MAX_AGE = 3600
"""Seconds a browser keeps a preflight's answer (Chromium keeps one at most 2 hours, Firefox 24)."""
API_DOCS = ("/docs", "/redoc")
"""FastAPI's documentation pages: HTML that loads its script and styles from a CDN, so not under the pages' policy."""
SERVE_DB_URL = "AGGREGATOR_SERVE_DB_URL"
SERVE_SITE_NAME = "AGGREGATOR_SERVE_SITE_NAME"
"""How ``aggregator serve --workers N`` tells its worker processes what to serve (see ``app_from_environment``)."""

logger = logging.getLogger(__name__)


# -- response shapes (for /openapi.json) ---------------------------------------------------------------


class Problem(BaseModel):
    detail: str | list[dict[str, Any]]


class ArticleSummary(BaseModel):
    id: int
    source: str
    source_name: str = Field(description="The outlet's display name, the registry's, as the article page prints it.")
    language: str | None
    title: str
    url: str = Field(description="The source link: the article's canonical URL on the source site.")
    published_at: datetime | None = Field(description="UTC; null when the page's date could not be read.")
    archived_at: datetime
    updated_at: datetime = Field(description="When the content (text, title, date, cover) last changed.")
    changed_at: datetime = Field(
        description="When anything shown of the article last changed: its content, address, story, or a withdrawal "
        "lifted (`/api/changes` is ordered by it). Not its views."
    )
    category: str | None
    cover_image_url: str | None = Field(description="The cover picture on the source site (for a thumbnail).")
    story_id: int | None
    views: int


class ArticlePage(BaseModel):
    items: list[ArticleSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class SearchHit(ArticleSummary):
    score: float = Field(description="Higher is better; comparable within one answer only.")


class SearchResults(BaseModel):
    query: str
    words: list[str] = Field(description="The words searched for, as the index holds them (all must match).")
    items: list[SearchHit]
    total: int = Field(
        description=f"How many articles match; with `total_capped`, the {fulltext.SEARCH_WINDOW:,} a search counts to, "
        f"and more match (a search ranks, and its pages reach, its latest {fulltext.SEARCH_WINDOW:,} matches)."
    )
    total_capped: bool = Field(description=f"Whether more than {fulltext.SEARCH_WINDOW:,} articles match.")
    next_cursor: str | None = Field(
        description="Pass as `cursor`, with the same `q` and filters, for the next page; null on the last page."
    )


class ChangedArticle(ArticleSummary):
    """An article shown on the site, as it is now (its body: `/api/articles/{id}`)."""

    withdrawn_at: None = Field(description="Null: the article is shown.")


class WithdrawnArticle(BaseModel):
    """A tombstone: the article was withdrawn, and the site no longer shows it (remove it). Nothing of it but what
    names it."""

    id: int
    url: str = Field(description="The source link it had.")
    changed_at: datetime
    withdrawn_at: datetime


class Changes(BaseModel):
    items: list[ChangedArticle | WithdrawnArticle] = Field(
        description="Oldest change first (ties by id); a withdrawn article as a tombstone (`withdrawn_at` set)."
    )
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page, or at the next poll: where this page ended (the `cursor` "
        "given when the page is empty; null when neither)."
    )
    more: bool = Field(description="Whether more changes are listed already: ask for the next page at once.")


class SourceRef(BaseModel):
    key: str
    name: str
    homepage: str


class ArticleDetail(ArticleSummary):
    body_html: str = Field(description="Sanitised HTML (an allow-list of tags; http(s), mailto: and tel: links only).")
    body_text: str
    attribution_line: str | None
    source_info: SourceRef
    cited_outlets: list[str]
    published_raw: str | None = Field(description="The date as the page printed it.")
    archived_at_printed: str = Field(description="The archive time as the article page prints it (Baku time).")
    story_siblings: list[ArticleSummary]


class SourceInfo(BaseModel):
    key: str
    name: str
    homepage: str
    languages: list[str]
    timezone: str
    domains: list[str]
    articles: int
    latest_archived_at: datetime | None
    feed: str = Field(description="The source's RSS 2.0 feed.")
    atom_feed: str = Field(description="The same feed in Atom 1.0.")


class Liveness(BaseModel):
    status: Literal["ok", "error"]
    database: str = Field(description='"ok", or the kind of error the archive answered with.')


class SourceHealth(BaseModel):
    """A source's verdict after its latest judged run (``aggregator health``); ``status`` unknown before any."""

    source: str
    status: Literal["green", "red", "unknown"]
    problems: list[str]
    run: int | None
    run_status: str | None
    finished_at: datetime | None
    latest_run_started_at: datetime | None
    crawl: int | None = Field(
        None, description="A scale-out crawl's first run: its workers' runs are judged together (then `run` too)."
    )
    workers: int | None = Field(None, description="The runs of that crawl.")
    items: int | None = None
    extracted: int | None = None
    median: float | None = None
    coverage: dict[str, float | None] | None = None
    undated: float | None = None
    http_error_rate: float | None = None
    http_errors: int | None = None
    not_stored: int | None = Field(
        None, description="Items the run fetched but could not write to the archive (one makes the source red)."
    )
    held_until: datetime | None = Field(None, description="Until when the site's Retry-After holds its runs back.")
    links_over_cap: int | None = Field(
        None, description="Article links past AGGREGATOR_MAX_LINKS_PER_LISTING on a listing or feed, not followed."
    )


class CrawlHealth(BaseModel):
    status: Literal["green", "red", "unknown"] = Field(
        description="green when every source is, red when one is, else unknown (a source has no verdict yet)."
    )
    red: list[str] = Field(description="The sources that are red.")
    unknown: list[str] = Field(description="The sources with no verdict yet (never run).")
    sources: list[SourceHealth]


class MostRead(BaseModel):
    hours: int
    items: list[ArticleSummary]


class ViewCount(BaseModel):
    id: int
    views: int
    counted: bool = Field(
        description="Whether this view was counted: false for a reader whose view of the article is already counted."
    )


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such article or source."}}
GONE: dict[int | str, dict[str, Any]] = {
    410: {"model": Problem, "description": "The article was withdrawn (the archive keeps it; nothing shows it)."}
}
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {304: {"description": "Unchanged since the ETag given."}}
FOREIGN_PAGE: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem, "description": "Posted from a page of another site (`Origin`)."}
}
TOO_MANY_VIEWS: dict[int | str, dict[str, Any]] = {
    429: {
        "model": Problem,
        "description": f"Over {VIEWS_PER_MINUTE} views counted from this address in a minute (`Retry-After`).",
    }
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "description": "The archive does not answer (`Retry-After` says when to try again)."}
}


def html_page(description: str) -> dict[str, Any]:
    """A response documented as an HTML page: the pages answer their errors as pages."""
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


PAGE_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: html_page("The archive does not answer (`Retry-After` says when to try again).")
}


# -- engines -------------------------------------------------------------------------------------------


def read_only_engine(url: str) -> Engine:
    """An engine that refuses writes, with a pool sized for the server's worker threads."""
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(existing_file_url(url), pool_size=20, max_overflow=20)

        def pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA query_only=ON")
            # Read the file through a memory map: pages come straight from the OS page cache, shared by every
            # connection and worker process, instead of a read() and a copy into each connection's small cache.
            cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.close()

        event.listen(engine, "connect", pragmas)
        path = sqlite_file(url)
        if path is not None:
            follow_the_file(engine, path)
        return engine
    return create_engine(
        url,
        pool_size=20,
        max_overflow=20,
        pool_pre_ping=True,
        connect_args={"options": "-c default_transaction_read_only=on"},
    )


def follow_the_file(engine: Engine, path: Path) -> None:
    """Let the pool's connections read only the file now at ``path``.

    An open file outlives its name: when the archive is removed, or replaced (a backup restored with ``mv``, a copy
    swapped in), a pooled connection would go on answering from the old file, the server serving stale articles
    with ``/healthz`` saying ok, until it restarts. Each connection remembers the file it opened (its inode), and
    one checked out of the pool after the path has changed is thrown away (``DisconnectionError``: the pool opens
    a new one, on the new file, or fails as a missing archive fails: a 503). One ``stat`` a checkout, ~2 us.
    """

    def opened(_dbapi_connection: Any, record: Any) -> None:
        record.info["inode"] = _inode(path)

    def checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if _inode(path) != record.info.get("inode"):
            raise DisconnectionError(f"{path} is not the file this connection opened")

    event.listen(engine, "connect", opened)
    event.listen(engine, "checkout", checkout)


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


MOST_READ_KEPT = 256
"""The most-read lists ``Store.most_read`` keeps at once (an hours, limit and edition each)."""


class Store:
    """The app's two engines; the writing one is only made when a view is first counted."""

    def __init__(self, url: str, most_read_ttl: float = MOST_READ_TTL) -> None:
        self.url = url
        self.read = read_only_engine(url)
        self.most_read_ttl = most_read_ttl
        self._most_read: dict[tuple[int, int, str | None], tuple[float, list[Any]]] = {}

    def most_read(self, hours: int, limit: int, edition: str | None = None) -> list[Any]:
        """The most-read list, kept for a few seconds: every page shows it, and ranking a day's articles by views
        on every page view would cost more than the rest of the page. Of one edition (``EDITION_MOST_READ``: read
        articles only) when asked, as an article page shows it; else ``/api/most-read``'s, of every language."""
        now = time.monotonic()
        key = (hours, limit, edition)
        kept = self._most_read.pop(key, None)
        if kept is not None and kept[0] > now:
            self._most_read[key] = kept  # the most recently used last: the pages' own lists stay
            return kept[1]
        with self.read.connect() as conn:
            if edition is None:
                rows = queries.most_read(conn, hours=hours, limit=limit)
            else:
                cutoff = datetime.now(UTC) - timedelta(hours=hours)
                rows = queries.run(conn, EDITION_MOST_READ, {"cutoff": cutoff, "language": edition, "limit": limit})
        self._keep_room(now)
        self._most_read[key] = (now + self.most_read_ttl, rows)
        return rows

    def _keep_room(self, now: float) -> None:
        """Any hours/limit may be asked for: the cache keeps ``MOST_READ_KEPT`` lists, the expired dropped first,
        then the least recently used. It was emptied whole once full, so a client asking for 257 different limits
        had every page's own list computed again at its next view, as often as it liked."""
        if len(self._most_read) < MOST_READ_KEPT:
            return
        for key in [k for k, (until, _) in self._most_read.items() if until <= now]:
            del self._most_read[key]
        while len(self._most_read) >= MOST_READ_KEPT:
            del self._most_read[next(iter(self._most_read))]

    @cached_property
    def write(self) -> Engine:
        engine = connect(self.url, create=False)
        path = sqlite_file(self.url)
        if path is not None:
            follow_the_file(engine, path)  # a view counted into a removed file would be lost
        return engine

    def close(self) -> None:
        self.read.dispose()
        if "write" in self.__dict__:
            self.write.dispose()


# -- helpers -------------------------------------------------------------------------------------------


def summary(row: Any, names: dict[str, str]) -> dict[str, Any]:
    """A list item of the API (``ArticleSummary``); ``names``: the sources' display names (``source_names``)."""
    return {
        "id": row.id,
        "source": row.source,
        "source_name": names.get(row.source, row.source),
        "language": row.language,
        "title": row.title,
        "url": row.url,
        "published_at": row.published_at,  # json_body writes instants as present.utc_iso does
        "archived_at": row.archived_at,
        "updated_at": row.updated_at,
        "changed_at": row.changed_at,
        "category": row.category,
        "cover_image_url": row.cover_image_url,
        "story_id": row.story_id,
        "views": row.views,
    }


def _etag(body: bytes) -> str:
    return 'W/"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def _unchanged(request: Request, etag: str) -> bool:
    """Whether the client's copy is current: its ``If-None-Match`` names the answer's tag (or is ``*``).

    ``If-Modified-Since`` is ignored, as RFC 9110 has it for a representation without a modification date: what a
    read shows changes with nothing dated to say so (a view counted, an article withdrawn or shown again, one moved
    to a story, the most-read list as its window moves), so no date could tell a current copy from a stale one.
    The tag, a hash of the answer's bytes, changes with any of them, at the cost of the hash alone."""
    # A list field may come in several lines (RFC 9110 5.3: as one line joined with commas), as a proxy may send it.
    lines = request.headers.getlist("if-none-match")
    if not lines:
        return False
    tags = {t.strip().removeprefix("W/") for line in lines for t in line.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def reuse(seconds: int) -> str:
    """The ``Cache-Control`` of a public read (``AGGREGATOR_CACHE_SECONDS``): by default (0) ``no-cache``, which lets
    a cache keep the answer but not give it out without asking the server (a 304 when unchanged); ``seconds`` lets
    any cache, a CDN's or the browser's, give it out for that long without asking (``public``: pages, API answers
    and feeds hold nothing of one reader's)."""
    return f"public, max-age={seconds}" if seconds > 0 else "no-cache"


def cached(request: Request, body: bytes, media_type: str, status: int = 200) -> Response:
    """A read's response with its validator (the ETag; no Last-Modified, see ``_unchanged``), or 304 when the
    client already has it; either with the app's ``Cache-Control`` for reads (``reuse``, kept in its state)."""
    etag = _etag(body)
    headers = {"ETag": etag, "Cache-Control": request.app.state.cache_control}
    if status == 200 and _unchanged(request, etag):
        # A 304 carries the Vary its 200 would (RFC 9110 15.4.5): GZipMiddleware adds it to answers with a body only.
        return Response(status_code=304, headers=headers | {"Vary": "Accept-Encoding"})
    return Response(body, status_code=status, media_type=media_type, headers=headers)


def json_body(data: Any) -> bytes:
    """Compact UTF-8 JSON (orjson); instants (UTC, as the store returns them) as ISO 8601 with a "Z", the spelling
    of ``present.utc_iso``. Five times cheaper than the json module with ``utc_iso`` on every instant of a page."""
    return orjson.dumps(data, option=orjson.OPT_UTC_Z)


def cached_json(request: Request, data: Any) -> Response:
    return cached(request, json_body(data), "application/json")


def source_entry(conn: Connection, key: str) -> Any | None:
    """The registry's entry (the name the attribution line prints), else the archive's record of a source taken out
    of the registry since (its articles stay); None for neither."""
    try:
        return registry_source(key)
    except UnknownSourceError:
        return queries.archived_source(conn, key)


def source_names(conn: Connection, keys: Iterable[str]) -> dict[str, str]:
    """Each source key's display name, as a list of articles names their outlets: the registry's ``name``, else the
    archive's record of a source taken out of it; the key itself for neither."""
    names = {}
    for key in set(keys):
        entry = source_entry(conn, key)
        names[key] = entry.name if entry else key
    return names


def shown_cover(cover_image_url: str | None, body_html: str) -> str | None:
    """The cover an article page shows above the body: the cover's web address, unless the body shows that picture
    already (a source that keeps its lead picture in the text), compared as canonical addresses (``http`` or
    ``https``, ``www.``, the order of a query's parameters), so that a reader does not see it twice. None for no
    cover, or one that is no web address (an archive written before the crawl refused others)."""
    cover = http_url(cover_image_url or "", cover_image_url)
    if cover is None:
        return None
    if "<img" not in body_html:  # most bodies: no parse
        return cover
    wanted = canonical_url(cover)
    for image in css(LexborHTMLParser(body_html), "img[src]"):
        src = http_url(cover, image.attributes.get("src"))
        if src is not None and canonical_url(src) == wanted:
            return None
    return cover


def storable(text: str) -> bool:
    """Whether a text could be in the archive's text columns: PostgreSQL's hold no NUL character, and a query naming
    one fails (a 500) instead of finding nothing, so a source key with one is none of the archive's."""
    return "\x00" not in text


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def answers_html(request: Request) -> bool:
    """Whether the request is for one of the site's pages, whose errors are pages too (the API's and the feeds'
    errors are JSON)."""
    route = request.scope.get("route")
    return isinstance(route, APIRoute) and route.response_class is HTMLResponse


def query_problem(name: str, message: str) -> JSONResponse:
    """A 422 shaped like FastAPI's own validation errors, for checks FastAPI cannot make (registry, cursor)."""
    return JSONResponse({"detail": [{"type": "value_error", "loc": ["query", name], "msg": message}]}, status_code=422)


def archive_unavailable(exc: Exception) -> bool:
    """Whether a database error says that the archive cannot answer now, rather than that a query is wrong: the
    server down or refusing connections, a connection lost, every pooled connection taken, an SQLite file gone,
    locked or no longer a database (the driver's plain DatabaseError: "file is not a database", "malformed")."""
    if isinstance(exc, PoolTimeoutError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    return exc.connection_invalidated or isinstance(exc, OperationalError) or type(exc) is DatabaseError


def utc(value: datetime | None) -> datetime | None:
    """An instant from a query (UTC when it names no zone)."""
    if value is None:
        return None
    moment: datetime = value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- the app -------------------------------------------------------------------------------------------


def inline_hash(template: str, tag: str) -> str:
    """The CSP source (``'sha256-...'``) that allows the one inline ``<script>`` or ``<style>`` of a template: the
    hash of its text as the template holds it, which is the text served as long as it holds no template syntax (an
    article's id in the script would make every page's hash another). Such a text, or a second element, is refused
    at start-up, rather than a policy that silently blocks the script on every page."""
    source = (TEMPLATES / template).read_text(encoding="utf-8")
    found = re.findall(rf"<{tag}>(.*?)</{tag}>", source, re.DOTALL)
    if len(found) != 1 or any(mark in found[0] for mark in ("{{", "{%", "{#")):
        raise RuntimeError(f"{template}: the Content-Security-Policy needs one <{tag}> without template syntax")
    return f"'sha256-{base64.b64encode(hashlib.sha256(found[0].encode()).digest()).decode()}'"


def page_policy() -> str:
    """The site's pages' Content-Security-Policy: the page's own addresses, pictures from anywhere (covers and body
    images are the source sites'), the one inline script and the one inline style by their hashes, and nothing that
    could take the page elsewhere (a plugin, a ``<base>``, a form posting off-site, a frame of another site)."""
    return (
        "default-src 'self'; img-src https: http: data:; "
        f"script-src {inline_hash('article.html', 'script')}; style-src {inline_hash('base.html', 'style')}; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    )


class SecurityHeaders:
    """ASGI middleware: every answer is not to be sniffed as another type nor framed by another site; the site's HTML
    pages carry ``policy`` and send no ``Referer`` (as their ``<meta name="referrer">`` says already, for browsers
    that read only one of them; the source link's own ``referrerpolicy`` outranks both)."""

    def __init__(self, app: Any, policy: str) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        documentation = scope["path"].startswith(API_DOCS)

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "SAMEORIGIN")
                if headers.get("content-type", "").startswith("text/html") and not documentation:
                    headers.setdefault("Content-Security-Policy", self.policy)
                    headers.setdefault("Referrer-Policy", "no-referrer")
                else:
                    headers.setdefault("Content-Security-Policy", "frame-ancestors 'self'")
            await send(message)

        await self.app(scope, receive, with_headers)


class PublicAddress:
    """ASGI middleware: every request is taken as made to the site's public address (``AGGREGATOR_PUBLIC_URL``),
    whatever its ``Host`` header says.

    The feeds, sitemaps, ``robots.txt`` and the pages' canonical and ``og:url`` links are absolute addresses made
    from the request (``url_for``). From the ``Host`` a client sends, ``Host: evil.example`` got links to evil.example
    into answers a cache in front of the site may keep and hand to every reader; behind a proxy that does not pass
    the reader's host on, they named the proxy's upstream address."""

    def __init__(self, app: Any, public_url: str) -> None:
        self.app = app
        parts = urlsplit(public_url)
        assert parts.hostname is not None
        self.scheme = parts.scheme
        default = 443 if parts.scheme == "https" else 80
        self.server = (parts.hostname, parts.port or default)
        self.host = parts.netloc.encode("idna" if not parts.netloc.isascii() else "ascii")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = dict(scope)
            scope["scheme"], scope["server"] = self.scheme, self.server
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"] + [(b"host", self.host)]
        await self.app(scope, receive, send)


class ReadAPI(FastAPI):
    """The app, whose ``/openapi.json`` says only what its routes answer.

    FastAPI documents a 422 for every route that takes a parameter, and the app's 503 for every route: the pages
    never answer a 422 (``invalid`` answers their bad parameters as pages: a 404 for an id that cannot be an
    article's, else a 400), and ``/robots.txt`` reads nothing from the archive, so it is never a 503. A client
    generated from the description, or a contract test, would expect answers that never come."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is not None:
            return self.openapi_schema
        schema = super().openapi()
        for route in self.routes:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            never = {"422"} if route.response_class is HTMLResponse else set()
            never |= {"503"} if route.path_format in WITHOUT_ARCHIVE else set()
            for method in route.methods or ():
                responses = schema["paths"][route.path_format][method.lower()]["responses"]
                for status in never:
                    responses.pop(status, None)
        return schema


def create_app(
    db_url: str,
    *,
    site_name: str = "Icma.az",
    most_read_ttl: float = MOST_READ_TTL,
    health_max_age: timedelta | Literal["environment"] | None = "environment",
    public_url: str | Literal["environment"] | None = "environment",
    view_record: ViewRecord | SharedViewRecord | None = None,
    cors_origins: Sequence[str] | Literal["environment"] = "environment",
    change_settle: float = queries.CHANGE_SETTLE_SECONDS,
    cache_seconds: int | Literal["environment"] = "environment",
) -> FastAPI:
    """The API, feeds and pages over the archive at ``db_url`` (its schema must be current: ``db upgrade``).

    ``health_max_age``: how old a source's latest judged run may be before ``/api/health`` calls it red (None:
    any age); by default ``AGGREGATOR_HEALTH_MAX_AGE_HOURS`` from the environment, else 24 hours.

    ``public_url``: the site's own address (``https://icma.az``) that its absolute links name; by default
    ``AGGREGATOR_PUBLIC_URL`` from the environment; unset, each request's own (its ``Host`` header).

    ``view_record``: who has viewed what lately, so that the views counter counts a reader once per article in its
    window; by default one of ``AGGREGATOR_VIEW_WINDOW_SECONDS`` from the environment, else 30 minutes, kept in the
    Redis that ``AGGREGATOR_REDIS_URL`` names (shared by every server process), else in this process.

    ``cors_origins``: the origins (``https://icma.az``, or ``*`` for any) whose pages' scripts may read the API and
    the feeds from a browser (CORS); by default ``AGGREGATOR_CORS_ORIGINS`` from the environment; none: no CORS
    headers at all, as a browser then allows same-origin reads only.

    ``change_settle``: how old a change must be before ``/api/changes`` lists it (``queries.CHANGE_SETTLE_SECONDS``).

    ``cache_seconds``: how long a cache in front (a CDN) or a browser may give out a public read's answer without
    asking again (``reuse``); by default ``AGGREGATOR_CACHE_SECONDS`` from the environment, else 0: every use asks.
    """
    store = Store(db_url, most_read_ttl)
    wanted = "environment" in (health_max_age, public_url, cors_origins, cache_seconds) or view_record is None
    environment = env_settings() if wanted else {}
    if health_max_age == "environment":
        health_max_age = max_age(environment.get("AGGREGATOR_HEALTH_MAX_AGE_HOURS", DEFAULT_MAX_AGE_HOURS))
    if public_url == "environment":
        public_url = environment.get("AGGREGATOR_PUBLIC_URL")
    if cors_origins == "environment":
        cors_origins = environment.get("AGGREGATOR_CORS_ORIGINS", ())
    if cache_seconds == "environment":
        cache_seconds = int(environment.get("AGGREGATOR_CACHE_SECONDS", 0))
    if view_record is None:
        window = environment.get("AGGREGATOR_VIEW_WINDOW_SECONDS", VIEW_WINDOW_SECONDS)
        redis_url = environment.get("AGGREGATOR_REDIS_URL")
        namespace = environment.get("AGGREGATOR_REDIS_NAMESPACE") or "aggregator"
        view_record = SharedViewRecord(redis_url, window, namespace=namespace) if redis_url else ViewRecord(window)
    viewers: ViewRecord | SharedViewRecord = view_record
    oldest_verdict: timedelta | None = health_max_age

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What the server holds from here on (modules, routes, models, SQLAlchemy's tables and caches: some 150,000
        # objects) lives as long as the process: moved out of the collector's sight, a full collection no longer
        # walks them all and stalls every request in flight (over 50 ms otherwise, every few thousand requests).
        gc.collect()
        gc.freeze()
        yield
        gc.unfreeze()
        store.close()
        viewers.close()

    app = ReadAPI(
        title="aggregator read API",
        version="1",
        description="Archived articles with their attribution, source links and archive times; feeds; pages.",
        lifespan=lifespan,
        responses=UNAVAILABLE,
    )
    app.state.store = store
    app.state.view_record = viewers
    app.state.cache_control = reuse(cache_seconds)
    if public_url:
        app.add_middleware(PublicAddress, public_url=public_url)
    # uvicorn compresses nothing: a feed of 50 articles is 80-100 KB (17-30 KB gzipped), a page of 100 articles'
    # JSON 42 KB (10 KB), a sitemap file of 50,000 pages 4.7 MB (141 KB). Answers of 500 bytes or more go gzipped
    # to a client that asks for it, with "Vary: Accept-Encoding"; the ETag is weak, so it stands for both forms.
    app.add_middleware(GZipMiddleware, compresslevel=GZIP_LEVEL)
    if cors_origins:
        # Outer: a preflight is answered before anything else runs. The reads and the views counter only; a
        # script may send If-None-Match (a 304 for an answer it has) and read the ETag and a 503's Retry-After.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=list(CORS_METHODS),
            allow_headers=["If-None-Match"],
            expose_headers=["ETag", "Retry-After"],
            max_age=CORS_MAX_AGE,
        )
    app.add_middleware(SecurityHeaders, policy=page_policy())  # outermost: on every answer, a preflight's too
    # The pages whose scripts may count views: the site's own, and those that may read the API (CORS).
    viewing_origins = {web_origin(o) for o in (public_url or "", *cors_origins)} - {None}
    any_origin = "*" in cors_origins
    pages = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates are read once: no stat() of the file on every page
    )
    pages.globals["site_name"] = site_name
    pages.globals["editions"] = tuple(present.LABELS)  # after the link to all of them ("/"), each its own front page

    inline = make_url(normalise_url(db_url)).get_backend_name() == "sqlite"

    def reads(handler: Callable[P, Response]) -> Callable[P, Any]:
        """Run a read on the event loop itself when the database is SQLite: its indexed reads take well under a
        millisecond of CPU, less than handing them to a worker thread and back. PostgreSQL reads wait on the
        network, so they stay in FastAPI's thread pool."""
        if not inline:
            return handler

        @functools.wraps(handler)
        async def on_loop(*args: P.args, **kwargs: P.kwargs) -> Response:
            return handler(*args, **kwargs)

        return on_loop

    def render(template: str, current_edition: str | None = None, **context: Any) -> bytes:
        """A page. ``current_edition``: the edition the page is of (its link in the header marked, its search box
        searching it); None for a page of every edition (``/``, a search of all), whose "all" link is marked."""
        return pages.get_template(template).render(current_edition=current_edition, **context).encode()

    def error_page(
        request: Request,
        status: int,
        heading: Callable[[present.Labels], str],
        headers: dict[str, str] | None = None,
    ) -> Response:
        """An error of a page as a page, in the edition the address asks for (``?language=az``, as its links and its
        search box ask), else in Russian (the site's main edition: no article says otherwise)."""
        asked = request.query_params.get("language")
        lang = present.page_language(asked)
        labels = present.labels(lang)
        edition = asked if asked in present.LABELS else None
        body = render("error.html", edition, labels=labels, lang=lang, heading=heading(labels))
        return Response(body, status_code=status, media_type="text/html; charset=utf-8", headers=headers)

    def listed(
        rows: list[Any], language: str | None = None, names: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """A page's list items: each row with its time as the page prints it (in ``language``, else its own) and its
        source's display name (from ``names``, else its key).

        An undated article is listed by its archive time (the order the API documents), which is printed as that,
        "Заархивирована: 15 Сентября 2025 13:24", in the words of the language the time is printed in: printed bare,
        it read as the day the article was published."""
        items = []
        for r in rows:
            printed_in = language or r.language
            printed = present.printed_time(queries.article_time(r), printed_in)
            if r.published_at is None:
                printed = f"{present.labels(printed_in).archived_on}: {printed}"
            items.append({"row": r, "printed": printed, "source": (names or {}).get(r.source, r.source)})
        return items

    def article_missing(article_id: object, *, lang: str = "ru", withdrawn: bool = False) -> Response:
        """The page for an article that is not shown: 404 for none with that id (or an id that cannot be one), 410
        for a withdrawn one."""
        labels = present.labels(lang)
        heading = labels.withdrawn if withdrawn else labels.not_found
        edition = lang if withdrawn else None  # a withdrawn article's page is still of its edition
        body = render("not_found.html", edition, labels=labels, lang=lang, article_id=article_id, heading=heading)
        return Response(body, status_code=410 if withdrawn else 404, media_type="text/html; charset=utf-8")

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeoutError)
    async def archive_down(request: Request, exc: Exception) -> Response:
        """A 503 with ``Retry-After`` while the archive does not answer, in the route's own kind of answer: the
        downstream site and its proxies tell "try again soon" from a fault, and read the body they expect."""
        if not archive_unavailable(exc):
            raise exc  # a fault in a query: a 500, its traceback in the server's log
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        logger.warning("%s %s: 503, the archive does not answer: %s", request.method, request.url.path, reason)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if answers_html(request):
            return error_page(request, 503, lambda labels: labels.unavailable, headers)
        return problem(503, f"the archive does not answer ({type(exc).__name__}); try again later", headers)

    @app.exception_handler(OverflowError)
    async def overflow(_request: Request, exc: OverflowError) -> JSONResponse:
        return JSONResponse(
            {"detail": [{"type": "value_error", "loc": ["query"], "msg": f"out of range: {exc}"}]}, status_code=422
        )

    def filters(
        source: str | None,
        language: str | None,
        since: datetime | None,
        story: int | None,
        until: datetime | None = None,
    ) -> queries.ArticleFilter | JSONResponse:
        if source is not None:
            try:
                registry_source(source)
            except UnknownSourceError as exc:
                if not storable(source):
                    return query_problem("source", str(exc))
                with store.read.connect() as conn:  # one taken out of the registry: its articles are still shown
                    if queries.archived_source(conn, source) is None:
                        return query_problem("source", str(exc))
        return queries.ArticleFilter(source=source, language=language, since=utc(since), until=utc(until), story=story)

    # -- JSON ------------------------------------------------------------------------------------------

    @app.get("/api/articles", response_model=ArticlePage, responses=NOT_MODIFIED, tags=["articles"])
    @reads
    def list_articles(
        request: Request,
        source: Annotated[str | None, Query(max_length=64, description="A source key (`/api/sources`).")] = None,
        language: ListLanguage = None,
        since: Annotated[
            datetime | None, Query(description="Published (else archived) at or after; UTC if no zone.")
        ] = None,
        until: Annotated[datetime | None, Query(description="... and before this instant; UTC if no zone.")] = None,
        story: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this story's articles.")] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page.")] = None,
    ) -> Response:
        """Articles, newest first (published time, else archive time), a page at a time.

        Pages are keyset-paginated: articles archived between two requests neither repeat nor shift later pages.
        To keep a copy in sync (articles archived late, edited, withdrawn), read `/api/changes`.
        """
        chosen = filters(source, language, since, story, until)
        if isinstance(chosen, JSONResponse):
            return chosen
        try:
            after = queries.Position.decode(cursor, chosen) if cursor else None
        except queries.InvalidCursorError as exc:
            return query_problem("cursor", str(exc))
        with store.read.connect() as conn:
            rows, following = queries.list_page(conn, chosen, limit=limit, after=after)
            names = source_names(conn, (r.source for r in rows))
        items = [summary(r, names) for r in rows]
        return cached_json(request, {"items": items, "next_cursor": following.encode(chosen) if following else None})

    # In the thread pool even on SQLite (no ``reads``): a page of up to 1,000 rows, some milliseconds that would hold
    # up every other request on the event loop.
    @app.get("/api/changes", response_model=Changes, responses=NOT_MODIFIED, tags=["articles"])
    def list_changes(
        request: Request,
        since: Annotated[
            datetime | None,
            Query(description="Only changes at or after this instant (UTC if no zone); none: every article."),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[
            str | None, Query(max_length=200, description="`next_cursor` of the previous page or poll.")
        ] = None,
    ) -> Response:
        """The change feed, for a copy of the archive kept in sync: every article whose row changed (archived,
        edited, moved to another story, withdrawn, shown again), oldest change first, a page at a time.

        A withdrawn article comes as a tombstone (`id`, `url`, `changed_at`, `withdrawn_at`): remove it. One shown
        again comes as an article, as does one changed in any other way: fetch its body from `/api/articles/{id}`.
        Start with no `since` (every article) or the time of a copy made otherwise, then pass each answer's
        `next_cursor`: at once while `more` is true, later to poll. An article changed again while a client pages
        moves to the end of the feed, where the client meets it again: nothing is skipped. A change is listed once
        it is a minute old, so that a write still committing cannot appear behind a client's cursor. Views are no
        change (`POST /api/articles/{id}/views` answers the count).
        """
        try:
            after = queries.ChangePosition.decode(cursor) if cursor else None
        except queries.InvalidCursorError as exc:
            return query_problem("cursor", str(exc))
        horizon = queries.change_horizon(change_settle)
        with store.read.connect() as conn:
            rows, following, more = queries.changes_page(
                conn, limit=limit, horizon=horizon, since=utc(since), after=after
            )
            names = source_names(conn, (r.source for r in rows if r.withdrawn_at is None))
        items = [
            {"id": r.id, "url": r.url, "changed_at": r.changed_at, "withdrawn_at": r.withdrawn_at}
            if r.withdrawn_at is not None
            else summary(r, names) | {"withdrawn_at": None}
            for r in rows
        ]
        data = {"items": items, "next_cursor": following.encode() if following else cursor, "more": more}
        return cached_json(request, data)

    # The searches run in the thread pool even on SQLite (no ``reads``): a word most articles hold is ranked over
    # the latest 2,000 matches, tens of milliseconds that would hold up every other request on the event loop.
    @app.get("/api/search", response_model=SearchResults, responses=NOT_MODIFIED, tags=["articles"])
    def search_articles(
        request: Request,
        q: Annotated[str, Query(min_length=1, max_length=200, description="Words to find (all of them).")],
        source: Annotated[str | None, Query(max_length=64, description="A source key (`/api/sources`).")] = None,
        language: ListLanguage = None,
        since: Annotated[
            datetime | None, Query(description="Published (else archived) at or after; UTC if no zone.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[
            str | None, Query(max_length=200, description="`next_cursor` of the previous page (same `q` and filters).")
        ] = None,
    ) -> Response:
        """Articles whose title or text holds every word of `q`, best match first (title words weigh more), a page
        at a time, with how many match (`total`).

        Quotes and operators are plain words. Ranked among the latest 2,000 matches, so a common word finds recent
        news first; letters a keyboard may lack match the plain ones ("seher" finds "şəhər", "еще" finds "ещё").
        The pages rank the matches archived by the first one's time: an article archived meanwhile shifts none.
        """
        words = fulltext.query_words(q)
        if not words:
            return query_problem("q", f"no word to search for in {q!r}")
        chosen = filters(source, language, since, None)
        if isinstance(chosen, JSONResponse):
            return chosen
        scope = queries.search_scope(q, chosen)
        try:
            after = queries.SearchPosition.decode(cursor, scope) if cursor else None
        except queries.InvalidCursorError as exc:
            return query_problem("cursor", str(exc))
        with store.read.connect() as conn:
            found = queries.search_page(conn, q, chosen, limit=limit, after=after)
            names = source_names(conn, (r.source for r in found.rows))
        items = [summary(r, names) | {"score": round(float(r.score), 6)} for r in found.rows]
        data = {
            "query": q,
            "words": words,
            "items": items,
            "total": found.total,
            "total_capped": found.capped,
            "next_cursor": found.following.encode(scope) if found.following else None,
        }
        return cached_json(request, data)

    @app.get(
        "/api/articles/{article_id}",
        response_model=ArticleDetail,
        responses={**NOT_FOUND, **GONE, **NOT_MODIFIED},
        tags=["articles"],
    )
    @reads
    def show_article(request: Request, article_id: ArticleId) -> Response:
        """One article: body, attribution line, source and source link, cited outlets, times, views, story."""
        with store.read.connect() as conn:
            row = queries.get_article(conn, article_id)
            if row is None:
                return problem(404, f"no article with id {article_id}")
            if row.withdrawn_at is not None:
                return problem(410, f"article {article_id} was withdrawn")
            siblings = queries.story_siblings(conn, row.id, row.story_id)
            source = source_entry(conn, row.source)
            names = source_names(conn, (s.source for s in siblings))
        names[row.source] = source.name if source else row.source
        data = summary(row, names) | {
            "body_html": row.body_html,
            "body_text": row.body_text,
            "attribution_line": row.attribution_line,
            "source_info": {
                "key": row.source,
                "name": source.name if source else row.source,
                "homepage": source.homepage if source else "",
            },
            "cited_outlets": list(row.cited_outlets or []),
            "published_raw": row.published_raw,
            "archived_at_printed": present.printed_time(row.archived_at, row.language),
            "story_siblings": [summary(s, names) for s in siblings],
        }
        return cached_json(request, data)

    @app.post(
        "/api/articles/{article_id}/views",
        response_model=ViewCount,
        responses={**NOT_FOUND, **GONE, **FOREIGN_PAGE, **TOO_MANY_VIEWS},
        tags=["articles"],
    )
    def count_view(request: Request, article_id: ArticleId) -> Response:
        """Count a reader's view of the article: once per reader (client address) in the window
        (`AGGREGATOR_VIEW_WINDOW_SECONDS`, 30 minutes); a view again within it answers the count with `counted`
        false. Atomic in the database: concurrent views are all counted. A reader with 60 views counted in a minute
        is answered 429 until the minute is over. A request from a page (`Origin`) of another site than this one,
        its `AGGREGATOR_PUBLIC_URL` or `AGGREGATOR_CORS_ORIGINS` is refused (403): a third-party page would otherwise
        count a view for each of its visitors."""
        if not counts_from(request):
            return problem(403, "views are counted from the site's own pages (and AGGREGATOR_CORS_ORIGINS') alone")
        # Behind a proxy, the reader's address only when uvicorn takes it from X-Forwarded-For (README). No address
        # at all (a Unix socket): one reader for all such requests, which cannot inflate a count.
        reader = request.client.host if request.client else ""
        claim = viewers.claim(reader, article_id)
        if claim.kind == "capped":
            detail = f"over {viewers.per_minute} views counted from this address in a minute; try again later"
            return problem(429, detail, {"Retry-After": str(claim.retry_after)})
        counted = claim.kind == "new"
        try:
            views, withdrawn = add_a_view(article_id) if counted else current_views(article_id)
        except BaseException:
            if counted:
                viewers.release(reader, article_id, claim)  # the archive did not answer: the view was not counted
            raise
        if views is None and counted:
            viewers.release(reader, article_id, claim)  # no article shown: nothing counted, nothing to remember
        if withdrawn:
            return problem(410, f"article {article_id} was withdrawn")
        if views is None:
            return problem(404, f"no article with id {article_id}")
        return JSONResponse({"id": article_id, "views": views, "counted": counted})

    def counts_from(request: Request) -> bool:
        """Whether the page posting a view (its ``Origin``) may count one: none named (curl, an older browser) may,
        as before. The request's own host is the site's in either scheme: behind a proxy that ends TLS and does not
        say so (``X-Forwarded-Proto``), the page is https and the request http."""
        given = request.headers.get("origin")
        if given is None or any_origin:
            return True
        origin = web_origin(given)
        if origin is None:
            return False
        own = request.url.netloc.lower()
        return origin in viewing_origins or origin in {web_origin(f"{s}://{own}") for s in DEFAULT_PORTS}

    def add_a_view(article_id: int) -> tuple[int | None, bool]:
        """The article's views with one more (None for none shown), and whether it is withdrawn."""
        stmt = (
            update(Article)
            .where(Article.id == article_id, Article.withdrawn_at.is_(None))
            .values(views=Article.views + 1)
            .returning(Article.views)
        )
        with store.write.begin() as conn:
            views = conn.execute(stmt).scalar_one_or_none()
            withdrawn = views is None and conn.scalar(select(Article.id).where(Article.id == article_id)) is not None
        return views, withdrawn

    def current_views(article_id: int) -> tuple[int | None, bool]:
        """The article's views as they are (None for none shown), and whether it is withdrawn."""
        with store.read.connect() as conn:
            row = conn.execute(
                select(Article.views, Article.withdrawn_at).where(Article.id == article_id)
            ).one_or_none()
        if row is None or row.withdrawn_at is not None:
            return None, row is not None
        return row.views, False

    @app.get("/api/sources", response_model=list[SourceInfo], responses=NOT_MODIFIED, tags=["sources"])
    def list_sources(request: Request) -> Response:  # in the thread pool: counting every source's articles
        """The sources in the archive, with their article counts and feeds."""
        with store.read.connect() as conn:
            rows = queries.list_sources(conn)
        data = [
            {
                "key": r.key,
                "name": r.name,
                "homepage": r.homepage,
                "languages": list(r.languages),
                "timezone": r.timezone,
                "domains": list(r.domains),
                "articles": int(r.articles),
                "latest_archived_at": r.latest,
                "feed": str(request.url_for("source_feed", source=r.key)),
                "atom_feed": str(request.url_for("source_atom_feed", source=r.key)),
            }
            for r in rows
        ]
        return cached_json(request, data)

    @app.get("/healthz", response_model=Liveness, responses={503: {"model": Liveness}}, tags=["health"])
    def liveness() -> Response:
        """For a load balancer or an orchestrator: 200 when the archive answers a query, 503 when it does not."""
        try:
            with store.read.connect() as conn:
                # A table of the archive, not SELECT 1: an SQLite file removed under the server is opened again as a
                # new empty one, which answers SELECT 1 while every other route fails.
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        except SQLAlchemyError as exc:
            return JSONResponse(
                {"status": "error", "database": type(exc).__name__},
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)} | NOT_KEPT,
            )
        return JSONResponse({"status": "ok", "database": "ok"}, headers=NOT_KEPT)

    @app.get("/api/health", response_model=CrawlHealth, responses={503: {"model": CrawlHealth}}, tags=["health"])
    def crawl_health() -> Response:
        """Each source's crawl health (what `aggregator health` shows), for a monitor: 200 when every source is
        green, 503 when one is red (including a source whose latest judged run is older than the maximum age: its
        schedule has stopped) or unknown (never judged: never run). Not for a load balancer's check (`/healthz`
        is): a broken source is no reason to stop serving the archive."""
        with store.read.connect() as conn:
            rows = source_health(conn, [s.key for s in all_sources()], max_age=oldest_verdict)
        red = [r["source"] for r in rows if r["status"] == "red"]
        unknown = [r["source"] for r in rows if r["status"] == UNKNOWN]
        status = "red" if red else UNKNOWN if unknown else "green"
        data = {"status": status, "red": red, "unknown": unknown, "sources": rows}
        return JSONResponse(data, status_code=200 if status == "green" else 503, headers=NOT_KEPT)

    @app.get("/metrics", response_class=Response, tags=["health"])
    def metrics() -> Response:
        """Each source's latest run, health verdict and archive in Prometheus' text format, read from the archive
        at each scrape (every server process answers the same)."""
        from prometheus_client import CONTENT_TYPE_LATEST

        from aggregator.metrics import exposition

        body = exposition(store.read.connect, [s.key for s in all_sources()], max_age=oldest_verdict)
        return Response(body, media_type=CONTENT_TYPE_LATEST, headers=NOT_KEPT)

    # In the thread pool, not on the event loop: a long window ranks tens of thousands of rows (~100 ms at 100,000
    # articles), and the window is the caller's to choose, so the few seconds' cache does not protect the loop.
    @app.get("/api/most-read", response_model=MostRead, responses=NOT_MODIFIED, tags=["articles"])
    def most_read(
        request: Request,
        hours: Annotated[int, Query(ge=1, le=24 * 366, description="The window: published or archived since.")] = 24,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        language: Annotated[
            Edition | None,
            Query(description="An edition (ru, az, en): its list as its article pages show it (read articles only)."),
        ] = None,
    ) -> Response:
        """The most viewed articles published or archived in the last `hours`; of one edition when asked."""
        rows = store.most_read(hours, limit, language)
        with store.read.connect() as conn:
            names = source_names(conn, (r.source for r in rows))
        return cached_json(request, {"hours": hours, "items": [summary(r, names) for r in rows]})

    # -- feeds -----------------------------------------------------------------------------------------

    def page_urls(request: Request) -> Callable[[int], str]:
        """Each article page's address, from one ``url_for`` (which costs ~40 us: 2 s for a file of 50,000)."""
        sample = str(request.url_for("news_page", article_id=1))
        prefix = sample.removesuffix("1")
        return lambda article_id: f"{prefix}{article_id}"

    def feed(
        request: Request, source_key: str | None, edition: str | None, kind: Literal["rss", "atom"] = "rss"
    ) -> Response:
        """A feed of the latest articles (one source's, one edition's when asked): RSS 2.0, or the same entries in
        Atom 1.0."""
        with store.read.connect() as conn:
            source = queries.get_source(conn, source_key) if source_key and storable(source_key) else None
            if source_key and source is None:
                return problem(404, f"no source {source_key!r} in the archive")
            chosen = queries.ArticleFilter(source=source_key, language=edition)
            rows, _ = queries.list_page(conn, chosen, limit=FEED_SIZE)
            full = queries.get_articles(conn, [r.id for r in rows])
            # Each entry's author in Atom: the outlet's name and home page, as the article page prints them.
            entries = {key: source_entry(conn, key) for key in {a.source for a in full}} if kind == "atom" else {}
        # The channel's language: the edition's, else the source's when it writes in one; a feed of several names
        # none (its items name theirs). Not guessed from the items at hand: a feed's language changing with its
        # latest 50 articles would move it between a reader's folders.
        languages = list(source.languages or []) if source else []
        language = edition or (languages[0] if len(languages) == 1 else None)
        home = request.url_for("index")
        channel = Channel(
            site_name=site_name,
            source_name=source.name if source else None,
            language=language,
            edition=edition is not None,
            # The feed's own address as asked, its edition kept (any other query left out: it changes nothing).
            self_url=str(request.url.replace_query_params(**({"language": edition} if edition else {}))),
            home_url=str(home.include_query_params(language=edition) if edition else home),
            articles=full,
            page_url=page_urls(request),
        )
        if kind == "atom":
            outlets = {key: (entry.name, entry.homepage) for key, entry in entries.items() if entry is not None}
            return cached(request, atom_feed(channel, outlets), f"{ATOM_TYPE}; charset=utf-8")
        return cached(request, rss_feed(channel), f"{RSS_TYPE}; charset=utf-8")

    @app.get("/feeds/all.rss", response_class=Response, responses=NOT_MODIFIED, tags=["feeds"])
    @reads
    def all_feed(request: Request, language: FeedEdition = None) -> Response:
        """RSS 2.0 of the latest articles of every source; of one edition (language) when asked."""
        return feed(request, None, language)

    @app.get("/feeds/all.atom", response_class=Response, responses=NOT_MODIFIED, tags=["feeds"])
    @reads
    def all_atom_feed(request: Request, language: FeedEdition = None) -> Response:
        """Atom 1.0 of the latest articles of every source (`/feeds/all.rss`'s); of one edition when asked."""
        return feed(request, None, language, "atom")

    @app.get("/feeds/{source}.rss", response_class=Response, responses={**NOT_FOUND, **NOT_MODIFIED}, tags=["feeds"])
    @reads
    def source_feed(
        request: Request, source: Annotated[str, PathParam(max_length=64)], language: FeedEdition = None
    ) -> Response:
        """RSS 2.0 of one source's latest articles; of one edition (language) when asked."""
        return feed(request, source, language)

    @app.get("/feeds/{source}.atom", response_class=Response, responses={**NOT_FOUND, **NOT_MODIFIED}, tags=["feeds"])
    @reads
    def source_atom_feed(
        request: Request, source: Annotated[str, PathParam(max_length=64)], language: FeedEdition = None
    ) -> Response:
        """Atom 1.0 of one source's latest articles (`/feeds/{source}.rss`'s); of one edition when asked."""
        return feed(request, source, language, "atom")

    # -- sitemaps (aggregator/api/sitemaps.py) ---------------------------------------------------------

    @app.get("/sitemap.xml", response_class=Response, responses=NOT_MODIFIED, tags=["sitemaps"])
    @reads
    def sitemap_index(request: Request) -> Response:
        """The sitemap index: the news sitemap, then a sitemap for each 50,000 article ids."""
        with store.read.connect() as conn:
            chunks = sitemaps.chunk_count(queries.highest_id(conn))
        files = [str(request.url_for("news_sitemap"))]
        files += [str(request.url_for("sitemap_file", number=n)) for n in range(chunks)]
        return cached(request, sitemaps.sitemap_index(files), "application/xml")

    @app.get(
        "/sitemaps/{number}.xml",
        response_class=Response,
        responses={**NOT_FOUND, **NOT_MODIFIED},
        tags=["sitemaps"],
    )
    def sitemap_file(
        request: Request,
        number: Annotated[int, BeforeValidator(written_plainly), PathParam(ge=0, le=MAX_ID // sitemaps.CHUNK)],
    ) -> Response:
        """The article pages with ids `number * 50000 + 1` to `(number + 1) * 50000`, each with its `lastmod`."""
        # Not on the event loop even on SQLite (no ``reads``): a full file is a read of 50,000 rows and 5 MB of
        # XML, which would hold up every other request meanwhile; in the thread pool they go on beside it.
        first = number * sitemaps.CHUNK + 1
        with store.read.connect() as conn:
            if first > queries.highest_id(conn):
                return problem(404, f"no sitemap {number}: the archive's ids end before {first}")
            rows = queries.sitemap_chunk(conn, first, first + sitemaps.CHUNK - 1)
        return cached(request, sitemaps.url_set(rows, page_urls(request)), "application/xml")

    @app.get("/sitemap-news.xml", response_class=Response, responses=NOT_MODIFIED, tags=["sitemaps"])
    @reads
    def news_sitemap(request: Request) -> Response:
        """Google News' sitemap: the articles published in the last 48 hours (at most 1,000, newest first)."""
        since = datetime.now(UTC) - timedelta(hours=sitemaps.NEWS_HOURS)
        with store.read.connect() as conn:
            rows = queries.recently_published(conn, since=since, limit=sitemaps.NEWS_LIMIT)
        return cached(request, sitemaps.news_sitemap(rows, page_urls(request), site_name), "application/xml")

    @app.get("/robots.txt", response_class=Response, tags=["sitemaps"])
    def robots(request: Request) -> Response:
        """For crawlers: the sitemap index; the API and the search pages are not for them."""
        body = sitemaps.robots_txt(str(request.url_for("sitemap_index")))
        # No validator (it is a few bytes): kept by a cache in front only for AGGREGATOR_CACHE_SECONDS.
        kept = {"Cache-Control": app.state.cache_control} if cache_seconds else None
        return Response(body, media_type="text/plain; charset=utf-8", headers=kept)

    # -- pages -----------------------------------------------------------------------------------------

    @app.get(
        "/",
        response_class=HTMLResponse,
        responses={400: html_page("A cursor the site did not give out."), **PAGE_UNAVAILABLE, **NOT_MODIFIED},
        tags=["pages"],
    )
    @reads
    def index(
        request: Request,
        cursor: Annotated[str | None, Query(max_length=200, description="Where the previous page ended.")] = None,
        language: Annotated[
            Edition | None, Query(description="An edition: only articles in this language, its labels.")
        ] = None,
    ) -> Response:
        """The latest articles, with a link to older ones; of one edition (language) when asked."""
        chosen = queries.ArticleFilter(language=language)
        try:
            after = queries.Position.decode(cursor, chosen) if cursor else None
        except queries.InvalidCursorError:
            return error_page(request, 400, lambda labels: labels.bad_link)
        with store.read.connect() as conn:
            rows, following = queries.list_page(conn, chosen, limit=30, after=after)
            names = source_names(conn, (r.source for r in rows))
        items = listed(rows, names=names)
        lang = language or "ru"
        body = render(
            "index.html",
            language,
            labels=present.labels(lang),
            lang=lang,
            edition=language,
            items=items,
            next_cursor=following.encode(chosen) if following else None,
        )
        return cached(request, body, "text/html; charset=utf-8")

    @app.get(
        "/search",
        response_class=HTMLResponse,
        responses={
            400: html_page(
                "A query the page cannot take (longer than 200 characters, an unknown edition, a cursor of another "
                "search or none the site gave out)."
            ),
            **PAGE_UNAVAILABLE,
            **NOT_MODIFIED,
        },
        tags=["pages"],
    )
    def search_page(  # in the thread pool, as /api/search
        request: Request,
        q: Annotated[str, Query(max_length=200, description="Words to find (all of them).")] = "",
        language: Annotated[Edition | None, Query(description="An edition: only its articles, its labels.")] = None,
        cursor: Annotated[str | None, Query(max_length=200, description="Where the previous page ended.")] = None,
    ) -> Response:
        """The site's search: the articles holding every word, best match first (`/api/search`'s), 30 a page with a
        link to the next, and how many match; in one edition when asked (the box of an edition's page asks for its
        own)."""
        query = " ".join(q.split())
        chosen = queries.ArticleFilter(language=language)
        scope = queries.search_scope(query, chosen)
        try:
            after = queries.SearchPosition.decode(cursor, scope) if cursor else None
        except queries.InvalidCursorError:
            return error_page(request, 400, lambda labels: labels.bad_link)
        found = queries.SearchPage([], None, 0, False)
        names: dict[str, str] = {}
        if fulltext.query_words(query):
            with store.read.connect() as conn:
                found = queries.search_page(conn, query, chosen, limit=30, after=after)
                names = source_names(conn, (r.source for r in found.rows))
        lang = language or "ru"
        body = render(
            "search.html",
            language,
            labels=present.labels(lang),
            lang=lang,
            query=query,
            items=listed(found.rows, names=names),
            total=found.total,
            capped=found.capped,
            next_cursor=found.following.encode(scope) if found.following else None,
        )
        return cached(request, body, "text/html; charset=utf-8")

    @app.get(
        "/news/{article_id}",
        response_class=HTMLResponse,
        responses={
            404: html_page("No such article (or an id that cannot be one)."),
            410: html_page("The article was withdrawn."),
            **PAGE_UNAVAILABLE,
            **NOT_MODIFIED,
        },
        tags=["pages"],
    )
    @reads
    def news_page(request: Request, article_id: ArticleId) -> Response:
        """The re-published article: attribution line, body, views, source link, archive time, most read."""
        with store.read.connect() as conn:
            row = queries.get_article(conn, article_id)
            if row is None:
                return article_missing(article_id)
            if row.withdrawn_at is not None:
                return article_missing(article_id, lang=present.page_language(row.language), withdrawn=True)
            siblings = queries.story_siblings(conn, row.id, row.story_id)
            names = source_names(conn, [row.source, *(s.source for s in siblings)])
            source = source_entry(conn, row.source)
        lang = present.page_language(row.language)
        edition = row.language if row.language in present.LABELS else None
        # The edition's read articles of the day; on a quiet day, of the month; none read: no list at all.
        popular = (store.most_read(24, 5, edition) or store.most_read(24 * 30, 5, edition)) if edition else []
        body = render(
            "article.html",
            edition,
            labels=present.labels(lang),
            lang=lang,
            article=row,
            source_name=names[row.source],
            # "Источник:" prints the outlet's home page, as the downstream site does ("Источник:https://caliber.az"),
            # linking the article. Only a web address is a link: an archive written before the crawl refused others
            # (a page's `javascript:` canonical link stored as its source link) must not put a script on a page; the
            # outlet's name is printed alone instead.
            source_link=http_url(row.url or "", row.url),
            source_homepage=source.homepage if source else row.url,
            cover_url=http_url(row.cover_image_url or "", row.cover_image_url),  # og:image: a web address only
            cover=shown_cover(row.cover_image_url, row.body_html),
            published=present.printed_time(row.published_at, lang),
            archived=present.printed_time(row.archived_at, lang),
            siblings=listed(siblings, lang, names),
            popular=listed(popular, lang),
            description=present.description(row.body_text),
            page_url=str(request.url_for("news_page", article_id=row.id)),
            og_locale=present.OG_LOCALES.get(lang, "ru_RU"),
            published_iso=present.utc_iso(row.published_at),
        )
        return cached(request, body, "text/html; charset=utf-8")

    @app.exception_handler(StarletteHTTPException)
    async def no_such_address(request: Request, exc: StarletteHTTPException) -> Response:
        """An address no route has: a page (HTML, in the site's words) unless it is one of the machines' (the API,
        feeds, sitemaps, health): a reader who follows a mangled link to ``/news/5/x`` gets the site's not-found
        page, not ``{"detail": "Not Found"}``. A method a page does not take (``POST /``) is a page too, its 405's
        ``Allow`` as the programs' JSON ones have it."""
        if exc.status_code == 404 and "route" not in request.scope and not request.url.path.startswith(MACHINE_PATHS):
            if request.url.path.startswith("/news/"):
                return article_missing(request.url.path.removeprefix("/news/"))
            return error_page(request, 404, lambda labels: labels.bad_link)
        if exc.status_code == 405:
            allow = {"Allow": allowed_methods(request)}
            if answers_html(request):  # a form or a script posting to a page: a page, as its 404s and 400s are
                return error_page(request, 405, lambda labels: labels.method_not_allowed, allow)
            exc = StarletteHTTPException(405, exc.detail, headers=allow)
        return await http_exception_handler(request, exc)

    def allowed_methods(request: Request) -> str:
        """What a 405's ``Allow`` lists: every method some route answers at the address (RFC 9110 10.2.1: the methods
        the resource supports). Starlette names the methods of the first route whose path matched, the GET route
        alone, though its HEAD twin (below) answers too: a client or a cache told ``Allow: GET`` would not ask with
        HEAD, which the load balancers' and feed readers' checks do."""
        methods: set[str] = set()
        for route in app.router.routes:
            if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] != Match.NONE:
                methods |= route.methods
        return ", ".join(sorted(methods, key=lambda m: (METHOD_ORDER.get(m, len(METHOD_ORDER)), m)))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in exc.errors()]
        if not answers_html(request):
            return JSONResponse({"detail": errors}, status_code=422)
        # A page answers a page: an article id that cannot exist (0, "abc", beyond 32 bits) is an article not
        # found, as a free id is; anything else is a link the site did not give out.
        if any(e["loc"] and e["loc"][0] == "path" for e in errors):
            return article_missing(request.path_params.get("article_id", ""))
        return error_page(request, 400, lambda labels: labels.bad_link)

    # Load balancers, uptime checkers and feed readers ask with HEAD, but a FastAPI route answers only the methods
    # it declares (Starlette's own routes add HEAD to GET; FastAPI's do not, fastapi#1773). Each GET route gets a
    # HEAD twin with the same handler, so the same status and headers; the server (uvicorn) sends no body. The twins
    # stay out of /openapi.json, where a HEAD operation would repeat its GET's operation id.
    for route in list(app.routes):
        if isinstance(route, APIRoute) and "GET" in (route.methods or ()):
            app.add_api_route(
                route.path,
                route.endpoint,
                methods=["HEAD"],
                name=route.name,
                response_class=route.response_class,
                include_in_schema=False,
            )

    return app


def app_from_environment() -> FastAPI:
    """The app of one of ``aggregator serve --workers N``'s processes (uvicorn imports this factory in each)."""
    return create_app(os.environ[SERVE_DB_URL], site_name=os.environ.get(SERVE_SITE_NAME, "Icma.az"))
