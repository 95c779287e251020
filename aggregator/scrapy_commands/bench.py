"""``scrapy bench``: Scrapy's, leaving the archive alone (see the package)."""

from __future__ import annotations

from scrapy.commands.bench import Command as ScrapyBench

from aggregator.scrapy_commands import LeavesArchiveAlone


class Command(LeavesArchiveAlone, ScrapyBench):
    pass
