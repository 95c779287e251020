"""Migrations upgrade a database of an earlier revision that holds data, keeping the data, to the models' schema."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select, text

from aggregator.store import Archive
from aggregator.store.db import (
    SchemaBehind,
    SchemaTooNew,
    alembic_config,
    connect,
    current_revision,
    ensure_schema,
    head_revision,
    newest_migration,
    require_current,
    stored_revision,
    upgrade,
)
from aggregator.store.models import Article, Base
from aggregator.store.queries import fts5_search, pg_search
from aggregator.store.search import include_name
from tests.conftest import run_cli

SOURCE = {
    "key": "caliber", "name": "Caliber.az", "homepage": "https://caliber.az", "domains": '["caliber.az"]',
    "languages": '["ru"]', "timezone": "Asia/Baku",
}  # fmt: skip
ARTICLE = {
    "id": 1, "source": "caliber", "url": "https://caliber.az/post/1", "fetched_url": "https://caliber.az/post/1/",
    "language": "ru", "title": "Заголовок", "body_html": "<p>Текст</p>", "body_text": "Текст", "content_hash": "h1",
    "at": "2026-01-01 10:00:00",
}  # fmt: skip
INSERT_ARTICLE = text(
    "INSERT INTO articles (id, source, url, fetched_url, language, title, body_html, body_text, content_hash, "
    "archived_at, updated_at, last_seen_at) VALUES (:id, :source, :url, :fetched_url, :language, :title, "
    ":body_html, :body_text, :content_hash, :at, :at, :at)"
)
"""An article row as the first schema (0001) holds it: every later revision accepts it too."""
INSERT_SOURCE = text(
    "INSERT INTO sources (key, name, homepage, domains, languages, timezone) "
    "VALUES (:key, :name, :homepage, :domains, :languages, :timezone)"
)


def test_every_revision_upgrades_with_data_in_it(db_url: str) -> None:
    engine = connect(db_url)
    script = ScriptDirectory.from_config(alembic_config(engine))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert revisions[0] == "0001" and revisions[-1] == head_revision(engine)

    upgrade(engine, "0001")  # the first schema, then rows in it as a crawl of that release wrote them
    with engine.begin() as conn:
        conn.execute(INSERT_SOURCE, SOURCE)
        conn.execute(INSERT_ARTICLE, ARTICLE)
        conn.execute(
            text(
                "INSERT INTO rejects (source, url, stage, reason, created_at) "
                "VALUES ('caliber', 'https://caliber.az/post/2', 'validate', 'no title', :at)"
            ),
            {"at": ARTICLE["at"]},
        )

    for revision in revisions[1:]:  # one step at a time, as releases would
        upgrade(engine, revision)
        assert current_revision(engine) == revision

    with engine.connect() as conn:
        assert conn.execute(text("SELECT title FROM articles WHERE id = 1")).scalar() == "Заголовок"
        assert conn.execute(text("SELECT attribution_line FROM articles WHERE id = 1")).scalar() is None
        assert tuple(conn.execute(text("SELECT reason, resolved_at FROM rejects")).one()) == ("no title", None)
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name}), Base.metadata
        )
    assert diff == []
    engine.dispose()


def test_the_newest_migration_file_is_the_head_revision(db_url: str) -> None:
    """``require_current`` trusts the migration files' names for its quick answer: they must say what Alembic says,
    and the table's revision must be read as Alembic reads it."""
    engine = connect(db_url)
    assert newest_migration() == head_revision(engine)
    assert stored_revision(engine) is None  # no table yet: the slow path decides (and says "no archive")
    upgrade(engine, "0016")
    assert stored_revision(engine) == current_revision(engine) == "0016"
    with pytest.raises(SchemaBehind):
        require_current(engine)
    upgrade(engine)
    assert stored_revision(engine) == current_revision(engine) == newest_migration()
    require_current(engine)
    engine.dispose()


def test_the_schema_check_waits_for_no_write_lock(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command checks the archive's revision first: that read took the write lock (BEGIN IMMEDIATE), so a
    crawl's open transaction held up `articles list` for the busy timeout, and a write command waited twice as long
    as its error said. With no wait at all (busy timeout 0), the check still reads while another holds the lock."""
    import sqlite3

    from aggregator.store import db

    engine = connect(sqlite_url)
    upgrade(engine)
    engine.dispose()
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 0)
    engine = connect(sqlite_url)
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        assert stored_revision(engine) == current_revision(engine) == newest_migration()
        require_current(engine)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()


def test_opening_an_archive_at_the_newest_revision_asks_alembic_nothing(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What every crawl does first (``Archive.open``): Alembic and its scripts cost the start a third of a second to
    find the schema current; the stored revision, read by plain SQL, says so."""
    Archive.open(db_url).close()

    def alembic(*_args: object) -> None:
        raise AssertionError("Alembic was asked")

    for name in ("head_revision", "current_revision", "upgrade"):
        monkeypatch.setattr(f"aggregator.store.db.{name}", alembic)
    Archive.open(db_url).close()
    engine = connect(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0016'"))
    with pytest.raises(AssertionError, match="Alembic was asked"):  # behind: Alembic decides, and upgrades
        Archive.open(db_url)
    engine.dispose()


def test_story_buckets_are_rebuilt_from_the_stored_sketches(db_url: str) -> None:
    """0007 changes which bucket rows an article has: they are recomputed from its stored sketch, both ways."""

    from aggregator.stories import BANDS, OLD_SCHEME, sketch, stored_buckets

    engine = connect(db_url)
    upgrade(engine, "0006")
    text_of_story = " ".join(f"слово{n} текст{n % 7} новость{n % 5}" for n in range(40))
    blob = bytes([OLD_SCHEME]) + sketch(text_of_story).pack()[1:1029]  # as stored then: scheme 2, values only
    with engine.begin() as conn:
        conn.execute(INSERT_SOURCE, SOURCE)
        for article_id, minhash in ((1, blob), (2, b"\x01" + blob[1:]), (3, None)):  # scheme 2, scheme 1, none
            conn.execute(INSERT_ARTICLE, {**ARTICLE, "id": article_id, "url": f"{ARTICLE['url']}{article_id}"})
            conn.execute(text("UPDATE articles SET minhash = :m WHERE id = :id"), {"m": minhash, "id": article_id})
        conn.execute(  # the old layout's rows (any values: they are replaced)
            text("INSERT INTO story_buckets (band, bucket, article_id) VALUES (:b, :h, :a)"),
            [{"b": band, "h": 1000 + band, "a": a} for a in (1, 2) for band in range(40)],
        )

    def buckets() -> set[tuple[int, int, int]]:
        with engine.connect() as conn:
            return {tuple(row) for row in conn.execute(text("SELECT band, bucket, article_id FROM story_buckets"))}

    upgrade(engine)
    expected = {(band, bucket, 1) for band, bucket in stored_buckets(blob)}
    assert len(expected) == BANDS == 12 and buckets() == expected

    with engine.begin() as conn:  # the previous layout comes back on a downgrade: 40 hashed bands, same article
        config = alembic_config(engine)
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
    old = buckets()
    assert {a for _, _, a in old} == {1} and sorted(b for b, _, _ in old) == list(range(40))
    assert not old & expected
    upgrade(engine)
    assert buckets() == expected
    engine.dispose()


def test_the_search_index_is_rebuilt_lighter_and_back(db_url: str) -> None:
    """0008 makes the SQLite search index again without word positions: what was archived is still found, both ways;
    the snapshots' second index on article_id goes."""
    engine = connect(db_url)
    upgrade(engine, "0007")
    with engine.begin() as conn:
        conn.execute(INSERT_SOURCE, SOURCE)
        conn.execute(INSERT_ARTICLE, ARTICLE)  # views: its server default (0004)

    def found() -> list[int]:
        """The archive's own search statement, reading only the ids (the model's later columns are not there yet)."""
        search = pg_search if engine.dialect.name == "postgresql" else fts5_search
        with engine.connect() as conn:
            return list(conn.scalars(search("текст", [], 2000).with_only_columns(Article.id)))

    def indexes() -> set[str]:
        return {ix["name"] for ix in inspect(engine).get_indexes("snapshots")}

    def fts_sql() -> str:
        with engine.connect() as conn:
            return conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'articles_fts'")).scalar() or ""

    assert found() == [1] and "ix_snapshots_article_id" in indexes()
    upgrade(engine, "0008")
    assert found() == [1] and "ix_snapshots_article_id" not in indexes()
    if engine.dialect.name == "sqlite":
        assert "detail=column" in fts_sql()
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0007")
    assert found() == [1] and "ix_snapshots_article_id" in indexes()
    if engine.dialect.name == "sqlite":
        assert "detail" not in fts_sql()
    engine.dispose()


def _found(engine: Engine, query: str) -> list[int]:
    """The ids a search for ``query`` finds, as the archive's search runs it on the engine's back end."""
    search = pg_search if engine.dialect.name == "postgresql" else fts5_search
    with engine.connect() as conn:
        return list(conn.scalars(search(query, [], 2000).with_only_columns(Article.id)))


def _indexed(engine: Engine, word: str) -> bool:
    """Whether the search index holds ``word`` as it is written (no query folding)."""
    if engine.dialect.name == "postgresql":
        sql = "SELECT count(*) FROM articles WHERE search_vector @@ plainto_tsquery('simple', :w)"
    else:
        sql = "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH '\"' || :w || '\"'"
    with engine.connect() as conn:
        return bool(conn.execute(text(sql), {"w": word}).scalar())


def test_the_search_index_is_folded_and_back(db_url: str) -> None:
    """0017 folds the search index as queries are folded: "актёры" and "Bakı" archived before are found as "актеры"
    and "Baki"; a downgrade gives back the index of the words as printed."""
    engine = connect(db_url)
    upgrade(engine, "0016")
    with engine.begin() as conn:
        conn.execute(INSERT_SOURCE, SOURCE)
        conn.execute(INSERT_ARTICLE, {**ARTICLE, "title": "Актёры и новости", "body_text": "Bakı şəhəri"})
    found, indexed = partial(_found, engine), partial(_indexed, engine)

    assert indexed("bakı") and not indexed("baki")
    upgrade(engine, "0017")
    assert found("актеры") == found("АКТЁРЫ") == found("Baki") == found("şəhəri") == found("seheri") == [1]
    assert indexed("baki") and not indexed("bakı")
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0016")
    assert indexed("bakı") and not indexed("baki")
    upgrade(engine)
    assert found("Bakı") == [1]
    engine.dispose()


def test_the_search_index_folds_latin_marks_and_back(db_url: str) -> None:
    """0019 makes PostgreSQL's index hold a Latin letter with marks as the bare letter, as SQLite's tokenizer always
    did: "São Paulo" archived before is found as "Sao Paulo" on both; "й" stays; a downgrade gives back 0017's."""
    engine = connect(db_url)
    upgrade(engine, "0018")
    with engine.begin() as conn:
        conn.execute(INSERT_SOURCE, SOURCE)
        conn.execute(INSERT_ARTICLE, {**ARTICLE, "title": "Erdoğan в São Paulo", "body_text": "Café Müller; йод"})
    postgresql = engine.dialect.name == "postgresql"
    found, indexed = partial(_found, engine), partial(_indexed, engine)

    # Before: SQLite's tokenizer folds the marks already; PostgreSQL's index holds "são".
    assert found("Sao Paulo") == ([] if postgresql else [1])
    if postgresql:
        assert indexed("são") and not indexed("sao")
    upgrade(engine, "0019")
    assert found("Sao Paulo") == found("SÃO PAULO") == found("Erdogan") == found("cafe muller") == [1]
    assert found("йод") == [1] and found("иод") == []
    if postgresql:
        assert indexed("sao") and indexed("muller") and not indexed("são") and indexed("йод")
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0018")
    assert found("Sao Paulo") == ([] if postgresql else [1])
    if postgresql:
        assert indexed("são") and not indexed("sao")
    upgrade(engine)
    assert found("Sao Paulo") == [1]
    engine.dispose()


def test_rejects_repeated_before_refusals_were_counted_are_merged(db_url: str) -> None:
    """Before 0009 each refusal of a page was a row: 0011 leaves one open row per page, stage and reason, counting
    them all since the first; resolved rows stay."""
    engine = connect(db_url)
    upgrade(engine, "0008")
    insert = text(
        "INSERT INTO rejects (source, url, stage, reason, created_at, resolved_at) "
        "VALUES (:source, :url, :stage, :reason, :at, :resolved)"
    )
    broken, gone = "https://caliber.az/post/2", "https://caliber.az/post/3"
    rows = [
        ("caliber", broken, "validate", "no title", "2026-01-01 10:00:00", "2026-01-01 11:00:00"),  # resolved
        ("caliber", broken, "validate", "no title", "2026-01-02 10:00:00", None),
        ("caliber", broken, "validate", "no title", "2026-01-02 10:10:00", None),
        ("caliber", broken, "validate", "no title", "2026-01-02 10:20:00", None),
        ("caliber", broken, "validate", "no body", "2026-01-02 10:30:00", None),
        (None, gone, "fetch", "HTTP 404", "2026-01-02 10:00:00", None),  # no source: matched as NULL
        (None, gone, "fetch", "HTTP 404", "2026-01-02 10:10:00", None),
    ]
    with engine.begin() as conn:
        conn.execute(INSERT_SOURCE, SOURCE)
        names = ("source", "url", "stage", "reason", "at", "resolved")
        conn.execute(insert, [dict(zip(names, row, strict=True)) for row in rows])
    upgrade(engine, "0011")
    with engine.connect() as conn:
        left = conn.execute(
            text("SELECT id, url, reason, attempts, created_at, resolved_at FROM rejects ORDER BY id")
        ).all()
    summary = [(r.id, r.url, r.reason, r.attempts, str(r.created_at)[:19], r.resolved_at is None) for r in left]
    assert summary == [
        (1, broken, "no title", 1, "2026-01-01 10:00:00", False),
        (4, broken, "no title", 3, "2026-01-02 10:00:00", True),  # the newest row, counting all three
        (5, broken, "no body", 1, "2026-01-02 10:30:00", True),
        (7, gone, "HTTP 404", 2, "2026-01-02 10:00:00", True),
    ]


def test_the_addresses_articles_were_linked_at_become_redirects(db_url: str) -> None:
    """0013 copies each article's linked address into ``redirects`` (one row an address: the later article's where
    two name the same), leading to the address the article was fetched at."""
    engine = connect(db_url)
    upgrade(engine, "0012")
    moved = {**ARTICLE, "id": 2, "url": "https://caliber.az/post/new", "fetched_url": "https://caliber.az/post/new"}
    moved_again = {
        **moved,
        "id": 3,
        "url": "https://caliber.az/post/newer",
        "fetched_url": "https://caliber.az/post/newer",
    }
    with engine.begin() as conn:
        conn.execute(INSERT_SOURCE, SOURCE)
        conn.execute(INSERT_ARTICLE, [ARTICLE, moved, moved_again])
        set_linked = text("UPDATE articles SET linked_url = :linked WHERE id = :id")
        conn.execute(set_linked, [{"id": 2, "linked": "https://caliber.az/post/155"},
                                  {"id": 3, "linked": "https://caliber.az/post/155"}])  # fmt: skip
    upgrade(engine, "0013")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT source, url, target, last_seen_at FROM redirects")).all()
    assert [(r.source, r.url, r.target, str(r.last_seen_at)[:19]) for r in rows] == [
        ("caliber", "https://caliber.az/post/155", "https://caliber.az/post/newer", ARTICLE["at"])
    ]


def test_runs_name_the_scale_out_crawl_they_were_a_worker_of_and_back(db_url: str) -> None:
    """0016 adds ``crawl_runs.crawl_id``: the runs recorded before are runs of their own (NULL); a downgrade drops the
    column and keeps the rows."""
    engine = connect(db_url)
    upgrade(engine, "0015")
    insert = text(
        "INSERT INTO crawl_runs (source, spider, started_at, status, pages, items_new, items_updated, "
        "items_unchanged, rejected, http_errors, dates_unparsed) "
        "VALUES ('caliber', 'caliber', :at, 'finished', 40, 30, 0, 10, 0, 0, 0)"
    )
    with engine.begin() as conn:
        conn.execute(insert, {"at": ARTICLE["at"]})
    upgrade(engine, "0016")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT id, pages, crawl_id FROM crawl_runs")).all() == [(1, 40, None)]
        conn.execute(text("UPDATE crawl_runs SET crawl_id = 'c1'"))
        assert conn.execute(text("SELECT id FROM crawl_runs WHERE crawl_id = 'c1'")).scalar() == 1
    assert "ix_crawl_runs_crawl_id" in {ix["name"] for ix in inspect(engine).get_indexes("crawl_runs")}
    with engine.begin() as conn:
        config = alembic_config(engine)
        config.attributes["connection"] = conn
        command.downgrade(config, "0015")
    assert "crawl_id" not in {c["name"] for c in inspect(engine).get_columns("crawl_runs")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, pages FROM crawl_runs")).all() == [(1, 40)]
    engine.dispose()


def test_snapshots_repeating_an_earlier_version_are_kept_and_dropped_on_the_way_back(db_url: str) -> None:
    """0018 lifts the uniqueness of (article_id, content_hash), keeping every snapshot (SQLite copies the table); a
    page put back to an earlier text (A, B, A) is then a third row. A downgrade keeps the first of each hash, as the
    old code did, and the constraint returns."""
    engine = connect(db_url)
    upgrade(engine, "0017")
    insert = text(
        "INSERT INTO snapshots (article_id, url, fetched_at, http_status, content_hash, compression, raw_body) "
        "VALUES (1, 'https://caliber.az/post/1', :at, 200, :digest, 'zlib', :raw)"
    )
    with engine.begin() as conn:
        conn.execute(INSERT_SOURCE, SOURCE)
        conn.execute(INSERT_ARTICLE, ARTICLE)
        for digest, raw in (("h1", b"A"), ("h2", b"B")):
            conn.execute(insert, {"at": ARTICLE["at"], "digest": digest, "raw": raw})
    upgrade(engine, "0018")
    with engine.begin() as conn:
        conn.execute(insert, {"at": ARTICLE["at"], "digest": "h1", "raw": b"A again"})
        rows = conn.execute(text("SELECT id, content_hash, raw_body FROM snapshots ORDER BY id")).all()
    assert [(r[0], r[1], bytes(r[2])) for r in rows] == [(1, "h1", b"A"), (2, "h2", b"B"), (3, "h1", b"A again")]
    indexes = {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes("snapshots")}
    assert indexes.get("ix_snapshots_article_id") == ["article_id", "id"]
    assert not inspect(engine).get_unique_constraints("snapshots")

    with engine.begin() as conn:
        config = alembic_config(engine)
        config.attributes["connection"] = conn
        command.downgrade(config, "0017")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, content_hash FROM snapshots ORDER BY id")).all() == [(1, "h1"), (2, "h2")]
    assert [u["column_names"] for u in inspect(engine).get_unique_constraints("snapshots")] == [
        ["article_id", "content_hash"]
    ]
    engine.dispose()


def test_articles_get_their_latest_change_and_the_search_index_keeps_working_and_back(db_url: str) -> None:
    """0021 adds ``articles.changed_at``, filled with each row's latest known change (a withdrawal later than the last
    update, else the update), and its index; the search index's triggers (SQLite) and column (PostgreSQL) go on
    working. A downgrade drops both and keeps the rows."""
    engine = connect(db_url)
    upgrade(engine, "0020")
    with engine.begin() as conn:
        conn.execute(INSERT_SOURCE, SOURCE)
        conn.execute(INSERT_ARTICLE, ARTICLE)  # updated at 10:00, shown
        conn.execute(INSERT_ARTICLE, ARTICLE | {"id": 2, "url": "https://caliber.az/post/2"})
        conn.execute(INSERT_ARTICLE, ARTICLE | {"id": 3, "url": "https://caliber.az/post/3"})
        conn.execute(text("UPDATE articles SET withdrawn_at = '2026-01-02 09:00:00' WHERE id = 2"))
        conn.execute(text("UPDATE articles SET withdrawn_at = '2025-12-31 09:00:00' WHERE id = 3"))
    upgrade(engine, "0021")
    with engine.begin() as conn:
        changed = conn.execute(select(Article.id, Article.changed_at).order_by(Article.changed_at, Article.id)).all()
        assert [(i, when.isoformat()) for i, when in changed] == [
            (1, "2026-01-01T10:00:00+00:00"),
            (3, "2026-01-01T10:00:00+00:00"),  # withdrawn before its last update: the update
            (2, "2026-01-02T09:00:00+00:00"),
        ]
        conn.execute(text("UPDATE articles SET title = 'Новое слово' WHERE id = 1"))
    indexes = {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes("articles")}
    assert indexes["ix_articles_changed_at"] == ["changed_at", "id"]

    def found() -> list[int]:
        """The archive's own search, reading only the ids (the downgraded schema has no ``changed_at``)."""
        search = pg_search if engine.dialect.name == "postgresql" else fts5_search
        with engine.connect() as conn:
            return list(conn.scalars(search("слово", [], 10).with_only_columns(Article.id)))

    assert found() == [1]
    with engine.begin() as conn:
        config = alembic_config(engine)
        config.attributes["connection"] = conn
        command.downgrade(config, "0020")
    assert "changed_at" not in {c["name"] for c in inspect(engine).get_columns("articles")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM articles")).scalar() == 3
    assert found() == [1]
    engine.dispose()


def test_a_schema_newer_than_the_code_is_refused_in_one_line_and_left_as_it_is(db_url: str) -> None:
    """A host rolled back to an older release, sharing the database another host upgraded: Alembic's answer was a
    traceback ending in "Can't locate revision identified by '0099'"."""
    engine = connect(db_url)
    upgrade(engine)
    head = head_revision(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    for attempt in (ensure_schema, upgrade):
        with pytest.raises(SchemaTooNew) as refused:
            attempt(engine)
        assert "has schema revision '0099', which aggregator " in str(refused.value)
        assert f"(its newest is {head!r}): a newer aggregator upgraded it" in str(refused.value)
    with pytest.raises(SchemaTooNew):
        Archive.open(db_url)  # what `crawl` and the other commands do first
    done = run_cli("--db", db_url, "db", "upgrade")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"aggregator: error: {refused.value}"]
    assert current_revision(engine) == "0099"  # nothing was changed
    engine.dispose()


def test_the_commands_that_read_an_archive_behind_the_code_say_to_upgrade_and_change_nothing(db_url: str) -> None:
    """`articles list` after installing a release ran its migrations silently (on PostgreSQL while crawls wrote:
    0015 builds indexes that hold writes back), and on an empty PostgreSQL database created the tables."""
    engine = connect(db_url)
    upgrade(engine)
    head = head_revision(engine)
    previous = ScriptDirectory.from_config(alembic_config(engine)).get_revision(head).down_revision
    command.downgrade(alembic_config(engine), previous)
    for args in (["articles", "list"], ["runs"], ["rejects", "list"]):
        refused = run_cli("--db", db_url, *args)
        assert refused.returncode == 2, refused.stderr
        (line,) = refused.stderr.strip().splitlines()
        assert (
            f"has schema revision {previous!r}, older than this release's {head!r}: run `aggregator db upgrade`" in line
        )
    assert current_revision(engine) == previous  # nothing was changed
    assert run_cli("--db", db_url, "db", "upgrade").returncode == 0
    listed = run_cli("--db", db_url, "articles", "list", "--json")
    assert listed.returncode == 0 and listed.stdout.strip() == "[]", listed.stderr
    engine.dispose()


def test_a_read_on_an_empty_postgresql_database_creates_no_table(postgres_url: str) -> None:
    refused = run_cli("--db", postgres_url, "runs")
    assert refused.returncode == 2
    assert "holds no archive: create it with `aggregator db upgrade`" in refused.stderr
    engine = connect(postgres_url)
    assert inspect(engine).get_table_names() == []
    engine.dispose()


def test_serve_upgrades_an_archive_behind_the_code_as_crawl_does(tmp_path: Path) -> None:
    """After installing a release, restarting the site before the next crawl refused the archive as "behind" (README
    says `serve` upgrades it, as `crawl` does); a read-only archive is still refused, and left as it is."""
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    engine = connect(db_url)
    upgrade(engine)
    head = head_revision(engine)
    previous = ScriptDirectory.from_config(alembic_config(engine)).get_revision(head).down_revision
    command.downgrade(alembic_config(engine), previous)
    engine.dispose()
    refused = run_cli("--db", f"{db_url}?mode=ro", "serve", "--port", "0")
    assert refused.returncode == 2 and "it cannot be upgraded there" in refused.stderr, refused.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    script = Path(sys.executable).with_name("aggregator")
    server = subprocess.Popen(
        [str(script), "--db", db_url, "serve", "--port", "0"], cwd=tmp_path, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert "Serving the archive at http://127.0.0.1:" in line, server.stderr.read() if server.poll() else line
    finally:
        server.terminate()
        server.wait(timeout=30)
    engine = connect(db_url)
    assert current_revision(engine) == head
    engine.dispose()
