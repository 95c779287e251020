"""Scrapy's spider loader, plus a generic spider for every registry entry that has no module of its own.

So adding a site with a feed or a sitemap is a registry entry only: ``scrapy crawl <key>``, ``aggregator crawl
<key>`` and ``aggregator extract`` find a spider for it, named after its key, that runs ``spiders.generic``.
"""

from __future__ import annotations

from scrapy import Spider
from scrapy.spiderloader import SpiderLoader

from aggregator.sources import all_sources


class RegistrySpiderLoader(SpiderLoader):
    def _generic(self, key: str) -> type[Spider] | None:
        if not any(s.key == key for s in all_sources()):
            return None
        from spiders.generic import GenericSpider

        return type(f"GenericSpider_{key}", (GenericSpider,), {"name": key, "__module__": GenericSpider.__module__})

    def load(self, spider_name: str) -> type[Spider]:
        if spider_name in self._spiders:
            return self._spiders[spider_name]
        generic = self._generic(spider_name)
        if generic is None:
            raise KeyError(f"Spider not found: {spider_name}")
        return generic

    def list(self) -> list[str]:
        return [*self._spiders, *(s.key for s in all_sources() if s.key not in self._spiders)]
