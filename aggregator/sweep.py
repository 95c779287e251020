"""The sweep: archived articles that no listing links any more are asked for again, a few each run, so that what a
source does to an article days after publishing it (a correction, a retraction) still reaches the archive.

An incremental crawl re-fetches an archived article only while a listing or feed links it and it is younger than
``AGGREGATOR_RECHECK_HOURS``. A source usually edits or takes down an article after it has left its front pages; a
re-publisher that never looks again keeps showing a copy its source retracted. So each run of a source also asks
again for up to ``AGGREGATOR_SWEEP_PER_RUN`` of its articles published in the last ``AGGREGATOR_SWEEP_DAYS`` days
that are due, the most overdue first:

    an article is due when as long has passed since it was last seen as it was old then: at least a day, at most a
    week (``due_interval``).

An article is so looked at about 1, 2, 4, 8, 15, 22 and 29 days after it appeared: a few requests an article over the
window, most often while changes are likeliest, and conditional (``If-None-Match`` / ``If-Modified-Since`` from its
newest version), so a site that supports them answers 304 with no body. Whatever the site answers takes the way any
fetch of an archived article takes: 304 or the same page again, it was seen now (``articles.last_seen_at``); a changed
page, a new version; 404 or 410, the article is withdrawn by its source (``Archive.save``), and shown again when its
page comes back; a page the spider makes nothing of any more (the generic spider's "not an article"), seen too. A
page in its refusal wait (a server error, say; ``aggregator.incremental.refusal_wait``) is not asked for until the
wait is over. Sweep requests come after every other request of the run (lower priority), so a run cut at its time
limit has fetched the new articles first.

An article is asked for at the address it was last fetched at when that is its own address as the site spells it (a
trailing slash, ``www.``), else at its own address as the site spells it where the archive knows it (an earlier
fetch there, or the page's canonical link: ``own_spelling``), else at its canonical form (``address``). One last
fetched at a mobile or AMP copy, or at an alias whose page named it in its canonical link (a numeric link, an old
slug, a ``?from=`` query), lives on at its own address when the site drops the other: asked at the other, it was
withdrawn on the 404 of an address that was never its page (and a 404 at such an address withdraws nothing,
``repository._withdraw_gone``). Asked at the canonical form, a site that answers only at ``www.`` (or without it
answers "not found") withdrew it on that 404 just as wrongly.

What a run reports of its sweep (stats ``aggregator/swept*``, kept in the run's row) is what it really asked for:
a sweep request the duplicate filter drops (the same page asked for already in this crawl: by a listing, or, scaled
out, by another worker's sweep) is taken off ``aggregator/swept``. The health check (``aggregator.health``) judges
the listings by what they led to, so it leaves out the articles only the sweep asked for; one a listing also links,
whose listing request the duplicate filter dropped because the sweep's came first, is counted as listed
(``aggregator/swept_listed``; after a day without runs, say, every article on the listings is due). A swept page
found gone (404 or 410, ``aggregator/swept_gone``) is the answer that withdraws its article, not a failing site: it
is not counted among the run's HTTP errors when health is judged.

``AGGREGATOR_SWEEP_DAYS=0`` (or ``AGGREGATOR_SWEEP_PER_RUN=0``) switches it off.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Self

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy.exc import SQLAlchemyError

from aggregator.html import css_first, document_base, http_url
from aggregator.incremental import ARTICLE_URL_META, CONDITIONAL_META, SWEPT_META, RefusalWaits, url_hash
from aggregator.items import GONE_STATUSES, ArticleItem, ExtractionFailure, FetchFailure, NotModifiedPage
from aggregator.store.repository import own_address
from aggregator.urls import canonical_url
from spiders.metadata import CANONICAL

if TYPE_CHECKING:
    from aggregator.store.repository import SweepCandidate

logger = logging.getLogger(__name__)

SHORTEST = timedelta(days=1)
LONGEST = timedelta(days=7)
PRIORITY = -10
"""Below every request a spider makes (Scrapy's default is 0): new articles are fetched first."""


def due_interval(dated: datetime, last_seen: datetime) -> timedelta:
    """How long after it was last seen an article is due: its age then, at least a day, at most a week."""
    return min(LONGEST, max(SHORTEST, last_seen - dated))


def address(candidate: SweepCandidate) -> str:
    """Where the sweep asks for an article: where it was last fetched when that is its own address as the site spells
    it (a trailing slash, ``www.``), else its own as the site spells it (``own_spelling``), else its canonical form (the
    key). An article fetched at a mobile or AMP copy, or at an alias whose page named it in its canonical link, is
    asked for where it lives: a site that dropped that other address answers 404 there, which is no article deleted
    (``repository.own_address``)."""
    if own_address(candidate.fetched_url, candidate.url):
        return candidate.fetched_url
    return own_spelling(candidate) or candidate.url


def own_spelling(candidate: SweepCandidate) -> str | None:
    """The article's own address as its site spells it, for one last fetched elsewhere: where one of its snapshots
    was fetched at its own address (newest first), else what its newest page's canonical link names, when that is
    its own address; None when neither says.

    The key is the address's canonical form, not always one the site answers at: ``https``, no ``www.``, no trailing
    slash. A site that serves its pages only at ``www.`` (or only over http) does not answer there, and one that
    answers the path without its slash with "not found" withdrew, on that 404, an article it still published."""
    for url in candidate.spellings:
        if own_address(url, candidate.url):
            return url
    if candidate.page is None:
        return None
    page_url, raw, encoding = candidate.page
    href = canonical_link(raw, encoding, page_url)
    return href if href is not None and own_address(href, candidate.url) else None


def canonical_link(raw: bytes, encoding: str | None, page_url: str) -> str | None:
    """The absolute address a page's ``<link rel="canonical">`` names (against its ``<base href>``), or None."""
    try:
        text = raw.decode(encoding or "utf-8", "replace")
    except LookupError:  # an encoding name Python does not know
        text = raw.decode("utf-8", "replace")
    tree = LexborHTMLParser(text)
    head = tree.head
    node = css_first(head, CANONICAL) if head is not None else None
    href = node.attrs.get("href") if node is not None else None
    return http_url(document_base(tree, page_url), href) if href else None


def pick(
    candidates: Iterable[SweepCandidate], now: datetime, limit: int, waiting: Iterable[int] = ()
) -> tuple[list[SweepCandidate], int]:
    """The due candidates to ask for in this run (at most ``limit``, the most overdue first: longest unseen for its
    interval, then the newest), and how many were due. ``waiting``: ``url_hash`` of pages in their refusal wait: an
    article whose own address waits is neither picked nor counted as due."""
    left_alone = set(waiting)
    due: list[tuple[float, datetime, SweepCandidate]] = []
    for candidate in candidates:
        # The address it is asked at (the canonical one, or a spelling of it): an alias of it waiting out a refusal
        # (a 404 the site answers there) keeps nobody from asking the article's own address.
        if left_alone and url_hash(candidate.url) in left_alone:
            continue
        interval = due_interval(candidate.dated, candidate.last_seen_at)
        unseen = now - candidate.last_seen_at
        if unseen >= interval:
            due.append((unseen / interval, candidate.dated, candidate))
    due.sort(key=lambda d: (d[0], d[1]), reverse=True)
    return [candidate for _, _, candidate in due[:limit]], len(due)


def request_for(candidate: SweepCandidate, spider: Any) -> Request:
    """A conditional request for the candidate, at its own address (``address``), to the spider's article callback;
    a 304 answer is recorded against the article (``ARTICLE_URL_META``)."""
    headers = {}
    if candidate.etag:
        headers["If-None-Match"] = candidate.etag
    if candidate.last_modified:
        headers["If-Modified-Since"] = candidate.last_modified
    meta: dict[str, Any] = {SWEPT_META: True, ARTICLE_URL_META: candidate.url}
    if headers:
        meta[CONDITIONAL_META] = True
        meta["handle_httpstatus_list"] = [304]
    return Request(
        address(candidate),
        callback=spider.parse_article,
        errback=spider.fetch_failed,
        headers=headers,
        meta=meta,
        priority=PRIORITY,
    )


class SweepMiddleware:
    """Spider middleware: after the spider's own start requests, the run's share of the sweep (see the module)."""

    def __init__(
        self,
        crawler: Crawler,
        db_url: str,
        days: float,
        per_run: int,
        refusals: RefusalWaits | None = None,
    ) -> None:
        self.crawler = crawler
        self.db_url = db_url
        self.window = timedelta(days=days)
        self.per_run = per_run
        self.refusals = refusals or RefusalWaits()
        self.asked: set[str] = set()
        """Canonical addresses this run's sweep asks at."""
        self.first: dict[str, bool] = {}
        """For each that a request was scheduled for: whether the sweep's came first (``request_dropped``)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        days = settings.getfloat("AGGREGATOR_SWEEP_DAYS", 30.0)
        per_run = settings.getint("AGGREGATOR_SWEEP_PER_RUN", 50)
        db_url = settings.get("AGGREGATOR_DB_URL")
        if days <= 0 or per_run <= 0:
            raise NotConfigured("the sweep is off (AGGREGATOR_SWEEP_DAYS or AGGREGATOR_SWEEP_PER_RUN is 0)")
        if not db_url:
            raise NotConfigured("no archive to sweep")
        middleware = cls(crawler, db_url, days, per_run, RefusalWaits.from_settings(settings))
        crawler.signals.connect(middleware.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(middleware.request_dropped, signal=signals.request_dropped)
        return middleware

    def request_scheduled(self, request: Request, spider: Spider | None = None) -> None:
        if self.asked and (url := canonical_url(request.url)) in self.asked and url not in self.first:
            self.first[url] = bool(request.meta.get(SWEPT_META))

    def request_dropped(self, request: Request, spider: Spider | None = None) -> None:
        """The duplicate filter dropped a request. A sweep request was then not asked for by this run after all; a
        request for a page the sweep asked for first is answered by the sweep's, which counts as the listing's for
        the health check (once a page: a listing may link it twice)."""
        stats = self.crawler.stats
        if stats is None or not self.asked or (url := canonical_url(request.url)) not in self.asked:
            return
        if request.meta.get(SWEPT_META):
            stats.inc_value("aggregator/swept", -1)
            stats.inc_value("aggregator/swept_dropped")
            if self.first.get(url):  # it was first here, but not in the frontier (another worker's was)
                del self.first[url]
        elif self.first.get(url):
            stats.inc_value("aggregator/swept_listed")
            self.first[url] = False

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for item_or_request in start:
            yield item_or_request
        spider = self.crawler.spider
        for request in self.requests(spider) if spider is not None else ():
            yield request

    def _counted(self, item: Any) -> Any:
        stats = self.crawler.stats
        if stats is None:
            return item
        if isinstance(item, ArticleItem | ExtractionFailure):
            stats.inc_value("aggregator/swept_extracted")
        elif isinstance(item, FetchFailure) and item.http_status in GONE_STATUSES:
            stats.inc_value("aggregator/swept_gone")
        return item

    def _seen(self, response: Response) -> NotModifiedPage | None:
        """For a swept page the spider made nothing of (the generic spider's "not an article" page): the page is
        there, so the article was seen; else it would stay the most overdue and take a place in every run."""
        source = getattr(self.crawler.spider, "source_key", None)
        article = response.meta.get(ARTICLE_URL_META)
        if not source or not article:
            return None
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("aggregator/swept_nothing")
        return NotModifiedPage(source, article)

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterator[Any]:
        """Counts the articles swept pages gave (``aggregator/swept_extracted``: the health check's item count is
        of what the listings led to, and leaves them out, ``aggregator.health.Measures``)."""
        if not response.meta.get(SWEPT_META):
            yield from result
            return
        gave = False
        for item in result:
            gave = True
            yield self._counted(item)
        if not gave and (seen := self._seen(response)) is not None:
            yield seen

    async def process_spider_output_async(self, response: Response, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        if not response.meta.get(SWEPT_META):
            async for item in result:
                yield item
            return
        gave = False
        async for item in result:
            gave = True
            yield self._counted(item)
        if not gave and (seen := self._seen(response)) is not None:
            yield seen

    def requests(self, spider: Spider, now: datetime | None = None) -> list[Request]:
        source = getattr(spider, "source_key", None)
        if not source or not hasattr(spider, "parse_article") or not hasattr(spider, "fetch_failed"):
            return []
        now = now or datetime.now(UTC)
        chosen, due = self.plan(source, now)
        stats = self.crawler.stats
        if stats is not None:
            stats.set_value("aggregator/sweep_due", due)
            stats.set_value("aggregator/swept", len(chosen))
        if due:
            logger.info(
                "%s: %d archived article(s) due to be looked at again (sweep): %d asked for in this run",
                source,
                due,
                len(chosen),
            )
        requests = [request_for(candidate, spider) for candidate in chosen]
        self.asked.update(canonical_url(r.url) for r in requests)
        return requests

    def plan(self, source: str, now: datetime) -> tuple[Sequence[SweepCandidate], int]:
        """This run's candidates, with their validators, and how many were due; nothing when there is no archive."""
        from aggregator.store import Archive

        try:
            archive = Archive.open(self.db_url, migrate=False, create=False)
            try:
                window = archive.sweep_window(source, dated_since=now - self.window, seen_before=now - SHORTEST)
                if not window:
                    return [], 0
                waiting = self.refusals.waiting(archive.refused_pages(source), now)
                chosen, due = pick(window, now, self.per_run, waiting)
                return archive.with_validators(chosen), due
            finally:
                archive.close()
        except SQLAlchemyError as exc:  # no archive yet (or no schema): nothing to sweep
            logger.info("No sweep for %s: %s", source, str(exc).splitlines()[0])
            return [], 0
