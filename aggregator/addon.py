"""A Scrapy add-on: the settings that follow from our own, worked out once every source of settings is in.

A crawl is started by ``aggregator crawl``, by a plain ``scrapy crawl`` (a developer's shell, Scrapyd's jobs) or by
a test, and ``AGGREGATOR_REDIS_URL`` or ``AGGREGATOR_MIRROR`` may come from the environment (read into the settings
module) or from ``-s`` (Scrapyd's ``-d setting=``). Scrapy applies add-ons when it builds each crawler, after all of
those: so the same variable means the same crawl whichever way it was started. Before this, only ``aggregator
crawl`` turned ``AGGREGATOR_REDIS_URL`` into the shared scheduler, and a Scrapyd job given it crawled alone, without
the frontier it was meant to share and without its source's lock (which scale-out workers do not take).
"""

from __future__ import annotations

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

PROJECT = SETTINGS_PRIORITIES["project"]
REMOTE_CONTROL = "scrapy.extensions.remote_control.RemoteControl"
FRONTIER_CHECK = "aggregator.scaleout.FrontierCheck"


class DerivedSettings:
    def update_settings(self, settings: BaseSettings) -> None:
        if settings.get("AGGREGATOR_MIRROR") and (settings.getpriority("AUTOTHROTTLE_ENABLED") or 0) <= PROJECT:
            # A mirror is our own copy of the sites: AutoThrottle's politeness is for the real ones, and against a
            # server on 127.0.0.1 it only slows the crawl down to a fraction of what the crawler can do. An explicit
            # choice (``-s AUTOTHROTTLE_ENABLED=1``) stands.
            settings.set("AUTOTHROTTLE_ENABLED", False, priority="project")
        if not settings.getbool("REMOTE_CONTROL_ENABLED"):
            # Switched off, Scrapy would still import it (and aiohttp, a fifth of a second of every crawl's start)
            # only to be told it is not configured. Off in EXTENSIONS_BASE: Scrapy imports every extension named in
            # EXTENSIONS, an entry of None too.
            _set_extension(settings, REMOTE_CONTROL, None, "EXTENSIONS_BASE")
        redis_url = settings.get("AGGREGATOR_REDIS_URL")
        if redis_url:
            from aggregator.scaleout import redis_settings

            # A scale-out run whose Redis does not answer stops first, with that reason (the module loads
            # scrapy-redis, which a crawl of its own has no use for).
            _set_extension(settings, FRONTIER_CHECK, 0)

            namespace = settings.get("AGGREGATOR_REDIS_NAMESPACE") or "aggregator"
            for key, value in redis_settings(redis_url, namespace).items():
                settings.set(key, value, priority="cmdline")


def _set_extension(settings: BaseSettings, path: str, order: int | None, name: str = "EXTENSIONS") -> None:
    """Put an extension in ``name`` by its import path (None: off) without importing it, as Scrapy's
    ``set_in_component_priority_dict`` does to compare classes."""
    extensions = settings.getdict(name)
    extensions[path] = order
    settings.set(name, extensions, priority=settings.getpriority(name) or 0)
