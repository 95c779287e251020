"""``scrapy check``: Scrapy's, leaving the archive alone (see the package)."""

from __future__ import annotations

from scrapy.commands.check import Command as ScrapyCheck

from aggregator.scrapy_commands import LeavesArchiveAlone


class Command(LeavesArchiveAlone, ScrapyCheck):
    pass
