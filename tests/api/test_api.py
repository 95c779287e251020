"""The JSON read API over a crawled archive: filters, keyset pages, one article, sources, most read, views,
validators (ETag) and errors."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from aggregator.api import create_app
from aggregator.sources import get_source
from aggregator.store import Archive, queries
from aggregator.store.models import Article, Source
from tests.api.conftest import attribution, item, save, view_as


def all_items(client: TestClient, **params) -> list[dict]:
    """Every article the API lists for ``params``, page by page."""
    seen: list[dict] = []
    cursor = None
    while True:
        page = client.get("/api/articles", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        seen.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


def listed_time(entry: dict) -> datetime:
    return datetime.fromisoformat(entry["published_at"] or entry["archived_at"])


def test_articles_newest_first_with_the_summary_fields(client: TestClient, sample_db: str) -> None:
    items = all_items(client, limit=7)
    archive = Archive.open(sample_db)
    total = archive.count(Article)
    archive.close()
    assert len(items) == total == len({i["id"] for i in items}) > 30
    keys = [(listed_time(i), i["id"]) for i in items]
    assert keys == sorted(keys, reverse=True)
    first = items[0]
    assert {"id", "source", "language", "title", "url", "published_at"} <= set(first)
    assert get_source(first["source"]).owns(first["url"])
    dated = next(i for i in items if i["published_at"])
    assert dated["published_at"].endswith("Z")
    undated = [i for i in items if i["published_at"] is None]
    assert undated, "the sample has an article whose date cannot be read: it is listed by its archive time"
    # Each carries its cover picture, for a thumbnail beside the title (the article's own, as its detail says).
    covered = [i for i in items if i["cover_image_url"]]
    assert len(covered) > len(items) // 2 and all(c["cover_image_url"].startswith("https://") for c in covered)
    for listed in (covered[0], next(i for i in items if not i["cover_image_url"])):
        assert client.get(f"/api/articles/{listed['id']}").json()["cover_image_url"] == listed["cover_image_url"]


def test_filters(client: TestClient) -> None:
    everything = all_items(client, limit=100)
    for language in ("ru", "en", "az"):
        chosen = all_items(client, language=language, limit=4)
        assert chosen and {i["language"] for i in chosen} == {language}
        assert len(chosen) == sum(1 for i in everything if i["language"] == language)
    for key in {i["source"] for i in everything}:
        assert len(all_items(client, source=key)) == sum(1 for i in everything if i["source"] == key)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    recent = all_items(client, since="2026-01-01T00:00:00Z", limit=3)
    assert recent and all(listed_time(i) >= since for i in recent)
    assert len(recent) == sum(1 for i in everything if listed_time(i) >= since)
    naive = all_items(client, since="2026-01-01T04:00:00+04:00")  # the same instant in Baku time
    assert [i["id"] for i in naive] == [i["id"] for i in recent]


def test_story_filter_and_siblings(client: TestClient, sample_db: str) -> None:
    # The crawl of the sample groups its re-told stories (the dedupe stage): read the groups from the store.
    archive = Archive.open(sample_db)
    with archive.session.begin() as session:
        rows = list(session.execute(select(Article.id, Article.story_id).order_by(Article.id)))
    archive.close()
    groups: dict[int, list[int]] = {}
    for article_id, story_id in rows:
        groups.setdefault(story_id, []).append(article_id)
    story_id, ids = next((k, v) for k, v in groups.items() if len(v) >= 2)
    listed = all_items(client, story=story_id)
    assert sorted(i["id"] for i in listed) == ids
    detail = client.get(f"/api/articles/{ids[0]}").json()
    assert detail["story_id"] == story_id
    assert sorted(s["id"] for s in detail["story_siblings"]) == ids[1:]
    lone = next(v[0] for v in groups.values() if len(v) == 1)
    assert client.get(f"/api/articles/{lone}").json()["story_siblings"] == []


def test_pages_are_stable_under_inserts(sample_db: str) -> None:
    with TestClient(create_app(sample_db)) as client:
        before = all_items(client, limit=100)
        first = client.get("/api/articles", params={"limit": 10}).json()
        assert len(first["items"]) == 10 and first["next_cursor"]
        boundary = listed_time(first["items"][-1])
        # Between two requests, a crawl archives articles newer than the whole first page, and older ones.
        newest = datetime.now(UTC) + timedelta(hours=1)
        older = boundary - timedelta(days=1)
        new_ids = save(
            sample_db,
            [item("brand-new-1", published=newest), item("brand-new-2", published=newest),
             item("older-1", published=older), item("same-second", published=boundary)],
        )  # fmt: skip
        rest: list[dict] = []
        cursor = first["next_cursor"]
        while cursor:
            page = client.get("/api/articles", params={"limit": 10, "cursor": cursor}).json()
            rest.extend(page["items"])
            cursor = page["next_cursor"]
    ids = [i["id"] for i in first["items"] + rest]
    assert len(ids) == len(set(ids)), "an article was listed twice"
    assert set(ids) >= {i["id"] for i in before}, "an article was skipped"
    by_url = {i["url"]: i["id"] for i in first["items"] + rest}
    assert "https://caliber.az/post/older-1" in by_url  # later pages show what was inserted behind the cursor
    assert "https://caliber.az/post/brand-new-1" not in by_url  # ... and nothing shifts in before it
    assert len(new_ids) == 4


def test_limit_and_last_page(client: TestClient) -> None:
    everything = all_items(client, source="caliber", limit=100)  # one source: fewer than the largest page
    assert 1 < len(everything) <= 100
    page = client.get("/api/articles", params={"source": "caliber", "limit": len(everything)}).json()
    assert len(page["items"]) == len(everything) and page["next_cursor"] is None
    one = client.get("/api/articles", params={"limit": 1}).json()
    assert len(one["items"]) == 1 and one["next_cursor"]


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WyIyMDI2LTExLTEyIiwgIngiXQ"}, "cursor"),  # well-formed base64 of a list that is not ours
        ({"source": "nope"}, "source"),
        ({"language": "Русский"}, "language"),
        ({"language": "fr"}, "language"),  # a code, of no edition the site has
        ({"story": 0}, "story"),
    ],
)
def test_bad_queries_are_422_naming_the_parameter(client: TestClient, params: dict, where: str) -> None:
    answer = client.get("/api/articles", params=params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    detail = answer.json()["detail"]
    assert any(where in e["loc"] for e in detail), detail


def test_one_article(client: TestClient, sample_db: str) -> None:
    archive = Archive.open(sample_db)
    with archive.session() as session:
        cited = session.scalars(select(Article).where(Article.cited_outlets != [])).first()
        english = session.scalars(select(Article).where(Article.language == "en")).first()
    archive.close()
    assert cited is not None and english is not None
    data = client.get(f"/api/articles/{cited.id}").json()
    assert data["title"] == cited.title
    assert data["body_html"] == cited.body_html and "<p>" in data["body_html"]
    assert data["attribution_line"] == attribution(cited.language, cited.source)
    entry = get_source(cited.source)
    assert data["source_info"] == {"key": entry.key, "name": entry.name, "homepage": entry.homepage}
    assert data["url"] == cited.url
    assert data["cited_outlets"] == cited.cited_outlets and data["cited_outlets"]
    for name in ("archived_at", "updated_at"):
        assert data[name].endswith("Z")
        assert datetime.fromisoformat(data[name]) == getattr(cited, name)
    assert data["views"] == 0
    en = client.get(f"/api/articles/{english.id}").json()
    assert en["attribution_line"] == attribution("en", english.source)
    baku = english.archived_at.astimezone(ZONE)
    assert en["archived_at_printed"] == baku.strftime("%d ") + baku.strftime("%B %Y %H:%M")


ZONE = __import__("zoneinfo").ZoneInfo("Asia/Baku")


def test_not_found_is_json(client: TestClient) -> None:
    for method, path in (("GET", "/api/articles/99999"), ("POST", "/api/articles/99999/views")):
        answer = client.request(method, path)
        assert answer.status_code == 404
        assert answer.json() == {"detail": "no article with id 99999"}
    assert client.get("/api/articles/abc").status_code == 422
    assert client.get("/api/articles/0").status_code == 422
    assert client.get("/api/articles/99999999999999999999").status_code == 422
    assert client.get("/api/nothing-here").status_code == 404


def test_sources(client: TestClient) -> None:
    sources = client.get("/api/sources").json()
    everything = all_items(client, limit=100)
    caliber = next(s for s in sources if s["key"] == "caliber")
    assert caliber["name"] == "Caliber.az" and caliber["timezone"] == "Asia/Baku"
    for source in sources:
        assert source["articles"] == sum(1 for i in everything if i["source"] == source["key"])
        assert source["feed"].endswith(f"/feeds/{source['key']}.rss")
        assert source["atom_feed"].endswith(f"/feeds/{source['key']}.atom")
        assert client.get(source["atom_feed"]).headers["content-type"].startswith("application/atom+xml")
    assert caliber["latest_archived_at"].endswith("Z")


def test_views_are_counted_atomically(db_url: str) -> None:
    """Concurrent views of one article are all counted (UPDATE ... SET views = views + 1), on both back ends."""
    (article_id,) = save(db_url, [item("viewed", published=datetime(2026, 11, 1, tzinfo=UTC))])
    app = create_app(db_url)
    failures: list[object] = []

    def view(thread: int, times: int) -> None:
        for n in range(times):  # each view a reader of its own: one reader's views of an article count once
            answer = view_as(app, f"10.0.{thread}.{n}", article_id)
            if answer.status_code != 200:
                failures.append(answer.text)

    threads = [threading.Thread(target=view, args=(t, 10)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with TestClient(app) as client:
        assert client.get(f"/api/articles/{article_id}").json()["views"] == 80
        counted = client.post(f"/api/articles/{article_id}/views").json()
        assert counted == {"id": article_id, "views": 81, "counted": True}


def test_most_read(client: TestClient, sample_db: str) -> None:
    items = all_items(client, limit=100)
    a, b, c = (i["id"] for i in items[:3])
    for article_id, views in ((a, 2), (b, 5), (c, 1)):
        for n in range(views):
            assert view_as(client.app, f"192.0.2.{n + 1}", article_id).status_code == 200
    top = client.get("/api/most-read", params={"hours": 24, "limit": 3}).json()
    assert [i["id"] for i in top["items"]] == [b, a, c] and top["hours"] == 24
    assert [i["views"] for i in top["items"]] == [5, 2, 1]
    # An article published and archived long ago is outside the window, however often it is read.
    old = datetime.now(UTC) - timedelta(days=30)
    archive = Archive.open(sample_db)
    with archive.session.begin() as session:
        session.execute(update(Article).where(Article.id == b).values(archived_at=old, published_at=old))
    archive.close()
    assert b not in [i["id"] for i in client.get("/api/most-read", params={"hours": 24}).json()["items"]]
    assert b in [i["id"] for i in client.get("/api/most-read", params={"hours": 24 * 40}).json()["items"]]
    assert client.get("/api/most-read", params={"hours": 0}).status_code == 422


def test_heavy_reads_run_off_the_event_loop(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reads whose cost the caller chooses (most read over a year's window, every source counted) run in the thread
    pool: on the event loop, one of them holds every other request of the server."""
    on_loop: dict[str, bool] = {}

    def watched(name: str) -> None:
        real = getattr(queries, name)

        def read(*args: Any, **kwargs: Any) -> Any:
            try:
                asyncio.get_running_loop()
                on_loop[name] = True
            except RuntimeError:  # a worker thread has no running loop
                on_loop[name] = False
            return real(*args, **kwargs)

        monkeypatch.setattr(queries, name, read)

    for name in ("most_read", "list_sources", "list_page"):
        watched(name)
    assert client.get("/api/most-read", params={"hours": 24 * 300}).status_code == 200
    assert client.get("/api/sources").status_code == 200
    assert client.get("/api/articles").status_code == 200
    assert on_loop == {"most_read": False, "list_sources": False, "list_page": True}  # an indexed page stays inline


def test_etag(client: TestClient, sample_db: str) -> None:
    items = all_items(client, limit=100)
    article_id = items[0]["id"]
    first = client.get(f"/api/articles/{article_id}")
    etag = first.headers["etag"]
    assert etag and "last-modified" not in first.headers
    assert client.get(f"/api/articles/{article_id}", headers={"If-None-Match": etag}).status_code == 304
    assert client.get(f"/api/articles/{article_id}", headers={"If-None-Match": f'"other", {etag}'}).status_code == 304
    assert client.get(f"/api/articles/{article_id}", headers={"If-None-Match": '"other"'}).status_code == 200
    client.post(f"/api/articles/{article_id}/views")  # the representation changed: the old tag no longer matches
    again = client.get(f"/api/articles/{article_id}", headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["etag"] != etag
    for path in ("/api/articles", "/api/sources", "/api/most-read", "/feeds/all.rss", "/", f"/news/{article_id}"):
        answer = client.get(path)
        assert answer.status_code == 200 and answer.headers["etag"] and "last-modified" not in answer.headers, path
        assert client.get(path, headers={"If-None-Match": answer.headers["etag"]}).status_code == 304, path


def revalidated(client: TestClient, path: str, held: httpx.Response) -> dict[str, int]:
    """What a client holding ``held`` (an earlier 200 of ``path``) is answered when it asks again with each
    validator the answer gave it, with all of them, and with a date of its own (a cache may send its copy's date
    when the answer had no Last-Modified)."""
    given = {"If-None-Match": held.headers["etag"]}
    if "last-modified" in held.headers:
        given["If-Modified-Since"] = held.headers["last-modified"]
    ways = {name: {name: value} for name, value in given.items()} | {"all": given}
    ways["own date"] = {"If-Modified-Since": format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True)}
    return {way: client.get(path, headers=headers).status_code for way, headers in ways.items()}


def test_a_changed_answer_is_never_not_modified(client: TestClient, sample_db: str) -> None:
    """A client or a cache in front of the site that revalidates its copy of a read gets the new answer once what
    the read shows has changed, whichever validators it sends: a view counted (the article, its page, the lists,
    most read), an article withdrawn (the lists, the front page, the feeds). Neither moves an article's
    ``updated_at``, which Last-Modified was: If-Modified-Since was answered 304 with the old counts, and with a
    withdrawn article still in the feeds."""
    newest = client.get("/api/articles").json()["items"][0]
    article_id, source = newest["id"], newest["source"]

    def count_a_view() -> None:
        assert client.post(f"/api/articles/{article_id}/views").status_code == 200

    def withdraw() -> None:
        archive = Archive.open(sample_db)
        assert archive.withdraw([article_id], "test") == [article_id]
        archive.close()

    viewed = [f"/api/articles/{article_id}", f"/news/{article_id}", "/api/articles", "/api/most-read"]
    listed = ["/api/articles", "/api/sources", "/", "/feeds/all.rss", f"/feeds/{source}.rss"]
    stale = []
    for change, paths in ((count_a_view, viewed), (withdraw, listed)):
        held = {path: client.get(path) for path in paths}
        for path, answer in held.items():
            assert answer.status_code == 200, path
            assert revalidated(client, path, answer)["If-None-Match"] == 304, path  # the copy is current
        change()
        for path, answer in held.items():
            assert client.get(path).content != answer.content, path
            stale += [(change.__name__, path, way) for way, status in revalidated(client, path, answer).items()
                      if status != 200]  # fmt: skip
    assert not stale, "\n".join(map(str, stale))


def test_get_routes_answer_head(client: TestClient) -> None:
    """Load balancers, uptime checkers and feed readers ask with HEAD: the GET's status and headers, no body, and
    nothing counted."""
    article_id = client.get("/api/articles").json()["items"][0]["id"]
    views = client.get(f"/api/articles/{article_id}").json()["views"]
    for path in ("/healthz", f"/api/articles/{article_id}", "/feeds/all.rss", f"/news/{article_id}", "/news/99999",
                 "/feeds/nosuch.rss"):  # fmt: skip
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code, path
        assert dict(head.headers) == dict(got.headers), path
        assert head.content == b"" and got.content, path
    etag = client.get(f"/news/{article_id}").headers["etag"]
    assert client.head(f"/news/{article_id}", headers={"If-None-Match": etag}).status_code == 304
    assert client.get(f"/api/articles/{article_id}").json()["views"] == views
    assert client.head(f"/api/articles/{article_id}/views").status_code == 405  # counting a view stays a POST
    assert client.get(f"/api/articles/{article_id}").json()["views"] == views
    spec = client.get("/openapi.json").json()
    assert not [path for path, operations in spec["paths"].items() if "head" in operations]


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def test_a_405_names_every_method_the_address_answers(client: TestClient) -> None:
    """RFC 9110: a 405's ``Allow`` lists the methods the resource supports. Every GET route answers HEAD too (its
    twin route), but Starlette named only the first route's methods: ``Allow: GET``, so a cache or a checker told it
    would not ask with HEAD."""
    article_id = client.get("/api/articles").json()["items"][0]["id"]
    paths = ("/", f"/news/{article_id}", "/search", "/api/articles", f"/api/articles/{article_id}",
             f"/api/articles/{article_id}/views", "/feeds/all.rss", "/feeds/caliber.rss", "/sitemap.xml",
             "/sitemaps/0.xml", "/robots.txt", "/healthz", "/docs", "/openapi.json")  # fmt: skip
    for path in paths:
        answers = {method: client.request(method, path) for method in METHODS}
        answered = {method for method, answer in answers.items() if answer.status_code != 405}
        refused = {method: answer for method, answer in answers.items() if answer.status_code == 405}
        assert answered and refused, path
        for method, answer in refused.items():
            assert set(answer.headers["allow"].split(", ")) == answered, (path, method, answer.headers["allow"])
    assert client.put("/news/1").headers["allow"] == "GET, HEAD"
    assert client.get(f"/api/articles/{article_id}/views").headers["allow"] == "POST"


def test_the_description_documents_only_the_answers_a_route_gives(client: TestClient) -> None:
    """FastAPI documents a 422 for every route with a parameter, and the app's 503 for every route. A page answers
    its bad parameters as pages (a 404 for an id that cannot be an article's, else a 400), never a 422; and
    ``/robots.txt`` reads nothing from the archive. Each page is driven with bad values of each of its parameters:
    every answer is one it documents."""
    spec = client.get("/openapi.json").json()
    pages = {path: ops["get"] for path, ops in spec["paths"].items() if "pages" in ops.get("get", {}).get("tags", ())}
    assert set(pages) == {"/", "/search", "/news/{article_id}"}
    bad_values = ("x" * 1000, "Ü", "", "-1", "0", "05", str(2**40), "abc", "%00")
    for path, operation in pages.items():
        documented = set(operation["responses"])
        assert "422" not in documented, path
        for parameter in operation["parameters"]:
            for value in bad_values:
                if parameter["in"] == "path":
                    answer = client.get(path.replace("{" + parameter["name"] + "}", value or "0"))
                else:
                    answer = client.get(path, params={parameter["name"]: value})
                assert str(answer.status_code) in documented, (path, parameter["name"], value, answer.status_code)
    assert set(spec["paths"]["/robots.txt"]["get"]["responses"]) == {"200"}
    # The API's and the feeds' bad parameters are 422s, documented as before.
    for path in ("/api/articles", "/api/articles/{article_id}", "/feeds/all.rss", "/feeds/{source}.rss"):
        assert "422" in spec["paths"][path]["get"]["responses"], path


def test_reads_cannot_write(sample_db: str) -> None:
    app = create_app(sample_db)
    with app.state.store.read.connect() as conn, pytest.raises(OperationalError, match="readonly"):
        conn.execute(update(Article).values(views=Article.views + 1))


def test_openapi_documents_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/articles", "/api/articles/{article_id}", "/api/articles/{article_id}/views", "/api/sources",
                 "/api/most-read", "/feeds/all.rss", "/feeds/{source}.rss", "/news/{article_id}", "/", "/healthz",
                 "/api/health", "/metrics", "/api/changes"):  # fmt: skip
        assert path in spec["paths"], path
    listing = spec["paths"]["/api/articles"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {
        "source", "language", "since", "until", "story", "limit", "cursor"
    }  # fmt: skip
    changes = spec["paths"]["/api/changes"]["get"]
    assert {p["name"] for p in changes["parameters"]} == {"since", "limit", "cursor"}
    most_read = spec["paths"]["/api/most-read"]["get"]
    assert {p["name"] for p in most_read["parameters"]} == {"hours", "limit", "language"}


def test_most_read_list_is_reused_for_a_few_seconds(sample_db: str) -> None:
    with TestClient(create_app(sample_db, most_read_ttl=3600)) as client:
        first = client.get("/api/most-read").json()["items"]
        loser = first[-1]["id"]
        for n in range(3):
            view_as(client.app, f"192.0.2.{n + 1}", loser)
        assert client.get("/api/most-read").json()["items"] == first  # the kept list
        assert client.get(f"/api/articles/{loser}").json()["views"] == 3  # the article itself is current
    with TestClient(create_app(sample_db, most_read_ttl=0)) as client:
        assert client.get("/api/most-read").json()["items"][0]["id"] == loser


def test_most_read_lists_asked_for_in_any_number_leave_the_pages_own_list_kept(
    sample_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache was emptied whole once it held 256 lists: a client cycling through `limit`s had the list every
    article page shows computed again, as often as it liked. The least recently used go first now."""
    from aggregator.api.app import MOST_READ_KEPT, Store

    store = Store(sample_db, most_read_ttl=3600)
    computed: list[tuple[int, int]] = []
    real = queries.most_read

    def counting(conn: Any, *, hours: int, limit: int) -> Any:
        computed.append((hours, limit))
        return real(conn, hours=hours, limit=limit)

    monkeypatch.setattr(queries, "most_read", counting)
    try:
        store.most_read(24, 10)  # the page's own list
        for n in range(MOST_READ_KEPT * 2):
            store.most_read(n + 1, 7)  # a client asking for ever other hours
            store.most_read(24, 10)  # and the pages, in between
        assert computed.count((24, 10)) == 1
        assert len(store._most_read) <= MOST_READ_KEPT
    finally:
        store.read.dispose()


def test_keyset_pages_and_stats_on_both_back_ends(db_url: str) -> None:
    """Ties on the time, undated articles between dated ones, and pages of 2: the same order on SQLite and
    PostgreSQL, every article once."""
    from aggregator.store.queries import daily_stats

    moment = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    ids = save(
        db_url,
        [item(f"tie-{n}", published=moment) for n in range(3)]
        + [item(f"early-{n}", published=moment - timedelta(days=n + 1), language="en") for n in range(3)]
        + [item("undated-1", published=None), item("undated-2", published=None)],
    )
    with TestClient(create_app(db_url)) as client:
        walked = all_items(client, limit=2)
        assert len(walked) == len(ids) == len({i["id"] for i in walked})
        keys = [(listed_time(i), i["id"]) for i in walked]
        assert keys == sorted(keys, reverse=True)
        assert [i["published_at"] for i in walked[:2]] == [None, None]  # archived now: newer than any publication
        english = all_items(client, language="en", limit=1)
        assert [i["url"].rsplit("/", 1)[1] for i in english] == ["early-0", "early-1", "early-2"]
        since = all_items(client, since=(moment - timedelta(days=1)).isoformat())
        assert {i["url"].rsplit("/", 1)[1] for i in since} >= {"tie-0", "tie-1", "tie-2", "early-0"}
        assert "early-1" not in {i["url"].rsplit("/", 1)[1] for i in since}
        assert client.get(f"/api/articles/{ids[0]}").json()["id"] == ids[0]
        assert parse_feed(client.get("/feeds/all.rss").content).bozo == 0
    archive = Archive.open(db_url)
    archive.withdraw([ids[0]], "takedown")
    with archive.engine.connect() as conn:
        stats = daily_stats(conn, days=2)
    archive.close()
    assert sum(c.articles for c in stats.values()) == len(ids)  # archived: withdrawn ones too
    assert sum(c.undated for c in stats.values()) == 2
    assert sum(c.withdrawn for c in stats.values()) == 1


def parse_feed(content: bytes):
    import feedparser

    return feedparser.parse(content)


def test_a_source_taken_out_of_the_registry_is_still_the_archives(client: TestClient, sample_db: str) -> None:
    """Its articles stay in the archive (and in /api/sources, with its feed): its filter and its name come from the
    archive's record of it, not a 422 "unknown source" and a bare key."""
    moved = [i["id"] for i in all_items(client, limit=100)[:3]]
    archive = Archive.open(sample_db)
    with archive.session.begin() as session:
        session.add(Source(key="oldsrc", name="Old.az", homepage="https://old.az/", domains=["old.az"],
                           languages=["ru"], timezone="Asia/Baku"))  # fmt: skip
        session.flush()
        session.execute(update(Article).where(Article.id.in_(moved)).values(source="oldsrc"))
    archive.close()
    listed = client.get("/api/articles", params={"source": "oldsrc"})
    assert listed.status_code == 200 and sorted(i["id"] for i in listed.json()["items"]) == sorted(moved)
    one = client.get(f"/api/articles/{moved[0]}").json()
    assert one["source_info"] == {"key": "oldsrc", "name": "Old.az", "homepage": "https://old.az/"}
    assert "Old.az" in client.get(f"/news/{moved[0]}").text
    word = one["title"].split()[0]
    found = client.get("/api/search", params={"q": word, "source": "oldsrc"})
    assert found.status_code == 200 and moved[0] in [i["id"] for i in found.json()["items"]]
    assert client.get("/api/articles", params={"source": "never"}).status_code == 422  # a key it never had
