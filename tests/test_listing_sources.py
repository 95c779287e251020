"""report.az and trend.az: registry entries, which links the spiders follow, the trend dateline, the story labels."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from scrapy.http import HtmlResponse, Request

from aggregator.sources import get_source, source_for_url
from pipelines.dates import parse_date
from spiders.report import ReportSpider
from spiders.trend import DATELINE, TrendArticle, TrendSpider
from tests.conftest import ROOT
from tests.crawl_checks import expected

STORIES = ROOT / "tests" / "fixtures" / "stories"
STORY_KEYS = {"gas-igdir", "demining-conference", "baku-rain"}


@pytest.mark.parametrize(
    ("key", "languages", "owned"),
    [
        ("report", ("az", "ru"), "https://static.report.az/photo/x.jpg"),
        ("trend", ("ru", "az", "en"), "https://en.trend.az/business/energy/4101720.html"),
    ],
)
def test_registry_entries(key: str, languages: tuple[str, ...], owned: str) -> None:
    source = get_source(key)
    assert source.languages == languages
    assert source.timezone == "Asia/Baku"
    assert source.boilerplate and all(source.owns(url) for url in source.entry_urls)
    assert source_for_url(owned) is source


def _listing(spider_cls: type, url: str, links: list[str]) -> list[str]:
    spider = spider_cls()
    cards = {
        ReportSpider: '<div class="index-post-block">{}</div>'.format(
            "".join(f'<a class="news__item" href="{h}">x</a>' for h in links)
        ),
        TrendSpider: '<ul class="news-list with-images">{}</ul>'.format(
            "".join(f'<li><a href="{h}">x</a></li>' for h in links)
        ),
    }[spider_cls]
    response = HtmlResponse(url=url, body=f"<html><body>{cards}</body></html>".encode(), encoding="utf-8")
    return [r.url for r in spider.parse(response) if isinstance(r, Request)]


def test_report_follows_articles_of_both_editions_only() -> None:
    followed = _listing(
        ReportSpider,
        "https://report.az/ru/",
        [
            "/ru/energetika/azerbajdzhan-i-bolgariya-obsudili/",
            "/energetika/azerbaycan-qaz-ixracini-artirib/",
            "/ru/energetika/",  # a listing, not an article
            "/energetika/",
            "https://example.org/ru/energetika/x/",  # another site
            "/ru/energetika/azerbajdzhan-i-bolgariya-obsudili/",  # the same card twice
        ],
    )
    assert followed == [
        "https://report.az/ru/energetika/azerbajdzhan-i-bolgariya-obsudili/",
        "https://report.az/energetika/azerbaycan-qaz-ixracini-artirib/",
    ]


def test_trend_follows_articles_of_every_edition_only() -> None:
    followed = _listing(
        TrendSpider,
        "https://www.trend.az/",
        [
            "/business/energy/4101207.html",
            "https://en.trend.az/world/central-asia/4102120.html",
            "/business/",
            "https://www.example.com/4100000.html",
        ],
    )
    assert followed == [
        "https://www.trend.az/business/energy/4101207.html",
        "https://en.trend.az/world/central-asia/4102120.html",
    ]


@pytest.mark.parametrize(
    ("paragraph", "rest"),
    [
        ("Bakı. Trend: Abşeronda yeni stansiya tikilir.", "Abşeronda yeni stansiya tikilir."),
        ("Баку. Trend: Доходы бюджета выросли.", "Доходы бюджета выросли."),
        ("<strong>Баку. Trend:</strong> Доходы бюджета выросли.", "Доходы бюджета выросли."),
        ("<strong>Bakı. Trend:</strong>", ""),
        ("Баку.&nbsp;Trend: Текст.", "Текст."),
        ("BAKU, Azerbaijan, November 5. Trend: The delegation met.", "The delegation met."),
        # prose that mentions the agency is left alone
        ("Как сообщает Trend, доходы выросли.", "Как сообщает Trend, доходы выросли."),
        ("The Trend: data series for 2026 shows growth.", "The Trend: data series for 2026 shows growth."),
    ],
)
def test_the_dateline_is_cut_from_the_first_paragraph(paragraph: str, rest: str) -> None:
    assert DATELINE.sub("", paragraph, count=1) == rest


def test_only_the_first_paragraph_loses_a_dateline() -> None:
    page = (
        '<html><body><div class="article-page"><h1 class="article-title">T</h1>'
        '<div class="article-content article-paddings"><p><strong>Bakı. Trend:</strong></p><p>Birinci.</p>'
        "<p>Bakı. Trend: ikinci abzasda qalır.</p></div></div></body></html>"
    )
    url = "https://az.trend.az/azerbaijan/society/1.html"
    item = TrendArticle(HtmlResponse(url=url, body=page.encode(), encoding="utf-8")).to_item()
    assert item.language == "az"
    assert item.body_text == "Birinci.\n\nBakı. Trend: ikinci abzasda qalır."


@pytest.mark.parametrize(
    ("text", "fetched", "expected"),
    [
        # report.az: date and time in two elements, joined by the extractor
        ("16 noyabr, 2025 14:00", "2026-11-25T10:00:00+00:00", "2025-11-16T10:00:00+00:00"),
        ("12 марта, 2026 • 10:13", "2026-11-25T10:00:00+00:00", "2026-03-12T06:13:00+00:00"),
        # report.az before the 2026 redesign: one element
        ("22 dekabr 2025, 16:40", "2026-11-25T10:00:00+00:00", "2025-12-22T12:40:00+00:00"),
        # trend.az: no year; the latest such date not after the fetch
        ("15 Noyabr 10:31 (UTC+04)", "2026-11-25T10:00:00+00:00", "2026-11-15T06:31:00+00:00"),
        ("15 Noyabr 10:31 (UTC+04)", "2026-11-10T10:00:00+00:00", "2025-11-15T06:31:00+00:00"),
        ("28 декабря 16:40 (UTC+04)", "2027-01-03T09:00:00+00:00", "2026-12-28T12:40:00+00:00"),
        ("14 September 19:05 (UTC+04)", "2026-09-14T15:30:00+00:00", "2026-09-14T15:05:00+00:00"),
    ],
)
def test_dates_these_sites_print(text: str, fetched: str, expected: str) -> None:
    now = datetime.fromisoformat(fetched)
    got = parse_date(text, timezone="Asia/Baku", now=now, languages=("az", "ru", "en"))
    assert got == datetime.fromisoformat(expected)
    assert got is not None and got <= now.astimezone(UTC)


@pytest.mark.parametrize("source", ["report", "trend"])
def test_every_sample_article_is_labelled_with_its_story(source: str) -> None:
    labels = json.loads((STORIES / f"{source}.json").read_text(encoding="utf-8"))
    articles = {a["url"] for a in expected(source)["articles"]}
    assert set(labels) == articles
    told = [key for key in labels.values() if key is not None]
    assert sorted(told) == sorted(STORY_KEYS)  # each shared story once, everything else a look-alike or unrelated
    assert set(labels.values()) <= STORY_KEYS | {None}


def test_an_agency_naming_itself_is_no_citation() -> None:
    from aggregator.items import ArticleItem
    from pipelines.attribution import AttributionPipeline

    text = (
        "Азербайджан и Турция подписали соглашение, передает Report. Как сообщает Trend, работы завершат в 2027 году."
    )
    cited = [
        AttributionPipeline()
        .process_item(ArticleItem(source=key, url=get_source(key).homepage, language="ru", body_text=text))
        .cited_outlets
        for key in ("report", "trend", "caliber")
    ]
    assert cited == [["Trend.az"], ["Report.az"], ["Report.az", "Trend.az"]]
