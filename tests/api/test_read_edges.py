"""A downstream developer's review of the read API: search pages and their count, cursors bound to the filters they
were made under, answers a cache in front may keep, and the covers in the feeds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

import lxml.html
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from aggregator.api import create_app
from aggregator.api.app import read_only_engine
from aggregator.environment import EnvironmentValueError, env_settings
from aggregator.store import Archive, queries
from aggregator.store import search as fulltext
from aggregator.store.models import Article
from tests.api.conftest import item, save

MOMENT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
MEDIA = "http://search.yahoo.com/mrss/"


def budget(slug: str, *, title: str = "Парламент обсудил бюджет", language: str = "ru", **extra: Any):
    """An article matching "бюджет" (or, in Azerbaijani, "büdcə")."""
    text = {"ru": "Депутаты обсудили бюджет на заседании.", "az": "Deputatlar büdcəni müzakirə etdilər: büdcə."}
    body = extra.pop("body_text", text.get(language, "The budget was discussed: budget."))
    return item(slug, published=MOMENT, title=title, language=language, body_text=body, body_html=f"<p>{body}</p>",
                **extra)  # fmt: skip


def searched(client: TestClient, **params: Any) -> tuple[list[dict], list[dict]]:
    """Every hit ``/api/search`` gives for ``params``, page by page; and the answers. A page given again (a cursor
    that does not move on) is a failure, not an endless walk."""
    answers: list[dict] = []
    cursor = None
    for _ in range(50):
        answer = client.get("/api/search", params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
        cursor = answers[-1]["next_cursor"]
        if cursor is None:
            return [hit for a in answers for hit in a["items"]], answers
    raise AssertionError(f"the pages did not end: {[[h['id'] for h in a['items']] for a in answers[:4]]}")


# -- search pages and their count ---------------------------------------------------------------------------------


def test_search_pages_through_every_match_once_with_its_total(db_url: str) -> None:
    """Pages of 2 over hits of equal scores (the same text: ties across a page's end, by id) and better ones: every
    match once, best first, each page saying how many match in all; on both back ends (PostgreSQL's ``real`` score
    must come back from the cursor as itself, or the ties after it were skipped)."""
    ties = [budget(f"tie-{n}") for n in range(4)]
    better = [budget(f"lead-{n}", title="Бюджет " * (n + 1)) for n in range(3)]
    ids = save(db_url, [*ties, *better, item("weather", published=MOMENT, title="Погода", body_text="Дождь.")])
    matching = set(ids[:7])
    with TestClient(create_app(db_url)) as client:
        hits, answers = searched(client, q="бюджет", limit=2)
    assert [h["id"] for h in hits if h["id"] in matching] == [h["id"] for h in hits] and len(hits) == len(matching)
    assert {h["id"] for h in hits} == matching
    keys = [(h["score"], h["id"]) for h in hits]
    assert keys == sorted(keys, reverse=True)
    tied = [h["id"] for h in hits if h["id"] in ids[:4]]
    assert tied == sorted(tied, reverse=True) and len({h["score"] for h in hits if h["id"] in tied}) == 1
    assert len(answers) == 4 and all(len(a["items"]) == 2 for a in answers[:3])
    assert all((a["total"], a["total_capped"]) == (7, False) for a in answers)


def test_a_search_window_is_pinned_to_its_first_page_and_counted(db_url: str) -> None:
    """The pages rank the window of the first page's time: matches archived meanwhile neither enter it nor push its
    oldest out unseen. The count stops one past the window (``capped``)."""
    ids = save(db_url, [budget(f"old-{n}") for n in range(5)])
    engine = read_only_engine(db_url)
    everything = queries.ArticleFilter()
    try:
        with engine.connect() as conn:
            first = queries.search_page(conn, "бюджет", everything, limit=2, window=3)
            exact = queries.search_page(conn, "бюджет", everything, limit=2, window=10)
        assert (first.total, first.capped) == (3, True) and first.following is not None
        assert (exact.total, exact.capped) == (5, False)
        later = save(db_url, [budget(f"new-{n}", title="Бюджет бюджет бюджет") for n in range(2)])
        with engine.connect() as conn:
            second = queries.search_page(conn, "бюджет", everything, limit=2, window=3, after=first.following)
            fresh = queries.search_page(conn, "бюджет", everything, limit=5, window=3)
            beyond = queries.SearchPosition(-1e300, 1, first.following.top)  # past the last hit: the count alone
            past = queries.search_page(conn, "бюджет", everything, limit=2, window=3, after=beyond)
    finally:
        engine.dispose()
    assert sorted(r.id for r in first.rows + second.rows) == sorted(ids[-3:])  # the latest 3 of the first page's time
    assert second.following is None and (second.total, second.capped) == (3, True)
    assert set(later) <= {r.id for r in fresh.rows}  # a new search's window has them
    assert (past.rows, past.total, past.capped) == ([], 3, True)


def test_the_search_page_pages_and_counts_in_its_editions_words(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/search`` shows 30 hits a page with a link to the next, and how many match: "Найдено: 32", not the 30 of
    the page; more than the count stops at, in the edition's words."""
    editions = ("ru", "az", "en")
    save(sqlite_url, [budget(f"{language}-{n}", language=language) for language in editions for n in range(32)])

    def page(client: TestClient, **params: str) -> Any:
        answer = client.get("/search", params=params)
        assert answer.status_code == 200, answer.text
        return lxml.html.fromstring(answer.text)

    with TestClient(create_app(sqlite_url)) as client:
        first = page(client, q="бюджет", language="ru")
        assert first.cssselect("#found")[0].text_content() == "Найдено: 32"
        assert len(first.cssselect("#results li")) == 30
        (link,) = first.cssselect("a#next")
        assert link.text_content() == "Дальше"
        second = lxml.html.fromstring(client.get(link.get("href")).text)
        assert second.cssselect("#found")[0].text_content() == "Найдено: 32"
        assert len(second.cssselect("#results li")) == 2 and not second.cssselect("a#next")
        shown = [a.get("href") for p in (first, second) for a in p.cssselect("#results li a")]
        assert len(set(shown)) == 32
        assert page(client, q="büdcə", language="az").cssselect("#found")[0].text_content() == "Tapıldı: 32"
        monkeypatch.setattr(fulltext, "SEARCH_WINDOW", 31)  # a page's 30 hits are ranked from 31 matches at least
        capped = {"ru": "Найдено: более 31", "az": "Tapıldı: 31-dən çox", "en": "Found: more than 31"}
        for language, query in (("ru", "бюджет"), ("az", "büdcə"), ("en", "budget")):
            assert page(client, q=query, language=language).cssselect("#found")[0].text_content() == capped[language]


# -- cursors bound to their filters ---------------------------------------------------------------------------------


def refused(answer: Any) -> None:
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["query", "cursor"] and "other filters" in error["msg"], error


@pytest.mark.parametrize(
    ("made", "used"),
    [
        ({"language": "ru"}, {"language": "az"}),
        ({"language": "ru"}, {}),
        ({"source": "caliber"}, {"source": "apa"}),
        ({}, {"since": "2020-01-01T00:00:00Z"}),
        ({"until": "2030-01-01T00:00:00Z"}, {"until": "2031-01-01T00:00:00Z"}),
    ],
)
def test_a_list_cursor_is_refused_under_other_filters(client: TestClient, made: dict, used: dict) -> None:
    cursor = client.get("/api/articles", params={**made, "limit": 1}).json()["next_cursor"]
    assert cursor
    refused(client.get("/api/articles", params={**used, "limit": 1, "cursor": cursor}))
    assert client.get("/api/articles", params={**made, "limit": 1, "cursor": cursor}).status_code == 200


def test_the_same_instant_spelled_otherwise_is_the_same_filter(client: TestClient) -> None:
    cursor = client.get("/api/articles", params={"since": "2020-01-01T00:00:00Z", "limit": 1}).json()["next_cursor"]
    baku = {"since": "2020-01-01T04:00:00+04:00", "limit": 1, "cursor": cursor}
    assert client.get("/api/articles", params=baku).status_code == 200


def test_a_front_page_cursor_is_refused_in_another_edition(client: TestClient) -> None:
    (link,) = lxml.html.fromstring(client.get("/?language=ru").text).cssselect("a#next")
    assert client.get(link.get("href")).status_code == 200
    other = client.get(link.get("href").replace("language=ru", "language=az"))
    assert other.status_code == 400 and other.headers["content-type"].startswith("text/html")


def test_a_search_cursor_is_bound_to_its_words_and_filters(client: TestClient) -> None:
    first = client.get("/api/search", params={"q": "Баку", "limit": 1}).json()
    cursor = first["next_cursor"]
    assert cursor and first["total"] > 1
    assert client.get("/api/search", params={"q": "  баку ", "limit": 1, "cursor": cursor}).status_code == 200
    refused(client.get("/api/search", params={"q": "Азербайджан", "limit": 1, "cursor": cursor}))
    refused(client.get("/api/search", params={"q": "Баку", "language": "ru", "limit": 1, "cursor": cursor}))
    refused(client.get("/api/search", params={"q": "Баку", "source": "caliber", "limit": 1, "cursor": cursor}))
    # A search's cursor is no list's, and the other way round: "not a cursor" of the other, as a forged one.
    listed = client.get("/api/articles", params={"limit": 1}).json()["next_cursor"]
    for path, params in (("/api/articles", {"cursor": cursor}), ("/api/search", {"q": "Баку", "cursor": listed})):
        answer = client.get(path, params=params)
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "cursor"], answer.text
    forged = client.get("/api/search", params={"q": "Баку", "cursor": "WyJzZWFyY2giLCJ4IiwxLDEsIiJd"})
    assert forged.status_code == 422 and "not a cursor" in forged.json()["detail"][0]["msg"]
    page = client.get("/search", params={"q": "Азербайджан", "cursor": cursor})
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")


# -- Cache-Control for a cache in front ---------------------------------------------------------------------------

PUBLIC_READS = [
    "/api/articles", "/api/articles/{id}", "/api/search?q=Баку", "/api/sources", "/api/most-read", "/api/changes",
    "/feeds/all.rss", "/feeds/caliber.atom", "/sitemap.xml", "/sitemaps/0.xml", "/sitemap-news.xml", "/robots.txt",
    "/", "/?language=az", "/news/{id}", "/search?q=Баку",
]  # fmt: skip


def test_reads_may_be_kept_by_a_cache_in_front_when_asked(sample_db: str) -> None:
    with TestClient(create_app(sample_db, cache_seconds=300)) as client:
        article = client.get("/api/articles", params={"limit": 1}).json()["items"][0]["id"]
        for path in PUBLIC_READS:
            answer = client.get(path.format(id=article))
            assert answer.status_code == 200, path
            assert answer.headers["cache-control"] == "public, max-age=300", path
            if "etag" in answer.headers:  # a 304 says what its 200 would (RFC 9110 15.4.5)
                again = client.get(path.format(id=article), headers={"If-None-Match": answer.headers["etag"]})
                assert again.status_code == 304 and again.headers["cache-control"] == "public, max-age=300", path
        errors = [
            client.get("/api/articles/999999"), client.get("/news/999999"), client.get("/api/articles?limit=0"),
            client.get("/?cursor=forged"), client.get("/feeds/nope.rss"), client.post(f"/api/articles/{article}/views"),
        ]  # fmt: skip
        for answer in errors:
            assert "max-age" not in answer.headers.get("cache-control", ""), (answer.request.url, answer.headers)
        assert client.get("/healthz").headers["cache-control"] == "no-store"


def test_by_default_every_read_is_asked_for_again(client: TestClient) -> None:
    for path in ("/api/articles", "/", "/feeds/all.rss", "/sitemap.xml"):
        assert client.get(path).headers["cache-control"] == "no-cache", path
    assert "cache-control" not in client.get("/robots.txt").headers


def test_the_setting_comes_from_the_environment(sample_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGGREGATOR_CACHE_SECONDS", "120")
    with TestClient(create_app(sample_db)) as client:
        assert client.get("/api/articles").headers["cache-control"] == "public, max-age=120"
    assert env_settings({"AGGREGATOR_CACHE_SECONDS": "0"})["AGGREGATOR_CACHE_SECONDS"] == 0
    for wrong in ("1.5", "-1", "a minute"):
        with pytest.raises(EnvironmentValueError, match="AGGREGATOR_CACHE_SECONDS"):
            env_settings({"AGGREGATOR_CACHE_SECONDS": wrong})


# -- covers in the feeds ------------------------------------------------------------------------------------------


def covers(client: TestClient, path: str) -> dict[int, list[dict[str, str]]]:
    """Each item's (entry's) article id and its Media RSS elements' attributes."""
    root = ET.fromstring(client.get(path).content)
    atom = "{http://www.w3.org/2005/Atom}"
    entries = root.iter("item") if root.tag == "rss" else root.iter(f"{atom}entry")
    found = {}
    for entry in entries:
        link = entry.findtext("link") or entry.find(f"{atom}link[@rel='alternate']").get("href")  # type: ignore[union-attr]
        found[int(link.rsplit("/", 1)[1])] = [dict(m.attrib) for m in entry.iter(f"{{{MEDIA}}}content")]
    return found


def test_feeds_carry_each_articles_cover(sample_db: str) -> None:
    with TestClient(create_app(sample_db)) as client:
        latest = client.get("/api/articles", params={"limit": 50}).json()["items"]
        listed = {i["id"]: i["cover_image_url"] for i in latest}
        bare = next(i for i, cover in listed.items() if cover)
        archive = Archive.open(sample_db)
        with archive.engine.begin() as conn:  # a cover an older archive kept that is no web address
            conn.execute(update(Article).where(Article.id == bare).values(cover_image_url="javascript:alert(1)"))
        archive.close()
        for path in ("/feeds/all.rss", "/feeds/all.atom"):
            found = covers(client, path)
            assert set(found) == set(listed)
            for article_id, cover in listed.items():
                wanted = [{"url": cover, "medium": "image"}] if cover and article_id != bare else []
                assert found[article_id] == wanted, (path, article_id)
            assert any(found.values()) and not all(found.values())
        import feedparser

        entries = feedparser.parse(client.get("/feeds/all.rss").content).entries
        media = {int(e.link.rsplit("/", 1)[1]): [m["url"] for m in e.get("media_content", [])] for e in entries}
        assert media == {i: [m["url"] for m in found] for i, found in covers(client, "/feeds/all.rss").items()}


def test_a_search_on_postgresql_is_planned_for_its_words(postgres_url: str) -> None:
    """psycopg prepares a statement run five times on a connection, and PostgreSQL may then keep one plan for any
    words: the search asks, for its own transaction, for a plan made for its words each time."""
    save(postgres_url, [budget("one")])
    engine = read_only_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert queries.search_page(conn, "бюджет", queries.ArticleFilter(), limit=1).total == 1
            assert conn.execute(text("SHOW plan_cache_mode")).scalar_one() == "force_custom_plan"
        with engine.connect() as conn:  # that transaction's alone
            assert conn.execute(text("SHOW plan_cache_mode")).scalar_one() == "auto"
    finally:
        engine.dispose()
