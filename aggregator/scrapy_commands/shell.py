"""``scrapy shell``: Scrapy's, leaving the archive alone (see the package)."""

from __future__ import annotations

from scrapy.commands.shell import Command as ScrapyShell

from aggregator.scrapy_commands import LeavesArchiveAlone


class Command(LeavesArchiveAlone, ScrapyShell):
    pass
