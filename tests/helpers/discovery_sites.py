"""Made-up sites whose ways in lead the generic spider astray, crawled from tests/fixtures/generic_discovery/ in a
child process, as an operator adding CMS-built sites would meet them.

    python -m tests.helpers.discovery_sites sqlite:///path/archive.db

Their registry entries exist only here, for the crawl's duration (``aggregator.sources.registered``). Prints each
source's outcome (its problems and its ``aggregator/`` stats) as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aggregator.crawl import run_crawl
from aggregator.sources import Source, registered

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "generic_discovery"


def _site(key: str, domain: str, entry: str, languages: tuple[str, ...] = ("ru",), *more: str) -> Source:
    return Source(
        key=key,
        name=domain.removeprefix("www.").capitalize(),
        domains=(domain,),
        languages=languages,
        timezone="Asia/Baku",
        homepage=f"https://{domain}",
        entry_urls=tuple(f"https://{domain}{path}" for path in (entry, *more)),
    )


SITES = (
    # a Bitrix-like site that declares nothing about its pages: a sitemap of two articles and a section front
    _site("sektor", "sektor.example", "/sitemap.xml"),
    # a feed with no item left
    _site("pustaya", "pustaya-lenta.example", "/rss.xml"),
    # a feed whose items all moved to another domain
    _site("pereezd", "pereezd.example", "/rss.xml", ("az",)),
    # an entry written with "www." whose feed links the bare domain
    _site("dvoinik", "www.dvoinik.example", "/rss.xml", ("az",)),
    # a home page given as the way in, declaring its feed (and its comments' feed)
    _site("domashnyaya", "domashnyaya.example", "/"),
    # no feed and no sitemap: its home page and a section front, read as listings
    _site("yenixeber", "yenixeber.example", "/", ("az",), "/iqtisadiyyat/"),
    # a home page with no feed and no article of its own (the site moved)
    _site("bosev", "bosev.example", "/"),
)


def main(db_url: str) -> int:
    with registered(*SITES):
        outcomes = run_crawl(SITES, db_url=db_url, offline=True, mirror_root=FIXTURES, live=False)
    report = {
        o.source: {
            "problems": o.problems,
            "stats": {k: v for k, v in o.stats.items() if k.startswith(("aggregator/", "feed/"))},
        }
        for o in outcomes
    }
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
