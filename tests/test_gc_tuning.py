"""The crawling process's garbage collector: start-up frozen and fewer young collections, once per process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from aggregator.gc_tuning import GEN0_THRESHOLD

ROOT = Path(__file__).resolve().parents[1]

# In a process of its own: the collector is the process's, and a test must not change the test runner's.
PROBE = """
import gc, json
from scrapy.utils.reactor import install_reactor
from scrapy.utils.test import get_crawler
from aggregator.crawl import project_settings
from spiders.caliber import CaliberSpider

install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
settings = project_settings({})
enabled = [path for path, order in settings.getwithbase("EXTENSIONS").items() if order is not None]
# Only this extension (no run lock taken in an archive, no monitors): what building it does to the process.
settings.set("EXTENSIONS", {"aggregator.gc_tuning.GarbageCollectorTuning": 900})
settings.set("EXTENSIONS_BASE", {})
before = {"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}
first = get_crawler(CaliberSpider, settings.copy_to_dict())  # builds its extensions, as a crawl does
after_first = {"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}
garbage = []
garbage.append(garbage)  # a cycle made after start-up: still collected
del garbage
second = get_crawler(CaliberSpider, settings.copy_to_dict())  # a second crawler (crawl --all): nothing more
after_second = {"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count(), "collected": gc.collect()}
print(json.dumps({"enabled": enabled, "before": before, "first": after_first, "second": after_second}))
"""


def test_building_a_crawler_freezes_start_up_and_raises_the_young_threshold_once() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert "aggregator.gc_tuning.GarbageCollectorTuning" in seen["enabled"]  # scrapy crawl and Scrapyd get it too
    assert seen["before"]["frozen"] == 0 and seen["before"]["threshold"][0] < GEN0_THRESHOLD
    first = seen["first"]
    assert first["frozen"] > 10_000  # Scrapy, Twisted, lxml, SQLAlchemy: out of the collector's sight
    assert first["threshold"][0] == GEN0_THRESHOLD
    assert first["threshold"][1:] == seen["before"]["threshold"][1:]
    second = seen["second"]
    assert second["threshold"] == first["threshold"]
    assert second["frozen"] == first["frozen"]  # once per process: a later crawler freezes nothing more
    assert second["collected"] >= 1  # what a crawl makes is still collected
