"""Test-only sources for the scale-out test: caliber-shaped sites on other hosts, each with a spider of its own.

The registry has one real source today; the distributed test needs three. ``install()`` adds entries that copy
caliber's (its entry paths on hosts ``gen2.test`` / ``gen3.test``) to the registry of this process, and this module
is added to the spider modules, so ``aggregator crawl gen2`` works in a worker started with
``python -m tests.helpers.scaleout_worker``. Sources whose sites ``bench/sitegen.py`` can generate are the
generic part: when it learns more shapes, the test can use them instead.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit, urlunsplit

from aggregator import sources as registry
from spiders.caliber import CaliberArticle, CaliberSpider

EXTRA_KEYS = ("gen2", "gen3")


def extra_sources() -> list[registry.Source]:
    template = registry.get_source("caliber")
    made = []
    for key in EXTRA_KEYS:
        host = f"{key}.test"
        made.append(
            dataclasses.replace(
                template,
                key=key,
                name=f"{key.capitalize()}.test",
                domains=(host,),
                homepage=f"https://{host}",
                entry_urls=tuple(urlunsplit(urlsplit(u)._replace(netloc=host)) for u in template.entry_urls),
            )
        )
    return made


def install() -> None:
    """Add the test sources to this process's registry (idempotent): the worker's (``scaleout_worker``) only. Not on
    import: the test process imports ``EXTRA_KEYS`` from here, and every pytest-xdist worker collects every test
    file, so the copies of caliber (its spellings too: "Калибр" became Gen3.test's citation) were in the registry of
    every other test of the suite."""
    for source in extra_sources():
        if source.key not in registry._BY_KEY:
            registry.SOURCES = (*registry.SOURCES, source)
            registry._BY_KEY[source.key] = source


class Gen2Article(CaliberArticle):
    SOURCE = "gen2"


class Gen3Article(CaliberArticle):
    SOURCE = "gen3"


class Gen2Spider(CaliberSpider):
    name = "gen2"
    extractor = Gen2Article


class Gen3Spider(CaliberSpider):
    name = "gen3"
    extractor = Gen3Article
