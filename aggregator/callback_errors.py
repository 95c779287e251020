"""A page whose callback raised is quarantined with its page, not only logged.

An extractor meets a page of a shape its code did not expect (a site's redesign half rolled out, a truncated body)
and raises. Scrapy logs the error and goes on: the page is in no table, and ``aggregator rejects`` does not show it.
``CallbackErrorMiddleware`` (a spider middleware next to the spider), for an article page, logs the error with its
traceback as Scrapy would, counts it (``aggregator/callback_errors``) and hands on an ``ExtractionFailure``: the
store keeps it as a reject of the ``extract`` stage, with the error and the raw page, so ``aggregator rejects retry``
extracts it again, with no network, once the extractor is fixed. Like any refused page, it is then left alone by the
next runs for a while (``AGGREGATOR_REFUSED_RETRY_HOURS``).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Self

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse

from aggregator.items import ExtractionFailure
from spiders.feeds import feed_cover, feed_published

logger = logging.getLogger(__name__)


class CallbackErrorMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_spider_exception(
        self, response: Response, exception: Exception, spider: Spider | None = None
    ) -> Iterable[Any] | None:
        spider = spider or self.crawler.spider
        source = getattr(spider, "source_key", None)
        callback = getattr(response.request, "callback", None) if response.request else None
        if source is None or getattr(callback, "__name__", None) != "parse_article":
            # Not an article page of one of our sources: Scrapy's own handling. A listing, feed or sitemap is read
            # again at the next run, where a quarantined page would be left alone for a while.
            return None
        summary = "".join(traceback.format_exception_only(type(exception), exception)).strip().splitlines()[0]
        logger.error(
            "Spider error processing %s (referer: %s): quarantined",
            response,
            response.request.headers.get("Referer") if response.request else None,
            exc_info=exception,
        )
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("aggregator/callback_errors")
        return [
            ExtractionFailure(
                source,
                response.url,
                f"extraction failed: {summary}",
                http_status=response.status,
                raw_body=response.body,
                raw_encoding=response.encoding if isinstance(response, TextResponse) else None,
                fetched_at=datetime.now(UTC),
                # a retry extracts the page again, without the feed
                published_feed=feed_published(response),
                cover_feed=feed_cover(response),
            )
        ]
