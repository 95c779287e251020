"""``scrapy view``: Scrapy's, leaving the archive alone (see the package)."""

from __future__ import annotations

from scrapy.commands.view import Command as ScrapyView

from aggregator.scrapy_commands import LeavesArchiveAlone


class Command(LeavesArchiveAlone, ScrapyView):
    pass
