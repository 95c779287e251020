"""How large a response may be, by what it is: an HTML page, a feed or sitemap, a robots.txt.

One limit for everything (``DOWNLOAD_MAXSIZE``, 64 MiB, which a sitemap needs: the protocol allows 50 MB) let one
page hold the crawl: an article of 1.2 million nested ``<div>`` (6 MB) took 33 s and 1.55 GB to parse, a robots.txt
of 4 million ``Disallow`` lines (52 MB) 10 s and 1.1 GB. News pages weigh 20 to 200 KB. So ``SizeLimitMiddleware``
gives each request the limit of its kind, as Scrapy's ``download_maxsize`` meta, which Scrapy's handler applies
(it cancels the download as soon as the announced length, or what has arrived, is over it) and its decompression
too (a gzip bomb is cut at the same size):

- an HTML page (a listing, an article: any request not marked otherwise): ``AGGREGATOR_PAGE_MAXSIZE``
  (``AGGREGATOR_MAX_PAGE_MB``, 5 MiB), never more than ``DOWNLOAD_MAXSIZE``;
- a feed or a sitemap, or a way in that may be one (a request whose meta has ``DOCUMENT_META``: the spiders mark
  them where they make them): ``DOWNLOAD_MAXSIZE`` (``AGGREGATOR_MAX_DOWNLOAD_MB``, 64 MiB);
- robots.txt (the request Scrapy's robots.txt middleware makes): read as Google reads it, up to
  ``AGGREGATOR_ROBOTSTXT_MAXSIZE`` (``AGGREGATOR_MAX_ROBOTS_KB``, 500 KiB); its rules past that are ignored (the
  download is stopped there, the last line cut in two is dropped), said in a WARNING and counted
  (``ROBOTS_CUT``). A robots.txt that failed for its size would be as none at all (Scrapy obeys no rule of one it
  could not fetch), which a site's rules in its first 500 KiB do not deserve.

A page or a document over its limit is a failed fetch whose reason names the limit and the setting (``TooLarge``:
"too large: an HTML page may have 5 MiB at most (AGGREGATOR_MAX_PAGE_MB), the server announced 6 MiB"),
recorded by the spider's errback as any other (a reject of the ``fetch`` stage) and counted (``TOO_LARGE``). Scrapy
said only "DownloadCancelledError" when no length was announced.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Self
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest, StopDownload
from scrapy.http import Response

logger = logging.getLogger(__name__)

DOCUMENT_META = "aggregator_document"
"""Request meta: the request is for a feed or a sitemap, or for a way in that may be one (a generic source's entry
URL): it may be as large as ``DOWNLOAD_MAXSIZE``."""
ROBOTS_LIMIT_META = "aggregator_robots_limit"
"""Request meta of a robots.txt request: how much of the file is read (``AGGREGATOR_ROBOTSTXT_MAXSIZE``)."""
_RECEIVED_META = "aggregator_robots_received"

TOO_LARGE = "aggregator/too_large"
"""The stats key counting the responses refused for their size (``.../page``, ``.../document`` by kind)."""
ROBOTS_CUT = "aggregator/robots_cut"
"""The stats key counting the robots.txt files read only up to ``AGGREGATOR_ROBOTSTXT_MAXSIZE``."""

PAGE_SETTING = "AGGREGATOR_MAX_PAGE_MB"
DOCUMENT_SETTING = "AGGREGATOR_MAX_DOWNLOAD_MB"
ROBOTS_SETTING = "AGGREGATOR_MAX_ROBOTS_KB"
_ANNOUNCED = re.compile(r"^Expected to receive (\d+) bytes")


class TooLarge(IgnoreRequest):
    """A response over the limit of its kind (the message is the failed fetch's whole reason)."""


def size_said(size: int) -> str:
    """``size`` bytes in the unit an operator sets it in: "5 MiB", "500 KiB", "6.3 MiB"."""
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


class SizeLimitMiddleware:
    """Downloader middleware: each request's size limit by its kind, and a failure over it that says which (see the
    module). After decompression (590) for responses: the robots.txt it reads is what the site's file says."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.stats = crawler.stats
        self.document = settings.getint("DOWNLOAD_MAXSIZE")
        page = settings.getint("AGGREGATOR_PAGE_MAXSIZE", 5 * 1024 * 1024)
        # The smaller one binds: an operator who lowered AGGREGATOR_MAX_DOWNLOAD_MB lowered it for every response
        if page and (not self.document or page <= self.document):
            self.page, self.page_setting = page, PAGE_SETTING
        else:
            self.page, self.page_setting = self.document, DOCUMENT_SETTING
        self.robots = settings.getint("AGGREGATOR_ROBOTSTXT_MAXSIZE", 500 * 1024)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        middleware = cls(crawler)
        crawler.signals.connect(middleware.bytes_received, signal=signals.bytes_received)
        return middleware

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        """Set the request's limit: never above its kind's, whatever its meta says (a scale-out worker's requests
        come from Redis, and ``download_maxsize`` 0 is no limit at all)."""
        meta = request.meta
        if is_robots_txt(request):
            meta.pop(_RECEIVED_META, None)  # a retry's count starts again
            if self.robots:
                meta[ROBOTS_LIMIT_META] = self.robots
            limit = self.document
        else:
            limit = self.document if meta.get(DOCUMENT_META) else self.page
        if limit and not 0 < int(meta.get("download_maxsize") or 0) <= limit:
            meta["download_maxsize"] = limit

    def bytes_received(self, data: bytes, request: Request, spider: Spider | None = None, **_: Any) -> None:
        """Stop a robots.txt download at its limit; what came is read (``process_response``). Every other download
        Scrapy cuts itself (``download_maxsize``)."""
        limit = request.meta.get(ROBOTS_LIMIT_META)
        if not limit:
            return
        received = request.meta.get(_RECEIVED_META, 0) + len(data)
        request.meta[_RECEIVED_META] = received
        if received > limit:
            raise StopDownload(fail=False)

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        limit = request.meta.get(ROBOTS_LIMIT_META)
        if not limit or len(response.body) <= limit:
            return response
        body = response.body[:limit]
        body = body[: body.rfind(b"\n") + 1]  # the rules up to the last whole line
        logger.warning(
            "%s is larger than %s (%s): its rules after the first %s are not read",
            request.url,
            size_said(limit),
            ROBOTS_SETTING,
            size_said(limit),
        )
        if self.stats is not None:
            self.stats.inc_value(ROBOTS_CUT)
        return response.replace(body=body)

    def process_exception(self, request: Request, exception: Exception, spider: Spider | None = None) -> None:
        """Scrapy's handler cancels a download over its ``download_maxsize`` (the only download it cancels), with
        "Expected to receive N bytes ..." when the length was announced and nothing at all when it was not: the
        failure says which limit, and the setting."""
        if not isinstance(exception, DownloadCancelledError):
            return
        limit = int(request.meta.get("download_maxsize") or self.document)
        if is_robots_txt(request):
            kind, what, setting = "robots", "a robots.txt", DOCUMENT_SETTING
        elif request.meta.get(DOCUMENT_META):
            kind, what, setting = "document", "a feed or sitemap", DOCUMENT_SETTING
        else:
            setting = self.page_setting if limit == self.page else DOCUMENT_SETTING
            kind, what = "page", "an HTML page"
        announced = _ANNOUNCED.match(str(exception))
        came = (
            f"the server announced {size_said(int(announced.group(1)))}"
            if announced
            else "more came, and the download was stopped there"
        )
        reason = f"too large: {what} may have {size_said(limit)} at most ({setting}), {came}"
        if self.stats is not None:
            self.stats.inc_value(TOO_LARGE)
            self.stats.inc_value(f"{TOO_LARGE}/{kind}")
        if kind == "robots":  # no errback to record it: Scrapy's robots.txt middleware obeys no rule of it
            logger.warning("%s: %s; the site is crawled as if it had none", request.url, reason)
        raise TooLarge(reason)


def is_robots_txt(request: Request) -> bool:
    """Whether ``request`` is Scrapy's robots.txt middleware's (the only request that does not obey robots.txt)."""
    return bool(request.meta.get("dont_obey_robotstxt")) and urlsplit(request.url).path == "/robots.txt"
