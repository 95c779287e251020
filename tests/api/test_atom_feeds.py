"""Atom 1.0 feeds beside the RSS ones: the same entries under the same filters, read back with feedparser (no bozo
flag) and checked for the elements RFC 4287 requires of a feed and of its entries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import feedparser
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from aggregator.api import create_app
from aggregator.sources import get_source
from tests.api.conftest import item, save

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def fetch(client: TestClient, path: str) -> bytes:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/atom+xml; charset=utf-8", path
    return answer.content


def read(body: bytes) -> Any:
    """The feed as feedparser reads it: well-formed (no bozo flag), and taken for Atom 1.0."""
    feed = feedparser.parse(body)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def instant(element: etree._Element) -> datetime:
    """An Atom date (RFC 3339, with its zone): ``fromisoformat`` refuses one without a time or a zone."""
    assert element.text is not None and element.text.endswith("Z"), element.text
    return datetime.fromisoformat(element.text)


def one(parent: etree._Element, tag: str) -> etree._Element:
    found = parent.findall(f"{ATOM}{tag}")
    assert len(found) == 1, (tag, len(found))
    return found[0]


def required_elements(body: bytes) -> etree._Element:
    """The feed's root, once every element RFC 4287 requires is there: the feed's one id, title and updated, an author
    (its own or every entry's), and its self link; each entry's one id, title and updated, an author, an alternate
    link; ids absolute and distinct."""
    root = etree.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated"):
        one(root, tag)
    instant(one(root, "updated"))
    assert one(root, "id").text.startswith("http://testserver/feeds/")
    rels = [link.get("rel") for link in root.findall(f"{ATOM}link")]
    assert sorted(rels) == ["alternate", "self"]
    feed_author = root.findall(f"{ATOM}author")
    ids = []
    for entry in root.findall(f"{ATOM}entry"):
        for tag in ("id", "title", "updated", "summary", "content"):
            one(entry, tag)
        instant(one(entry, "updated"))
        assert feed_author or entry.findall(f"{ATOM}author")
        for author in entry.findall(f"{ATOM}author"):
            assert one(author, "name").text
        assert [link.get("href") for link in entry.findall(f"{ATOM}link") if link.get("rel") == "alternate"] == [
            one(entry, "id").text
        ]
        ids.append(one(entry, "id").text)
    assert all(i and i.startswith("http://testserver/news/") for i in ids) and len(set(ids)) == len(ids)
    return root


@pytest.mark.parametrize("edition", [None, "az", "en", "ru"])
def test_the_atom_feeds_hold_the_rss_feeds_entries(client: TestClient, edition: str | None) -> None:
    """Every feed (all sources', one source's, of one edition or none) in Atom: the same articles in the same order
    as its RSS twin, each the same page."""
    query = f"?language={edition}" if edition else ""
    for name in ("all", "caliber", "haqqin", "apa"):
        rss = feedparser.parse(client.get(f"/feeds/{name}.rss{query}").content)
        body = fetch(client, f"/feeds/{name}.atom{query}")
        atom = read(body)
        required_elements(body)
        assert [(e.id, e.title, e.link) for e in atom.entries] == [(e.id, e.title, e.link) for e in rss.entries]
        assert atom.feed.title == rss.feed.title and atom.feed.get("language") == rss.feed.get("language")
        assert [link.href for link in atom.feed.links if link.rel == "self"] == [
            f"http://testserver/feeds/{name}.atom{query}"
        ]
        assert atom.feed.id == f"http://testserver/feeds/{name}.atom{query}"
        assert atom.feed.link == rss.feed.link  # the front page, of the edition when it is one's
        if name == "all":
            assert atom.entries, name


def test_an_atom_entry_says_who_wrote_it_where_and_when(client: TestClient) -> None:
    """Each entry names the outlet as its author (the registry's name, its home page), the article's own address as
    where it came from (``rel="via"``), its language (``xml:lang``), and its times; the content carries the
    attribution line, the body and the source link, as the RSS item does."""
    latest = client.get("/api/articles", params={"limit": 50}).json()["items"]
    body = fetch(client, "/feeds/all.atom")
    root = required_elements(body)
    assert root.get(XML_LANG) is None  # several languages: the feed names none, each entry its own
    entries = root.findall(f"{ATOM}entry")
    assert [e.get(XML_LANG) for e in entries] == [i["language"] for i in latest]
    assert {i["language"] for i in latest} >= {"ru", "az"}
    feed = read(body)
    assert feed.feed.author_detail == {"name": "Icma.az", "href": "http://testserver/"}
    for entry, summary, raw in zip(feed.entries, latest, entries, strict=True):
        outlet = get_source(summary["source"])
        assert entry.author_detail == {"name": outlet.name, "href": outlet.homepage}
        assert [link.href for link in entry.links if link.rel == "via"] == [summary["url"]]
        assert entry.link == f"http://testserver/news/{summary['id']}"
        if summary["published_at"]:
            assert instant(one(raw, "published")) == datetime.fromisoformat(summary["published_at"])
        else:
            assert raw.findall(f"{ATOM}published") == []
        assert [t.term for t in entry.get("tags", [])] == ([summary["category"]] if summary["category"] else [])
        detail = client.get(f"/api/articles/{summary['id']}").json()
        assert instant(one(raw, "updated")) == datetime.fromisoformat(detail["updated_at"])
        content = entry.content[0]
        assert content.type == "text/html"
        assert detail["attribution_line"] in content.value and summary["url"] in content.value
        assert entry.summary_detail.type == "text/plain" and entry.summary
        assert " ".join(detail["body_text"].split()).startswith(entry.summary.removesuffix("…"))
    newest = max(datetime.fromisoformat(client.get(f"/api/articles/{i['id']}").json()["updated_at"]) for i in latest)
    assert instant(one(root, "updated")) == newest


@pytest.mark.parametrize("language", ["az", "ru", "en"])
def test_an_editions_atom_feed_says_its_language(client: TestClient, language: str) -> None:
    root = required_elements(fetch(client, f"/feeds/all.atom?language={language}"))
    assert root.get(XML_LANG) == language
    assert {e.get(XML_LANG) for e in root.findall(f"{ATOM}entry")} == {language}
    (home,) = [link for link in root.findall(f"{ATOM}link") if link.get("rel") == "alternate"]
    assert (home.get("href"), home.get("hreflang"), home.get("type")) == (
        f"http://testserver/?language={language}", language, "text/html"
    )  # fmt: skip
    assert one(root, "title").text == f"Icma.az ({language})"
    # A source that writes in one language (haqqin) has it without an edition asked; caliber writes in three.
    assert etree.fromstring(fetch(client, "/feeds/haqqin.atom")).get(XML_LANG) == "ru"
    assert etree.fromstring(fetch(client, "/feeds/caliber.atom")).get(XML_LANG) is None


def test_an_atom_feed_of_no_such_source_or_edition(client: TestClient) -> None:
    missing = client.get("/feeds/nope.atom")
    assert missing.status_code == 404 and missing.json() == {"detail": "no source 'nope' in the archive"}
    for path in ("/feeds/all.atom", "/feeds/caliber.atom"):
        answer = client.get(path, params={"language": "tr"})
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "language"], path


def test_an_atom_feed_answers_head_and_if_none_match(client: TestClient) -> None:
    got, head = client.get("/feeds/all.atom"), client.head("/feeds/all.atom")
    assert head.status_code == 200 and dict(head.headers) == dict(got.headers) and head.content == b""
    again = client.get("/feeds/all.atom", headers={"If-None-Match": got.headers["etag"]})
    assert again.status_code == 304
    rss = client.get("/feeds/all.rss")
    assert rss.headers["etag"] != got.headers["etag"]  # two answers, two tags


def test_an_empty_archive_gives_an_empty_valid_atom_feed(sqlite_url: str) -> None:
    """No entry to name an author: the feed's own is what Atom requires then."""
    save(sqlite_url, [])
    with TestClient(create_app(sqlite_url)) as client:
        for path in ("/feeds/all.atom", "/feeds/caliber.atom"):
            body = fetch(client, path)
            assert read(body).entries == []
            root = required_elements(body)
            assert one(one(root, "author"), "name").text == "Icma.az"


def test_an_atom_feed_survives_characters_xml_cannot_hold(sqlite_url: str) -> None:
    title = "Заголовок\x0b с управляющим символом & <тегом>"
    published = datetime(2026, 11, 1, tzinfo=UTC)
    save(sqlite_url, [item("control", published=published, title=title, category="Полит\x01ика")])
    with TestClient(create_app(sqlite_url)) as client:
        body = fetch(client, "/feeds/all.atom")
    feed = read(body)
    required_elements(body)
    assert feed.entries[0].title == "Заголовок с управляющим символом & <тегом>"
    assert [t.term for t in feed.entries[0].tags] == ["Политика"]
