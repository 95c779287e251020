"""A live crawl (no mirror) of a made-up source whose names resolve to 127.0.0.1, in a child process.

    python -m tests.helpers.private_sites sqlite:///path/archive.db PORT

The source's entry URLs are on the port of a server the test runs on 127.0.0.1: ``localhost`` (looked up by the
system's resolver: /etc/hosts), ``news.lan.example``, a subdomain of the source's that resolves to 127.0.0.1
through Scrapy's resolver cache (no hosts file or DNS server to change), as a source's own DNS could have it, and
127.0.0.1 itself (Twisted asks the resolver for a literal address too). Prints the run's ``aggregator/`` and ``retry/``
stats as JSON.
"""

from __future__ import annotations

import json
import sys

from scrapy.resolver import dnscache

from aggregator.crawl import run_crawl
from aggregator.sources import Source, registered

SUBDOMAIN = "news.lan.example"


def site(port: int) -> Source:
    return Source(
        key="lan",
        name="Lan.example",
        domains=("lan.example", "localhost", "127.0.0.1"),
        languages=("ru",),
        timezone="Asia/Baku",
        homepage="http://lan.example",
        entry_urls=(f"http://{SUBDOMAIN}:{port}/rss", f"http://localhost:{port}/rss", f"http://127.0.0.1:{port}/rss"),
    )


def main(db_url: str, port: str) -> int:
    dnscache[SUBDOMAIN] = "127.0.0.1"  # what the source's DNS answers for its subdomain
    source = site(int(port))
    with registered(source):
        (outcome,) = run_crawl([source], db_url=db_url, live=False)
    print(json.dumps({k: v for k, v in outcome.stats.items() if k.startswith(("aggregator/", "retry/"))}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
