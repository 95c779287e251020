"""What every source spider shares: its registry entry, its entry points, and how failed fetches are kept."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from aggregator.address_guard import AddressRefused
from aggregator.health_checks import CAPPED_LISTINGS, LINKS_OVER_CAP
from aggregator.incremental import ARTICLE_URL_META, NotModified
from aggregator.items import ENTRY_FAILED, ENTRY_META, FetchFailure, NotModifiedPage
from aggregator.redirect_guard import RedirectRefused
from aggregator.size_limits import DOCUMENT_META, TooLarge
from aggregator.sources import Source, UnknownSourceError, get_source
from aggregator.urls import canonical_url, linked_url

_TWISTED_FAILURE = re.compile(r"<twisted\.python\.failure\.Failure (?:[\w.]+\.)?(\w+): ([^>]*)>")


def describe_error(error: BaseException) -> str:
    """A failed fetch's reason in one readable line: the error's name and what it says, with the Twisted failures
    Scrapy wraps in its own errors unwrapped ("DownloadFailedError: ConnectionDone: Connection was closed cleanly."),
    and, for an error that says nothing, what its kind means."""
    message = _TWISTED_FAILURE.sub(r"\1: \2", str(error)).strip()
    if message.startswith("[") and message.endswith("]") and message.count(": ") >= 1:
        message = message[1:-1]  # a list of one (or more) unwrapped failures
    if not message:
        doc = (type(error).__doc__ or "").strip().splitlines()
        message = doc[0].removeprefix("Indicates that ").rstrip(".") if doc else ""
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


LANGUAGE_NOT_LISTED = "aggregator/lang_not_listed"
"""Stats: pages whose ``<html lang>`` is a language the source's entry does not list (and ``.../<code>`` each)."""
_HTML_LANG = re.compile(rb"<html\b[^>]*?\slang\s*=\s*[\"']?\s*([A-Za-z]{2,3})(?![A-Za-z])", re.IGNORECASE)
"""The primary subtag of ``<html lang>`` (``az`` of ``az-Latn-AZ``), read from the page's bytes: cheap on every page."""

ROBOTS_FORBIDDEN = "Forbidden by robots.txt"
"""The reason of Scrapy's ``IgnoreRequest`` for a request the site's robots.txt disallows."""


MAX_LINKS_SETTING = "AGGREGATOR_MAX_LINKS_PER_LISTING"
DEFAULT_MAX_LINKS = 1000


@dataclass(slots=True)
class LinkCap:
    """The article links one listing or feed may have followed (``AGGREGATOR_MAX_LINKS_PER_LISTING``; 0: all), and
    those it gave past them. A listing of 100,000 article links made one run fetch 10,904 pages in its time limit,
    every one re-published; the bundled and generated listings hold about 285."""

    limit: int
    followed: int = 0
    over: int = 0

    def take(self) -> bool:
        """Whether one more link is followed (counted either way)."""
        if self.limit and self.followed >= self.limit:
            self.over += 1
            return False
        self.followed += 1
        return True


class SpiderSetupError(ValueError):
    """A spider that cannot crawl as it is written: no registry entry for its name, or an extractor of another
    source. Raised when the spider is made, in one line, before any page: each page's item went to another source's
    pipelines and was refused, a traceback and an item dump a page."""


class SourceSpider(scrapy.Spider):
    """A spider for one registered source; ``name`` is the registry key."""

    source: Source
    listing_callback: ClassVar[str] = "parse"
    looked_in: ClassVar[str] = "on the listings"
    """Where this spider looks for articles, as the health verdict of a run that found none says it: "no article found
    on the listings" (``aggregator.health_checks.items_problem``). A spider that reads no HTML listings says what it
    reads, so that the operator looks there."""
    entries_are_documents: ClassVar[bool] = False
    """Whether the entry URLs may be feeds or sitemaps, which may be as large as ``DOWNLOAD_MAXSIZE``; an HTML
    listing has an HTML page's limit (``aggregator.size_limits``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        problem = self.setup_problem()
        if problem is not None:
            raise SpiderSetupError(problem)
        self.source = get_source(self.name)
        self.allowed_domains = list(self.source.domains)
        from spiders.versions import extractor_versions

        self.article_extractors = extractor_versions(type(self))
        """The extractor classes, oldest first: ``extractors``, or ``extractor`` alone (``pick_extractor`` picks)."""

    @classmethod
    def setup_problem(cls) -> str | None:
        """Why this spider class cannot crawl, in one line, or None: its name is no registry key, or an extractor of
        it makes items of another source (its ``SOURCE``, a copied module's left as it was)."""
        from aggregator.spiderloader import add_entry_advice
        from spiders.versions import extractor_versions

        try:
            get_source(cls.name)
        except UnknownSourceError:
            return f"spider {cls.name!r} ({cls.__module__}) has no registry entry: {add_entry_advice(cls.name)}"
        versions = extractor_versions(cls)
        if not versions:
            return (
                f"spider {cls.name!r} ({cls.__module__}) has no extractor: set extractor (or extractors, oldest first)"
            )
        for extractor in versions:
            said = getattr(extractor, "SOURCE", None)
            if said is not None and said != cls.name:
                return (
                    f"spider {cls.name!r} ({cls.__module__}): its extractor {extractor.__qualname__} makes items of "
                    f"source {said!r} (SOURCE = {said!r}): set its SOURCE to {cls.name!r}"
                )
        return None

    @property
    def source_key(self) -> str:
        return self.source.key

    def note_declared_language(self, response: TextResponse) -> None:
        """Count an article page that declares (``<html lang>``) a language its source's entry does not list: its
        article is stored in one the entry lists, wrongly (an Azerbaijani site's entry that named no language was
        taken for Russian, and its articles were stored and attributed as Russian, the crawl green). Said once per
        run, with the counts, when the spider closes (``closed``)."""
        stats = self._stats()
        found = _HTML_LANG.search(response.body[:8192])
        declared = found.group(1).decode("ascii").lower() if found else None
        if declared and declared not in self.source.languages and stats is not None:
            stats.inc_value(LANGUAGE_NOT_LISTED)
            stats.inc_value(f"{LANGUAGE_NOT_LISTED}/{declared}")

    def link_cap(self) -> LinkCap:
        """A fresh cap for one listing's or feed's links (``LinkCap``)."""
        settings = getattr(self, "settings", None)  # a spider made without a crawler (a test's) has none
        return LinkCap(settings.getint(MAX_LINKS_SETTING, DEFAULT_MAX_LINKS) if settings else DEFAULT_MAX_LINKS)

    def count_capped(self, cap: LinkCap) -> None:
        """Count the links a listing or feed gave past the cap (``LINKS_OVER_CAP``, which turns the run's health
        red, and ``CAPPED_LISTINGS``)."""
        stats = self._stats()
        if cap.over and stats is not None:
            stats.inc_value(LINKS_OVER_CAP, cap.over)
            stats.inc_value(CAPPED_LISTINGS)

    def note_capped(self, url: str, what: str, cap: LinkCap) -> None:
        """Count and say, in one WARNING, a listing or feed that gave more article links than the cap."""
        if not cap.over:
            return
        self.count_capped(cap)
        self.logger.warning(
            "%s: the %s links %d article(s): the first %d followed, %d more not (%s=%d)",
            url, what, cap.followed + cap.over, cap.followed, cap.over, MAX_LINKS_SETTING, cap.limit,
        )  # fmt: skip

    def _stats(self) -> Any:
        """The crawl's stats collector; None for a spider made without a crawler (a test's, ``aggregator extract``)."""
        crawler = getattr(self, "crawler", None)
        return crawler.stats if crawler is not None else None

    def closed(self, reason: str) -> None:
        collector = self._stats()
        stats = collector.get_stats() if collector is not None else {}
        if stats.get(LANGUAGE_NOT_LISTED):
            prefix = LANGUAGE_NOT_LISTED + "/"
            declared = sorted((k.removeprefix(prefix), v) for k, v in stats.items() if k.startswith(prefix))
            said = ", ".join(f'{count} lang="{code}"' for code, count in declared)
            self.logger.warning(
                "%s: %d article page(s) declare a language the registry entry does not list (%s; the entry lists %s): "
                "they were stored as one it lists; give the entry the languages the site publishes in",
                self.source.key, stats[LANGUAGE_NOT_LISTED], said, ", ".join(self.source.languages),
            )  # fmt: skip

    async def start(self) -> AsyncIterator[scrapy.Request]:
        meta = {ENTRY_META: True, DOCUMENT_META: True} if self.entries_are_documents else {ENTRY_META: True}
        for url in self.source.entry_urls:
            yield scrapy.Request(url, callback=self.parse, errback=self.fetch_failed, meta=meta)

    def fetch_failed(self, failure: Failure) -> Iterator[FetchFailure | NotModifiedPage]:
        """Errback of every request: the failure becomes a quarantine row and the crawl goes on.

        A 304 answer to an incremental crawl's conditional request is no failure: the archived version is current.
        """
        if isinstance(failure.value, NotModified):
            request = getattr(failure, "request", None)
            if request is not None:
                article = request.meta.get(ARTICLE_URL_META) or canonical_url(request.url)
                yield NotModifiedPage(self.source.key, article)
            return
        if isinstance(failure.value, IgnoreRequest) and str(failure.value) == ROBOTS_FORBIDDEN:
            # The site's robots.txt keeps us out of this page: obeyed, as it should be, and no failure (Scrapy counts
            # it, robotstxt/forbidden). Recorded as a failed fetch, every run turned the source red ("750% of the
            # requests failed": the page is never requested) over a policy the operator cannot change.
            return
        request = getattr(failure, "request", None)
        entry = bool(request is not None and request.meta.get(ENTRY_META))
        if entry and self.crawler.stats is not None:
            self.crawler.stats.inc_value(ENTRY_FAILED)
        if isinstance(failure.value, HttpError):
            response: Response = failure.value.response
            status = response.status
            linked = linked_url(response.meta, response.url)
            yield FetchFailure(
                self.source.key, response.url, f"HTTP {status}", http_status=status, linked_url=linked, entry=entry
            )
            return
        url = request.url if request is not None else ""
        error = failure.value
        linked = linked_url(request.meta, url) if request is not None else None
        if isinstance(error, RedirectRefused):
            yield FetchFailure(
                self.source.key, url, str(error), http_status=error.status, linked_url=linked, entry=entry
            )
            return
        if isinstance(error, TooLarge):  # its message is the whole reason, the limit and its setting named
            yield FetchFailure(self.source.key, url, str(error), linked_url=linked, entry=entry)
            return
        if isinstance(error, AddressRefused):  # a port or an address the crawl does not connect to: said in full
            reason = str(error)
        else:
            reason = describe_error(error) if error is not None else "download failed"
        yield FetchFailure(self.source.key, url, reason, linked_url=linked, entry=entry)

    def not_html(self, response: Response) -> FetchFailure | None:
        """A failure record when a page we expected to be HTML is not text at all."""
        if isinstance(response, TextResponse):
            return None
        ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1") or "no Content-Type"
        return FetchFailure(self.source.key, response.url, f"not an HTML page ({ctype})", response.status)
