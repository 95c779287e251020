"""Settings that follow from ours are the same whichever way a crawl starts: `aggregator crawl` (overrides), a plain
`scrapy crawl -s` (Scrapyd's jobs) or the environment read by the settings module (aggregator/addon.py)."""

from __future__ import annotations

from typing import Any

import pytest
from scrapy.crawler import Crawler

from aggregator.crawl import project_settings
from spiders.caliber import CaliberSpider

REDIS = "redis://127.0.0.1:6379/12"
MIRROR = "http://127.0.0.1:9"


def crawler_settings(project: dict[str, Any], cmdline: dict[str, Any]) -> Any:
    """A crawler's settings with ``project`` as the settings module (and the environment) would give them and
    ``cmdline`` as `scrapy crawl -s` / `aggregator crawl` give theirs."""
    settings = project_settings(cmdline)
    for key, value in project.items():
        settings.set(key, value, priority="project")
    settings.set("TWISTED_REACTOR_ENABLED", False, priority="cmdline")
    settings.set("AGGREGATOR_RUN_LOCK", False, priority="cmdline")  # building the extensions would lock the source
    settings.set("AGGREGATOR_DB_URL", "sqlite:///:memory:", priority="cmdline")
    crawler = Crawler(CaliberSpider, settings)
    crawler._apply_settings()  # what Scrapy does when it builds a crawler (scrapy.utils.test.get_crawler too)
    return crawler.settings


@pytest.mark.parametrize("where", ["environment", "cmdline"])
def test_the_redis_url_makes_any_crawl_a_scale_out_worker(where: str) -> None:
    given = {"AGGREGATOR_REDIS_URL": REDIS}
    settings = crawler_settings(given if where == "environment" else {}, given if where == "cmdline" else {})
    assert settings["SCHEDULER"] == "aggregator.scaleout.SharedScheduler"
    assert settings["DUPEFILTER_CLASS"] == "aggregator.scaleout.SharedDupeFilter"
    assert settings["REDIS_URL"] == REDIS
    assert settings.getbool("SCHEDULER_PERSIST")


def test_the_redis_namespace_prefixes_the_frontiers_keys() -> None:
    """Two deployments sharing one Redis server keep apart by their namespaces."""
    default = crawler_settings({}, {"AGGREGATOR_REDIS_URL": REDIS})
    assert default["SCHEDULER_QUEUE_KEY"] == "aggregator:%(spider)s:requests"
    staging = crawler_settings({"AGGREGATOR_REDIS_URL": REDIS, "AGGREGATOR_REDIS_NAMESPACE": "staging"}, {})
    assert staging["SCHEDULER_QUEUE_KEY"] == "staging:%(spider)s:requests"
    assert staging["SCHEDULER_DUPEFILTER_KEY"] == "staging:%(spider)s:dupefilter"


def test_without_the_redis_url_the_scheduler_is_scrapys() -> None:
    settings = crawler_settings({}, {})
    assert settings["SCHEDULER"] == "scrapy.core.scheduler.Scheduler"
    assert "REDIS_URL" not in settings


@pytest.mark.parametrize("where", ["environment", "cmdline"])
def test_a_mirror_crawl_has_no_autothrottle_unless_asked_for(where: str) -> None:
    given = {"AGGREGATOR_MIRROR": MIRROR}
    settings = crawler_settings(given if where == "environment" else {}, given if where == "cmdline" else {})
    assert not settings.getbool("AUTOTHROTTLE_ENABLED")
    asked = crawler_settings({}, {**given, "AUTOTHROTTLE_ENABLED": True})
    assert asked.getbool("AUTOTHROTTLE_ENABLED")
    assert crawler_settings({}, {}).getbool("AUTOTHROTTLE_ENABLED")  # the real sites get it
