"""Run one offline crawl in this process and print, as JSON, every TCP port the process listened on meanwhile, and
which of the packages a crawl of its own has no use for it loaded (``UNUSED``).

Used by tests/test_safety.py in a child process (the reactor runs once per process):
``python -m tests.helpers.socket_probe DB_URL``. Settings come from the environment, as in production.
"""

from __future__ import annotations

import json
import sys

import psutil
from scrapy import signals
from scrapy.crawler import CrawlerProcess

from aggregator.crawl import project_settings
from aggregator.mirror import serve_mirror
from aggregator.paths import mirror_dir

UNUSED = ("aiohttp", "scrapy_redis", "trafilatura")
"""Loaded only for what this crawl does not do: Scrapy's remote console (its web server), scale-out, the generic
spider's fallback extraction."""


def listening_ports() -> set[int]:
    return {c.laddr.port for c in psutil.Process().net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}


def main(db_url: str) -> None:
    seen: set[int] = set()
    with serve_mirror(mirror_dir()) as base:
        mirror_port = int(base.rsplit(":", 1)[1])
        process = CrawlerProcess(
            project_settings({"AGGREGATOR_MIRROR": base, "AGGREGATOR_DB_URL": db_url, "LOG_LEVEL": "WARNING"})
        )
        crawler = process.create_crawler("caliber")

        def look(*_args: object, **_kwargs: object) -> None:
            seen.update(listening_ports())

        crawler.signals.connect(look, signal=signals.spider_opened)
        crawler.signals.connect(look, signal=signals.response_received)
        process.crawl(crawler)
        process.start()
        pages = crawler.stats.get_value("response_received_count", 0) if crawler.stats else 0
    loaded = [name for name in UNUSED if name in sys.modules]
    print(json.dumps({"mirror_port": mirror_port, "listening": sorted(seen), "pages": pages, "loaded": loaded}))


if __name__ == "__main__":
    main(sys.argv[1])
