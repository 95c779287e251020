"""The feed-driven sources (haqqin, apa): the traps of their bundled feeds, read directly and through real crawls; and
the feed entries' dates, which date the pages that print none (theirs and the generic spider's, minval's)."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aggregator.health import PREFIX
from aggregator.mirror import serve_mirror
from aggregator.reextract import reextract
from aggregator.sources import get_source
from aggregator.store import Archive
from aggregator.store.models import Article, Reject
from pipelines.dates import parse_date
from spiders.feeds import parse_feed
from tests.conftest import SAMPLE, run_cli
from tests.crawl_checks import check_archive, expected, runs, session

FEEDS = {
    "haqqin": [("https://haqqin.az/rss_ru.xml", SAMPLE / "haqqin.az" / "rss_ru.xml")],
    "apa": [
        ("https://apa.az/rss", SAMPLE / "apa.az" / "rss"),
        ("https://apa.az/ru/rss", SAMPLE / "apa.az" / "ru" / "rss"),
    ],
}
STORIES = Path(__file__).resolve().parent / "fixtures" / "stories"
NOW = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)


def test_the_registry_starts_each_feed_source_at_its_bundled_feeds() -> None:
    for key, feeds in FEEDS.items():
        assert get_source(key).entry_urls == tuple(url for url, _ in feeds)
        for _, path in feeds:
            assert path.is_file()


def test_haqqin_feed_traps() -> None:
    parsed = parse_feed((SAMPLE / "haqqin.az" / "rss_ru.xml").read_bytes(), "https://haqqin.az/rss_ru.xml")
    links = [e.link for e in parsed.entries]
    assert len(links) == len(set(links))
    assert parsed.duplicates == 1  # the same article again with ?utm_source=rss on its link
    assert links.count("https://haqqin.az/newsarchive/393110") == 1
    assert parsed.without_link == 1
    by_link = {e.link: e for e in parsed.entries}
    express = by_link["https://haqqin.az/newsarchive/393102"]
    assert express.title == "«Экспресс» до Сумгайыта: новый автобусный маршрут свяжет два города"  # &laquo; in CDATA
    assert express.image_url and express.image_url.startswith("https://i.haqqin.az/")
    assert express.summary and "<" not in express.summary and "&" not in express.summary
    assert express.published_raw == "Mon, 14 Sep 2026 10:30:00 +0400"
    assert parse_date(express.published_raw, timezone="Asia/Baku", now=NOW) == datetime(2026, 9, 14, 6, 30, tzinfo=UTC)


def test_apa_feed_traps() -> None:
    az = parse_feed((SAMPLE / "apa.az" / "rss").read_bytes(), "https://apa.az/rss")
    raw = (SAMPLE / "apa.az" / "rss").read_text(encoding="utf-8")
    guids = re.findall(r"<guid[^>]*>(.*?)</guid>", raw)
    assert len(guids) > 1 and len(set(guids)) == 1  # one guid for many items ...
    assert raw.count("<item>") > len(guids)  # ... and items with none
    assert len(az.entries) == 7 and az.duplicates == 0  # none of them collapses: items are keyed on links
    assert az.without_link == 1
    assert all(e.image_url and e.image_url.startswith("https://apa.az/storage/") for e in az.entries[1:])  # enclosures
    for entry in az.entries:
        assert entry.published_raw and entry.published_raw.endswith(" +04")
        at = parse_date(entry.published_raw, timezone="Asia/Baku", now=NOW)
        assert at is not None and at.tzinfo is UTC
    ru = parse_feed((SAMPLE / "apa.az" / "ru" / "rss").read_bytes(), "https://apa.az/ru/rss")
    assert any(not get_source("apa").owns(e.link) for e in ru.entries)  # an APA TV video: not followed


def test_story_labels_name_sample_articles() -> None:
    articles = {a["url"] for a in expected()["articles"]}
    for key in FEEDS:
        labels = json.loads((STORIES / f"{key}.json").read_text(encoding="utf-8"))
        assert sorted(v for v in labels.values() if v) == ["baku-rain", "demining-conference", "gas-igdir"]
        assert list(labels.values()).count(None) == 1  # one look-alike
        assert set(labels) <= articles


@pytest.fixture(scope="module")
def feed_crawl(tmp_path_factory: pytest.TempPathFactory) -> str:
    where = tmp_path_factory.mktemp("feeds")
    url = f"sqlite:///{where / 'archive.db'}"
    done = run_cli("--db", url, "crawl", "haqqin", "apa", "--offline", cwd=where)
    assert done.returncode == 0, done.stderr[-3000:]
    return url


def test_feed_crawl_archives_each_linked_article_once(feed_crawl: str) -> None:
    check_archive(feed_crawl, "haqqin", "apa")
    recorded = {r.source: r.stats for r in runs(feed_crawl)}
    assert recorded["haqqin"]["feed/duplicate_links"] == 1
    assert recorded["haqqin"]["feed/entries_without_link"] == 1
    assert recorded["apa"]["feed/entries_without_link"] == 1
    assert recorded["apa"]["feed/links_not_followed"] == 1
    assert "feed/not_a_feed" not in recorded["haqqin"] and "feed/not_a_feed" not in recorded["apa"]
    with session(feed_crawl) as s:
        urls = list(s.scalars(select(Article.url)))
    assert len(urls) == len(set(urls)) == len(expected("haqqin", "apa")["articles"])


def test_a_feed_that_is_an_html_page_fails_the_source_not_the_crawl(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    shutil.copytree(SAMPLE / "haqqin.az", root / "haqqin.az")
    shutil.copytree(SAMPLE / "apa.az", root / "apa.az")
    # The CMS answers the feed URL with its home page.
    (root / "haqqin.az" / "rss_ru.xml").write_text(
        "<!DOCTYPE html>\n<html lang='ru'><head><title>Haqqin.az</title></head><body>"
        "<a class='news-list__item news-item' href='/newsarchive/393110'>Газопровод</a></body></html>\n",
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_mirror(root) as base:
        done = run_cli("--db", url, "crawl", "haqqin", "apa", "--mirror", base, cwd=tmp_path)
    assert done.returncode == 1  # the broken source is a failure of the run ...
    assert "Traceback" not in done.stderr
    assert "haqqin: 1 feed URL(s) answered with something not a feed" in done.stderr
    recorded = {r.source: r for r in runs(url)}
    assert recorded["haqqin"].status == "finished"
    assert recorded["haqqin"].stats["feed/not_a_feed"] == 1
    assert not any(k.startswith("spider_exceptions") for k in recorded["haqqin"].stats)
    with session(url) as s:
        rejects = list(s.scalars(select(Reject).where(Reject.source == "haqqin")))
        sources = set(s.scalars(select(Article.source)))
    assert [(r.url, r.stage, r.reason) for r in rejects] == [
        ("https://haqqin.az/rss_ru.xml", "fetch", "feed unusable: not a feed: the body is an HTML page")
    ]
    assert sources == {"apa"}  # ... and the other source is archived all the same


def test_a_feed_source_that_found_nothing_is_said_to_have_found_nothing_in_its_feeds(tmp_path: Path) -> None:
    # "no article found on the listings": haqqin has no listings, its way in is its feed.
    root = tmp_path / "mirror"
    shutil.copytree(SAMPLE / "haqqin.az", root / "haqqin.az")
    (root / "haqqin.az" / "rss_ru.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Haqqin.az</title>'
        "<link>https://haqqin.az/</link><description>Новости</description></channel></rss>\n",
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_mirror(root) as base:
        done = run_cli("--db", url, "crawl", "haqqin", "--mirror", base, cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "haqqin: unhealthy: no article found in the feeds" in done.stderr.splitlines(), done.stderr[-3000:]
    [run] = runs(url)
    assert run.health is not None and run.health["problems"] == ["no article found in the feeds"]


def test_a_feed_that_answers_404_fails_the_source_and_withdraws_nothing(tmp_path: Path) -> None:
    """apa's Azerbaijani feed gone (404): half the source was no longer seen, and the run was green and exit 0 (an
    HTML page in its place failed it); the summary also called the feed "an archived article not withdrawn"."""
    root = tmp_path / "mirror"
    shutil.copytree(SAMPLE / "apa.az", root / "apa.az")
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_mirror(root) as base:
        first = run_cli("--db", url, "crawl", "apa", "--mirror", base, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    (root / "apa.az" / "rss").unlink()  # the mirror answers 404 for it now
    with serve_mirror(root) as base:
        done = run_cli("--db", url, "crawl", "apa", "--mirror", base, cwd=tmp_path)
    assert done.returncode == 1
    assert "apa: 1 way(s) in to the site (listing, feed or sitemap) could not be fetched" in done.stderr
    assert "not withdrawn" not in done.stderr
    with session(url) as s:
        rejects = [(r.url, r.reason) for r in s.scalars(select(Reject).where(Reject.stage == "fetch"))]
        withdrawn = s.scalar(select(func.count()).select_from(Article).where(Article.withdrawn_at.is_not(None)))
    assert ("https://apa.az/rss", "HTTP 404") in rejects
    assert withdrawn == 0


# The article pages made to print no date (a redesign moved the date line, a page that never had one), what each
# printed, and the instant of its feed entry's pubDate.
UNDATED = {
    "haqqin": (
        "haqqin.az/newsarchive/393102.html",
        '<span class="article__date">14.09.2026 10:30</span>',
        datetime(2026, 9, 14, 6, 30, tzinfo=UTC),  # "Mon, 14 Sep 2026 10:30:00 +0400"
    ),
    "apa": (
        "apa.az/ru/obshestvo/v-naftalane-otkrylsya-novyj-sanatorij-813136.html",
        '<span class="date">13 сентября 2026 18:40 (UTC +04:00)</span>',
        datetime(2026, 9, 13, 14, 40, tzinfo=UTC),  # "Sun, 13 Sep 2026 18:40:00 +04"
    ),
    "minval": (
        "minval.az/news/124006.html",
        '<span class="news-date">21 ноября 2026, 09:15</span>',
        datetime(2026, 11, 21, 5, 15, tzinfo=UTC),  # "Sat, 21 Nov 2026 09:15:00 +04"
    ),
}


def test_a_page_that_prints_no_date_is_dated_by_its_feed_entry(tmp_path: Path) -> None:
    """A page that prints no date was archived undated, though the feed entry that named it said when. The entry's
    date goes with the request and dates the article, after the page's own metadata and text (counted as
    ``dates_from_feed``); the health coverage still sees the page without its date; a re-extraction, which has no
    feed, keeps the date; a refused page's record keeps the entry's date for its retry."""
    root = tmp_path / "mirror"
    for site in ("haqqin.az", "apa.az", "minval.az"):
        shutil.copytree(SAMPLE / site, root / site)
    for path, printed, _ in UNDATED.values():
        page = root / path
        html = page.read_text(encoding="utf-8")
        assert printed in html
        page.write_text(html.replace(printed, ""), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_mirror(root) as base:
        done = run_cli("--db", url, "crawl", "haqqin", "apa", "minval", "--mirror", base, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    recorded = {r.source: r.stats for r in runs(url)}
    with session(url) as s:
        articles = {a.url: a for a in s.scalars(select(Article))}
        refused = s.scalars(select(Reject).where(Reject.url == "https://haqqin.az/newsarchive/393141")).one()
    for source, (path, _, instant) in UNDATED.items():
        article = articles["https://" + path.removesuffix(".html")]
        assert (article.published_raw, article.published_at) == (None, instant), source
        stats = recorded[source]
        assert stats["aggregator/dates_from_feed"] == 1, source
        assert "aggregator/dates_unparsed" not in stats and "aggregator/dates_missing" not in stats, source
        assert stats[PREFIX + "date"] == stats[PREFIX + "extracted"] - 1, source  # the page lacks its date
    dated = {a.url: a.published_at for a in articles.values()}
    assert None not in dated.values()
    assert refused.reason == "no title" and refused.item["published_feed"] == "Mon, 14 Sep 2026 20:40:00 +0400"

    archive = Archive.open(url)
    try:
        result = reextract(archive)
    finally:
        archive.close()
    assert result.seen == len(articles) and result.changed == 0 and not result.refused
    with session(url) as s:
        assert {a.url: a.published_at for a in s.scalars(select(Article))} == dated
