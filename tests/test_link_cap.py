"""The article links followed from one listing or feed are capped (``AGGREGATOR_MAX_LINKS_PER_LISTING``, 1,000).

A listing of 100,000 article links made one run fetch 10,904 pages in its 60-second limit, every one re-published.
Past the cap, links are counted (``aggregator/links_over_cap``, ``aggregator/capped_listings``), each such listing or
feed is said in one WARNING line, and the run's health is red. A sitemap's links are not capped (the protocol allows
50,000 to one sitemap).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, XmlResponse
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.test import get_crawler

from aggregator.crawl import project_settings
from aggregator.health_checks import CAPPED_LISTINGS, LINKS_OVER_CAP, Measures, Thresholds, cap_problem
from aggregator.mirror import serve_mirror
from aggregator.sources import registered
from spiders.apa import ApaSpider
from spiders.caliber import CaliberSpider
from spiders.report import ReportSpider
from tests.conftest import SAMPLE, run_cli
from tests.crawl_checks import runs
from tests.test_generic_discovery import ODDS_AND_ENDS, YENIXEBER, fixture_page

CAP = "AGGREGATOR_MAX_LINKS_PER_LISTING"


@contextmanager
def made(spidercls: type, **settings: Any) -> Iterator[Any]:
    """A spider of ``spidercls`` with a crawler whose stats are open, under ``settings``."""
    crawler = get_crawler(spidercls, {"TWISTED_REACTOR_ENABLED": False, **settings})
    spider = spidercls.from_crawler(crawler)
    crawler.spider = spider
    crawler.stats.open_spider()
    yield spider


def stat(spider: Any, key: str) -> Any:
    return spider.crawler.stats.get_value(key)


def rss(base: str, paths: list[str]) -> bytes:
    items = "".join(f"<item><title>T{n}</title><link>{base}{path}</link></item>" for n, path in enumerate(paths))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}</channel></rss>'.encode()


def requests(out: Any) -> list[str]:
    return [r.url for r in out if isinstance(r, Request)]


@pytest.mark.parametrize(("settings", "followed"), [({}, 1000), ({CAP: 3}, 3), ({CAP: 0}, 1005)])
def test_a_listing_is_followed_up_to_the_cap_and_the_rest_counted_and_said_once(
    settings: dict[str, int], followed: int, caplog: pytest.LogCaptureFixture
) -> None:
    cards = "".join(f'<div class="index-post-block"><a class="news__item" href="/ru/a/n{n}/">x</a></div>'
                    for n in range(1005))  # fmt: skip
    listing = HtmlResponse("https://report.az/ru/", body=f"<html><body>{cards}</body></html>".encode())
    with made(ReportSpider, **settings) as spider, caplog.at_level(logging.WARNING):
        urls = requests(spider.parse(listing))
    assert urls == [f"https://report.az/ru/a/n{n}/" for n in range(followed)]
    over = 1005 - followed
    assert (stat(spider, LINKS_OVER_CAP), stat(spider, CAPPED_LISTINGS)) == ((over, 1) if over else (None, None))
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    cap = settings.get(CAP, 1000)
    line = f"https://report.az/ru/: the listing links 1005 article(s): the first {followed} followed, {over} more not"
    assert said == ([f"{line} ({CAP}={cap})"] if over else [])


def test_caliber_listings_are_capped_too() -> None:
    cards = "".join(f'<div class="float_block"><a href="/post/n{n}">x</a></div>' for n in range(10))
    listing = HtmlResponse("https://caliber.az/", body=f"<html><body>{cards}</body></html>".encode())
    with made(CaliberSpider, **{CAP: 4}) as spider:
        assert len(requests(spider.parse(listing))) == 4
        assert stat(spider, LINKS_OVER_CAP) == 6


def test_a_feed_is_followed_up_to_the_cap(caplog: pytest.LogCaptureFixture) -> None:
    feed = XmlResponse("https://apa.az/rss", body=rss("https://apa.az", [f"/idman/x-{813200 + n}" for n in range(7)]))
    with made(ApaSpider, **{CAP: 5}) as spider, caplog.at_level(logging.WARNING):
        assert len(requests(spider.parse(feed))) == 5
    assert (stat(spider, LINKS_OVER_CAP), stat(spider, CAPPED_LISTINGS)) == (2, 1)
    assert [r.getMessage() for r in caplog.records] == [
        f"https://apa.az/rss: the feed links 7 article(s): the first 5 followed, 2 more not ({CAP}=5)"
    ]


@contextmanager
def generic(source: Any, **settings: Any) -> Iterator[Any]:
    with registered(source):
        spidercls = get_spider_loader(project_settings()).load(source.key)
        with made(spidercls, **settings) as spider:
            yield spider


def test_the_generic_spider_caps_a_feed_and_a_listing_but_not_a_sitemap(caplog: pytest.LogCaptureFixture) -> None:
    paths = [f"/novosti/{n}" for n in range(6)]
    sitemap = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(f"<url><loc>https://raznoe.example{p}</loc></url>" for p in paths)
        + "</urlset>"
    ).encode()
    with generic(ODDS_AND_ENDS, **{CAP: 2}) as spider, caplog.at_level(logging.INFO):
        feed = XmlResponse("https://raznoe.example/rss.xml", body=rss("https://raznoe.example", paths))
        assert len(requests(spider.parse(feed))) == 2
        assert len(requests(spider.parse(XmlResponse("https://raznoe.example/sitemap.xml", body=sitemap)))) == 6
    assert (stat(spider, LINKS_OVER_CAP), stat(spider, CAPPED_LISTINGS)) == (4, 1)
    [feed_line] = [r for r in caplog.records if r.getMessage().startswith("https://raznoe.example/rss.xml")]
    assert feed_line.levelno == logging.WARNING
    assert feed_line.getMessage() == (
        f"https://raznoe.example/rss.xml: the feed lists 6 link(s): 2 to fetch, 4 more not followed ({CAP}=2)"
    )
    with generic(YENIXEBER, **{CAP: 1}) as spider:  # a home page read as a listing (4 articles)
        assert len(requests(spider.parse(fixture_page(YENIXEBER, "/")))) == 1
        assert stat(spider, LINKS_OVER_CAP) == 3


def test_links_past_the_cap_turn_the_health_red() -> None:
    measures = Measures.from_stats({LINKS_OVER_CAP: 3}, [])
    assert measures.links_over_cap == 3
    assert cap_problem(measures, Thresholds()) == (
        f"3 article link(s) past {CAP} on a listing or feed were not followed (see the log)"
    )
    assert cap_problem(Measures.from_stats({}, []), Thresholds()) is None


def test_a_crawl_whose_listings_go_past_the_cap_is_red_and_says_so(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    with serve_mirror(SAMPLE) as mirror:
        done = run_cli("--db", db, "crawl", "caliber", "--mirror", mirror, env={CAP: "5"})
    assert done.returncode == 1, done.stderr[-3000:]  # the health is red
    [run] = runs(db)
    assert run.stats[CAPPED_LISTINGS] >= 1 and run.stats[LINKS_OVER_CAP] >= 1
    assert run.health["status"] == "red"
    assert f"article link(s) past {CAP} on a listing or feed were not followed (see the log)" in " ".join(
        run.health["problems"]
    )
    assert "more not (AGGREGATOR_MAX_LINKS_PER_LISTING=5)" in done.stderr
