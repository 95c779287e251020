"""Feeds as the source sites really write them -> one entry per article link, text decoded, dates kept as printed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scrapy import Request, Spider
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler

from aggregator.items import ArticleItem
from pipelines.dates import parse_date
from spiders.feeds import (
    FEED_IMAGE_META,
    FEED_PUBLISHED_META,
    FeedEntry,
    FeedError,
    entry_meta,
    feed_entries,
    parse_feed,
    with_announcement,
)

BASE = "https://news.example/rss"


def rss(*items: str, channel: str = "") -> bytes:
    inner = "\n".join(f"<item>{item}</item>" for item in items)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
        f"<channel><title>T</title><link>https://news.example/</link>{channel}{inner}</channel></rss>"
    ).encode()


def test_one_entry_per_link_whatever_the_guids_say() -> None:
    body = rss(
        "<title>A</title><link>https://news.example/a-1</link><guid>same</guid>",
        "<title>B</title><link>https://news.example/b-2</link><guid>same</guid>",  # same guid, other article
        "<title>C</title><link>https://news.example/c-3</link>",  # no guid at all
        "<title>A again</title><link>https://www.news.example/a-1/?utm_source=rss</link><guid>x</guid>",
    )
    parsed = parse_feed(body, BASE)
    assert [e.link for e in parsed.entries] == [
        "https://news.example/a-1",
        "https://news.example/b-2",
        "https://news.example/c-3",
    ]
    assert parsed.entries[0].title == "A"  # the first occurrence wins
    assert parsed.duplicates == 1
    assert feed_entries(body, BASE) == parsed.entries


def test_an_item_without_link_is_skipped_and_counted() -> None:
    body = rss(
        "<title>No link</title><description>x</description>",
        "<title>Guid only</title><guid>https://news.example/guid-only-9</guid>",  # a guid is not a link
        "<title>Kept</title><link>https://news.example/kept-1</link>",
    )
    parsed = parse_feed(body, BASE)
    assert [e.title for e in parsed.entries] == ["Kept"]
    assert parsed.without_link == 2


def test_a_link_no_request_can_be_made_to_is_one_item_skipped_not_the_feed() -> None:
    """A link to "https://news.example:99999/..." raised ValueError out of the parse: the whole feed was lost."""
    body = rss(
        "<title>Bad port</title><link>https://news.example:99999/bad-1</link>",
        "<title>Kept</title><link>https://news.example/kept-2</link>",
    )
    parsed = parse_feed(body, BASE)
    assert [e.title for e in parsed.entries] == ["Kept"] and parsed.without_link == 1


def test_a_links_query_keeps_its_ampersands() -> None:
    """feedparser has decoded the XML's entities: decoding HTML's on top turned "&section=" into "§ion=" (and
    "&region", "&para", "&copy" ... likewise), a wrong address. A CDATA link's "&amp;" is still decoded."""
    body = rss(
        "<title>Q</title><link>https://news.example/a?id=1&amp;section=main&amp;region=az</link>",
        "<title>C</title><link><![CDATA[https://news.example/b?id=2&amp;para=3]]></link>",
    )
    assert [e.link for e in feed_entries(body, BASE)] == [
        "https://news.example/a?id=1&region=az&section=main",
        "https://news.example/b?id=2&para=3",
    ]


def test_relative_links_resolve_against_the_feed_url() -> None:
    body = rss("<title>R</title><link>/ru/news/relative-5</link>")
    assert feed_entries(body, "https://news.example/ru/rss")[0].link == "https://news.example/ru/news/relative-5"


def test_entities_and_cdata_in_titles_and_descriptions() -> None:
    body = rss(
        "<title><![CDATA[ Шахбазов: &laquo;Проект  укрепит\n безопасность&raquo; ]]></title>"
        "<link>https://news.example/1</link>"
        '<description><![CDATA[ <p><img src="https://img.news.example/1.jpg" width="190" /></p>Лид &mdash; '
        "обрезан... ]]></description>",
        "<title>Tom &amp; Jerry &#171;plain&#187;</title><link>https://news.example/2</link>",
        "<title>&lt;b&gt;bold&lt;/b&gt; words</title><link>https://news.example/3</link>",
    )
    first, second, third = feed_entries(body, BASE)
    assert first.title == "Шахбазов: «Проект укрепит безопасность»"
    assert first.summary == "Лид — обрезан..."
    assert first.image_url == "https://img.news.example/1.jpg"  # no enclosure: the description's picture
    assert second.title == "Tom & Jerry «plain»"
    assert third.title == "bold words"


def test_images_from_enclosures_and_media() -> None:
    body = rss(
        '<title>E</title><link>https://news.example/e</link><enclosure url="/i/e.jpg" type="image/jpeg" length="1"/>',
        '<title>M</title><link>https://news.example/m</link><media:content url="https://cdn.news.example/m.webp" '
        'medium="image"/>',
        '<title>A</title><link>https://news.example/a</link><enclosure url="https://news.example/a.mp3" '
        'type="audio/mpeg" length="1"/>',
    )
    enclosure, media, audio = feed_entries(body, BASE)
    assert enclosure.image_url == "https://news.example/i/e.jpg"
    assert media.image_url == "https://cdn.news.example/m.webp"
    assert audio.image_url is None


def test_an_entry_s_date_and_picture_go_with_its_article_s_request() -> None:
    both, picture, neither = feed_entries(
        rss(
            "<title>B</title><link>https://news.example/b</link><pubDate>Mon, 14 Sep 2026 10:00:00 +0400</pubDate>"
            '<enclosure url="/i/b.jpg" type="image/jpeg" length="1"/>',
            '<title>P</title><link>https://news.example/p</link><media:thumbnail url="https://cdn.news.example/p.jpg"/>',
            "<title>N</title><link>https://news.example/n</link>",
        ),
        BASE,
    )
    assert entry_meta(both) == {
        FEED_PUBLISHED_META: "Mon, 14 Sep 2026 10:00:00 +0400",
        FEED_IMAGE_META: "https://news.example/i/b.jpg",
    }
    assert entry_meta(picture) == {FEED_IMAGE_META: "https://cdn.news.example/p.jpg"}
    assert entry_meta(neither) == {}


def test_the_article_s_item_takes_its_entry_s_date_and_picture_after_a_retry_and_a_redirect() -> None:
    """Scrapy copies a request's meta to its retry and to the request a redirect makes: the page the feed entry named
    takes the entry's date and picture however it was reached; a page no feed led to, none."""
    (entry,) = feed_entries(
        rss(
            "<title>B</title><link>https://news.example/b</link><pubDate>Mon, 14 Sep 2026 10:00:00 +0400</pubDate>"
            '<enclosure url="https://news.example/i/b.jpg" type="image/jpeg" length="1"/>'
        ),
        BASE,
    )
    crawler = get_crawler(Spider)
    spider = crawler.spider = Spider.from_crawler(crawler, "news")
    retried = get_retry_request(Request(entry.link, meta=entry_meta(entry)), spider=spider, reason="timeout")
    assert retried is not None
    moved = Response(entry.link, status=301, headers={"Location": "https://news.example/2026/b"}, request=retried)
    redirected = RedirectMiddleware.from_crawler(crawler).process_response(retried, moved)
    assert isinstance(redirected, Request) and redirected.url == "https://news.example/2026/b"
    page = HtmlResponse(redirected.url, body=b"<html></html>", encoding="utf-8", request=redirected)
    item = with_announcement(ArticleItem(source="news", url=page.url), page)
    assert (item.published_feed, item.cover_feed) == ("Mon, 14 Sep 2026 10:00:00 +0400", "https://news.example/i/b.jpg")
    listed = HtmlResponse(page.url, body=b"<html></html>", encoding="utf-8", request=Request(page.url))
    item = with_announcement(
        ArticleItem(source="news", url=page.url, cover_image_url="https://news.example/o.jpg"), listed
    )
    assert (item.published_feed, item.cover_feed, item.cover_image_url) == (None, None, "https://news.example/o.jpg")


@pytest.mark.parametrize(
    ("printed", "instant"),
    [
        ("Tue, 15 Sep 2026 01:52:20 +0400", datetime(2026, 9, 14, 21, 52, 20, tzinfo=UTC)),
        ("Mon, 14 Sep 2026 00:41:31 +04", datetime(2026, 9, 13, 20, 41, 31, tzinfo=UTC)),
        ("14 Sep 2026 10:00:00 GMT", datetime(2026, 9, 14, 10, 0, tzinfo=UTC)),
    ],
)
def test_rfc822_dates_survive_as_printed_and_parse(printed: str, instant: datetime) -> None:
    entry = feed_entries(rss(f"<title>D</title><link>https://news.example/d</link><pubDate>{printed}</pubDate>"), BASE)
    assert entry[0].published_raw == printed
    now = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
    assert parse_date(entry[0].published_raw, timezone="Asia/Baku", now=now) == instant


def test_atom() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://news.example/">
  <title>Atom</title><id>urn:x</id><updated>2026-09-14T10:00:00+04:00</updated>
  <entry>
    <title type="html">Atom &amp;laquo;title&amp;raquo;</title>
    <link rel="alternate" href="/atom/entry-1"/>
    <link rel="enclosure" type="image/png" href="https://news.example/p.png"/>
    <id>urn:1</id>
    <published>2026-09-14T10:00:00+04:00</published>
    <summary type="html">&lt;p&gt;Short &amp;amp; sweet&lt;/p&gt;</summary>
  </entry>
  <entry><title>No link</title><id>urn:2</id><updated>2026-09-14T10:00:00+04:00</updated></entry>
</feed>"""
    parsed = parse_feed(body, "https://news.example/atom.xml")
    assert parsed.entries == [
        FeedEntry(
            link="https://news.example/atom/entry-1",
            title="Atom «title»",
            summary="Short & sweet",
            published_raw="2026-09-14T10:00:00+04:00",
            image_url="https://news.example/p.png",
        )
    ]
    assert parsed.without_link == 1


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><head><title>Home</title></head><body><a href='/rss'>RSS</a></body></html>",
        b"\xef\xbb\xbf  <html lang='ru'><body>503</body></html>",
        b"Service temporarily unavailable",
    ],
)
def test_a_body_that_is_not_a_feed_is_an_error(body: bytes) -> None:
    with pytest.raises(FeedError, match="not a feed"):
        feed_entries(body, BASE)


def test_an_html_page_says_so() -> None:
    with pytest.raises(FeedError, match="HTML page"):
        feed_entries(b"<!doctype html><html><body>home</body></html>", BASE)


def test_an_empty_feed_is_no_error() -> None:
    assert feed_entries(rss(), BASE) == []


def test_the_servers_charset_reads_a_feed_whose_declaration_names_none() -> None:
    """A windows-1251 feed with a bare ``<?xml version="1.0"?>``: read as UTF-8, its Cyrillic link went to an
    address that answers 404 and its title was mojibake."""
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Лента</title><link>https://news.example/</link>'
        "<item><title>Дрон ударил</title><link>https://news.example/news/дрон-ударил-9</link></item></channel></rss>"
    ).encode("windows-1251")
    (entry,) = feed_entries(body, BASE, "application/rss+xml; charset=windows-1251")
    assert entry.title == "Дрон ударил"
    assert entry.link == "https://news.example/news/%D0%B4%D1%80%D0%BE%D0%BD-%D1%83%D0%B4%D0%B0%D1%80%D0%B8%D0%BB-9"


def test_a_gzip_file_served_as_it_is_is_read() -> None:
    """``feed.xml.gz`` without Content-Encoding: the generic spider knew it for a feed, then refused it."""
    import gzip

    body = rss("<title>Z</title><link>https://news.example/z-1</link>")
    assert [e.link for e in feed_entries(gzip.compress(body), BASE)] == ["https://news.example/z-1"]
    with pytest.raises(FeedError, match="not a feed"):
        feed_entries(b"\x1f\x8b" + b"broken", BASE)
