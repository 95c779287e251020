"""Run an offline crawl of caliber in this process, sending this process SIGTERM while the spider is closing, and
print, as JSON, the run rows it left (source, status, finish reason), sorted.

Used by tests/test_unattended.py in a child process (the reactor runs once per process, and the signal is this
process's): ``python -m tests.helpers.signal_while_closing DB_URL [SOURCE]``. ``systemctl stop`` or ``aggregator
schedule`` sends SIGTERM whenever it comes; here it comes at a known moment: from an item pipeline's
``close_spider``, which then holds the close a second longer, while the store pipeline writes its last batch.

With SOURCE, that source is crawled beside caliber, as ``crawl --all`` does, slowly (a second between requests), so
that it is still crawling when caliber closes and the signal comes: the stop is for it, not for caliber's close.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

from scrapy.crawler import Crawler, CrawlerProcess
from sqlalchemy import create_engine, select

from aggregator.crawl import project_settings
from aggregator.mirror import serve_mirror
from aggregator.paths import mirror_dir
from aggregator.store.db import normalise_url
from aggregator.store.models import CrawlRun

_signalled = False


class SignalOnClose:
    """An item pipeline: closed with the others, while the store pipeline writes its last batch (the first spider
    to close signals; the slow one, closed by that signal, does not)."""

    async def close_spider(self) -> None:
        global _signalled
        if _signalled:
            return
        _signalled = True
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(1.0)  # the asyncio reactor's loop


def main(db_url: str, slow: str | None = None, pipeline: str | None = None) -> None:
    """Crawl (``pipeline``: the item pipeline that sends the signal, ``SignalOnClose`` by default), print the runs."""
    with serve_mirror(mirror_dir()) as base:
        settings = project_settings({"AGGREGATOR_MIRROR": base, "AGGREGATOR_DB_URL": db_url, "LOG_LEVEL": "WARNING"})
        pipelines = settings.getdict("ITEM_PIPELINES")
        pipelines[pipeline or f"{__spec__.name}.SignalOnClose"] = 1000
        settings.set("ITEM_PIPELINES", pipelines, priority="cmdline")
        process = CrawlerProcess(settings)
        process.crawl("caliber")
        if slow:
            slow_settings = settings.copy()
            slow_settings.set("DOWNLOAD_DELAY", 1.0, priority="cmdline")
            slow_settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", 1, priority="cmdline")
            process.crawl(Crawler(process.spider_loader.load(slow), slow_settings))
        process.start()
    engine = create_engine(normalise_url(db_url))
    with engine.connect() as conn:
        rows = conn.execute(select(CrawlRun.source, CrawlRun.status, CrawlRun.finish_reason)).all()
    engine.dispose()
    print(json.dumps(sorted(list(row) for row in rows)))


if __name__ == "__main__":
    main(*sys.argv[1:3])
