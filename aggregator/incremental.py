"""Incremental crawls: archived articles are not downloaded again, recent ones only with a conditional request.

What the archive already holds is loaded once when the spider opens (two queries, whatever the number of
requests): the URLs of articles older than ``AGGREGATOR_RECHECK_HOURS``, streamed from the database, as a sorted
array of 64-bit hashes (8 bytes an article: ~16 MB for a million with their fetched URLs; building it briefly needs
a set of them, ~100 MB at that size), and, for the younger ones, the validators (ETag, Last-Modified) of their
newest snapshot. A request for an old article is dropped before it is scheduled (so it never reaches a shared
scale-out frontier either); a request for a recent one carries ``If-None-Match`` / ``If-Modified-Since``, and the
site's ``304 Not Modified`` ends it quietly (``NotModified``), while a changed page flows on as a new version.

Pages a crawl refused (the quarantine's open rejects: no title, no body, HTTP 404, ...) are left alone for a while
after each refusal (``refusal_wait``: an hour after the first, doubling with each refusal in a row, at most a day),
so that a crawl scheduled every few minutes does not fetch a broken page, and keep a row for it, at every run; a
server error or a failed connection is retried at the next run once before the wait begins.

A page reached through a redirect from another address (a moved slug, a numeric link to a named page) is known by
every address the listings link that leads to it (``LinkedUrlMiddleware``; ``linked_url`` and the ``redirects``
table in the store), whether it was archived or refused: without it, such a page would be fetched again at every
run. That includes a redirect the run did not follow because it led to a page already fetched in the run (the
store pipeline keeps it when Scrapy's duplicate filter drops the redirected request), and an address that answered
with the article's page itself and named the article in its canonical link (a numeric link to a named page, an old
slug the CMS still serves, a query the canonical form keeps): the store keeps each such address but the one on the
article's row (``fetched_url``) in ``redirects`` too, as leading to the article, once its page showed the article's
content (``Archive.save``). Without them a second address a listing linked was fetched again at every run, and a
recent article's never with its validators.

``AGGREGATOR_REFRESH`` (``crawl --refresh``) switches all of it off.
"""

from __future__ import annotations

import logging
from array import array
from bisect import bisect_left
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from heapq import merge
from typing import TYPE_CHECKING, Any, Self

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.settings import BaseSettings
from sqlalchemy.exc import SQLAlchemyError

from aggregator.health import count_left_alone
from aggregator.items import ArticleItem, ExtractionFailure, FetchFailure
from aggregator.urls import canonical_url, linked_url

if TYPE_CHECKING:
    from aggregator.store.repository import RefusedPage

logger = logging.getLogger(__name__)

CONDITIONAL_META = "aggregator_conditional"
ARTICLE_URL_META = "aggregator_article_url"
"""Request meta: the canonical URL of the archived article a conditional request rechecks, when it asks for the
article at another address (as fetched, as a listing links it): a 304 answer is recorded against the article."""
SWEPT_META = "aggregator_swept"
"""Request meta: asked for by the sweep (``aggregator.sweep``), not because a listing links it."""


def url_hash(url: str) -> int:
    """A signed 64-bit hash of an article URL's canonical form (collisions: ~1 in 10^7 at a million articles)."""
    return int.from_bytes(blake2b(canonical_url(url).encode(), digest_size=8).digest(), "big", signed=True)


def refusal_wait(attempts: int, *, transient: bool, first: timedelta, longest: timedelta) -> timedelta:
    """How long after its latest refusal a page is not fetched again: ``first`` after one refusal of its content or
    a 4xx answer, doubling with each refusal in a row, at most ``longest``. A server error or a failed connection
    (``transient``: it may be over by the next run) is retried at once the first time, and waited on after that."""
    steps = attempts - 1 if transient else attempts
    if steps <= 0:
        return timedelta(0)
    wait: timedelta = first * (2 ** min(steps - 1, 32))
    return min(longest, wait)


def is_transient(stage: str, http_status: int | None) -> bool:
    """A fetch that failed on the server's side or on the way (5xx, a timeout, a refused connection), or that the
    site rate-limited (429): the page itself may well be fine."""
    return stage == "fetch" and (http_status is None or http_status >= 500 or http_status == 429)


@dataclass(slots=True)
class KnownArticles:
    """What a run needs to know about the archive, loaded once: old articles to skip, recent ones to recheck."""

    old: array[int] = field(default_factory=lambda: array("q"))
    """Sorted hashes (``url_hash``) of articles not fetched again."""
    recent: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    """Canonical URL of a recent article -> (ETag, Last-Modified) of its newest snapshot."""
    articles: dict[str, str] = field(default_factory=dict)
    """Canonical form of another address of a recent article (as fetched, as linked) -> the article's URL."""
    waiting: dict[int, RefusedPage] = field(default_factory=dict)
    """Refused pages whose wait (``refusal_wait``) is not over, by ``url_hash``."""
    aliases: dict[int, int] = field(default_factory=dict)
    """``url_hash`` of an address that redirects to an archived article (or that served its page, naming it as its
    canonical address) -> the article's (``add_redirects``)."""

    @classmethod
    def build(cls, old_urls: Iterable[str], recent: Iterable[tuple[str, str | None, str | None, str]]) -> KnownArticles:
        """From ``Archive.known_articles``: old URLs, and (URL, ETag, Last-Modified, article URL) of recent ones."""
        hashes = array("q", (url_hash(url) for url in old_urls))  # 8 bytes an entry while it is read
        validators: dict[str, tuple[str | None, str | None]] = {}
        articles: dict[str, str] = {}
        for url, etag, modified, article in recent:
            key = canonical_url(url)
            validators[key] = (etag, modified)
            if key != article:
                articles[key] = article
        return cls(array("q", sorted(set(hashes))), validators, articles=articles)

    def is_old(self, url: str, key: int | None = None) -> bool:
        """Whether the URL is an old archived article (``key``: its ``url_hash``, when the caller has it)."""
        key = url_hash(url) if key is None else key
        i = bisect_left(self.old, key)
        return i < len(self.old) and self.old[i] == key

    def waiting_for(self, url: str, key: int | None = None) -> RefusedPage | None:
        """The refusal a page is left alone for, if it is (``key`` as for ``is_old``)."""
        if not self.waiting:
            return None
        return self.waiting.get(url_hash(url) if key is None else key)

    @staticmethod
    def waiting_pages(
        refused: Iterable[RefusedPage], now: datetime, first: timedelta, longest: timedelta
    ) -> dict[int, RefusedPage]:
        """The refused pages (``Archive.refused_pages``) not to fetch at ``now``, by ``url_hash``."""
        waiting: dict[int, RefusedPage] = {}
        for page in refused:
            wait = refusal_wait(
                page.attempts, transient=is_transient(page.stage, page.http_status), first=first, longest=longest
            )
            if page.last_refused + wait > now:
                waiting[url_hash(page.url)] = page
                if page.linked_url:
                    waiting[url_hash(page.linked_url)] = page
        return waiting

    def validators(self, url: str) -> tuple[str | None, str | None] | None:
        return self.recent.get(canonical_url(url))

    def article_of(self, url: str) -> str:
        """The canonical URL of the recent article at ``url`` (``url``'s own canonical form when it is that)."""
        key = canonical_url(url)
        return self.articles.get(key, key)

    def add_redirects(self, redirects: Iterable[tuple[str, str]]) -> None:
        """Know each page by every address the site redirects to it (``Archive.redirects``): an address leading to an
        old article is skipped like it, one leading to a recent article is rechecked with its validators (the site
        answers the redirected request with 304), one leading to a refused page waits with it. Call it last."""
        extra: set[int] = set()
        for url, target in redirects:
            key, target_key = url_hash(url), url_hash(target)
            if self.is_old(target, target_key):
                if not self.is_old(url, key):
                    extra.add(key)
                self.aliases[key] = target_key
            elif (validators := self.validators(target)) is not None:
                self.recent.setdefault(canonical_url(url), validators)
                self.articles.setdefault(canonical_url(url), self.article_of(target))
                self.aliases[key] = target_key
            elif (refused := self.waiting_for(target, target_key)) is not None:
                self.waiting.setdefault(key, refused)
        if extra:  # a few: merged into the sorted array, not a set of a million hashes
            self.old = array("q", merge(self.old, sorted(extra)))

    def page_key(self, key: int) -> int:
        """The ``url_hash`` of the page an address leads to: a page linked at several addresses is counted once."""
        return self.aliases.get(key, key)

    def __len__(self) -> int:
        return len(self.old) + len(self.recent)


@dataclass(frozen=True, slots=True)
class RefusalWaits:
    """How long refused pages are left alone (``refusal_wait``): after the first refusal, and at the longest."""

    first: timedelta = timedelta(hours=1)
    longest: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> RefusalWaits:
        """``AGGREGATOR_REFUSED_RETRY_HOURS`` and ``AGGREGATOR_REFUSED_RETRY_MAX_HOURS``."""
        return cls(
            timedelta(hours=settings.getfloat("AGGREGATOR_REFUSED_RETRY_HOURS", 1.0)),
            timedelta(hours=settings.getfloat("AGGREGATOR_REFUSED_RETRY_MAX_HOURS", 24.0)),
        )

    def waiting(self, refused: Iterable[RefusedPage], now: datetime) -> dict[int, RefusedPage]:
        """The refused pages (``Archive.refused_pages``) not to fetch at ``now``, by ``url_hash``."""
        return KnownArticles.waiting_pages(refused, now, self.first, self.longest)


class NotModified(IgnoreRequest):
    """The site answered a conditional request with 304: the archived version is current."""


class IncrementalMiddleware:
    """Spider middleware: drops requests for old archived articles, makes those for recent ones conditional."""

    def __init__(
        self,
        crawler: Crawler,
        db_url: str,
        recheck: timedelta,
        refusals: RefusalWaits | None = None,
    ) -> None:
        self.crawler = crawler
        self.db_url = db_url
        self.recheck = recheck
        self.refusals = refusals or RefusalWaits()
        self.known = KnownArticles()
        self._counted: set[int] = set()  # an article linked from several listings is counted once

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if crawler.settings.getbool("AGGREGATOR_REFRESH"):
            raise NotConfigured("refresh: every article is fetched again")
        settings = crawler.settings
        middleware = cls(
            crawler,
            settings.get("AGGREGATOR_DB_URL"),
            timedelta(hours=settings.getfloat("AGGREGATOR_RECHECK_HOURS", 48.0)),
            RefusalWaits.from_settings(settings),
        )
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        return middleware

    def spider_opened(self, spider: Spider) -> None:
        source = getattr(spider, "source_key", None)
        if not source or not self.db_url:
            return
        from aggregator.store import Archive

        now = datetime.now(UTC)
        try:
            archive = Archive.open(self.db_url, migrate=False, create=False)
            try:
                old, recent = archive.known_articles(source, recent_since=now - self.recheck)
                self.known = KnownArticles.build(old, recent)
                refused = archive.refused_pages(source)
                self.known.waiting = self.refusals.waiting(refused, now)
                self.known.add_redirects(archive.redirects(source))
            finally:
                archive.close()
        except SQLAlchemyError as exc:  # no archive yet (or no schema): nothing is known, everything is fetched
            logger.info("No archived articles loaded for %s: %s", source, str(exc).splitlines()[0])
            return
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("aggregator/known_old", len(self.known.old))
            self.crawler.stats.set_value("aggregator/known_recent", len(self.known.recent))
            self.crawler.stats.set_value("aggregator/known_refused", len(self.known.waiting))
        logger.info(
            "%s: %d archived article(s) not fetched again, %d rechecked if linked, %d refused page(s) left alone "
            "for now",
            source,
            len(self.known.old),
            len(self.known.recent),
            len(self.known.waiting),
        )

    def _count(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"aggregator/{key}")

    def _count_once(self, key: str, digest: int) -> bool:
        """Count the URL (its ``url_hash``) under ``key`` the first time it is met in this run; whether it was."""
        if digest in self._counted:
            return False
        self._counted.add(digest)
        self._count(key)
        return True

    def _filter(self, request: Request) -> Request | None:
        url = request.url
        digest = url_hash(url)  # once a request: canonicalising and hashing is this filter's main cost
        if self.known.is_old(url, digest):
            self._count_once("skipped_known", self.known.page_key(digest))
            return None
        refused = self.known.waiting_for(url, digest)
        if refused is not None:
            # Counted once a page, whether its listings link it at the address it was refused at, the one it was
            # reached from through a redirect, or both.
            if self._count_once("skipped_refused", url_hash(refused.url)) and self.crawler.stats is not None:
                count_left_alone(self.crawler.stats, refused.stage, refused.reason)
            return None
        validators = self.known.validators(url)
        if validators is None:
            return request
        etag, modified = validators
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        if not headers:
            return request
        self._count_once("rechecked", self.known.page_key(digest))
        request.headers.update(headers)
        request.meta[CONDITIONAL_META] = True
        request.meta[ARTICLE_URL_META] = self.known.article_of(url)
        request.meta["handle_httpstatus_list"] = [*request.meta.get("handle_httpstatus_list", ()), 304]
        return request

    def _each(self, item: Any) -> Any:
        return self._filter(item) if isinstance(item, Request) else item

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterator[Any]:
        for item in result:
            out = self._each(item)
            if out is not None:
                yield out

    async def process_spider_output_async(self, response: Response, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for item in result:
            out = self._each(item)
            if out is not None:
                yield out


class LinkedUrlMiddleware:
    """Spider middleware: an article (or a page refused at fetch) reached through a redirect carries the address the
    crawl asked for (``linked_url``), so that the store, and the next incremental run, know the page by it too."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls()

    @staticmethod
    def _mark(linked: str, item: Any) -> Any:
        if isinstance(item, ArticleItem | FetchFailure | ExtractionFailure) and item.linked_url is None:
            item.linked_url = linked
        return item

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterator[Any]:
        linked = linked_url(response.meta, response.url)
        if linked is None:
            yield from result
            return
        for item in result:
            yield self._mark(linked, item)

    async def process_spider_output_async(self, response: Response, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        linked = linked_url(response.meta, response.url)
        async for item in result:
            yield item if linked is None else self._mark(linked, item)


class NotModifiedMiddleware:
    """Downloader middleware: a 304 to our conditional request ends it as ``NotModified`` (counted, not an error)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        if response.status == 304 and request.meta.get(CONDITIONAL_META):
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("aggregator/not_modified")
                if request.meta.get(SWEPT_META):
                    self.crawler.stats.inc_value("aggregator/swept_not_modified")
            raise NotModified(f"not modified: {response.url}")
        return response
