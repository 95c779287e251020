"""The archive on SQLite and PostgreSQL alike: migrations, idempotent batched upserts, snapshots, quarantine."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from aggregator.items import ArticleItem
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.db import (
    DatabaseError,
    connect,
    current_revision,
    head_revision,
    normalise_url,
    upgrade,
)
from aggregator.store.models import Article, Base, CrawlRun, Reject, Snapshot
from aggregator.store.repository import RedirectRecord, RejectRecord
from aggregator.store.search import include_name

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def item(n: int, **changes) -> ArticleItem:
    base = ArticleItem(
        source="caliber",
        url=f"https://caliber.az/post/story-{n}/",
        canonical_url=f"https://caliber.az/post/story-{n}",
        language="ru",
        title=f"Заголовок {n}",
        body_html=f"<p>Текст {n}</p>",
        body_text=f"Текст {n}",
        published_raw="01 Марта 2026 14:00",
        published_at=T0,
        fetched_at=T0,
        raw_body=f"<html>raw {n}</html>".encode(),
        raw_encoding="utf-8",
        etag=f'"e{n}"',
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def test_migrations_produce_exactly_the_models_schema(db_url: str) -> None:
    engine = connect(db_url)
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name}), Base.metadata
        )
    assert diff == []
    assert set(inspect(engine).get_table_names()) >= {
        "sources",
        "articles",
        "snapshots",
        "rejects",
        "crawl_runs",
    }
    engine.dispose()


def test_batches_upsert_by_canonical_url(archive: Archive) -> None:
    first = archive.save([item(1), item(2)])
    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    again = archive.save([item(1), item(2)])
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2)
    assert archive.count(Article) == 2
    assert archive.count(Snapshot) == 2
    stored = archive.list_articles()
    assert {a.url for a in stored} == {"https://caliber.az/post/story-1", "https://caliber.az/post/story-2"}


def test_a_changed_article_keeps_its_archive_time_and_gains_a_snapshot(archive: Archive) -> None:
    archive.save([item(1)])
    original = archive.list_articles()[0]
    edited = item(1, title="Заголовок 1 (обновлено)", fetched_at=T0 + timedelta(hours=2))
    result = archive.save([edited])
    assert (result.new, result.updated) == (0, 1)
    now = archive.get_article(original.id)
    assert now is not None
    assert now.title == "Заголовок 1 (обновлено)"
    assert now.archived_at == original.archived_at
    assert now.updated_at >= original.updated_at
    snaps = archive.snapshots(original.id)
    assert len(snaps) == 2
    assert zlib.decompress(snaps[0].raw_body) == b"<html>raw 1</html>"
    assert snaps[0].etag == '"e1"'


def test_a_version_that_gives_no_date_keeps_the_archived_one(archive: Archive) -> None:
    """An article dated by its feed entry (its page prints no date) fetched again without the feed, as the sweep
    fetches it, or re-extracted from its stored page: the new reading has no date, and the archived one stays."""
    archive.save([item(1, published_raw=None, published_feed="Sun, 01 Mar 2026 14:00:00 +0400")])
    (article,) = archive.list_articles()
    swept = item(1, published_raw=None, published_at=None, title="Заголовок 1 (обновлено)", raw_body=b"<html>2</html>")
    assert archive.save([swept]).updated == 1
    stored = archive.get_article(article.id)
    assert stored is not None and (stored.title, stored.published_at) == ("Заголовок 1 (обновлено)", T0)
    assert archive.update_extractions([(article.id, swept)]).changed == set()  # re-extracted: nothing to change
    stored = archive.get_article(article.id)
    assert stored is not None and stored.published_at == T0
    later = T0 + timedelta(hours=1)  # a version with a date of its own replaces it
    archive.save([item(1, published_at=later, title="Заголовок 1 (снова)", raw_body=b"<html>3</html>")])
    stored = archive.get_article(article.id)
    assert stored is not None and stored.published_at == later


def test_a_batch_counts_the_articles_it_leaves_undated_as_the_archive_holds_them(archive: Archive) -> None:
    """What the crawl summary's `undated` adds up: the articles `articles list --undated` lists after the batch,
    whether their page printed no date or one that could not be read, and not an archived date kept by a version
    that gives none."""
    no_date = item(1, published_raw=None, published_at=None)
    unread = item(2, published_raw="2026/12/06 10h15", published_at=None)
    first = archive.save([no_date, unread, item(3)])
    assert (first.new, first.undated) == (3, 2)
    assert archive.save([no_date, unread, item(3)]).undated == 2  # unchanged, and undated still
    later = archive.save(
        [
            item(3, published_raw=None, published_at=None, title="Заголовок 3 (обновлено)"),  # keeps its date
            item(1, published_at=T0, title="Заголовок 1 (с датой)"),  # dated now
            item(2, title="Заголовок 2 (снова без даты)", published_raw="2026/12/06 10h16", published_at=None),
        ]
    )
    assert (later.updated, later.undated) == (3, 1)
    assert [a.url for a in archive.list_articles(undated=True)] == [unread.canonical_url]


def test_a_re_extraction_keeps_the_address_a_listing_linked(archive: Archive) -> None:
    """The address a listing linked before the site redirected it to the article's (``linked_url``) is what the
    crawl saw, not what the page says: a re-extraction from the stored page, which knows no request, keeps it (it
    wrote None over it, and counted every redirected article as changed)."""
    linked = "https://caliber.az/post/153813"
    archive.save([item(1, linked_url=linked)])
    (article,) = archive.list_articles()
    assert archive.get_article(article.id).linked_url == linked  # type: ignore[union-attr]
    assert archive.update_extractions([(article.id, item(1))]).changed == set()
    assert archive.get_article(article.id).linked_url == linked  # type: ignore[union-attr]


def test_the_feed_entry_s_picture_is_the_cover_of_a_page_that_names_none(archive: Archive) -> None:
    """A page with no picture of its own takes its feed entry's (``cover_feed``); one with its own keeps it. The feed's
    picture is no part of the page: the same page fetched again without the feed (the sweep's fetch) is no new
    version, and a version or a re-extraction that finds no cover keeps the archived one, as the date."""
    feed = "https://caliber.az/feed-images/1.jpg"
    own = "https://caliber.az/media/2.jpg"
    archive.save([item(1, cover_feed=feed), item(2, cover_image_url=own, cover_feed=feed)])
    covers = {a.url: a.cover_image_url for a in archive.list_articles()}
    assert covers == {"https://caliber.az/post/story-1": feed, "https://caliber.az/post/story-2": own}
    (article,) = [a for a in archive.list_articles() if a.url.endswith("story-1")]
    swept = archive.save([item(1, fetched_at=T0 + timedelta(days=1))])  # the same page, no feed at hand
    assert (swept.updated, swept.unchanged) == (0, 1) and len(archive.snapshots(article.id)) == 1
    edited = item(1, title="Заголовок 1 (обновлено)", raw_body=b"<html>2</html>")
    assert archive.save([edited]).updated == 1
    stored = archive.get_article(article.id)
    assert stored is not None and (stored.title, stored.cover_image_url) == ("Заголовок 1 (обновлено)", feed)
    assert archive.update_extractions([(article.id, edited)]).changed == set()  # re-extracted: nothing to change
    stored = archive.get_article(article.id)
    assert stored is not None and stored.cover_image_url == feed
    archive.save([item(1, cover_image_url=own, raw_body=b"<html>3</html>")])  # the page's own picture, once it has one
    stored = archive.get_article(article.id)
    assert stored is not None and stored.cover_image_url == own


def test_the_same_article_twice_in_one_batch_is_one_row(archive: Archive) -> None:
    late = item(1, url="https://caliber.az/post/story-1", title="later")
    result = archive.save([item(1), late])
    assert result.new == 1
    assert archive.list_articles()[0].title == "later"


def test_times_are_aware_utc_on_the_way_out(archive: Archive) -> None:
    baku = timezone(timedelta(hours=4))
    archive.save([item(1, published_at=datetime(2026, 3, 1, 14, 0, tzinfo=baku))])
    stored = archive.list_articles()[0]
    assert stored.published_at == T0
    assert stored.published_at.tzinfo is not None and stored.published_at.utcoffset() == timedelta(0)
    with pytest.raises(Exception, match="naive"):
        archive.save([item(2, published_at=datetime(2026, 3, 1, 14, 0))])


def test_rejects_keep_reason_item_and_raw_page(archive: Archive) -> None:
    bad = item(3, title="")
    run = archive.start_run("caliber", "caliber")
    archive.save(
        [],
        [
            RejectRecord("caliber", bad.url, "validate", "no title", 200, bad.to_record(), bad.raw_body),
            RejectRecord("caliber", "https://caliber.az/post/gone", "fetch", "HTTP 404", 404),
        ],
        run_id=run,
    )
    archive.finish_run(run, status="finished", reason="finished", stats={"x": 1})
    rows = archive.list_rejects()
    assert {r.reason for r in rows} == {"no title", "HTTP 404"}
    quarantined = next(r for r in rows if r.reason == "no title")
    assert quarantined.item["url"] == bad.url and quarantined.item["title"] == ""
    assert zlib.decompress(quarantined.raw_body) == bad.raw_body
    assert quarantined.crawl_run_id == run
    assert archive.count(Reject) == 2
    assert archive.list_runs()[0].status == "finished"


def test_a_page_refused_again_for_the_same_reason_is_counted_on_its_row(archive: Archive) -> None:
    """A scheduled crawl meets a broken page at every run: one row per page and reason, not one per run."""
    first, second = archive.start_run("caliber", "caliber"), archive.start_run("caliber", "caliber")
    bad = item(3, title="")
    gone = "https://caliber.az/post/gone"
    archive.save([], [RejectRecord("caliber", bad.url, "validate", "no title", 200, bad.to_record(), bad.raw_body)])
    archive.save([], [RejectRecord("caliber", gone, "fetch", "HTTP 404", 404)], run_id=first)
    (row_404,) = [r for r in archive.list_rejects() if r.url == gone]
    assert (row_404.attempts, row_404.last_seen_at) == (1, row_404.created_at)
    # The same refusals again (one of them twice in the batch), and the 404 page now answering 500.
    newer = item(3, title="", raw_body=b"<html>newer</html>")
    again = [
        RejectRecord("caliber", bad.url, "validate", "no title", 200, newer.to_record(), newer.raw_body),
        RejectRecord("caliber", gone, "fetch", "HTTP 404", 404),
        RejectRecord("caliber", gone, "fetch", "HTTP 404", 404),
        RejectRecord("caliber", gone, "fetch", "HTTP 500", 500),
    ]
    archive.save([], again, run_id=second)
    rows = {(r.url, r.reason): r for r in archive.list_rejects()}
    assert set(rows) == {(bad.url, "no title"), (gone, "HTTP 404"), (gone, "HTTP 500")}
    assert rows[gone, "HTTP 404"].attempts == 3 and rows[gone, "HTTP 404"].crawl_run_id == second
    assert rows[gone, "HTTP 404"].last_seen_at > rows[gone, "HTTP 404"].created_at
    assert rows[gone, "HTTP 500"].attempts == 1
    assert rows[bad.url, "no title"].attempts == 2
    assert zlib.decompress(rows[bad.url, "no title"].raw_body) == b"<html>newer</html>"  # the newest page is kept
    assert archive.count(Reject) == 3
    refused = {(p.url, p.stage, p.reason, p.http_status, p.attempts) for p in archive.refused_pages("caliber")}
    assert refused == {
        (bad.url, "validate", "no title", 200, 2),
        (gone, "fetch", "HTTP 404", 404, 3),
        (gone, "fetch", "HTTP 500", 500, 1),
    }
    assert all(p.last_refused == rows[p.url, p.reason].last_seen_at for p in archive.refused_pages("caliber"))
    assert archive.refused_pages("apa") == []


def test_a_refused_page_archived_later_resolves_its_rejects(archive: Archive) -> None:
    fixed = item(4)
    archive.save([], [RejectRecord("caliber", fixed.url, "validate", "no body", 200)])  # fetched as story-4/
    archive.save([], [RejectRecord("caliber", "https://caliber.az/post/other", "fetch", "HTTP 404", 404)])
    archive.save([fixed])  # the site fixed the page: this crawl archives it
    (article_id,) = [a.id for a in archive.list_articles()]
    (resolved,) = archive.list_rejects(include_resolved=True)[1:]
    assert resolved.url == fixed.url and resolved.resolved_at is not None and resolved.article_id == article_id
    assert [r.url for r in archive.list_rejects()] == ["https://caliber.az/post/other"]  # still open
    assert [p.url for p in archive.refused_pages("caliber")] == ["https://caliber.az/post/other"]
    # Refused again after it was archived: a new open row, not the resolved one bumped.
    archive.save([], [RejectRecord("caliber", fixed.url, "validate", "no body", 200)])
    newest = archive.list_rejects()[0]
    assert (newest.url, newest.attempts, newest.resolved_at) == (fixed.url, 1, None)
    assert archive.count(Reject) == 3


def test_pages_reached_through_a_redirect_are_known_by_the_linked_address(archive: Archive) -> None:
    """What a listing links (``linked_url``) is kept with the article and the reject, and an incremental crawl is
    given it among the archived URLs and the refused pages; a later fetch without a redirect keeps it."""
    old_slug, numeric = "https://caliber.az/post/old-slug-5", "https://caliber.az/post/5"
    moved = item(5, linked_url=old_slug)
    gone = "https://caliber.az/post/gone-now"
    archive.save(
        [moved], [RejectRecord("caliber", gone, "fetch", "HTTP 404", 404, linked_url="https://caliber.az/p/9")]
    )
    (article,) = archive.list_articles()
    assert article.linked_url == old_slug
    old, recent = archive.known_articles("caliber", recent_since=T0 + timedelta(days=1))
    assert old_slug in set(old)
    old, recent = archive.known_articles("caliber", recent_since=T0 - timedelta(days=1))
    assert (old_slug, '"e5"', None, article.url) in recent
    assert [(p.url, p.linked_url) for p in archive.refused_pages("caliber")] == [(gone, "https://caliber.az/p/9")]
    # Fetched again at its own address, changed: the linked address stays.
    archive.save([item(5, body_html="<p>Новый текст</p>")])
    assert archive.list_articles()[0].linked_url == old_slug
    # Unchanged, reached now from another address: that one is the latest a listing linked.
    archive.save([item(5, body_html="<p>Новый текст</p>", linked_url=numeric)])
    assert archive.list_articles()[0].linked_url == numeric
    # A page refused at its old address, archived through the redirect: that reject is resolved as the article.
    archive.save([], [RejectRecord("caliber", "https://caliber.az/post/6", "validate", "no body", 200)])
    archive.save([item(6, linked_url="https://caliber.az/post/6")])
    assert [r.url for r in archive.list_rejects()] == [gone]


def test_every_address_that_redirects_to_a_page_is_kept(archive: Archive) -> None:
    """Each redirect a crawl met is a row of ``redirects``: those its articles and rejects were fetched through, and
    those it did not follow (``record_redirects``); one row an address, the newest target winning, also when one
    batch names an address twice (PostgreSQL refuses to update a row twice in one statement)."""
    old_slug, numeric, gone = (
        "https://caliber.az/post/old-slug-5",
        "https://caliber.az/post/5",
        "https://caliber.az/p/9",
    )
    archive.save([item(5, linked_url=old_slug)], [RejectRecord("caliber", "https://caliber.az/post/gone-now", "fetch",
                                                               "HTTP 404", 404, linked_url=gone)])  # fmt: skip
    archive.record_redirects(
        [
            RedirectRecord("caliber", numeric, "https://caliber.az/post/story-4/"),
            RedirectRecord("caliber", numeric, "https://caliber.az/post/story-5/"),
            RedirectRecord("caliber", "https://caliber.az/post/x", "https://caliber.az/post/x"),  # not a redirect
            RedirectRecord("caliber", "https://caliber.az/post/" + "y" * 2100, "https://caliber.az/post/y"),  # too long
        ]
    )
    assert sorted(archive.redirects("caliber")) == [
        (gone, "https://caliber.az/post/gone-now"),
        (numeric, "https://caliber.az/post/story-5/"),
        (old_slug, "https://caliber.az/post/story-5/"),
    ]
    assert archive.redirects("report") == []
    # The site now redirects the old slug elsewhere: the row follows it.
    archive.record_redirects([RedirectRecord("caliber", old_slug, "https://caliber.az/post/story-6")])
    assert dict(archive.redirects("caliber"))[old_slug] == "https://caliber.az/post/story-6"


def test_database_urls_are_checked() -> None:
    assert normalise_url("postgresql://postgres@127.0.0.1/test").startswith("postgresql+psycopg://")
    with pytest.raises(DatabaseError, match="unsupported"):
        normalise_url("mysql://root@127.0.0.1/test")
    with pytest.raises(DatabaseError, match="not a database URL"):
        normalise_url("no such thing")


def test_reads_neither_wait_for_nor_hold_up_a_writer_on_sqlite(tmp_path) -> None:
    """An operator's query while a crawl's batch holds SQLite's write lock reads the last committed state at once
    (WAL), instead of queueing behind the batch for up to the busy timeout; and it takes no write lock itself."""
    import sqlite3
    import time

    url = f"sqlite:///{tmp_path / 'archive.db'}"
    archive = Archive.open(url)
    archive.sync_sources(all_sources())
    archive.save([item(1)])
    writer = sqlite3.connect(tmp_path / "archive.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a crawl's batch in progress
    writer.execute("UPDATE articles SET title = 'in progress'")
    try:
        began = time.monotonic()
        titles = [a.title for a in archive.list_articles()]
        assert archive.count(Article) == 1 and archive.search("Текст") != []
        assert time.monotonic() - began < 5
        assert titles == ["Заголовок 1"]  # the committed state, not the batch's
        with archive.reading() as session:  # a read transaction open while the writer commits
            assert session.get(Article, 1) is not None
            writer.execute("COMMIT")
    finally:
        if writer.in_transaction:
            writer.execute("ROLLBACK")
        writer.close()
    assert archive.get_article(1).title == "in progress"  # type: ignore[union-attr]
    archive.close()


def _articles_in_the_file_alone(path, folder) -> int:
    """How many articles the database file holds without its write-ahead log (what a checkpoint copied there)."""
    import shutil
    import sqlite3

    copy = folder / "file-alone.db"
    copy.unlink(missing_ok=True)
    shutil.copyfile(path, copy)
    connection = sqlite3.connect(copy)
    try:
        if connection.execute("SELECT count(*) FROM sqlite_master WHERE name = 'articles'").fetchone()[0] == 0:
            return 0  # the schema itself is still only in the log
        return int(connection.execute("SELECT count(*) FROM articles").fetchone()[0])
    except sqlite3.DatabaseError:  # copied while a checkpoint was writing pages into it: torn, look again
        return -1
    finally:
        connection.close()


def _big_batch(count: int) -> list[ArticleItem]:
    """Articles whose pages do not compress: a batch of them takes the log past SQLite's 1,000-page checkpoint."""
    import random

    rng = random.Random(7)
    return [item(n, raw_body=rng.randbytes(24_000)) for n in range(count)]


def test_commits_leave_the_checkpoint_to_a_thread_on_sqlite(tmp_path, monkeypatch) -> None:
    """A batch's commit returns without copying the log into the database file (SQLite's automatic checkpoint
    waits on the disk inside the commit that takes the log past 1,000 pages); the archive's checkpointer thread
    copies it, and closing the archive copies what is left."""
    from aggregator.store import db

    monkeypatch.setattr(db, "CHECKPOINT_INTERVAL", 3600.0)  # the thread waits: only close() checkpoints
    path = tmp_path / "archive.db"
    archive = Archive.open(f"sqlite:///{path}")
    archive.sync_sources(all_sources())
    archive.save(_big_batch(250))  # ~6 MB of pages: 1,500 pages of log
    assert (tmp_path / "archive.db-wal").stat().st_size > 4_096_000
    assert _articles_in_the_file_alone(path, tmp_path) == 0  # still only in the log
    assert archive.count(Article) == 250  # and read through it
    archive.close()
    assert _articles_in_the_file_alone(path, tmp_path) == 250


def test_the_checkpointer_copies_the_log_while_the_archive_is_open(tmp_path) -> None:
    import time

    path = tmp_path / "archive.db"
    archive = Archive.open(f"sqlite:///{path}")
    archive.sync_sources(all_sources())
    archive.save(_big_batch(50))
    deadline = time.monotonic() + 10
    while _articles_in_the_file_alone(path, tmp_path) != 50:
        assert time.monotonic() < deadline, "the log was not checkpointed within 10 s"
        time.sleep(0.05)
    archive.close()


def _aged_runs(archive: Archive, source: str, ages_days: list[float], status: str = "finished") -> list[int]:
    """Runs of ``source`` started that many days ago, oldest first (ids ascending, as real runs get them)."""
    ids = []
    for age in ages_days:
        run = archive.start_run(source, source)
        archive.finish_run(run, status=status, reason=status, stats={"pages": 1})
        with archive.session.begin() as s:
            s.get(CrawlRun, run).started_at = datetime.now(UTC) - timedelta(days=age)
        ids.append(run)
    return ids


def test_old_runs_are_pruned_but_each_source_keeps_its_newest_and_running_ones(archive: Archive) -> None:
    caliber = _aged_runs(archive, "caliber", [200.0] * 25 + [1.0] * 5)
    with archive.session.begin() as s:  # a run still going (its process alive) is never deleted, however old
        s.get(CrawlRun, caliber[3]).status = "running"
    haqqin = _aged_runs(archive, "haqqin", [300.0] * 3)  # fewer runs than it keeps: all stay
    archive.save([], [RejectRecord("caliber", "https://caliber.az/post/gone", "fetch", "HTTP 404", 404)], caliber[5])
    cutoff = datetime.now(UTC) - timedelta(days=90)

    assert archive.prune_runs(older_than=cutoff, keep=10, dry_run=True) == {"caliber": 19}
    assert len(archive.list_runs(limit=100)) == 33  # a dry run deletes nothing
    assert archive.prune_runs(older_than=cutoff, keep=10, source="haqqin") == {}
    assert archive.prune_runs(older_than=cutoff, keep=10) == {"caliber": 19}

    left = {r.id for r in archive.list_runs(limit=100)}
    assert left == {caliber[3], *caliber[20:], *haqqin}
    (reject,) = archive.list_rejects()  # the reject outlives its run
    assert reject.url == "https://caliber.az/post/gone" and reject.crawl_run_id is None
    assert archive.prune_runs(older_than=cutoff, keep=10) == {}  # nothing left to delete
    assert archive.prune_runs(older_than=cutoff, keep=0, source="haqqin") == {"haqqin": 3}


def test_what_a_source_prints_is_stored_as_every_back_end_can_keep_it(archive: Archive) -> None:
    """PostgreSQL refuses NUL characters and values longer than a column, which SQLite keeps: one such value used to
    fail the whole batch it was in. The store keeps the article, cleaned, on both."""
    odd = item(
        1,
        title="Заго\x00ловок",
        body_html="<p>Те\x00кст</p>",
        body_text="Те\x00кст",
        published_raw="01 Марта 2026 " + "и ещё " * 60,
        category="Поли\x00тика" + "!" * 300,
        cover_image_url="data:image/png;base64," + "A" * 3000,
        linked_url="https://caliber.az/post/old?" + "x" * 2100,
        cited_outlets=["Re\x00uters"],
    )
    archive.save([odd, item(2)])
    stored = {a.url: a for a in archive.list_articles()}
    one = stored["https://caliber.az/post/story-1"]
    assert (one.title, one.body_text, one.body_html) == ("Заголовок", "Текст", "<p>Текст</p>")
    assert one.published_raw == ("01 Марта 2026 " + "и ещё " * 60)[:200] and len(one.category) == 200
    assert one.category.startswith("Политика!") and one.cited_outlets == ["Reuters"]
    assert one.cover_image_url is None and one.linked_url is None  # too long to be of use: left out
    assert "https://caliber.az/post/story-2" in stored

    long_url = "https://caliber.az/post/x?" + "utm=1&" * 400
    refused = item(3, title="\x00", url=long_url)
    archive.save([], [RejectRecord("caliber", long_url, "validate", "no ti\x00tle", 200, refused.to_record())])
    (reject,) = archive.list_rejects()
    assert reject.url == long_url[:2000] and reject.item["url"] == long_url  # the item keeps it whole
    assert reject.reason == "no title" and reject.item["title"] == ""


def test_an_article_the_database_refuses_costs_only_itself(db_url: str) -> None:
    """One article the database cannot take (here a naive date, refused by the store's type) made the whole batch
    fail: the writer then writes the batch one article at a time, and the refused one becomes a reject."""
    from aggregator.store.writer import write_batch

    archive = Archive.open(db_url)
    archive.sync_sources(all_sources())
    run = archive.start_run("caliber", "caliber")
    bad = item(2, published_at=datetime(2026, 3, 1, 14, 0))  # no time zone
    gone = RejectRecord("caliber", "https://caliber.az/post/gone", "fetch", "HTTP 404", 404)
    result = write_batch(db_url, [item(1), bad, item(3)], [gone], run)
    assert not isinstance(result, str), result
    assert (result.new, result.rejected) == (2, 2)
    assert {a.url for a in archive.list_articles()} == {
        "https://caliber.az/post/story-1",
        "https://caliber.az/post/story-3",
    }
    rejects = {r.url: r for r in archive.list_rejects()}
    stored = rejects[bad.url]
    assert stored.stage == "store" and stored.reason.startswith("could not be stored: ") and "naive" in stored.reason
    assert stored.item["title"] == "Заголовок 2" and zlib.decompress(stored.raw_body) == bad.raw_body
    assert stored.crawl_run_id == run and rejects[gone.url].reason == "HTTP 404"
    archive.close()


def test_counting_what_a_list_shows_reads_an_index_not_the_table(tmp_path) -> None:
    """`aggregator articles list` prints "50 of N": N counted from an index (SQLite's plan: SEARCH, or SCAN ... USING
    COVERING INDEX) whatever the archive's size. It read every row of the table, and a row's columns after its texts
    from its overflow pages: 1.2 s at 1,000,000 short articles."""
    from aggregator.store.queries import ArticleFilter, count_articles
    from tests.helpers.query_plans import captured, query_plans, row_by_row

    path = tmp_path / "archive.db"
    archive = Archive.open(f"sqlite:///{path}")
    archive.sync_sources(all_sources())
    archive.save([item(n) for n in range(4)] + [item(9, published_raw="вчера", published_at=None)])
    archive.withdraw([1], "a court order")
    try:
        with captured(archive.reader) as statements, archive.reader.connect() as conn:
            assert count_articles(conn, ArticleFilter()) == 4  # 3 dated and 1 undated shown, 1 withdrawn
            assert count_articles(conn, ArticleFilter(source="caliber")) == 4
            assert count_articles(conn, ArticleFilter(source="caliber", undated=True)) == 1
            assert count_articles(conn, ArticleFilter(source="haqqin")) == 0
    finally:
        archive.close()
    plans = query_plans(path, statements)
    assert plans
    assert not row_by_row(plans, ("articles",)), plans


def test_reads_of_what_a_crawl_archived_so_far_make_no_archive_where_there_is_none(tmp_path) -> None:
    """The health check's run history, the sweep's and the incremental filter's reads, at a crawl's start or end:
    with the archive's folder removed mid-run, they made the folder again and an empty SQLite file in it, and every
    later command said "holds no archive" of it. They read nothing instead."""
    from scrapy.utils.test import get_crawler

    from aggregator.health import item_history
    from aggregator.sweep import SweepMiddleware

    folder = tmp_path / "removed"
    url = f"sqlite:///{folder / 'archive.db'}"
    crawler = get_crawler(settings_dict={"AGGREGATOR_DB_URL": url})
    assert item_history(crawler, "caliber") == []
    assert SweepMiddleware.from_crawler(crawler).plan("caliber", T0) == ([], 0)
    assert not folder.exists()
