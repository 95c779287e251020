"""A downstream site kept in sync through the read API and ``export``: the change feed (``/api/changes``), CORS for a
browser front end on another origin, and the smaller gaps (``until``, ``/api/most-read?language=``, ``source_name``).
The feed runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from aggregator.api import create_app
from aggregator.environment import EnvironmentValueError, env_settings
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.models import Article
from tests.api.conftest import item, save, view_as
from tests.conftest import run_cli

PUBLISHED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


class Mirror:
    """A downstream site's copy, kept by the change feed as its documentation says: from its cursor, pages until
    ``more`` is false; a tombstone removes the article, any other item puts it in as it is now."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.cursor: str | None = None
        self.articles: dict[int, dict[str, Any]] = {}
        self.seen: list[int] = []
        """Every item's id, in the order the feed gave them."""

    def sync(self, *, limit: int = 100, between_pages: Any = None) -> None:
        while True:
            params: dict[str, Any] = {"limit": limit} | ({"cursor": self.cursor} if self.cursor else {})
            answer = self.client.get("/api/changes", params=params)
            assert answer.status_code == 200, answer.text
            page = answer.json()
            for change in page["items"]:
                self.seen.append(change["id"])
                if change["withdrawn_at"] is not None:
                    assert set(change) == {"id", "url", "changed_at", "withdrawn_at"}  # a tombstone: no title, body
                    self.articles.pop(change["id"], None)
                else:
                    self.articles[change["id"]] = change
            self.cursor = page["next_cursor"]
            if not page["more"]:
                return
            if between_pages is not None:
                between_pages()


def titles(mirror: Mirror) -> dict[int, str]:
    return {article_id: article["title"] for article_id, article in mirror.articles.items()}


def test_a_copy_synced_by_the_change_feed_sees_late_archives_edits_withdrawals_and_restorations(db_url: str) -> None:
    (first,) = save(db_url, [item("first", published=PUBLISHED)])
    with TestClient(create_app(db_url, change_settle=0)) as client:
        mirror = Mirror(client)
        mirror.sync()
        assert titles(mirror) == {first: "Статья first"}
        last_sync = datetime.now(UTC)

        # Archived after the sync, published a month before it: a list by publication time from the last sync
        # (what a client could ask for before) never shows it.
        (late,) = save(db_url, [item("late", published=PUBLISHED - timedelta(days=30))])
        assert client.get("/api/articles", params={"since": last_sync.isoformat()}).json()["items"] == []
        mirror.sync()
        assert titles(mirror) == {first: "Статья first", late: "Статья late"}

        later = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)  # fetched after the archived version
        save(db_url, [item("first", published=PUBLISHED, title="Статья first, исправлена", fetched_at=later)])
        mirror.sync()
        assert mirror.articles[first]["title"] == "Статья first, исправлена"
        assert mirror.articles[first]["updated_at"] == mirror.articles[first]["changed_at"]

        archive = Archive.open(db_url)
        try:
            archive.withdraw([late], "the source asked")
            mirror.sync()
            assert titles(mirror) == {first: "Статья first, исправлена"}
            archive.restore([late])
            mirror.sync()
            assert titles(mirror) == {first: "Статья first, исправлена", late: "Статья late"}
            # Shown again, its content as it was: updated_at says so, changed_at says when it was shown again
            assert mirror.articles[late]["changed_at"] > mirror.articles[late]["updated_at"]
        finally:
            archive.close()
        assert mirror.seen == [first, late, first, late, late]  # each change once, in order
        mirror.sync()  # nothing new
        assert len(mirror.seen) == 5


def test_paging_while_articles_change_loses_nothing(db_url: str) -> None:
    """Articles changed while a client pages (one it has read, one it has not yet) move to the end of the feed: the
    client meets both again, as they are now, and no other article is skipped or shifted."""
    ids = save(db_url, [item(f"n{n}", published=PUBLISHED + timedelta(hours=n)) for n in range(7)])
    archive = Archive.open(db_url)
    changes = iter(
        [
            lambda: save(db_url, [item("n0", published=PUBLISHED, title="n0 edited", fetched_at=datetime.now(UTC))]),
            lambda: archive.withdraw([ids[5]], "withdrawn while the client pages"),
        ]
    )
    try:
        with TestClient(create_app(db_url, change_settle=0)) as client:
            mirror = Mirror(client)
            mirror.sync(limit=2, between_pages=lambda: next(changes, lambda: None)())
    finally:
        archive.close()
    assert set(mirror.seen) == set(ids)
    assert mirror.seen[-2:] == [ids[0], ids[5]]  # the two changed ones, last, as they are now
    assert set(mirror.articles) == set(ids) - {ids[5]}
    assert mirror.articles[ids[0]]["title"] == "n0 edited"


def test_a_change_committed_after_a_later_one_is_not_passed_over(db_url: str) -> None:
    """A writer stamps its rows in its transaction and commits a moment later: a change stamped before another,
    committed after it, must not land behind the cursor of a client that read the other meanwhile. The feed lists a
    change once it is a minute old, by when every transaction stamped before has committed."""
    old, prompt, slow = save(db_url, [item(n, published=PUBLISHED) for n in ("old", "prompt", "slow")])
    now = datetime.now(UTC)
    engine = Archive.open(db_url)
    try:
        with engine.engine.begin() as conn:
            conn.execute(update(Article).values(changed_at=now - timedelta(minutes=10)))
            conn.execute(update(Article).where(Article.id == prompt).values(changed_at=now - timedelta(seconds=10)))
        with TestClient(create_app(db_url)) as client:  # the feed as served: a minute's settling
            mirror = Mirror(client)
            mirror.sync()
            assert mirror.seen == [old, slow]  # the prompt change is too young yet
        # A withdrawal stamped 30 seconds ago (before the prompt change), committed only now
        engine.withdraw([slow], "a slow transaction", now=now - timedelta(seconds=30))
    finally:
        engine.close()
    with TestClient(create_app(db_url, change_settle=0)) as client:  # a minute later: both have settled
        mirror.client = client
        mirror.sync()
    assert mirror.seen == [old, slow, slow, prompt]
    assert set(mirror.articles) == {old, prompt}


@pytest.fixture
def settled(sample_db: str) -> Any:
    """The sample's app with its changes listed at once (it was crawled seconds ago)."""
    with TestClient(create_app(sample_db, change_settle=0)) as client:
        yield client


def test_a_cursor_of_another_list_or_none_at_all_is_refused(settled: TestClient) -> None:
    client = settled
    listed = client.get("/api/articles", params={"limit": 1}).json()["next_cursor"]
    for cursor in (listed, "bm90IG91cnM"):
        answer = client.get("/api/changes", params={"cursor": cursor})
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "cursor"]
    changes = client.get("/api/changes", params={"limit": 1}).json()["next_cursor"]
    assert client.get("/api/articles", params={"cursor": changes}).status_code == 422


def test_changes_since_an_instant(settled: TestClient) -> None:
    client = settled
    everything = client.get("/api/changes", params={"limit": 1000}).json()["items"]
    assert len(everything) > 10
    middle = everything[len(everything) // 2]["changed_at"]
    since = client.get("/api/changes", params={"since": middle, "limit": 1000}).json()["items"]
    assert since == [change for change in everything if change["changed_at"] >= middle]


def test_list_items_carry_the_outlet_s_name_and_their_times(settled: TestClient) -> None:
    client = settled
    listed = client.get("/api/articles", params={"source": "caliber", "limit": 1}).json()["items"][0]
    assert listed["source_name"] == "Caliber.az"
    assert listed["updated_at"] and listed["changed_at"] >= listed["updated_at"]
    detail = client.get(f"/api/articles/{listed['id']}").json()
    assert detail["source_name"] == detail["source_info"]["name"] == "Caliber.az"
    for path in ("/api/articles", "/api/most-read", "/api/changes"):
        items = client.get(path).json()["items"]
        assert items and all(entry["source_name"] for entry in items), path
    assert all(hit["source_name"] for hit in client.get("/api/search", params={"q": "Азербайджан"}).json()["items"])


def test_the_article_list_takes_until(client: TestClient) -> None:
    newest = client.get("/api/articles", params={"limit": 40}).json()["items"]
    until = newest[20]["published_at"] or newest[20]["archived_at"]
    older = [a["id"] for a in newest if (a["published_at"] or a["archived_at"]) < until]
    assert 10 < len(older) < 20
    before = client.get("/api/articles", params={"until": until, "limit": len(older)}).json()["items"]
    assert [a["id"] for a in before] == older


def test_most_read_of_one_edition(sample_db: str) -> None:
    with TestClient(create_app(sample_db, most_read_ttl=0)) as client:
        listed = client.get("/api/articles", params={"limit": 100}).json()["items"]
        az = next(a for a in listed if a["language"] == "az")
        ru = next(a for a in listed if a["language"] == "ru")
        for reader, article in (("192.0.2.1", az), ("192.0.2.2", ru), ("192.0.2.3", ru)):
            view_as(client.app, reader, article["id"])
        window = {"hours": 24}
        assert [a["id"] for a in client.get("/api/most-read", params=window | {"language": "az"}).json()["items"]] == [
            az["id"]
        ]
        everyone = client.get("/api/most-read", params=window).json()["items"]
        assert [a["id"] for a in everyone[:2]] == [ru["id"], az["id"]]
        refused = client.get("/api/most-read", params={"language": "de"})
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "language"]


# -- CORS ------------------------------------------------------------------------------------------------------


def preflight(client: TestClient, origin: str, method: str = "GET") -> Any:
    return client.options("/api/articles", headers={"Origin": origin, "Access-Control-Request-Method": method})


def test_no_cors_headers_unless_configured(sample_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGGREGATOR_CORS_ORIGINS", raising=False)
    with TestClient(create_app(sample_db)) as client:
        answer = client.get("/api/articles", headers={"Origin": "https://icma.az"})
        assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
        assert preflight(client, "https://icma.az").status_code == 405


def test_cors_for_the_configured_origins(sample_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGGREGATOR_CORS_ORIGINS", "https://icma.az/, https://www.icma.az")
    with TestClient(create_app(sample_db)) as client:
        answer = client.get("/api/articles", headers={"Origin": "https://www.icma.az"})
        assert answer.headers["access-control-allow-origin"] == "https://www.icma.az"
        assert "ETag" in answer.headers["access-control-expose-headers"]
        allowed = preflight(client, "https://icma.az")
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://icma.az"
        assert set(allowed.headers["access-control-allow-methods"].split(", ")) == {"GET", "HEAD", "POST"}
        assert preflight(client, "https://icma.az", "POST").status_code == 200  # the views counter
        assert preflight(client, "https://icma.az", "DELETE").status_code == 400
        other = client.get("/api/articles", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        assert preflight(client, "https://evil.example").status_code == 400
    with TestClient(create_app(sample_db, cors_origins=["*"])) as client:
        answer = client.get("/feeds/all.rss", headers={"Origin": "https://reader.example"})
        assert answer.headers["access-control-allow-origin"] == "*"


def test_an_origin_is_kept_as_a_browser_names_it() -> None:
    """A browser's Origin names no port of the scheme's own: `https://icma.az:443` as given never matched it."""
    given = "https://ICMA.az:443/, http://www.icma.az:80, https://icma.az:8443"
    assert env_settings({"AGGREGATOR_CORS_ORIGINS": given})["AGGREGATOR_CORS_ORIGINS"] == (
        "https://icma.az", "http://www.icma.az", "https://icma.az:8443",
    )  # fmt: skip


@pytest.mark.parametrize("value", ["icma.az", "https://icma.az/news", "ftp://icma.az", "https://icma.az:x"])
def test_an_origin_that_is_none_is_refused_by_name(value: str) -> None:
    with pytest.raises(EnvironmentValueError) as refused:
        env_settings({"AGGREGATOR_CORS_ORIGINS": f"https://icma.az,{value}"})
    assert f"AGGREGATOR_CORS_ORIGINS='https://icma.az,{value}': {value!r} is no origin" in str(refused.value)


# -- export --------------------------------------------------------------------------------------------------


def test_export_of_the_changes_since_an_instant(db_url: str, tmp_path) -> None:
    first, second = save(db_url, [item("a", published=PUBLISHED), item("b", published=PUBLISHED)])
    archive = Archive.open(db_url)
    try:
        archive.sync_sources(all_sources())
        with archive.engine.begin() as conn:
            conn.execute(update(Article).values(changed_at=datetime(2026, 11, 1, tzinfo=UTC)))
        archive.withdraw([second], "a correction")
    finally:
        archive.close()
    done = run_cli("--db", db_url, "export", "--changed-since", "2026-11-02")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # the withdrawal is younger than a minute: left for the next export
    target = tmp_path / "all.csv"
    done = run_cli("--db", db_url, "export", "--format", "csv", "--changed-since", "2026-10-01", "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert "exported 1 article(s) changed before " in done.stdout and "(next: --changed-since " in done.stdout
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [(int(r["id"]), r["source_name"], r["withdrawn_at"]) for r in rows] == [(first, "Caliber.az", "")]
    refused = run_cli("--db", db_url, "export", "--changed-since", "2026-10-01", "--withdrawn", "--until", "2026-12")
    assert refused.returncode != 0 and "--changed-since exports every change: it takes no --until, --withdrawn" in (
        refused.stderr
    )


def test_an_export_names_the_outlet_and_writes_a_withdrawn_article_as_a_tombstone(db_url: str) -> None:
    from aggregator.export import export_articles
    from aggregator.store.queries import ArticleFilter, change_horizon

    first, second = save(db_url, [item("a", published=PUBLISHED), item("b", published=PUBLISHED)])
    archive = Archive.open(db_url)
    try:
        archive.withdraw([second], "a correction")
        stream = io.StringIO()
        horizon = change_horizon(0)
        assert export_articles(archive.reader, ArticleFilter(), "jsonl", stream, changed_before=horizon) == 2
        rows = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert [r["id"] for r in rows] == [first, second]  # oldest change first
        assert rows[0]["source_name"] == "Caliber.az" and rows[0]["title"] == "Статья a"
        assert {k for k, v in rows[1].items() if v is not None} == {"id", "url", "changed_at", "withdrawn_at"}
        plain = io.StringIO()
        export_articles(archive.reader, ArticleFilter(), "jsonl", plain)
        assert [json.loads(line)["source_name"] for line in plain.getvalue().splitlines()] == ["Caliber.az"]
    finally:
        archive.close()
