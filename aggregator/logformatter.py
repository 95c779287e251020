"""Log lines for dropped items that say why and where, without dumping the whole article into the log."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Spider
from scrapy.http import Response
from scrapy.logformatter import LogFormatter, LogFormatterResult
from twisted.python.failure import Failure


class AggregatorLogFormatter(LogFormatter):
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
