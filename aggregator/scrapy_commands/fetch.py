"""``scrapy fetch``: Scrapy's, leaving the archive alone (see the package)."""

from __future__ import annotations

from scrapy.commands.fetch import Command as ScrapyFetch

from aggregator.scrapy_commands import LeavesArchiveAlone


class Command(LeavesArchiveAlone, ScrapyFetch):
    pass
