"""The generic spider: sites it has never seen (tests/fixtures/unseen_sites/), found through sitemaps and feeds and
read from their JSON-LD, their OpenGraph tags, or neither; and minval.az, a registry entry with no module."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse
from scrapy.spiderloader import get_spider_loader
from sqlalchemy import select

from aggregator.crawl import project_settings
from aggregator.extract import extract_page, extractor_name
from aggregator.sources import Source, get_source, registered, source_for_url
from aggregator.store.models import Article, Reject
from spiders.caliber import CaliberSpider
from spiders.feeds import FEED_PUBLISHED_META
from spiders.generic import GenericArticle, GenericSpider
from spiders.sitemaps import SitemapError, discovery_kind, parse_sitemap
from tests.conftest import ROOT, run_cli
from tests.crawl_checks import check_archive, expected, runs, session
from tests.helpers.unseen_sites import FIXTURES, SITES

FETCHED = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
KASPIY, CITYWIRE, PROSTYE = SITES


def page(source: Source, path: str, *, body: bytes | None = None) -> HtmlResponse:
    host = source.domains[0]
    file = FIXTURES / host / (path.strip("/") + ".html")
    return HtmlResponse(
        url=f"https://{host}{path}",
        body=file.read_bytes() if body is None else body,
        headers={"Content-Type": "text/html; charset=utf-8"},
    )


def paragraphs(text: str | None) -> list[str]:
    return (text or "").split("\n\n")


# -- sitemaps ----------------------------------------------------------------------------------------


NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <!-- generated -->
  <url>
    <loc>https://example.org/a/1</loc>
    <lastmod>2026-11-20</lastmod>
    <news:news>
      <news:publication><news:name>Example</news:name><news:language>az</news:language></news:publication>
      <news:publication_date>2026-11-20T10:00:00+04:00</news:publication_date>
      <news:title>Bir &amp; iki</news:title>
    </news:news>
  </url>
  <url><loc>/a/2</loc></url>
  <url><lastmod>2026-11-20</lastmod></url>
</urlset>
"""


def test_news_sitemap_gives_each_url_with_its_news_fields() -> None:
    sitemap = parse_sitemap(NEWS_SITEMAP, "https://example.org/sitemap.xml")
    assert sitemap.kind == "urlset"
    first, second = sitemap.entries  # the <url> without <loc> is skipped
    assert first.loc == "https://example.org/a/1" and first.lastmod == "2026-11-20"
    assert first.news_title == "Bir & iki"
    assert first.news_published == "2026-11-20T10:00:00+04:00"
    assert first.news_language == "az"
    assert second.loc == "https://example.org/a/2" and second.news_title is None  # relative <loc> made absolute


def test_sitemap_index_gzipped_or_not() -> None:
    index = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <sitemap><loc>https://example.org/s1.xml.gz</loc><lastmod>2026-11-01</lastmod></sitemap>
    <sitemap><loc>https://example.org/s2.xml</loc></sitemap></sitemapindex>"""
    for body in (index, gzip.compress(index)):
        sitemap = parse_sitemap(body, "https://example.org/")
        assert sitemap.kind == "sitemapindex"
        assert [e.loc for e in sitemap.entries] == ["https://example.org/s1.xml.gz", "https://example.org/s2.xml"]
    assert parse_sitemap(gzip.compress(NEWS_SITEMAP), "https://example.org/").entries[0].news_language == "az"


def test_what_is_not_a_sitemap_is_refused_with_a_reason() -> None:
    html = b"<!DOCTYPE html><html><head><title>Not found</title></head><body><p>moved</p></body></html>"
    with pytest.raises(SitemapError, match="not a sitemap"):
        parse_sitemap(html, "https://example.org/sitemap.xml")
    with pytest.raises(SitemapError, match="gzip"):
        parse_sitemap(b"\x1f\x8b\x08\x00broken", "https://example.org/sitemap.xml.gz")
    with pytest.raises(SitemapError):
        parse_sitemap(b"", "https://example.org/sitemap.xml")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (NEWS_SITEMAP, "sitemap"),
        (gzip.compress(NEWS_SITEMAP), "sitemap"),
        (b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- x --><sitemapindex xmlns="x"/>', "sitemap"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "feed"),
        (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title></feed>', "feed"),
        (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"></rdf:RDF>', "feed"),
        (b"<!DOCTYPE html>\n<html><body>feed moved</body></html>", None),
        (b'{"items": []}', None),
    ],
)
def test_discovery_tells_sitemaps_from_feeds_from_pages(body: bytes, kind: str | None) -> None:
    assert discovery_kind(body) == kind


# -- the extractor on pages of sites it has never seen -------------------------------------------------


def test_json_ld_site_is_read_from_its_news_article() -> None:
    item = GenericArticle(page(KASPIY, "/2026/11/24/port-alyat-novyj-prichal"), FETCHED, source=KASPIY).to_item()
    assert item.source == "kaspiy"
    assert item.title == "Порт Алят ввел в строй новый причал для паромов"  # headline, not "<title> | site"
    # the NewsArticle's date inside @graph, not the WebPage's (2019) listed before it
    assert item.published_meta == "2026-11-24T11:30:00+04:00"
    assert item.cover_image_url == "https://kaspiy-vestnik.example/media/2026/11/alyat.jpg"  # an ImageObject
    assert item.category == "Экономика"  # articleSection
    assert item.language == "ru"
    assert item.canonical_url == "https://kaspiy-vestnik.example/2026/11/24/port-alyat-novyj-prichal"
    texts = paragraphs(item.body_text)
    assert texts[0].startswith("Бакинский международный морской торговый порт")
    assert texts[-1].startswith("Строительство причала заняло полтора года")
    assert not any("Популярное" in t or "Все права защищены" in t or "Контакты" in t for t in texts)


def test_opengraph_only_site() -> None:
    item = GenericArticle(page(CITYWIRE, "/news/metro-green-line-extension"), FETCHED, source=CITYWIRE).to_item()
    assert item.title == "Metro green line to get three new stations"
    assert item.published_meta == "2026-11-22T17:45:00+04:00"  # article:published_time
    assert item.published_raw == "2026-11-22T17:45:00+04:00"  # the page prints no date: the metadata's
    assert item.cover_image_url == "https://city-wire.example/img/metro-green.jpg"
    assert item.category == "City"
    assert item.language == "en"  # <html lang="en-GB">
    assert item.canonical_url == "https://city-wire.example/news/metro-green-line-extension"  # og:url
    texts = paragraphs(item.body_text)
    assert texts[0].startswith("The city's metro operator has approved")
    assert not any("newsletter" in t or "By City Wire staff" in t for t in texts)


def test_site_with_neither_gives_its_h1_visible_time_and_main_text() -> None:
    item = GenericArticle(page(PROSTYE, "/novosti/8812"), FETCHED, source=PROSTYE).to_item()
    assert item.title == "В Шеки отреставрировали караван-сарай"
    assert item.published_raw == "18.11.2026 09:30"
    assert item.published_meta is None
    assert item.cover_image_url is None and item.category is None and item.canonical_url is None
    texts = paragraphs(item.body_text)
    assert len(texts) == 3
    assert texts[0].startswith("В Шеки завершилась реставрация Верхнего караван-сарая")
    assert not any("Счетчик" in t or "Предыдущая новость" in t or "Главная" in t for t in texts)


def test_registry_selectors_win_over_metadata_and_main_text() -> None:
    custom = Source(
        key="kaspiy",
        name="Kaspiy-vestnik.example",
        domains=("kaspiy-vestnik.example",),
        languages=("ru",),
        timezone="Asia/Baku",
        homepage="https://kaspiy-vestnik.example",
        entry_urls=(),
        selectors={
            "title": ".story__lead b",
            "body": ".sidebar",
            "date": ".sidebar li:first-child a",
            "cover_image": ".brand",
            "category": ".masthead nav a:nth-child(2)",
        },
    )
    item = GenericArticle(page(custom, "/2026/11/24/port-alyat-novyj-prichal"), FETCHED, source=custom).to_item()
    assert item.title == (
        "Бакинский международный морской торговый порт в Алятах ввел в эксплуатацию новый причал для паромов и "
        "судов типа ро-ро."
    )
    assert item.body_text == "Популярное Как менялся курс маната Новые правила техосмотра"  # no <p>: its text
    assert (item.body_html or "").startswith("<h4>Популярное</h4><ol>")
    assert item.published_raw == "Как менялся курс маната"
    assert item.cover_image_url == "https://kaspiy-vestnik.example/"  # a link's href
    assert item.category == "Политика"
    # what no selector names still comes from the metadata
    assert item.published_meta == "2026-11-24T11:30:00+04:00"


def test_a_selector_that_matches_nothing_leaves_the_field_empty() -> None:
    custom = Source(
        key="prostye", name="P", domains=("prostye-vesti.example",), languages=("ru",), timezone="Asia/Baku",
        homepage="https://prostye-vesti.example", entry_urls=(), selectors={"body": ".article-body", "title": ".hl"},
    )  # fmt: skip
    item = GenericArticle(page(custom, "/novosti/8812"), FETCHED, source=custom).to_item()
    assert item.body_html is None and item.body_text is None  # the validate pipeline then refuses it: "no body"
    assert item.title is None


def test_a_cover_is_a_web_address_a_placeholder_gives_way() -> None:
    # A lazy image's data: pixel and a javascript: address are no covers: the next candidate is, or none.
    custom = Source(
        key="prostye", name="P", domains=("prostye-vesti.example",), languages=("ru",), timezone="Asia/Baku",
        homepage="https://prostye-vesti.example", entry_urls=(), selectors={"cover_image": ".cover img"},
    )  # fmt: skip
    body = (
        '<html><head><meta property="og:image" content="javascript:alert(1)"></head><body><div class="cover">'
        '<img data-src="javascript:alert(2)" data-original="data:image/gif;base64,R0lGOD" src="/img/cover.jpg">'
        "</div><h1>Заголовок <em>статьи</em></h1><p>Текст.</p></body></html>"
    )
    selected = GenericArticle(page(custom, "/novosti/1", body=body.encode()), FETCHED, source=custom).to_item()
    assert selected.cover_image_url == "https://prostye-vesti.example/img/cover.jpg"
    meta = GenericArticle(page(PROSTYE, "/novosti/1", body=body.encode()), FETCHED, source=PROSTYE).to_item()
    assert meta.cover_image_url is None  # the og:image was javascript:
    assert meta.title == "Заголовок статьи"


def test_unknown_selector_fields_are_refused_when_the_registry_loads() -> None:
    with pytest.raises(ValueError, match="unknown selector field"):
        Source(
            key="x", name="X", domains=("x.example",), languages=("ru",), timezone="UTC", homepage="https://x.example",
            entry_urls=(), selectors={"headline": "h1"},
        )  # fmt: skip


def test_site_name_glued_to_the_title_is_dropped() -> None:
    body = (
        '<html lang="ru"><head><title>Новый мост открыт | Городские вести</title>'
        '<meta property="og:site_name" content="Городские вести"></head><body><div><p>'
        + "Текст статьи о новом мосте, который открыли в городе после двух лет строительства. " * 6
        + "</p></div></body></html>"
    ).encode()
    response = HtmlResponse(url="https://vesti-goroda.example/a/1", body=body, encoding="utf-8")
    assert GenericArticle(response, FETCHED).title() == "Новый мост открыт"
    dashed = body.replace("| Городские вести".encode(), b"- Vesti-goroda.example")
    response = HtmlResponse(url="https://vesti-goroda.example/a/1", body=dashed, encoding="utf-8")
    assert GenericArticle(response, FETCHED).title() == "Новый мост открыт"
    # names at both ends go, a section stays, and a dash inside the headline is the headline's
    framed = body.replace(
        "Новый мост открыт | Городские вести".encode(),
        "Городские вести | Город | Мост – открыт | Городские вести".encode(),
    )
    response = HtmlResponse(url="https://vesti-goroda.example/a/1", body=framed, encoding="utf-8")
    assert GenericArticle(response, FETCHED).title() == "Город | Мост – открыт"


def test_an_empty_time_that_names_a_day_gives_way_to_the_printed_date_and_its_time() -> None:
    """``<time datetime="2026-11-23"></time>`` is a machine stamp of a day, not what readers see: taken as the
    printed date, it hid the date line beside it, and the article was stored at Baku's midnight, not at 18:14."""
    page = (
        '<html lang="ru"><head><title>Новый сквер в Хатаинском районе</title></head><body><article>'
        '<h1>Новый сквер в Хатаинском районе</h1><time datetime="{stamp}"></time>'
        '<span class="news-date">23 ноября 2026, 18:14</span><p>'
        + "Жители района получили новый сквер с фонтаном, скамейками и детской площадкой у станции метро. " * 3
        + "</p></article></body></html>"
    )
    url = "https://vesti-goroda.example/a/2"
    day = extract_page(page.format(stamp="2026-11-23").encode(), url, fetched_at=FETCHED)
    assert (day["published_raw"], day["published_meta"]) == ("23 ноября 2026, 18:14", "2026-11-23")
    assert day["published_at"] == "2026-11-23T14:14:00+00:00"
    # A stamp with its time is the page's own instant: it stays the date, as before.
    timed = extract_page(page.format(stamp="2026-11-23T18:20:00+04:00").encode(), url, fetched_at=FETCHED)
    assert timed["published_raw"] == timed["published_meta"] == "2026-11-23T18:20:00+04:00"
    assert timed["published_at"] == "2026-11-23T14:20:00+00:00"


def test_the_date_line_after_the_headline_wins_over_the_headers_clock() -> None:
    """A site's header prints today's date above the headline: taken as the first date-like element, every article
    of a site with no date metadata was dated the day it was fetched."""
    page = (
        '<html lang="az"><head><title>Gəncədə yeni məktəb tikiləcək</title></head><body>'
        '<div id="top"><span class="date">15.09.2026</span> <span class="time">10:12</span> | Bakı: +24°C</div>'
        '<div class="news"><h1>Gəncədə yeni məktəb tikiləcək</h1><div class="news-date">12.09.2026 14:45</div><p>'
        + "Gəncə şəhərində 960 şagird yerlik yeni ümumtəhsil məktəbinin tikintisinə başlanılıb. " * 3
        + "</p></div></body></html>"
    )
    record = extract_page(page.encode(), "https://xeberler.example/news/12/mekteb.html", fetched_at=FETCHED)
    assert record["published_raw"] == "12.09.2026 14:45"
    assert record["published_at"] == "2026-09-12T10:45:00+00:00"
    # Without a headline, the date line of the block that holds the article's text is taken, not the header's (the
    # header's clock was taken before: the date search now keeps to the article, see tests/test_generic_cms.py).
    headless = page.replace("<h1>", "<div>").replace("</h1>", "</div>")
    assert extract_page(headless.encode(), "https://xeberler.example/news/12/a.html")["published_raw"] == (
        "12.09.2026 14:45"
    )


def test_json_ld_in_a_list_and_its_article_body_as_the_last_resort() -> None:
    data = [
        {"@type": "BreadcrumbList", "itemListElement": []},
        {
            "@type": ["NewsArticle"],
            "headline": "Заголовок из JSON-LD",
            "datePublished": "2026-11-01T09:00:00+04:00",
            "image": ["https://cdn.example/1.jpg", "https://cdn.example/2.jpg"],
            "articleBody": "Первый абзац статьи.\nВторой абзац статьи.",
            "inLanguage": "az",
        },
    ]
    body = f'<html><head><script type="application/ld+json">{json.dumps(data)}</script></head><body></body></html>'
    response = HtmlResponse(url="https://example.org/x", body=body.encode(), encoding="utf-8")
    item = GenericArticle(response, FETCHED).to_item()
    assert item.title == "Заголовок из JSON-LD"
    assert item.published_meta == "2026-11-01T09:00:00+04:00"
    assert item.cover_image_url == "https://cdn.example/1.jpg"
    assert item.body_text == "Первый абзац статьи.\n\nВторой абзац статьи."
    assert item.language == "az"  # an unregistered site: Russian first, the page's own language wins


def test_main_text_keeps_the_formatting_and_the_captions_of_pictures() -> None:
    """trafilatura drops bold, italics and <figcaption> unless told and helped: a bold lead, a stressed word and a
    photo's caption and credit vanished from the body a re-publisher prints as is."""
    file = ROOT / "tests" / "fixtures" / "pages" / "minval" / "bold-lead-figure-captions" / "page.html"
    record = extract_page(file.read_bytes(), "https://minval.az/news/124011", fetched_at=FETCHED)
    body = record["body_html"]
    assert "<strong>В Сабирабадском районе открыли" in body  # the lead
    assert "заняло <strong>два года</strong>, а его стоимость составила <i>около 38 миллионов манатов</i>." in body
    # each caption in a <figure> with its picture, on the side the page has it (the second one's lazy image)
    assert (
        '<figure><img src="https://minval.az/uploads/2026/11/most-kura.jpg" alt="Мост через Куру"><figcaption>'
        "Новый мост в день открытия. <i>Фото: Государственное агентство автомобильных дорог</i></figcaption></figure>"
    ) in body
    assert (
        "<figure><figcaption>Паромная переправа, которую заменил мост, прослужила больше сорока лет.</figcaption>"
        '<img src="https://minval.az/uploads/2026/11/parom.jpg" alt="Паром на Куре"></figure>'
    ) in body
    texts = paragraphs(record["body_text"])
    assert texts[1] == "Новый мост в день открытия. Фото: Государственное агентство автомобильных дорог"
    assert texts[2].startswith("Строительство заняло два года, а его стоимость составила около 38 миллионов манатов.")
    assert "Паромная переправа, которую заменил мост, прослужила больше сорока лет." in texts


# -- the registry, the spider loader and extraction on demand -----------------------------------------


def test_a_page_that_says_it_is_no_article_is_told_apart() -> None:
    assert GenericArticle(page(KASPIY, "/economy"), FETCHED, KASPIY).declared_not_article  # og:type website
    assert GenericArticle(page(KASPIY, "/contacts"), FETCHED, KASPIY).declared_not_article
    assert not GenericArticle(page(KASPIY, "/2026/11/23/kaspij-uroven-vody"), FETCHED, KASPIY).declared_not_article
    assert not GenericArticle(
        page(CITYWIRE, "/news/metro-green-line-extension"), FETCHED, CITYWIRE
    ).declared_not_article  # og:type article
    assert not GenericArticle(page(PROSTYE, "/novosti/8812"), FETCHED, PROSTYE).declared_not_article  # says nothing


def test_the_registry_article_url_pattern_leaves_other_sitemap_links_unfetched() -> None:
    from dataclasses import replace

    from scrapy.http import XmlResponse
    from scrapy.utils.test import get_crawler

    source = replace(PROSTYE, key="prostye2", domains=("prostye2.example",), article_urls=r"/novosti/\d+$")
    sitemap = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://prostye2.example/novosti/8812</loc></url>
  <url><loc>https://prostye2.example/novosti/</loc></url>
  <url><loc>https://prostye2.example/tag/sport</loc></url>
  <url><loc>https://prostye2.example/novosti/8815</loc></url>
</urlset>"""
    with registered(source):
        spidercls = get_spider_loader(project_settings()).load("prostye2")
        crawler = get_crawler(spidercls, {"TWISTED_REACTOR_ENABLED": False})
        spider = spidercls.from_crawler(crawler)
        crawler.spider = spider
        crawler.stats.open_spider()
        out = list(spider.parse(XmlResponse(url="https://prostye2.example/sitemap.xml", body=sitemap)))
    assert [r.url for r in out] == ["https://prostye2.example/novosti/8812", "https://prostye2.example/novosti/8815"]
    assert crawler.stats.get_value("aggregator/not_articles") == 2
    # A <loc> no request can be made to is skipped and counted: raised, it lost every link after it.
    broken = sitemap.replace(b"https://prostye2.example/novosti/8812", b"https://prostye2.example:99999/novosti/1")
    with registered(source):
        out = list(spider.parse(XmlResponse(url="https://prostye2.example/sitemap.xml", body=broken)))
    assert [r.url for r in out] == ["https://prostye2.example/novosti/8815"]
    assert crawler.stats.get_value("aggregator/bad_links") == 1
    # A news sitemap's publication date goes with the request, as a feed entry's: the page's last resort.
    news = sitemap.replace(
        b"<url><loc>https://prostye2.example/novosti/8815</loc></url>",
        b'<url xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><loc>https://prostye2.example/novosti/8815'
        b"</loc><news:news><news:publication_date>2026-11-24T10:00:00+04:00</news:publication_date></news:news></url>",
    )
    with registered(source):
        out = list(spider.parse(XmlResponse(url="https://prostye2.example/sitemap.xml", body=news)))
    assert [r.meta.get(FEED_PUBLISHED_META) for r in out] == [None, "2026-11-24T10:00:00+04:00"]
    with pytest.raises(ValueError, match="article_urls is not a regular expression"):
        replace(PROSTYE, article_urls="(")


def test_a_registry_entry_without_a_module_gets_the_generic_spider() -> None:
    loader = get_spider_loader(project_settings())
    assert {"caliber", "minval"} <= set(loader.list())
    minval = loader.load("minval")
    assert issubclass(minval, GenericSpider) and minval.name == "minval"
    assert minval.extractor is GenericArticle
    assert loader.load("caliber") is CaliberSpider  # a module of its own wins
    with pytest.raises(KeyError):
        loader.load("nope")


def test_scrapy_knows_the_registry_entries_without_a_module() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    assert {"caliber", "minval"} <= set(listed.stdout.split())


def test_sources_registered_for_a_block_only() -> None:
    assert source_for_url("https://city-wire.example/news/x") is None
    with registered(*SITES):
        assert get_source("citywire") is CITYWIRE
        assert source_for_url("https://city-wire.example/news/x") is CITYWIRE
        assert "citywire" in get_spider_loader(project_settings()).list()
    assert source_for_url("https://city-wire.example/news/x") is None
    clash = Source(
        key="other", name="Other", domains=("minval.az",), languages=("ru",), timezone="Asia/Baku",
        homepage="https://minval.az", entry_urls=(),
    )  # fmt: skip
    with pytest.raises(ValueError, match="clashes"), registered(clash):
        pass


def test_extract_page_on_an_unregistered_site_runs_the_generic_extractor_and_pipelines() -> None:
    file = FIXTURES / "prostye-vesti.example" / "novosti" / "8815.html"
    url = "https://prostye-vesti.example/novosti/8815"
    record = extract_page(file.read_bytes(), url, fetched_at=FETCHED)
    assert record["rejected"] is None
    assert record["source"] == "prostye-vesti.example"
    assert record["title"] == "В Гахе открылся первый горнолыжный склон"
    assert record["published_at"] == "2026-11-19T11:05:00+00:00"  # 15:05 Baku time
    assert record["language"] == "ru"
    assert record["attribution_line"] == "Icma.az, ссылаясь на сайт Prostye-vesti.example, отмечает."
    assert len(paragraphs(record["body_text"])) == 3
    assert extractor_name(url) == "unregistered site (GenericArticle)"
    assert source_for_url(url) is None  # nothing left behind


def test_extract_page_on_a_registered_site_without_a_module() -> None:
    file = ROOT / "data" / "mirror" / "minval.az" / "news" / "124006.html"
    record = extract_page(file.read_bytes(), "https://minval.az/news/124006", fetched_at=FETCHED)
    assert record["rejected"] is None and record["source"] == "minval"
    assert record["published_raw"] == "21 ноября 2026, 09:15"  # printed in a <span class="news-date">, no metadata
    assert record["published_at"] == "2026-11-21T05:15:00+00:00"
    assert extractor_name("https://minval.az/news/124006") == "minval (GenericArticle)"


def test_extract_command_json_and_human(tmp_path: Path) -> None:
    file = FIXTURES / "city-wire.example" / "news" / "old-city-festival-of-lights.html"
    url = "https://city-wire.example/news/old-city-festival-of-lights"
    done = run_cli("extract", str(file), "--url", url, "--json", "--fetched-at", "2026-11-25T10:00:00+00:00")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["title"] == "Old City hosts its first festival of lights"
    assert record["published_at"] == "2026-11-21T16:10:00Z"  # as every --json spells a UTC instant
    assert record["language"] == "en" and record["rejected"] is None
    assert record["body_text"].startswith("The walls and towers of the Old City")
    human = run_cli("extract", str(file), "--url", url)
    assert human.returncode == 0, human.stderr
    assert "Old City hosts its first festival of lights" in human.stdout
    assert "unregistered site (GenericArticle)" in human.stdout
    assert "2026-11-21T16:10:00Z" in human.stdout
    # a page the pipelines refuse: exit status 1 and the reason
    empty = tmp_path / "empty.html"
    empty.write_text("<html><head><title>x</title></head><body></body></html>", encoding="utf-8")
    refused = run_cli("extract", str(empty), "--url", "https://example.org/a", "--json")
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["rejected"] == {"stage": "validate", "reason": "no body"}


def test_extract_command_errors_are_one_line(tmp_path: Path) -> None:
    missing = run_cli("extract", str(tmp_path / "none.html"), "--url", "https://example.org/a")
    assert (
        missing.returncode == 2 and missing.stderr.strip() == f"aggregator: error: no such file: {tmp_path}/none.html"
    )
    (tmp_path / "p.html").write_text("<html></html>", encoding="utf-8")
    for url in ("ftp://example.org/a", "ftp://caliber.az/post/a", "https:///post/a"):  # a registered site's too
        bad_url = run_cli("extract", str(tmp_path / "p.html"), "--url", url)  # a usage error: where the help is
        assert bad_url.returncode == 2 and bad_url.stderr.splitlines() == [
            f"aggregator: error: not an http(s) URL: {url}",
            "Try 'aggregator extract --help' for help.",
        ]
    # An encoding Python does not know was silently ignored.
    bad_charset = run_cli("extract", str(tmp_path / "p.html"), "--url", "https://example.org/a", "--charset", "nope")
    assert bad_charset.returncode == 2 and bad_charset.stderr.splitlines() == [
        "aggregator: error: unknown encoding: 'nope'",
        "Try 'aggregator extract --help' for help.",
    ]


# -- crawls --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def unseen_crawl(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The three made-up sites crawled in a child process (their entries registered there only)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('unseen') / 'archive.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "tests.helpers.unseen_sites", url],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return {"url": url, "outcomes": json.loads(done.stdout.strip().splitlines()[-1])}


def test_unseen_sites_are_crawled_from_their_sitemaps_and_feeds(unseen_crawl: dict) -> None:
    with session(unseen_crawl["url"]) as s:
        articles = {a.url: a for a in s.scalars(select(Article))}
    assert sorted(articles) == sorted(
        [
            # sitemap index -> gzipped news sitemap, and -> a plain sitemap (its offsite <loc> not followed)
            "https://kaspiy-vestnik.example/2026/11/24/port-alyat-novyj-prichal",
            "https://kaspiy-vestnik.example/2026/11/23/kaspij-uroven-vody",
            # Atom feed
            "https://city-wire.example/news/metro-green-line-extension",
            "https://city-wire.example/news/old-city-festival-of-lights",
            # Google News sitemap
            "https://prostye-vesti.example/novosti/8812",
            "https://prostye-vesti.example/novosti/8815",
        ]
    )
    port = articles["https://kaspiy-vestnik.example/2026/11/24/port-alyat-novyj-prichal"]
    assert port.source == "kaspiy" and port.category == "Экономика"
    assert port.published_at == datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
    assert port.attribution_line == "Icma.az, ссылаясь на сайт Kaspiy-vestnik.example, отмечает."
    metro = articles["https://city-wire.example/news/metro-green-line-extension"]
    assert metro.language == "en" and metro.attribution_line == "Icma.az reports, citing City Wire."
    assert metro.published_at == datetime(2026, 11, 22, 13, 45, tzinfo=UTC)
    assert metro.cover_image_url == "https://city-wire.example/img/metro-green.jpg"
    skiing = articles["https://prostye-vesti.example/novosti/8815"]
    assert skiing.published_raw == "19.11.2026 15:05"
    assert skiing.published_at == datetime(2026, 11, 19, 11, 5, tzinfo=UTC)
    for article in articles.values():
        # three paragraphs each, and Kaspiy's bold lead above them
        assert len(article.body_text.split("\n\n")) == (4 if article.source == "kaspiy" else 3), article.url
        assert "<script" not in article.body_html


def test_a_feed_that_is_an_html_page_is_a_counted_failure(unseen_crawl: dict) -> None:
    outcomes = unseen_crawl["outcomes"]
    assert outcomes["kaspiy"]["problems"] == [] and outcomes["prostye"]["problems"] == []
    assert outcomes["citywire"]["problems"] == ["1 feed URL(s) answered with something not a feed"]
    assert outcomes["citywire"]["stats"]["feed/not_a_feed"] == 1
    assert outcomes["citywire"]["stats"]["aggregator/articles_new"] == 2  # the Atom feed still worked
    assert outcomes["kaspiy"]["stats"]["aggregator/sitemaps"] == 3  # the index and the two it names on the site
    # The plain sitemap lists a section front and the contact page too: fetched, recognised by their og:type, and
    # not archived (the article set above holds neither).
    assert outcomes["kaspiy"]["stats"]["aggregator/not_articles"] == 2
    with session(unseen_crawl["url"]) as s:
        rejects = list(s.scalars(select(Reject)))
    assert [(r.source, r.url, r.stage, r.reason) for r in rejects] == [
        ("citywire", "https://city-wire.example/rss", "fetch", "not a feed or sitemap: an HTML page")
    ]
    assert {r.source: r.status for r in runs(unseen_crawl["url"])} == {
        "kaspiy": "finished", "citywire": "finished", "prostye": "finished",
    }  # fmt: skip


def test_minval_end_to_end_from_the_bundled_sample(tmp_path: Path) -> None:
    """A registry entry only: its feed (duplicate guids, a bare "+04", an offsite item, a 404) and 8 pages."""
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    done = run_cli("--db", url, "crawl", "minval", "--offline", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    check_archive(url, "minval")
    (run,) = runs(url)
    want = expected("minval")
    assert run.stats["aggregator/articles_new"] == len(want["articles"]) == 8
    assert run.stats["aggregator/http_errors"] == len(want["http_errors"]) == 1
    assert run.stats["aggregator/feeds"] == 1
    assert "feed/not_a_feed" not in run.stats
