"""The generic spider's ways in, as an operator adding CMS-built sites meets them: a section front a sitemap lists
beside the articles, related-news blocks left in a body, ways in that lead to nothing (and the summary saying why),
and a home page given where the feed belongs. The made-up sites are in tests/fixtures/generic_discovery/."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, XmlResponse
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from aggregator.crawl import nothing_found, project_settings
from aggregator.extract import extract_page
from aggregator.items import ENTRY_META, FetchFailure
from aggregator.sources import Source, registered
from aggregator.store.models import Article, CrawlRun, Reject
from pipelines.cleanup import clean_body, is_boilerplate
from spiders.feeds import DECLARED_BY_META, FEED_PUBLISHED_META, declared_feeds
from spiders.generic import GenericArticle, GenericSpider
from spiders.page_kinds import is_date_line, listing_shape
from tests.conftest import ROOT, SAMPLE, run_cli
from tests.crawl_checks import session
from tests.helpers.discovery_sites import FIXTURES, SITES
from tests.helpers.unseen_sites import FIXTURES as UNSEEN

SEKTOR = next(s for s in SITES if s.key == "sektor")
YENIXEBER = next(s for s in SITES if s.key == "yenixeber")
FEED_SITES = ("sektor", "pustaya", "pereezd", "dvoinik", "domashnyaya")
"""The made-up sites whose ways in are feeds and sitemaps (or a home page declaring one)."""
ODDS_AND_ENDS = Source(
    key="raznoe",
    name="Raznoe.example",
    domains=("raznoe.example",),
    languages=("ru",),
    timezone="Asia/Baku",
    homepage="https://raznoe.example",
    entry_urls=("https://raznoe.example/rss.xml",),
)


@contextmanager
def spider_of(source: Source) -> Iterator[GenericSpider]:
    """The generic spider of ``source`` (registered for the block) with a crawler whose stats are open."""
    with registered(source):
        spidercls = get_spider_loader(project_settings()).load(source.key)
        crawler = get_crawler(spidercls, {"TWISTED_REACTOR_ENABLED": False})
        spider = spidercls.from_crawler(crawler)
        crawler.spider = spider
        assert crawler.stats is not None
        crawler.stats.open_spider()
        yield spider


def stat(spider: GenericSpider, key: str) -> Any:
    assert spider.crawler.stats is not None
    return spider.crawler.stats.get_value(key)


def html_page(url: str, body: bytes, request: Request | None = None) -> HtmlResponse:
    return HtmlResponse(url=url, body=body, headers={"Content-Type": "text/html; charset=utf-8"}, request=request)


def fixture_page(source: Source, path: str, folder: Path = FIXTURES) -> HtmlResponse:
    host = source.domains[0]
    file = folder / host / path.strip("/") / "index.html"
    return html_page(f"https://{host}{path}", file.read_bytes())


# -- D6: a section front is no article -----------------------------------------------------------------------


def test_a_section_front_that_declares_nothing_is_not_archived() -> None:
    """A Bitrix section front (no JSON-LD, no og:type, no article:published_time) was archived as an article made of
    its teasers: it is a listing now, counted, and the site's articles (which declare nothing either, and show
    dated teasers of their own in a sidebar and under the text) are still articles."""
    with spider_of(SEKTOR) as spider:
        front = fixture_page(SEKTOR, "/novosti/ekonomika/")
        assert list(spider.parse_article(front)) == []
        assert stat(spider, "aggregator/not_articles") == 1
        assert stat(spider, "aggregator/not_articles/listing") == 1
        why = spider.not_an_article(GenericArticle(front, source=SEKTOR))
        assert why is not None and why[0] == "listing"
        for path in ("/novosti/ekonomika/7101/", "/novosti/ekonomika/7102/"):
            items = list(spider.parse_article(fixture_page(SEKTOR, path)))
            assert len(items) == 1 and items[0].title and items[0].body_text, path
        assert stat(spider, "aggregator/not_articles") == 1


def test_the_listing_shape_counts_dated_teasers_own_text_and_own_date() -> None:
    front = listing_shape(GenericArticle(fixture_page(SEKTOR, "/novosti/ekonomika/"), source=SEKTOR))
    assert front.teasers == 4 and not front.own_date and front.is_listing
    # three dated teasers under a short text: its own date line after the headline keeps it an article
    brief = listing_shape(GenericArticle(fixture_page(SEKTOR, "/novosti/ekonomika/7102/"), source=SEKTOR))
    assert brief.teasers == 3 and brief.own_date and not brief.is_listing
    # sidebar and "other news" teasers beside an article's text
    article = listing_shape(GenericArticle(fixture_page(SEKTOR, "/novosti/ekonomika/7101/"), source=SEKTOR))
    assert article.teasers == 5 and article.running_text > 300 and not article.is_listing


@pytest.mark.parametrize(
    "meta",
    [
        b'<meta property="og:type" content="article">',
        b'<meta property="article:published_time" content="2026-12-03T11:40:00+04:00">',
        b'<script type="application/ld+json">{"@type": "NewsArticle", "headline": "\xd0\xad"}</script>',
    ],
)
def test_a_page_that_declares_itself_an_article_is_taken_at_its_word(meta: bytes) -> None:
    front = fixture_page(SEKTOR, "/novosti/ekonomika/")
    declared = html_page(front.url, front.body.replace(b"</title>", b"</title>" + meta))
    with spider_of(SEKTOR) as spider:
        assert spider.not_an_article(GenericArticle(declared, source=SEKTOR)) is None


def test_a_section_front_without_its_og_type_is_still_told_apart() -> None:
    """Kaspiy's section front says og:type website; without that line its shape tells the same."""
    kaspiy = replace(SEKTOR, key="kaspiy2", name="Kaspiy", domains=("kaspiy-vestnik.example",))
    file = UNSEEN / "kaspiy-vestnik.example" / "economy.html"
    body = file.read_bytes().replace(b'<meta property="og:type" content="website">', b"")
    with spider_of(kaspiy) as spider:
        page = GenericArticle(html_page("https://kaspiy-vestnik.example/economy", body), source=kaspiy)
        assert not page.declared_not_article
        why = spider.not_an_article(page)
    assert why is not None and why[0] == "listing"


def _sample_articles() -> list[tuple[str, Path]]:
    pages = [
        (json.loads((case / "meta.json").read_text())["url"], case / "page.html")
        for case in sorted((ROOT / "tests" / "fixtures" / "pages" / "minval").iterdir())
    ]
    pages += [(f"https://minval.az/news/{f.stem}", f) for f in sorted((SAMPLE / "minval.az" / "news").glob("*.html"))]
    pages += [
        (f"https://{f.relative_to(UNSEEN).parts[0]}/{'/'.join(f.relative_to(UNSEEN).parts[1:])[:-5]}", f)
        for f in sorted(UNSEEN.rglob("*.html"))
        if f.stem not in ("economy", "contacts", "rss")  # a section front, a static page, a moved feed
    ]
    return pages


@pytest.mark.parametrize(("url", "file"), _sample_articles(), ids=lambda v: str(v)[-40:])
def test_no_article_of_the_sample_is_judged_a_listing(url: str, file: Path) -> None:
    """The judgement errs on the article's side: not one article page of the bundled sample, the saved-page cases of
    the generic extractor or the made-up sites is taken for a listing (two video pages of minval's cases are
    skipped for their og:type, as before)."""
    with spider_of(replace(SEKTOR, key="probe", domains=("probe.example",))) as spider:
        page = GenericArticle(html_page(url, file.read_bytes()))
        why = spider.not_an_article(page)
        assert why is None or why == ("og_type", "og:type video.other")


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("04.12.2026 14:20", True),
        ("25 noyabr 2026, 11:00", True),
        ("Вчера, 15:31", True),
        ("2 saat əvvəl", True),
        ("December 4", True),
        ("2026-12-04", True),
        ("Просмотров: 5311", False),
        ("Баку +6°C", False),
        ("В Баку 4 декабря открылся новый терминал грузового порта в поселке Алят", False),  # a sentence
        ("Экономика", False),
    ],
)
def test_a_date_line_is_a_short_date(text: str, date: bool) -> None:
    assert is_date_line(text) is date


# -- D7: related-news blocks ------------------------------------------------------------------------------------

ARTICLE = "<p>На окраине Гахa открылся новый дом культуры с залом на триста мест и студией для детей.</p>"


@pytest.mark.parametrize(
    "block",
    [
        '<h3>Новости по теме</h3><ul><li><a href="/a/1">Школа в Гахе</a></li><li><a href="/a/2">Музей</a></li></ul>',
        '<p><strong>Материалы по теме:</strong></p><ul><li><a href="/a/1">Школа в Гахе</a></li></ul>',
        '<h4>Похожие новости</h4><p><a href="/a/1">Школа в Гахе</a></p><p><a href="/a/2">Музей в Гахе</a></p>',
        (
            '<div class="rel"><div class="head">Другие новости</div><div class="item"><a href="/a/1">Школа</a>'
            '<span>20 noyabr 2026, 11:00</span></div><div class="item"><a href="/a/2">Muzey</a>'
            "<span>19.11.2026</span></div></div>"
        ),
        '<p><strong>Digər xəbərlər:</strong></p><ul><li><a href="/az/1">Qaxda yeni məktəb</a></li></ul>',
        '<p>Oxşar xəbərlər<br><a href="/az/1">Qaxda yeni məktəb</a><br><a href="/az/2">Muzey açılıb</a></p>',
        '<h3>Mövzu ilə bağlı</h3><ul><li><a href="/az/1">Qaxda yeni məktəb</a></li></ul>',
        '<p>Похожие новости: <a href="/a/1">Школа в Гахе</a>, <a href="/a/2">Музей в Гахе</a></p>',
        '<h3>Related news</h3><ul><li><a href="/en/1">A new school in Gakh</a></li></ul>',
        '<p>Читайте также:</p><ul><li><a href="/a/1">Школа в Гахе</a></li></ul>',
    ],
    ids=["h3-ul", "p-ul", "h4-paragraphs", "teaser-divs", "az-strong-ul", "az-br-lines", "az-movzu", "inline",
         "en", "read-also-ul"],
)  # fmt: skip
def test_a_related_news_heading_goes_with_its_links(block: str) -> None:
    after = "<p>Директор дома культуры пообещал открыть кружки резьбы по дереву к весне.</p>"
    safe, text = clean_body(ARTICLE + block + after, base_url="https://raznoe.example/a/0")
    assert text.split("\n\n") == [
        "На окраине Гахa открылся новый дом культуры с залом на триста мест и студией для детей.",
        "Директор дома культуры пообещал открыть кружки резьбы по дереву к весне.",
    ]
    assert "href" not in safe


@pytest.mark.parametrize(
    "text",
    [
        "Другие новости пришли из Гянджи: там открыли школу.",
        "Mövzu ilə bağlı nazirlik açıqlama yayıb.",
        "Похожие новости приходили и в прошлом году, напомнил глава района.",
        "Oxşar xəbərlər əvvəl də yayılmışdı, deyə sədr bildirib.",
        "Related news from Ganja was confirmed by the ministry on Friday.",
    ],
)
def test_the_related_words_in_an_article_sentence_stay(text: str) -> None:
    assert not is_boilerplate(text)
    html = f'<p>{text}</p><ul><li><a href="/a/1">Школа в Гахе</a></li></ul>'
    _, found = clean_body(html, base_url="https://raznoe.example/a/0")
    assert found.split("\n\n") == [text, "Школа в Гахе"]


def test_a_heading_over_article_text_leaves_the_text() -> None:
    """The links after a heading go while they are links: an article's paragraph after them stays, even one that
    opens with a link."""
    html = (
        '<h3>Новости по теме</h3><p><a href="/a/1">Школа в Гахе</a></p>'
        '<p><a href="/p/9">Глава района</a> рассказал, что к весне в доме культуры откроют кружки резьбы по дереву.</p>'
    )
    _, text = clean_body(html, base_url="https://raznoe.example/a/0")
    assert text == "Глава района рассказал, что к весне в доме культуры откроют кружки резьбы по дереву."


# -- D9: what a way in listed, and why nothing was found --------------------------------------------------------

FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Raznoe</title><link>https://raznoe.example/</link>
<item><title>1</title><link>https://raznoe.example/news/101</link></item>
<item><title>2</title><link>https://drugoi-sait.example/news/102</link></item>
<item><title>3</title><link>https://raznoe.example/tag/sport</link></item>
<item><title>4</title><link>https://drugoi-sait.example/news/104</link></item>
<item><title>5</title><link>https://raznoe.example/news/105</link></item>
</channel></rss>"""


def test_a_feeds_links_left_out_are_counted_and_said(caplog: pytest.LogCaptureFixture) -> None:
    source = replace(ODDS_AND_ENDS, article_urls=r"/news/\d+$")
    with spider_of(source) as spider, caplog.at_level(logging.INFO):
        out = list(spider.parse(XmlResponse(url="https://raznoe.example/rss.xml", body=FEED)))
        assert [r.url for r in out] == ["https://raznoe.example/news/101", "https://raznoe.example/news/105"]
        assert stat(spider, "aggregator/listed_links") == 5
        assert stat(spider, "aggregator/off_domain_links") == 2
        assert stat(spider, "aggregator/off_domain_hosts") == {"drugoi-sait.example": 2}
        assert stat(spider, "aggregator/not_articles/article_urls") == 1
        assert stat(spider, "aggregator/not_articles") == 1
    assert (
        "https://raznoe.example/rss.xml: the feed lists 5 link(s): 2 to fetch, 2 on other domains "
        "(drugoi-sait.example), 1 not matching the entry's article_urls"
    ) in caplog.messages


def test_a_way_in_that_leads_nowhere_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Raznoe</title></channel></rss>'
    index = (
        b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<sitemap><loc>https://cdn.drugoi-sait.example/sitemap-1.xml</loc></sitemap></sitemapindex>"
    )
    with spider_of(ODDS_AND_ENDS) as spider, caplog.at_level(logging.INFO):
        assert list(spider.parse(XmlResponse(url="https://raznoe.example/rss.xml", body=empty))) == []
        assert list(spider.parse(XmlResponse(url="https://raznoe.example/sitemap.xml", body=index))) == []
        assert stat(spider, "aggregator/listed_links") == 1
        assert stat(spider, "aggregator/off_domain_hosts") == {"cdn.drugoi-sait.example": 1}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "https://raznoe.example/rss.xml: the feed lists no link",
        (
            "https://raznoe.example/sitemap.xml: the sitemap index lists 1 link(s): none to fetch, 1 on other domains "
            "(cdn.drugoi-sait.example)"
        ),
    ]


@pytest.mark.parametrize(
    ("stats", "said"),
    [
        (
            {"aggregator/feeds": 1, "aggregator/listed_links": 0},
            "the feed listed no link: check the entry's entry_urls (a site that moved its feed may leave it empty)",
        ),
        (
            {"aggregator/feeds": 1, "aggregator/listed_links": 4, "aggregator/off_domain_links": 4,
             "aggregator/off_domain_hosts": {"azxeber.example": 4}},
            "the feed listed 4 link(s), all on other domains (azxeber.example): check the entry's domains",
        ),
        (
            {"aggregator/sitemaps": 2, "aggregator/listed_links": 3, "aggregator/not_articles/listing": 1,
             "aggregator/not_articles/article_urls": 2},
            ("the 2 sitemaps listed 3 link(s): 2 not matching the entry's article_urls, 1 to listings (section "
             "fronts), not articles: check its article_urls; give feeds or sitemaps of the articles"),
        ),
        (
            {"aggregator/feeds": 2, "aggregator/listed_links": 2, "aggregator/not_articles/og_type": 2},
            ("the 2 feeds listed 2 link(s), all to pages whose og:type says they are no article: give feeds or "
             "sitemaps of the articles"),
        ),
        ({"aggregator/feeds": 1, "aggregator/listed_links": 3}, None),  # the pages failed: the error rate says so
        ({"aggregator/listed_links": 0}, None),  # no feed was read: the failed way in is said already
        ({"aggregator/feeds": 1}, None),  # not a generic source
    ],
)  # fmt: skip
def test_why_a_generic_source_found_nothing(stats: dict[str, Any], said: str | None) -> None:
    assert nothing_found(stats) == said


def test_a_www_domain_that_does_not_own_its_bare_links_is_named() -> None:
    stats = {
        "aggregator/feeds": 1, "aggregator/listed_links": 2, "aggregator/off_domain_links": 2,
        "aggregator/off_domain_hosts": {"dvoinik.example": 2},
    }  # fmt: skip
    www = replace(ODDS_AND_ENDS, domains=("www.dvoinik.example",))
    assert nothing_found(stats, www) == (
        "the feed listed 2 link(s), all on other domains (dvoinik.example): check the entry's domains "
        "(www.dvoinik.example does not own dvoinik.example: give dvoinik.example)"
    )


# -- D11: a home page given as the way in --------------------------------------------------------------------------

HOME = b"""<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8"><title>Raznoe</title>
<link rel="alternate" type="application/rss+xml" title="Raznoe &raquo; Feed" href="/feed/">
<link rel="alternate" type="application/rss+xml" title="Raznoe &raquo; Comments Feed" href="/comments/feed/">
<link rel="alternate" type="application/atom+xml" href="https://raznoe.example/atom.xml">
<link rel="alternate" type="application/rss+xml" href="https://feeds.drugoi-sait.example/raznoe">
<link rel="alternate" type="application/json" href="/wp-json/wp/v2/posts">
<link rel="alternate" hreflang="az" href="/az/">
</head><body><h1>Raznoe</h1></body></html>"""


def test_a_page_names_its_feeds() -> None:
    assert declared_feeds(HOME.decode(), "https://raznoe.example/") == [
        "https://raznoe.example/feed/",
        "https://raznoe.example/atom.xml",
        "https://feeds.drugoi-sait.example/raznoe",
    ]
    assert declared_feeds("<html><head><title>x</title></head></html>", "https://raznoe.example/") == []


def test_a_home_page_as_the_way_in_leads_to_its_feeds() -> None:
    with spider_of(ODDS_AND_ENDS) as spider:
        out = list(spider.parse(html_page("https://raznoe.example/", HOME)))
        assert [r.url for r in out] == ["https://raznoe.example/feed/", "https://raznoe.example/atom.xml"]
        assert all(r.callback == spider.parse and r.meta[ENTRY_META] for r in out)
        assert {r.meta[DECLARED_BY_META] for r in out} == {"https://raznoe.example/"}
        assert stat(spider, "aggregator/declared_feeds") == 2
        assert stat(spider, "aggregator/off_domain_hosts") == {"feeds.drugoi-sait.example": 1}
        assert stat(spider, "feed/not_a_feed") is None
        # a feed a page declared that answers with a page in turn: a failure, not a second round
        again = html_page("https://raznoe.example/feed/", HOME, request=out[0])
        (failure,) = spider.parse(again)
        assert isinstance(failure, FetchFailure)
        assert failure.reason == "not a feed or sitemap: an HTML page (a feed of https://raznoe.example/)"


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"", "not a feed or sitemap: an HTML page"),
        (
            b'<link rel="alternate" type="application/rss+xml" href="https://feeds.drugoi-sait.example/raznoe">',
            "not a feed or sitemap: an HTML page whose feeds are on other domains (feeds.drugoi-sait.example)",
        ),
    ],
)
def test_a_page_that_declares_no_feed_of_the_site_is_still_a_failed_way_in(head: bytes, reason: str) -> None:
    body = b"<!DOCTYPE html><html><head><title>Raznoe</title>" + head + b"</head><body>Moved.</body></html>"
    with spider_of(ODDS_AND_ENDS) as spider:
        (failure,) = spider.parse(html_page("https://raznoe.example/rss", body))
        assert isinstance(failure, FetchFailure) and failure.reason == reason
        assert stat(spider, "feed/not_a_feed") == 1


# -- the made-up sites crawled ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def discovery_crawl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('discovery') / 'archive.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "tests.helpers.discovery_sites", url],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return {"url": url, "outcomes": json.loads(done.stdout.strip().splitlines()[-1])}


def test_the_crawl_archives_the_articles_and_not_the_section_front(discovery_crawl: dict[str, Any]) -> None:
    with session(discovery_crawl["url"]) as s:
        articles = sorted(a.url for a in s.scalars(select(Article).where(Article.source.in_(FEED_SITES))))
        rejects = list(s.scalars(select(Reject).where(Reject.source.in_(FEED_SITES))))
    assert articles == [
        "https://domashnyaya.example/2026/12/01/most-otkryt",
        "https://sektor.example/novosti/ekonomika/7101",
        "https://sektor.example/novosti/ekonomika/7102",
    ]
    assert rejects == []
    outcomes = discovery_crawl["outcomes"]
    assert outcomes["sektor"]["problems"] == [] and outcomes["domashnyaya"]["problems"] == []
    assert outcomes["sektor"]["stats"]["aggregator/not_articles/listing"] == 1
    assert outcomes["domashnyaya"]["stats"]["aggregator/declared_feeds"] == 1  # not its comments' feed


def test_the_verdict_of_a_generic_source_that_found_nothing_names_feeds_and_sitemaps(
    discovery_crawl: dict[str, Any],
) -> None:
    # "no article found on the listings", what a site spider reads: a generic source has none, and its operator
    # went looking for them. `aggregator health` and /api/health show the run row's verdict.
    with session(discovery_crawl["url"]) as s:
        rows = {run.source: run for run in s.scalars(select(CrawlRun))}
    for key in ("pustaya", "pereezd", "dvoinik"):
        health = rows[key].health
        assert health is not None and health["problems"] == ["no article found in the feeds, sitemaps or listings"], key
        assert discovery_crawl["outcomes"][key]["stats"]["aggregator/health/verdict"]["problems"] == health["problems"]
    assert rows["pustaya"].stats is not None
    # a crawl is judged from it
    assert rows["pustaya"].stats["aggregator/looked_in"] == "in the feeds, sitemaps or listings"


def test_the_summary_says_why_a_generic_source_found_nothing(discovery_crawl: dict[str, Any]) -> None:
    outcomes = discovery_crawl["outcomes"]
    said = {key: outcomes[key]["problems"] for key in FEED_SITES if outcomes[key]["problems"]}
    assert {key: problem for key, (problem,) in said.items()} == {
        "pustaya": (
            "unhealthy: no article found: the feed listed no link: check the entry's entry_urls (a site that moved "
            "its feed may leave it empty)"
        ),
        "pereezd": (
            "unhealthy: no article found: the feed listed 3 link(s), all on other domains (novyi-adres.example): "
            "check the entry's domains"
        ),
        "dvoinik": (
            "unhealthy: no article found: the feed listed 2 link(s), all on other domains (dvoinik.example): check "
            "the entry's domains (www.dvoinik.example does not own dvoinik.example: give dvoinik.example)"
        ),
    }


# -- a site with no feed and no sitemap: its home page and section fronts read as listings ----------------------


def test_a_home_page_with_no_feed_is_read_as_a_listing() -> None:
    with spider_of(YENIXEBER) as spider:
        out = list(spider.parse(fixture_page(YENIXEBER, "/")))
        assert [(r.url, r.callback) for r in out] == [
            ("https://yenixeber.example/xeber/41207-bakida-yeni-metro-stansiyasi", spider.parse_article),
            ("https://yenixeber.example/xeber/41206-gencede-park-berpa", spider.parse_article),
            ("https://yenixeber.example/2026/12/04/neft-qiymetleri-artdi.html", spider.parse_article),
            ("https://yenixeber.example/xeberler/son-xeberler-lenti", spider.parse_article),
        ]  # each once (a card links its article twice); not the navigation's tag page, not the footer's page
        assert not any(r.meta.get(ENTRY_META) for r in out)
        # the date each teaser prints, the last resort of a page that prints none (as a feed entry's)
        assert [r.meta.get(FEED_PUBLISHED_META) for r in out] == [
            "05.12.2026 10:15", "05.12.2026 09:40", "04.12.2026 18:05", None,
        ]  # fmt: skip
        assert stat(spider, "aggregator/listings") == 1
        assert stat(spider, "aggregator/listed_links") == 5
        assert stat(spider, "aggregator/off_domain_hosts") == {"partnyor.example": 1}
        assert stat(spider, "feed/not_a_feed") is None


def test_a_listing_follows_only_the_entrys_article_urls_when_it_gives_them() -> None:
    strict = replace(YENIXEBER, article_urls=r"/xeber/\d+")
    with spider_of(strict) as spider:
        out = list(spider.parse(fixture_page(strict, "/")))
        assert [r.url.rsplit("/", 1)[1] for r in out] == [
            "41207-bakida-yeni-metro-stansiyasi",
            "41206-gencede-park-berpa",
        ]


@pytest.mark.parametrize(
    ("path", "failure", "counted"),
    [
        # a page linking no article of the site: a way in that leads nowhere
        ("/", "an HTML page declaring no feed and linking no article of the site", "aggregator/empty_listings"),
        # a feed's address answering with a page: the feed moved, not a listing to read
        ("/feed/", "not a feed or sitemap: an HTML page", "feed/not_a_feed"),
        ("/sitemap-news.xml", "not a feed or sitemap: an HTML page", "feed/not_a_feed"),
    ],
)
def test_an_entry_page_that_leads_nowhere_is_a_failed_way_in(path: str, failure: str, counted: str) -> None:
    body = b"""<!DOCTYPE html><html><head><title>Yenixeber</title></head><body><nav><a href="/xeber/1-bir-iki-uc">x</a>
    </nav><main><p>Sayt yenilenir. <a href="/haqqimizda">Haqqimizda</a></p></main></body></html>"""
    with spider_of(YENIXEBER) as spider:
        (out,) = spider.parse(html_page(f"https://yenixeber.example{path}", body))
        assert isinstance(out, FetchFailure) and out.reason == failure
        assert stat(spider, counted) == 1


def test_a_site_without_feeds_is_crawled_through_its_listings(discovery_crawl: dict[str, Any]) -> None:
    with session(discovery_crawl["url"]) as s:
        articles = {a.url: a for a in s.scalars(select(Article).where(Article.source == "yenixeber"))}
        rejects = list(s.scalars(select(Reject).where(Reject.source == "yenixeber")))
    assert sorted(articles) == [
        "https://yenixeber.example/2026/12/04/neft-qiymetleri-artdi.html",
        "https://yenixeber.example/xeber/41190-pambiq-tedaruku",  # from the section front only
        "https://yenixeber.example/xeber/41206-gencede-park-berpa",
        "https://yenixeber.example/xeber/41207-bakida-yeni-metro-stansiyasi",
    ]  # not the "all the latest news" page the home page links like an article: a listing by its shape
    assert rejects == []
    assert {a.title for a in articles.values()} >= {"Gəncədə park bərpa olundu", "Neft qiymətləri artdı"}
    assert all(a.published_at is not None and a.language == "az" for a in articles.values())
    # a page that prints no date of its own is dated by its teaser on the section front (15:30 Baku time)
    cotton = articles["https://yenixeber.example/xeber/41190-pambiq-tedaruku"]
    assert (cotton.published_raw, cotton.published_at) == (None, datetime(2026, 12, 3, 8, 30, tzinfo=UTC))
    outcome = discovery_crawl["outcomes"]["yenixeber"]
    assert outcome["problems"] == []
    assert outcome["stats"]["aggregator/listings"] == 2
    assert outcome["stats"]["aggregator/not_articles/listing"] == 1


def test_a_home_page_linking_no_article_of_the_site_fails_the_source(discovery_crawl: dict[str, Any]) -> None:
    with session(discovery_crawl["url"]) as s:
        rejects = [(r.url, r.stage, r.reason) for r in s.scalars(select(Reject).where(Reject.source == "bosev"))]
    assert rejects == [
        (
            "https://bosev.example/",
            "fetch",
            (
                "an HTML page declaring no feed and linking no article of the site (its article links are on other "
                "domains: novyi-bosev.example)"
            ),
        )
    ]
    assert discovery_crawl["outcomes"]["bosev"]["problems"] == [
        (
            "1 entry page(s) declared no feed and linked no article of the site: `aggregator rejects list --source "
            "bosev` says which"
        ),
        (
            "unhealthy: no article found: the listing listed 1 link(s), all on other domains (novyi-bosev.example): "
            "check the entry's domains"
        ),
    ]


def test_extract_says_a_crawl_would_skip_a_section_front() -> None:
    """``aggregator extract`` on a listing: the item it would have been, and why a crawl archives nothing of it."""
    page = FIXTURES / "sektor.example" / "novosti" / "ekonomika" / "index.html"
    url = "https://sektor.example/novosti/ekonomika/"
    with registered(SEKTOR):
        record = extract_page(page.read_bytes(), url)
    assert record["not_an_article"] == {
        "kind": "listing",
        "reason": "a listing: 4 dated teaser(s), 34 character(s) of its own text, no date line",
    }
    article = FIXTURES / "sektor.example" / "novosti" / "ekonomika" / "7101" / "index.html"
    with registered(SEKTOR):
        assert (
            extract_page(article.read_bytes(), "https://sektor.example/novosti/ekonomika/7101")["not_an_article"]
            is None
        )
    human = run_cli("extract", str(page), "--url", url)  # an unregistered site: the generic extractor all the same
    assert human.returncode == 1
    assert "not an article, a crawl would skip it: a listing: 4 dated teaser(s)" in " ".join(human.stdout.split())


FLAT_PAGE = """<!DOCTYPE html>
<html lang="az"><head><meta charset="utf-8"><title>Gəncədə park bərpa olundu – Yenixeber</title></head>
<body><header><a class="logo" href="/">Yenixeber</a> <span class="today">05.12.2026</span></header>
<h1>Gəncədə park bərpa olundu</h1>
{between}
<div class="news-text">
<p>Gəncənin mərkəzindəki köhnə park bərpadan sonra sakinlərin ixtiyarına verilib, ərazidə min ağac əkilib.</p>
<p>Parkda uşaq meydançaları, gəzinti yolları və fəvvarə yenidən qurulub.</p>
<p>Bələdiyyə bildirib ki, parkın gecə işıqlandırılması da tam yenilənib.</p>
</div>
<div class="sidebar"><div>04.12.2026 18:05</div><a href="/x/1-bir-iki-uc">Başqa xəbər</a></div>
</body></html>"""


@pytest.mark.parametrize(
    ("between", "printed"),
    [
        ('<div class="meta">05.12.2026 09:40</div>', "05.12.2026 09:40"),
        ('<p><time datetime="2026-12-05T09:40:00+04:00">bu gün, 09:40</time></p>', "bu gün, 09:40"),  # as printed
        ('<time datetime="2026-12-05T09:40:00+04:00"></time>', "2026-12-05T09:40:00+04:00"),  # nothing printed
        ("", None),  # neither the header's date nor the sidebar's is the article's
        ('<div class="meta"><a href="/tag/park">05.12.2026 09:40</a></div>', None),  # a link: a teaser, not a date line
    ],
)
def test_a_flat_page_s_date_line_between_its_headline_and_its_text(between: str, printed: str | None) -> None:
    """Headline, date and text side by side in the <body>: no scope of the article held the date, and the page was
    archived undated (the sidebar's and the header's dates rightly stay out)."""
    body = FLAT_PAGE.format(between=between).encode()
    with registered(YENIXEBER):
        page = GenericArticle(html_page("https://yenixeber.example/xeber/41206-gencede-park-berpa", body))
        assert page.published_raw() == printed
