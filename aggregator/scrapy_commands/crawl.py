"""``scrapy crawl``: Scrapy's, but a spider that cannot crawl is one log line, not a traceback.

Scrapy makes the spider inside the crawl's task: a spider module with no registry entry, or one whose extractor is
another source's, died with "Task exception was never retrieved" and a traceback (a name that is nobody's, with a
``KeyError`` traceback). Each is found here first (``RegistrySpiderLoader.spider_problem``), said in one line, and
the command exits 2, as for a wrong use of it; a crawl that starts is Scrapy's as it was.
"""

from __future__ import annotations

import argparse
import logging

from scrapy.commands.crawl import Command as ScrapyCrawl

logger = logging.getLogger(__name__)


class Command(ScrapyCrawl):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.crawler_process is not None
        check = getattr(self.crawler_process.spider_loader, "spider_problem", None)
        problem = check(args[0]) if len(args) == 1 and callable(check) else None
        if problem is not None:
            logger.error("%s", problem)
            self.exitcode = 2
            return
        super().run(args, opts)
