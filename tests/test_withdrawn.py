"""Withdrawn articles: off the downstream site, still in the archive.

A crawl that re-fetches an archived article and finds its page gone (HTTP 404 or 410) withdraws it "by the source";
finding the page again shows it again. An operator's withdrawal (``articles withdraw``) holds until ``articles
restore``. The store half runs on SQLite and PostgreSQL; the crawl half is a real crawl of the bundled sample with
an overlay that answers 410 and 404 for two of its articles.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from aggregator.api import create_app
from aggregator.mirror import serve_mirror
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.db import normalise_url
from aggregator.store.models import Article, CrawlRun, Reject
from aggregator.store.queries import ArticleFilter, count_articles, list_page, most_read
from aggregator.store.repository import RedirectRecord, RejectRecord
from tests.conftest import SAMPLE, run_cli, status_overlay
from tests.test_store import item

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def gone(url: str, status: int, linked: str | None = None) -> RejectRecord:
    return RejectRecord("caliber", url, "fetch", f"HTTP {status}", http_status=status, linked_url=linked)


def state(archive: Archive) -> dict[int, tuple[str | None, str | None]]:
    """Each article's number (from its title) -> (withdrawn_by, withdrawn_reason)."""
    with Session(archive.engine) as s:
        rows = s.execute(select(Article.title, Article.withdrawn_by, Article.withdrawn_reason)).all()
    return {int(title.split()[-1]): (by, why) for title, by, why in rows}


def shown(archive: Archive) -> set[int]:
    """The numbers of the articles every downstream read shows, checked to agree with each other."""
    with archive.engine.connect() as conn:
        listed, _ = list_page(conn, ArticleFilter(), limit=100)
        assert count_articles(conn, ArticleFilter()) == len(listed)
        withdrawn, _ = list_page(conn, ArticleFilter(withdrawn=True), limit=100)
        popular = most_read(conn, hours=24 * 365 * 10, limit=100, now=NOW)
    numbers = {int(r.title.split()[-1]) for r in listed}
    assert {int(r.title.split()[-1]) for r in popular} == numbers
    assert {int(a.title.split()[-1]) for a in archive.most_read(hours=24 * 365 * 10, limit=100, now=NOW)} == numbers
    assert {int(a.title.split()[-1]) for a in archive.list_articles(limit=100)} == numbers
    assert {h.article.id for h in archive.search("Текст", limit=100)} == {r.id for r in listed}
    assert not numbers & {int(r.title.split()[-1]) for r in withdrawn}
    return numbers


def test_a_gone_page_withdraws_its_article_and_finding_it_again_shows_it(archive: Archive) -> None:
    archive.save([item(n) for n in range(1, 6)])
    archive.record_redirects([RedirectRecord("caliber", "https://caliber.az/post/98765", item(2).url)])
    assert shown(archive) == {1, 2, 3, 4, 5}
    result = archive.save(
        [],
        [
            gone("https://caliber.az/post/story-1/", 404),  # as fetched: the trailing slash, not the canonical form
            gone("https://caliber.az/post/98765", 410),  # the old address a redirect had led from to article 2: the
            # site dropped it, and says nothing of the article (tests/test_withdrawn_own_address.py)
            gone("https://caliber.az/not-found", 410, linked=item(2).url),  # its own address, sent to a gone page
            gone("https://caliber.az/post/story-3", 500),  # a server error says nothing of the article
            gone("https://caliber.az/post/story-4", 403),
            gone("https://caliber.az/post/never-archived", 404),
        ],
    )
    assert (result.rejected, result.withdrawn) == (6, 2)
    assert state(archive)[1] == ("source", "the source answered HTTP 404")
    assert state(archive)[2] == ("source", "the source answered HTTP 410")
    assert shown(archive) == {3, 4, 5}
    # Nothing is lost: the rows, their versions and the refusals are all still there.
    assert archive.count(Article) == 5 and len(archive.snapshots(archive.article_id_for(item(1).canonical_url))) == 1

    assert archive.withdraw([archive.article_id_for(item(3).canonical_url)], "takedown request 2026-17") != []
    # The page is found again: article 1 changed, article 2 answered 304, article 3 unchanged.
    again = archive.save([item(1, title="Заголовок (исправлено) 1"), item(3)])
    assert (again.updated, again.unchanged, again.restored) == (1, 1, 1)
    assert archive.mark_seen([item(2).canonical_url]) == 1
    assert state(archive)[1] == state(archive)[2] == (None, None)
    assert state(archive)[3] == ("operator", "takedown request 2026-17")  # an operator's holds whatever is fetched
    assert shown(archive) == {1, 2, 4, 5}
    # A batch that fetched the article at one address and found another gone: the article is there.
    both = archive.save([item(4)], [gone("https://caliber.az/post/story-4/", 404)])
    assert (both.unchanged, both.withdrawn) == (1, 0) and state(archive)[4] == (None, None)
    # Withdrawn twice (a gone page after an operator's withdrawal) keeps the operator's reason.
    assert archive.save([], [gone(item(3).url, 410)]).withdrawn == 0
    assert state(archive)[3][0] == "operator"
    three = archive.article_id_for(item(3).canonical_url)
    assert archive.restore([three, 999_999]) == ([three], [three])
    assert shown(archive) == {1, 2, 3, 4, 5}


def test_withdrawn_articles_leave_stories_and_siblings(archive: Archive) -> None:
    body = "Президент подписал указ о новых мерах поддержки фермеров в трёх районах страны " * 3
    twins = [item(n, body_text=f"{body} {n}", published_at=NOW - timedelta(hours=n)) for n in (1, 2, 3)]
    archive.save(twins)
    ids = [archive.article_id_for(t.canonical_url) for t in twins]
    first = archive.with_siblings(ids[0])
    assert first is not None and len(first[1]) == 2, "the three versions of one text are one story"
    story_id = first[0].story_id
    assert story_id is not None
    archive.withdraw([ids[1]], "a correction replaced it")
    _, siblings = archive.with_siblings(ids[0]) or (None, [])
    assert [s.id for s in siblings] == [ids[2]]
    story = archive.story(story_id)
    assert story is not None and [a.id for a in story[1]] == [ids[2], ids[0]]
    assert [a.id for _, members in archive.list_stories() for a in members] == [ids[2], ids[0]]
    with archive.engine.connect() as conn:
        listed, _ = list_page(conn, ArticleFilter(story=story_id), limit=10)
    assert sorted(r.id for r in listed) == sorted([ids[0], ids[2]])


def test_the_read_api_answers_410_for_a_withdrawn_article(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    archive = Archive.open(url)
    archive.sync_sources(all_sources())
    archive.save([item(n, published_at=datetime.now(UTC) - timedelta(hours=n)) for n in (1, 2)])
    one, two = (archive.article_id_for(item(n).canonical_url) for n in (1, 2))
    archive.withdraw([one], "takedown")
    archive.close()
    with TestClient(create_app(url, most_read_ttl=0)) as client:
        assert client.get(f"/api/articles/{one}").status_code == 410
        assert client.get(f"/api/articles/{one}").json()["detail"] == f"article {one} was withdrawn"
        assert client.get(f"/api/articles/{two}").status_code == 200
        assert client.post(f"/api/articles/{one}/views").status_code == 410
        assert client.post("/api/articles/999999/views").status_code == 404
        page = client.get(f"/news/{one}")
        assert page.status_code == 410 and "Новость снята с публикации" in page.text
        assert "Заголовок 1" not in page.text
        assert [a["id"] for a in client.get("/api/articles").json()["items"]] == [two]
        assert [a["id"] for a in client.get("/api/most-read").json()["items"]] == [two]
        (caliber,) = [s for s in client.get("/api/sources").json() if s["key"] == "caliber"]
        assert caliber["articles"] == 1
        for feed in ("/feeds/all.rss", "/feeds/caliber.rss", "/"):
            body = client.get(feed).text
            assert "Заголовок 2" in body and "Заголовок 1" not in body, feed


def crawl(db: str, mirror: str, *extra: str, env: dict[str, str] | None = None):
    done = run_cli("--db", db, "crawl", "caliber", "--mirror", mirror, *extra, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def listed(db: str, *extra: str) -> set[str]:
    done = run_cli("--db", db, "articles", "list", "--limit", "500", "--json", *extra)
    assert done.returncode == 0, done.stderr
    return {a["url"] for a in json.loads(done.stdout)}


def test_a_crawl_withdraws_what_the_source_deleted_and_an_operator_what_they_must(tmp_path: Path) -> None:
    deleted = {"https://caliber.az/post/153813": 410, "https://caliber.az/en/post/142379": 404}
    overlay = status_overlay(tmp_path / "deleted", deleted)
    db = f"sqlite:///{tmp_path / 'a.db'}"
    recent = {"AGGREGATOR_RECHECK_HOURS": "1000000", "AGGREGATOR_REFUSED_RETRY_HOURS": "0"}
    with serve_mirror(SAMPLE) as plain, serve_mirror(SAMPLE, overlays=(overlay,)) as with_deletions:
        crawl(db, plain, env=recent)
        everything = listed(db)
        assert set(deleted) <= everything
        done = crawl(db, with_deletions, env=recent)
        assert "2 archived article(s) withdrawn: their pages are gone" in " ".join(done.stdout.split()), done.stdout
        assert listed(db) == everything - set(deleted)
        assert listed(db, "--withdrawn") == set(deleted)
        engine = create_engine(normalise_url(db))
        with Session(engine) as s:
            run = s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
            assert run is not None and run.stats["aggregator/articles_withdrawn"] == 2
            why = dict(s.execute(select(Article.url, Article.withdrawn_reason).where(Article.url.in_(deleted))).all())
        assert why == {u: f"the source answered HTTP {s}" for u, s in deleted.items()}
        listed_withdrawn = json.loads(run_cli("--db", db, "articles", "list", "--withdrawn", "--json").stdout)
        assert {a["withdrawn"]["reason"] for a in listed_withdrawn} == {
            f"the source answered HTTP {s}" for s in (404, 410)
        }
        table = run_cli("--db", db, "articles", "list", "--withdrawn")
        assert (
            "2 of 2 withdrawn articles" in table.stdout
            and "withdrawn by source: the source answered HTTP 410" in table.stdout
        )
        article_id = listed_withdrawn[0]["id"]
        shown = json.loads(run_cli("--db", db, "articles", "show", str(article_id), "--json").stdout)
        assert shown["withdrawn"]["by"] == "source" and shown["withdrawn"]["reason"].startswith("the source answered")

        # The pages come back (the recheck answers 304): both are shown again.
        done = crawl(db, plain, env=recent)
        assert "2 withdrawn article(s) shown again" in " ".join(done.stdout.split()), done.stdout
        assert listed(db) == everything and listed(db, "--withdrawn") == set()
        with Session(engine) as s:
            run = s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
            assert run is not None and run.stats["aggregator/articles_restored"] == 2
            # Their 404 and 410 are over: resolved as the articles (they stayed open in `rejects list` for good).
            still_open = s.scalars(select(Reject.url).where(Reject.url.in_(deleted), Reject.resolved_at.is_(None)))
            assert list(still_open) == []

        # An operator's withdrawal holds through a crawl that fetches the page again; restore lifts it.
        target = next(a for a in json.loads(run_cli("--db", db, "articles", "list", "--json").stdout))
        done = run_cli("--db", db, "articles", "withdraw", str(target["id"]), "--reason", "takedown request")
        assert done.returncode == 0 and f"#{target['id']}" in done.stdout, done.stderr
        crawl(db, plain, "--refresh")
        assert target["url"] not in listed(db) and listed(db, "--withdrawn") == {target["url"]}
        done = run_cli("--db", db, "articles", "restore", str(target["id"]))
        assert done.returncode == 0, done.stderr
        assert listed(db) == everything


def test_an_old_article_the_source_withdrew_is_followed_again_and_shown_when_its_page_is_back(tmp_path: Path) -> None:
    """An article past the recheck window, withdrawn on a 404 (a sweep's, a --refresh's): known as old, its listing
    link was dropped on every later run, and it stayed withdrawn for good after its page came back."""
    deleted = {"https://caliber.az/post/153813": 404}
    overlay = status_overlay(tmp_path / "deleted", deleted)
    db = f"sqlite:///{tmp_path / 'a.db'}"
    old = {"AGGREGATOR_RECHECK_HOURS": "0", "AGGREGATOR_REFUSED_RETRY_HOURS": "0"}
    with serve_mirror(SAMPLE) as plain, serve_mirror(SAMPLE, overlays=(overlay,)) as with_deletions:
        crawl(db, plain, env=old)
        everything = listed(db)
        crawl(db, with_deletions, "--refresh", env=old)
        assert listed(db, "--withdrawn") == set(deleted)
        done = crawl(db, plain, env=old)  # not --refresh: an ordinary incremental run
        assert "1 withdrawn article(s) shown again" in " ".join(done.stdout.split()), done.stdout
        assert listed(db) == everything and listed(db, "--withdrawn") == set()


def test_withdraw_and_restore_say_clearly_what_they_could_not_do(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    archive = Archive.open(db)
    archive.sync_sources(all_sources())
    archive.save([item(1)])
    one = archive.article_id_for(item(1).canonical_url)
    archive.close()
    blank = run_cli("--db", db, "articles", "withdraw", str(one), "--reason", "  ")
    assert blank.returncode == 2 and "--reason" in blank.stderr
    missing = run_cli("--db", db, "articles", "withdraw", "424242", "--reason", "takedown")
    assert missing.returncode == 2 and "no article with id 424242" in missing.stderr
    partly = run_cli("--db", db, "articles", "withdraw", str(one), "424242", "--reason", "takedown")
    assert partly.returncode == 0 and "424242" in partly.stderr and f"#{one}" in partly.stdout
    # restore named unknown ids as withdraw does: it said nothing of them, or "none of #424242 is withdrawn".
    missing = run_cli("--db", db, "articles", "restore", "424242")
    assert missing.returncode == 2 and missing.stderr.strip() == "aggregator: error: no article with id 424242"
    partly = run_cli("--db", db, "articles", "restore", str(one), "424242")
    assert partly.returncode == 0 and f"#{one}" in partly.stdout
    assert partly.stderr.strip() == "aggregator: warning: no article with id 424242"
    again = run_cli("--db", db, "articles", "restore", str(one))
    assert again.returncode == 2 and f"none of #{one} is withdrawn" in again.stderr  # not withdrawn any more


def test_export_leaves_withdrawn_articles_out_unless_asked_for_them(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    archive = Archive.open(db)
    archive.sync_sources(all_sources())
    archive.save([item(1), item(2)])
    archive.withdraw([archive.article_id_for(item(2).canonical_url)], "court order")
    archive.close()
    everything = run_cli("--db", db, "export")
    assert [json.loads(line)["title"] for line in everything.stdout.splitlines()] == ["Заголовок 1"]
    (only,) = [json.loads(line) for line in run_cli("--db", db, "export", "--withdrawn").stdout.splitlines()]
    assert (only["title"], only["withdrawn_by"], only["withdrawn_reason"]) == ("Заголовок 2", "operator", "court order")
    assert only["withdrawn_at"].endswith("Z") or only["withdrawn_at"].endswith("+00:00")


def test_most_read_stays_full_when_the_most_viewed_are_withdrawn(archive: Archive) -> None:
    archive.save([item(n, published_at=NOW - timedelta(hours=1)) for n in range(1, 31)])
    with archive.engine.begin() as conn:  # article n was viewed n times
        for n in range(1, 31):
            conn.execute(update(Article).where(Article.title == f"Заголовок {n}").values(views=n))
    top = [archive.article_id_for(item(n).canonical_url) or 0 for n in range(30, 0, -1)]
    archive.withdraw(top[:25], "takedown")  # more than the few extra ids ranked at first
    chosen = archive.most_read(hours=24, limit=3, now=NOW)
    assert [a.views for a in chosen] == [5, 4, 3]
    assert [a.views for a in archive.most_read(hours=24, limit=10, now=NOW)] == [5, 4, 3, 2, 1]


def test_an_operators_withdrawal_committed_while_a_crawl_withdraws_the_gone_page_holds(postgres_url: str) -> None:
    """PostgreSQL, where writers' reads do not lock: the crawl's batch reads the article as shown, an operator's
    `articles withdraw` commits, then the batch writes its withdrawal "by source". It overwrote the operator's, and
    the next crawl that found the page showed the article again. (SQLite's writers take turns whole.)"""
    from sqlalchemy import event

    archive = Archive.open(postgres_url)
    other = Archive.open(postgres_url)
    try:
        archive.sync_sources(all_sources())
        archive.save([item(1)])
        (article_id,) = [a.id for a in archive.list_articles()]

        raced: list[bool] = []

        def operator_first(conn, cursor, statement, parameters, context, executemany) -> None:
            if not raced and statement.lstrip().upper().startswith("UPDATE ARTICLES SET WITHDRAWN_AT"):
                raced.append(True)
                other.withdraw([article_id], "legal takedown")

        event.listen(archive.engine, "before_cursor_execute", operator_first)
        archive.save([], [gone("https://caliber.az/post/story-1", 404)])
        event.remove(archive.engine, "before_cursor_execute", operator_first)
        assert raced and state(archive)[1] == ("operator", "legal takedown")

        archive.save([item(1)])  # the page is back: only `articles restore` shows it again
        assert state(archive)[1] == ("operator", "legal takedown")
    finally:
        other.close()
        archive.close()
