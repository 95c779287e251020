"""How large a response may be, by its kind (aggregator/size_limits.py): an HTML page 5 MiB, a feed or sitemap 64 MiB,
robots.txt read up to 500 KiB.

With one limit of 64 MiB for everything, an article of 1.2 million nested ``<div>`` (6 MB) took 33 s and 1.55 GB of
the crawler, a robots.txt of 4 million ``Disallow`` lines 10 s and 1.1 GB. The crawls run against the bundled sample
served on 127.0.0.1, with some answers replaced by a hostile site's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from scrapy import Request
from scrapy.exceptions import DownloadCancelledError
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from aggregator.mirror import MirrorTree, _MirrorHandler
from aggregator.size_limits import DOCUMENT_META, SizeLimitMiddleware, TooLarge
from aggregator.store.models import Article, Reject
from tests.conftest import SAMPLE, run_cli
from tests.crawl_checks import runs, session
from tests.helpers.slow_site import served_by

POST = "https://caliber.az/post/"
ANNOUNCED = POST + "153813"
UNANNOUNCED = POST + "baku-i-ankara-obsudili-energeticheskij-koridor"
DISALLOWED = POST + "prezident-prinyal-delegaciyu-mvf"
PAST_THE_ROBOTS_LIMIT = POST + "turciya-snizila-klyuchevuyu-stavku"
NESTED = b"<html><head><title>t</title></head><body>" + b"<div>" * 1_200_000 + b"</body></html>"  # 6.9 MiB
ROBOTS = (
    b"User-agent: *\nDisallow: /post/prezident-prinyal-delegaciyu-mvf\n"
    + b"# a comment line of the hostile site's robots.txt, sixty-four bytes long, and again\n" * 8_000  # 640 KiB
    + b"Disallow: /post/turciya-snizila-klyuchevuyu-stavku\n"
)


def padded_feed() -> bytes:
    """apa.az's feed from the sample, made 6 MiB (over an HTML page's limit) by a comment."""
    feed = MirrorTree(SAMPLE).find("apa.az", "/rss")
    assert feed is not None
    return feed.read_bytes().replace(b"</channel>", b"<!--" + b" " * (6 * 1024 * 1024) + b"--></channel>", 1)


class _HostileSite(_MirrorHandler):
    """The sample, but for ``replaced`` (mirror path -> body, whether its length is announced)."""

    replaced: ClassVar[dict[str, tuple[bytes, bool]]] = {}

    def _answer(self, *, send_body: bool) -> None:
        found = self.replaced.get(self.path.partition("?")[0].rstrip("/"))
        if found is None:
            super()._answer(send_body=send_body)
            return
        body, announced = found
        ctype = "text/plain" if self.path.endswith("robots.txt") else "text/html; charset=utf-8"
        if self.path.endswith("/rss"):
            ctype = "application/rss+xml; charset=UTF-8"
        try:
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            if announced:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_header("Transfer-Encoding", "chunked")  # no length: the crawler sees the size as it comes
            self.end_headers()
            for start in range(0, len(body), 65536):
                part = body[start : start + 65536]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the crawler hung up on it: what it should do
            self.close_connection = True


def mirror_path(url: str) -> str:
    return "/" + url.split("://", 1)[1]


@pytest.fixture
def hostile_site() -> Iterator[str]:
    _HostileSite.replaced = {
        mirror_path(ANNOUNCED): (NESTED, True),
        mirror_path(UNANNOUNCED): (NESTED, False),
        "/caliber.az/robots.txt": (ROBOTS, False),
        "/apa.az/rss": (padded_feed(), True),
    }
    with served_by(_HostileSite) as site:
        yield site


def test_a_page_over_its_limit_is_a_failed_fetch_naming_it_and_robots_txt_is_read_to_its_own(
    hostile_site: str, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'archive.db'}"
    done = run_cli("--db", db, "crawl", "caliber", "apa", "--mirror", hostile_site)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    with session(db) as s:  # (a listing links some articles with a trailing slash too: either may be fetched)
        rejects = {r.url.rstrip("/"): r.reason for r in s.scalars(select(Reject).where(Reject.stage == "fetch"))}
        archived = {url.rstrip("/") for url in s.scalars(select(Article.url))}
    assert rejects[ANNOUNCED] == (
        "too large: an HTML page may have 5 MiB at most (AGGREGATOR_MAX_PAGE_MB), the server announced 5.7 MiB"
    )
    assert rejects[UNANNOUNCED] == (
        "too large: an HTML page may have 5 MiB at most (AGGREGATOR_MAX_PAGE_MB), more came, and the download was "
        "stopped there"
    )
    assert ANNOUNCED not in archived and UNANNOUNCED not in archived
    # robots.txt: the rule in its first 500 KiB obeyed, the one past them not read (Google's reading)
    assert DISALLOWED not in archived and DISALLOWED not in rejects
    assert PAST_THE_ROBOTS_LIMIT in archived
    cut = "caliber.az/robots.txt is larger than 500 KiB (AGGREGATOR_MAX_ROBOTS_KB): its rules after the first 500 KiB"
    assert f"{cut} are not read" in done.stderr
    # A feed of 6 MiB is read: a feed's or a sitemap's limit is the larger one
    assert sum(url.startswith("https://apa.az/") for url in archived) == 12
    by_source = {run.source: run.stats for run in runs(db)}
    assert (by_source["caliber"]["aggregator/too_large"], by_source["caliber"]["aggregator/too_large/page"]) == (2, 2)
    assert by_source["caliber"]["aggregator/robots_cut"] == 1
    assert by_source["caliber"]["robotstxt/forbidden"] == 1
    assert "aggregator/too_large" not in by_source["apa"]


def test_the_limits_are_set_by_the_environment(hostile_site: str, tmp_path: Path) -> None:
    """Lower limits, named in the reasons: a page (the listings too: a listing is an HTML page) and a robots.txt."""
    db = f"sqlite:///{tmp_path / 'archive.db'}"
    env = {"AGGREGATOR_MAX_PAGE_MB": "0.01", "AGGREGATOR_MAX_ROBOTS_KB": "0.05"}
    done = run_cli("--db", db, "crawl", "caliber", "--mirror", hostile_site, env=env)
    with session(db) as s:
        rejects = {r.url: r.reason for r in s.scalars(select(Reject).where(Reject.stage == "fetch"))}
    # The listings (each over 10 KiB) are refused, so no article is reached: the source failed, and says why
    assert done.returncode == 1
    assert rejects["https://caliber.az/"].startswith(
        "too large: an HTML page may have 10.2 KiB at most (AGGREGATOR_MAX_PAGE_MB), the server announced "
    ), rejects
    assert "robots.txt is larger than 51 bytes (AGGREGATOR_MAX_ROBOTS_KB)" in done.stderr


# -- the middleware alone -------------------------------------------------------------------------------------


@pytest.fixture
def middleware() -> SizeLimitMiddleware:
    crawler = get_crawler(settings_dict={"DOWNLOAD_MAXSIZE": 64 * 1024 * 1024})
    crawler.stats.open_spider()
    return SizeLimitMiddleware.from_crawler(crawler)


def test_each_kind_of_request_gets_its_limit(middleware: SizeLimitMiddleware) -> None:
    page, document, robots = (
        Request("https://apa.az/xeber/1"),
        Request("https://apa.az/rss", meta={DOCUMENT_META: True}),
        Request("https://apa.az/robots.txt", meta={"dont_obey_robotstxt": True}),
    )
    kept = Request("https://apa.az/xeber/2", meta={"download_maxsize": 100})  # a retry's or a redirect's own
    # never above its kind's: 0 is no limit, and a scale-out worker's requests come from Redis
    unlimited = Request("https://apa.az/xeber/3", meta={"download_maxsize": 0})
    above = Request("https://apa.az/rss", meta={DOCUMENT_META: True, "download_maxsize": 2**40})
    for request in (page, document, robots, kept, unlimited, above):
        middleware.process_request(request)
    assert [r.meta["download_maxsize"] for r in (page, document, robots, kept, unlimited, above)] == [
        5 * 1024 * 1024, 64 * 1024 * 1024, 64 * 1024 * 1024, 100, 5 * 1024 * 1024, 64 * 1024 * 1024
    ]  # fmt: skip
    assert robots.meta["aggregator_robots_limit"] == 500 * 1024
    with pytest.raises(TooLarge, match=r"^too large: a feed or sitemap may have 64 MiB at most \(AGGREGATOR_MAX_DOW"):
        middleware.process_exception(document, DownloadCancelledError(""))
    assert middleware.process_exception(page, ValueError("other")) is None


def test_robots_txt_is_read_to_its_last_whole_line_within_the_limit(middleware: SizeLimitMiddleware) -> None:
    request = Request("https://apa.az/robots.txt", meta={"dont_obey_robotstxt": True})
    middleware.process_request(request)
    body = b"User-agent: *\n" + b"Disallow: /x\n" * 50_000  # 635 KiB
    cut = middleware.process_response(request, TextResponse(request.url, body=body, request=request))
    assert cut.body.endswith(b"Disallow: /x\n") and len(cut.body) <= 500 * 1024 < len(body)
    small = TextResponse(request.url, body=b"User-agent: *\nDisallow: /y", request=request)
    assert middleware.process_response(request, small) is small
