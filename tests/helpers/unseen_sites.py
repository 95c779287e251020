"""Made-up sites the generic spider has never seen, crawled from tests/fixtures/unseen_sites/ in a child process.

    python -m tests.helpers.unseen_sites sqlite:///path/archive.db

Their registry entries exist only here, for the crawl's duration (``aggregator.sources.registered``): the crawl
finds them the way it finds a registry entry without a spider module. Prints each source's outcome as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aggregator.crawl import run_crawl
from aggregator.sources import Source, registered

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "unseen_sites"

SITES = (
    # JSON-LD only; a sitemap index -> a gzipped Google News sitemap and a plain one
    Source(
        key="kaspiy",
        name="Kaspiy-vestnik.example",
        domains=("kaspiy-vestnik.example",),
        languages=("ru",),
        timezone="Asia/Baku",
        homepage="https://kaspiy-vestnik.example",
        entry_urls=("https://kaspiy-vestnik.example/sitemap_index.xml",),
    ),
    # OpenGraph only, English; an Atom feed, and a former RSS address that now answers with an HTML page
    Source(
        key="citywire",
        name="City Wire",
        domains=("city-wire.example",),
        languages=("en",),
        timezone="Asia/Baku",
        homepage="https://city-wire.example",
        entry_urls=("https://city-wire.example/feed.atom", "https://city-wire.example/rss"),
    ),
    # neither: a visible <time> and the text; a Google News sitemap
    Source(
        key="prostye",
        name="Prostye-vesti.example",
        domains=("prostye-vesti.example",),
        languages=("ru",),
        timezone="Asia/Baku",
        homepage="https://prostye-vesti.example",
        entry_urls=("https://prostye-vesti.example/news-sitemap.xml",),
    ),
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
