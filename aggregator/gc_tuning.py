"""The crawling process's garbage collector, set for a crawl once its start-up is over.

A crawl allocates and frees container objects by the million (responses, selectors, requests, items, Deferreds),
nearly all freed by reference counting. CPython's defaults (a young collection every 700 net allocations, an old
one every 100 young ones) made ~300 collections during a 2,000-page crawl, and each old one walked every object
start-up had made (Scrapy, Twisted, lxml, SQLAlchemy: ~130,000 objects; up to 0.1 s each time): 0.26 s of a bare crawl's
2.3 s, 0.32 s of a full one's 5 s (measured in December 2026 with ``gc.callbacks`` around ``bench/crawl.py``).

So when the process builds its first crawler, what exists is collected once and moved out of the collector's sight
(``gc.freeze``: it lives as long as the process, and reference counting still frees it), and a young collection
waits for ``GEN0_THRESHOLD`` net allocations: the same crawls then make 6 or 7 collections, 0.01 s, and the crawl's
memory does not grow (the net count rarely reaches it: what a page allocates is freed with the page). The read API
freezes its start-up the same way (``aggregator/api/app.py``); the archive's writer process was measured too and
spends 5 ms of 2.5 s collecting, so it is left as it is.

An extension (``EXTENSIONS`` in aggregator/settings.py), so ``scrapy crawl`` and Scrapyd get it as ``aggregator
crawl`` does; it changes the process's collector once, whichever crawler is built first.
"""

from __future__ import annotations

import gc
import logging
import threading
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

GEN0_THRESHOLD = 5_000
"""Net allocations of container objects between two young collections (CPython's default: 700)."""

_lock = threading.Lock()
_tuned = False


def tune_after_startup() -> bool:
    """Collect once, freeze what start-up made, and raise the young generation's threshold; once per process (the
    later calls do nothing and answer False)."""
    global _tuned
    with _lock:
        if _tuned:
            return False
        _tuned = True
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    if young:  # 0: the collector is off (gc.disable() sets no threshold; a threshold of 0 is "never")
        gc.set_threshold(max(young, GEN0_THRESHOLD), middle, old)
    logger.debug("Garbage collector: %d start-up objects frozen, thresholds %s", gc.get_freeze_count(),
                 gc.get_threshold())  # fmt: skip
    return True


class GarbageCollectorTuning:
    """Calls ``tune_after_startup`` as its crawler is built: after the imports, before the spider opens (the full
    collection takes ~80 ms, start-up's cost, not the crawl's)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        tune_after_startup()
        return cls()
