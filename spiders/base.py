"""What every source spider shares: its registry entry, its entry points, and how failed fetches are kept."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from aggregator.incremental import ARTICLE_URL_META, NotModified
from aggregator.items import ENTRY_FAILED, ENTRY_META, FetchFailure, NotModifiedPage
from aggregator.redirect_guard import RedirectRefused
from aggregator.sources import Source, get_source
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


ROBOTS_FORBIDDEN = "Forbidden by robots.txt"
"""The reason of Scrapy's ``IgnoreRequest`` for a request the site's robots.txt disallows."""


class SourceSpider(scrapy.Spider):
    """A spider for one registered source; ``name`` is the registry key."""

    source: Source
    listing_callback: ClassVar[str] = "parse"
    looked_in: ClassVar[str] = "on the listings"
    """Where this spider looks for articles, as the health verdict of a run that found none says it: "no article found
    on the listings" (``aggregator.health_checks.items_problem``). A spider that reads no HTML listings says what it
    reads, so that the operator looks there."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source = get_source(self.name)
        self.allowed_domains = list(self.source.domains)

    @property
    def source_key(self) -> str:
        return self.source.key

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.source.entry_urls:
            yield scrapy.Request(url, callback=self.parse, errback=self.fetch_failed, meta={ENTRY_META: True})

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
        reason = describe_error(error) if error is not None else "download failed"
        yield FetchFailure(self.source.key, url, reason, linked_url=linked, entry=entry)

    def not_html(self, response: Response) -> FetchFailure | None:
        """A failure record when a page we expected to be HTML is not text at all."""
        if isinstance(response, TextResponse):
            return None
        ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1") or "no Content-Type"
        return FetchFailure(self.source.key, response.url, f"not an HTML page ({ctype})", response.status)
