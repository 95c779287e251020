"""What every pipeline shares: typed rejections and stats counting that also works without a crawler."""

from __future__ import annotations

import traceback
from typing import Any

from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector


class Rejected(DropItem):
    """An item refused by a pipeline; the store keeps it in quarantine with ``stage`` and ``reason``."""

    def __init__(self, reason: str, *, stage: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stage = stage


def fault(error: BaseException) -> str:
    """The reason kept for a page a pipeline failed on (a fault in our code or a library, not a refusal): the
    exception's one-line summary. A crawl, ``rejects retry`` and ``reextract`` quarantine or report it alike."""
    return "pipeline error: " + "".join(traceback.format_exception_only(type(error), error)).strip()


class Pipeline:
    """Base for our pipelines: ``stats`` is the crawler's collector in a crawl, None in offline extraction."""

    stage = "pipeline"

    def __init__(self, stats: StatsCollector | None = None) -> None:
        self.stats = stats

    def count(self, key: str, n: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"aggregator/{key}", n)

    def reject(self, reason: str, item: Any = None) -> Rejected:
        self.count(f"rejected/{self.stage}")
        return Rejected(reason, stage=self.stage)
