"""A link that redirects off the source's sites, or in a loop, is a failed fetch with its reason, not a silent drop.

Scrapy follows a redirect by scheduling a new request. One to another site is dropped by its offsite filter while
it is scheduled, and one back to an address already asked for by the duplicate filter: neither calls the request's
errback, so the page the listing linked ends in no table, and ``aggregator rejects`` cannot say what became of it
(only the stats count ``offsite/filtered`` or ``dupefilter/filtered``).

``RedirectGuardMiddleware`` sees each redirect before Scrapy's ``RedirectMiddleware`` follows it. A redirect whose
target no domain of the source owns raises ``RedirectedOffsite``, one to a port its pages are not fetched on
``RedirectedToPort`` (``aggregator.address_guard``); one whose target is the address it came from, or
one earlier in its chain, raises ``RedirectLoop``; one whose ``Location`` is no address, ``RedirectUnreadable``. All
are ``IgnoreRequest``s (Scrapy logs none): the spider's errback turns them into a quarantine row of the ``fetch``
stage with the whole chain as its reason, and the page is left alone for a while, like any refused page.
"""

from __future__ import annotations

from typing import Any, Self
from urllib.parse import urldefrag, urljoin

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from w3lib.url import safe_url_string

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class RedirectRefused(IgnoreRequest):
    """A redirect not followed; the message is the whole reason a quarantine row gives, ``status`` the answer's (a
    3xx: not a passing fault, so the page waits, as after a 404)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RedirectedOffsite(RedirectRefused):
    """The page's address redirects to a site the source does not own."""


class RedirectedToPort(RedirectRefused):
    """The page's address redirects to a port of the source's host that its pages are not fetched on
    (``Source.allows_port``): ``http://caliber.az:6379/``, a Redis server's, was followed."""


class RedirectLoop(RedirectRefused):
    """The page's address redirects back to itself, directly or through others."""


class RedirectUnreadable(RedirectRefused):
    """The redirect's ``Location`` is no address (``http://[broken``): Scrapy's own error said only "Invalid IPv6
    URL", naming neither the header nor its value."""


class RedirectGuardMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Any:
        if response.status not in REDIRECT_STATUSES or request.meta.get("dont_redirect"):
            return response
        location = response.headers.get(b"Location")
        if not location:
            return response
        try:
            target = urldefrag(urljoin(request.url, location.decode("latin-1").strip()))[0]
            safe_url_string(target)  # what RedirectMiddleware makes of it
        except ValueError as exc:
            self._count("redirect_unreadable")
            shown = location.decode("latin-1")[:200]
            raise RedirectUnreadable(
                f"redirect ({response.status}) to no address: Location {shown!r} ({exc})", response.status
            ) from None
        chain = [*request.meta.get("redirect_urls", ()), request.url]
        shown = " -> ".join([*chain, target])
        source = getattr(spider or self.crawler.spider, "source", None)
        if source is not None and target.startswith(("http://", "https://")) and not source.owns(target):
            self._count("redirected_offsite")
            raise RedirectedOffsite(f"redirected off the source's sites ({response.status}): {shown}", response.status)
        if source is not None and target.startswith(("http://", "https://")) and not source.allows_port(target):
            self._count("redirected_to_port")
            raise RedirectedToPort(
                f"redirected to a port the source's pages are not fetched on ({response.status}): {shown}",
                response.status,
            )
        if target in chain:
            self._count("redirect_loop")
            raise RedirectLoop(f"redirect loop ({response.status}): {shown}", response.status)
        return response

    def _count(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"aggregator/{key}")
