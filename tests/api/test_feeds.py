"""RSS 2.0 feeds, read back with feedparser: well-formed (no bozo flag), newest first, linking to the pages."""

from __future__ import annotations

from datetime import UTC, datetime

import feedparser
import pytest
from fastapi.testclient import TestClient

from aggregator.api import create_app
from tests.api.conftest import item, save


def parse(client: TestClient, path: str):
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/rss+xml")
    feed = feedparser.parse(answer.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "rss20"
    return feed


def test_all_feed_lists_the_latest_articles(client: TestClient) -> None:
    feed = parse(client, "/feeds/all.rss")
    latest = client.get("/api/articles", params={"limit": 50}).json()["items"]
    assert [e.title for e in feed.entries] == [i["title"] for i in latest]
    first = feed.entries[0]
    assert first.link == f"http://testserver/news/{latest[0]['id']}"
    assert first.id == first.link
    assert "Icma.az" in first.summary and latest[0]["url"] in first.summary  # attribution line and source link
    dated = next(e for e, i in zip(feed.entries, latest, strict=True) if i["published_at"])
    assert dated.published_parsed is not None
    assert feed.feed.title == "Icma.az"
    assert any(link.get("rel") == "self" for link in feed.feed.links)


def test_source_feed_and_unknown_source(client: TestClient) -> None:
    feed = parse(client, "/feeds/caliber.rss")
    assert feed.feed.title == "Icma.az: Caliber.az"
    caliber = client.get("/api/articles", params={"limit": 100, "source": "caliber"}).json()["items"]
    assert [e.title for e in feed.entries] == [i["title"] for i in caliber[:50]]
    missing = client.get("/feeds/nope.rss")
    assert missing.status_code == 404 and missing.json() == {"detail": "no source 'nope' in the archive"}


def test_feed_survives_characters_xml_cannot_hold(sqlite_url: str) -> None:
    title = "Заголовок\x0b с управляющим символом & <тегом>"
    save(sqlite_url, [item("control", published=datetime(2026, 11, 1, tzinfo=UTC), title=title)])
    with TestClient(create_app(sqlite_url)) as client:
        feed = parse(client, "/feeds/all.rss")
    assert feed.entries[0].title == "Заголовок с управляющим символом & <тегом>"


def test_empty_archive_gives_an_empty_valid_feed(sqlite_url: str) -> None:
    save(sqlite_url, [])
    with TestClient(create_app(sqlite_url)) as client:
        assert parse(client, "/feeds/all.rss").entries == []
        assert parse(client, "/feeds/caliber.rss").entries == []


def test_a_feed_says_its_language_where_it_has_one(client: TestClient) -> None:
    """Feed readers and aggregators file a feed by its language (RSS 2.0's ``<language>``), and the site's editions are
    per language; no feed said one. A feed of several languages names none for the channel (it would be wrong for
    most items) and each item its own (``dc:language``)."""
    mixed = parse(client, "/feeds/all.rss")
    assert "language" not in mixed.feed
    latest = client.get("/api/articles", params={"limit": 50}).json()["items"]
    assert {i["language"] for i in latest} >= {"ru", "az"}  # the sample is mixed
    assert [e.get("language") for e in mixed.entries] == [i["language"] for i in latest]
    # A source that writes in one language (the registry's haqqin: Russian): its feed is in it; caliber writes in three.
    assert parse(client, "/feeds/haqqin.rss").feed.language == "ru"
    assert "language" not in parse(client, "/feeds/caliber.rss").feed


@pytest.mark.parametrize("language", ["az", "ru", "en"])
def test_an_editions_feed(client: TestClient, language: str) -> None:
    feed = parse(client, f"/feeds/all.rss?language={language}")
    assert feed.feed.language == language and feed.feed.title == f"Icma.az ({language})"
    assert feed.feed.link == f"http://testserver/?language={language}"  # the edition's front page
    assert [link.href for link in feed.feed.links if link.get("rel") == "self"] == [
        f"http://testserver/feeds/all.rss?language={language}"
    ]
    edition = client.get("/api/articles", params={"limit": 50, "language": language}).json()["items"]
    assert [e.title for e in feed.entries] == [i["title"] for i in edition] and edition
    assert {e.language for e in feed.entries} == {language}
    # One source's articles of one edition: caliber writes in three languages, this feed in one.
    caliber = parse(client, f"/feeds/caliber.rss?language={language}")
    assert caliber.feed.language == language and caliber.feed.title == f"Icma.az: Caliber.az ({language})"
    assert {e.language for e in caliber.entries} <= {language}


def test_an_edition_the_site_has_not_is_a_422(client: TestClient) -> None:
    for path in ("/feeds/all.rss", "/feeds/caliber.rss"):
        answer = client.get(path, params={"language": "tr"})
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "language"], path
