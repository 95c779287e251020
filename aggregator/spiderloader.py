"""Scrapy's spider loader, plus a generic spider for every registry entry that has no module of its own.

So adding a site with a feed or a sitemap is a registry entry only: ``scrapy crawl <key>``, ``aggregator crawl
<key>`` and ``aggregator extract`` find a spider for it, named after its key, that runs ``spiders.generic``.

The other way round, a spider module is not a source: its spider's name must be a registry key (the spider reads its
name, domains and languages there). One that is not is left out of ``list`` (``scrapy list`` offered it, and its
crawl died with a traceback), and ``spider_problem`` says what to do about it in one line.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from scrapy import Spider
from scrapy.settings import BaseSettings
from scrapy.spiderloader import SpiderLoader

from aggregator.sources import SOURCES_FILE_VARIABLE, all_sources

logger = logging.getLogger(__name__)


def add_entry_advice(key: str) -> str:
    """What to do for a spider module whose name has no registry entry: an entry in ``BUILT_IN`` for a module that
    ships with the project (the tests see no sources file: docs/adding-a-source.md), else in the sources file."""
    path = os.environ.get(SOURCES_FILE_VARIABLE)
    where = f"the sources file {path}" if path else f"a sources file named by {SOURCES_FILE_VARIABLE} (unset here)"
    return (
        f'add an entry with key = "{key}" to BUILT_IN in aggregator/sources.py (a module shipped with the project), '
        f"or a [[source]] to {where}"
    )


def _unregistered_said(spidercls: type[Spider]) -> str:
    return (
        f"spider {spidercls.name!r} ({spidercls.__module__}) has a spider module but no registry entry: "
        f"{add_entry_advice(str(spidercls.name))}"
    )


class RegistrySpiderLoader(SpiderLoader):
    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        keys = {s.key for s in all_sources()}
        # Spiders of the modules whose name is no registry key: not offered, and not runnable (``spider_problem``)
        self.unregistered = {name: cls for name, cls in self._spiders.items() if name not in keys}

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
        keys = [s.key for s in all_sources()]
        for spidercls in self.unregistered.values():  # said where the list is read (``scrapy list``), not run
            logger.warning("left out: %s", _unregistered_said(spidercls))
        return [*(n for n in self._spiders if n in keys), *(k for k in keys if k not in self._spiders)]

    def spider_problem(self, spider_name: str) -> str | None:
        """Why the spider of that name cannot crawl, in one line, or None: no spider or entry by that name, a spider
        module with no registry entry, an extractor of another source (``SourceSpider.setup_problem``)."""
        if spider_name in self.unregistered:
            return _unregistered_said(self.unregistered[spider_name])
        try:
            spidercls = self.load(spider_name)
        except KeyError:
            return f"no spider or registry entry named {spider_name!r} (`scrapy list` lists them)"
        check: Any = getattr(spidercls, "setup_problem", None)
        return check() if callable(check) else None


def module_spider(key: str) -> str | None:
    """The module of a spider named ``key`` that has no registry entry, or None: for the error that a key is no
    source, which only said "unknown source" while a module for it was right there."""
    from aggregator.crawl import project_settings

    loader = RegistrySpiderLoader(project_settings())
    found = loader.unregistered.get(key)
    return found.__module__ if found is not None else None
