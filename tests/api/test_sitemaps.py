"""Sitemaps and robots.txt for search engines: the index, the id-range files, Google News' sitemap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import lxml.etree
import pytest
from fastapi.testclient import TestClient

from aggregator.api import create_app, sitemaps
from aggregator.store import Archive
from tests.api.conftest import item, save

NS = {"s": sitemaps.SITEMAP, "news": sitemaps.NEWS}


def xml(answer) -> lxml.etree._Element:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/xml"
    return lxml.etree.fromstring(answer.content)


def locations(root) -> list[str]:
    return root.xpath("//s:loc/text()", namespaces=NS)


@pytest.fixture
def archive_url(db_url: str) -> str:
    """On SQLite and PostgreSQL, five articles: two published within the last two days, two older, one undated;
    the third withdrawn."""
    now = datetime.now(UTC)
    published = [
        now - timedelta(hours=1),
        now - timedelta(hours=30),
        None,
        now - timedelta(days=3),
        now - timedelta(days=400),
    ]
    titles = ['Мост "открыт" <b>&', "Xəbər", "Без даты", "Старое", "Очень старое"]
    languages = ["ru", "az", "ru", "en", "ru"]
    items = [
        item(f"map-{n}", published=when, title=title, language=language)
        for n, (when, title, language) in enumerate(zip(published, titles, languages, strict=True))
    ]
    ids = save(db_url, items)
    assert ids == [1, 2, 3, 4, 5]
    archive = Archive.open(db_url)
    archive.withdraw([3], "test")
    archive.close()
    return db_url


def test_robots_txt_names_the_sitemap_index(archive_url: str) -> None:
    with TestClient(create_app(archive_url)) as client:
        robots = client.get("/robots.txt")
    assert robots.status_code == 200 and robots.headers["content-type"] == "text/plain; charset=utf-8"
    lines = robots.text.splitlines()
    assert "Sitemap: http://testserver/sitemap.xml" in lines
    assert {"Disallow: /api/", "Disallow: /search"} <= set(lines)


def test_the_sites_public_address_names_it_whatever_host_a_client_sends(
    archive_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Absolute links are made from the request: a client sending ``Host: evil.example`` got evil.example into
    robots.txt, sitemaps, feeds and the pages' canonical links, which a cache in front of the site may keep and
    serve to all. With ``AGGREGATOR_PUBLIC_URL`` they name the site's own address."""
    evil = {"Host": "evil.example"}
    with TestClient(create_app(archive_url)) as client:  # unset: the request's own address, as before
        assert "Sitemap: http://evil.example/sitemap.xml" in client.get("/robots.txt", headers=evil).text
    monkeypatch.setenv("AGGREGATOR_PUBLIC_URL", "https://icma.az/")
    with TestClient(create_app(archive_url)) as client:
        assert "Sitemap: https://icma.az/sitemap.xml" in client.get("/robots.txt", headers=evil).text
        page = client.get("/news/1", headers=evil).text
        feed = client.get("/feeds/all.rss", headers=evil).text
        index = client.get("/sitemap.xml", headers=evil).text
    assert '<link rel="canonical" href="https://icma.az/news/1">' in page
    for text in (page, feed, index):
        assert "evil.example" not in text and "https://icma.az/" in text


def test_the_index_names_the_news_sitemap_and_a_file_per_chunk_of_ids(
    archive_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sitemaps, "CHUNK", 2)  # five ids: three files
    with TestClient(create_app(archive_url)) as client:
        index = xml(client.get("/sitemap.xml"))
        assert index.tag == f"{{{sitemaps.SITEMAP}}}sitemapindex"
        files = locations(index)
        assert files == [
            "http://testserver/sitemap-news.xml",
            "http://testserver/sitemaps/0.xml",
            "http://testserver/sitemaps/1.xml",
            "http://testserver/sitemaps/2.xml",
        ]
        pages = [locations(xml(client.get(f.removeprefix("http://testserver")))) for f in files[1:]]
        # Every shown article once, in its id's file; the withdrawn one (3) in none.
        assert pages == [
            ["http://testserver/news/1", "http://testserver/news/2"],
            ["http://testserver/news/4"],
            ["http://testserver/news/5"],
        ]
        beyond = client.get("/sitemaps/3.xml")
        assert beyond.status_code == 404 and "no sitemap 3" in beyond.json()["detail"]
        assert client.get("/sitemaps/-1.xml").status_code == 422
        assert client.get("/sitemaps/x.xml").status_code == 422
        # An unchanged file answers its ETag with a 304.
        first = client.get("/sitemaps/0.xml")
        again = client.get("/sitemaps/0.xml", headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304


def test_each_page_carries_when_its_copy_last_changed(archive_url: str) -> None:
    with TestClient(create_app(archive_url)) as client:
        root = xml(client.get("/sitemaps/0.xml"))
        detail = client.get("/api/articles/4").json()
    (url,) = [u for u in root.xpath("//s:url", namespaces=NS) if u.findtext("s:loc", namespaces=NS).endswith("/4")]
    assert url.findtext("s:lastmod", namespaces=NS) == detail["updated_at"]


def test_the_news_sitemap_holds_the_last_two_days(archive_url: str) -> None:
    with TestClient(create_app(archive_url, site_name="Icma.az")) as client:
        root = xml(client.get("/sitemap-news.xml"))
        recent = client.get("/api/articles", params={"limit": 10}).json()["items"]
    assert locations(root) == ["http://testserver/news/1", "http://testserver/news/2"]  # newest first
    first = root.xpath("//s:url", namespaces=NS)[0]
    assert first.xpath("news:news/news:publication/news:name/text()", namespaces=NS) == ["Icma.az"]
    assert first.xpath("news:news/news:publication/news:language/text()", namespaces=NS) == ["ru"]
    assert first.xpath("news:news/news:title/text()", namespaces=NS) == ['Мост "открыт" <b>&']  # escaped, read whole
    published = {i["id"]: i["published_at"] for i in recent}
    assert first.xpath("news:news/news:publication_date/text()", namespaces=NS) == [published[1]]
    second = root.xpath("//s:url", namespaces=NS)[1]
    assert second.xpath("news:news/news:publication/news:language/text()", namespaces=NS) == ["az"]


def test_an_empty_archive_has_an_index_with_the_news_sitemap_alone(sqlite_url: str) -> None:
    save(sqlite_url, [])
    with TestClient(create_app(sqlite_url)) as client:
        assert locations(xml(client.get("/sitemap.xml"))) == ["http://testserver/sitemap-news.xml"]
        assert locations(xml(client.get("/sitemap-news.xml"))) == []
        assert client.get("/sitemaps/0.xml").status_code == 404
