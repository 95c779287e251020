"""``scrapy parse``: Scrapy's, leaving the archive alone (see the package), and printing bytes fields as their size
instead of a few hundred lines of escaped page."""

from __future__ import annotations

from itemadapter import ItemAdapter
from scrapy.commands.parse import Command as ScrapyParse

from aggregator.scrapy_commands import LeavesArchiveAlone, shown


class Command(LeavesArchiveAlone, ScrapyParse):
    def print_items(self, lvl: int | None = None, colour: bool = True) -> None:
        kept = dict(self.items)  # Scrapy keeps them in a dict of the class, which it updates in place
        self.items.update(
            {level: [{key: shown(value) for key, value in ItemAdapter(item).items()} for item in items]
             for level, items in kept.items()}
        )  # fmt: skip
        try:
            super().print_items(lvl, colour)
        finally:
            self.items.update(kept)

    def short_desc(self) -> str:
        return super().short_desc() + " (nothing is archived)"
