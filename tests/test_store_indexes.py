"""Deleting or merging an article finds its rejects and story buckets by index (migration 0020), on both back ends.

A merge (``reextract`` re-keying a row archived twice: ``Archive._merge``) moves the dropped row's rejects to the kept
one and deletes the row, whose foreign keys then set its rejects' ``article_id`` to NULL and delete its
``story_buckets`` rows. Without an index leading with ``article_id`` each of those read its whole table (0.7-1.1 s an
article at 1,000,000 articles on SQLite). SQLite plans without statistics (the archive never runs ANALYZE), so the
plans of a small archive are those of a big one.
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select, text

from aggregator.items import ArticleItem
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.db import alembic_config, connect, upgrade
from aggregator.store.models import Article, Reject, StoryBucket
from tests.helpers.query_plans import captured

INDEXES = {"rejects": "ix_rejects_article_id", "story_buckets": "ix_story_buckets_article_id"}
"""The indexes 0020 adds, by table."""
T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
OLD, NEW = "https://m.report.az/ru/most", "https://report.az/ru/most"
"""An older release's key of a page (the mobile host), and today's."""


def _item(key: str, seed: str, at: datetime) -> ArticleItem:
    rnd = random.Random(seed)
    body = " ".join(rnd.choice(["мост", "река", "город", "ремонт", "дорога", "движение", "район"]) for _ in range(120))
    return ArticleItem(
        source="report", url=key, canonical_url=key, language="ru", title=f"Мост {seed}", body_html=f"<p>{body}</p>",
        body_text=body, published_at=T0 - timedelta(days=1), fetched_at=at, raw_body=b"<html>most</html>",
    )  # fmt: skip


def _downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def _archived_twice(url: str) -> Archive:
    """An archive holding one page under its old key (with a resolved reject naming it) and, archived again since,
    under today's: what ``rekey`` merges."""
    archive = Archive.open(url)
    archive.sync_sources(all_sources())
    archive.save([_item(OLD, "a", T0)])
    archive.save([_item(NEW, "b", T0 + timedelta(days=1))])
    with archive.session.begin() as session:
        first = session.scalar(select(Article.id).where(Article.url == OLD))
        session.add(
            Reject(source="report", url=OLD, stage="fetch", reason="HTTP 500", resolved_at=T0, article_id=first)
        )
    return archive


def _plans(path: Path, statements: Iterable[tuple[str, Any]]) -> list[str]:
    """Every step of SQLite's plan of each statement that reads or writes rows, with the foreign keys' actions (the
    plan of a DELETE of articles lists the searches its ON DELETE actions make of the tables that refer to it)."""
    steps: list[str] = []
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA foreign_keys=ON")
        for sql, params in statements:
            if not re.match(r"\s*(SELECT|WITH|INSERT|UPDATE|DELETE)\b", sql, re.IGNORECASE):
                continue
            if isinstance(params, list):  # executemany: the plan is the same for every row
                params = params[0] if params else ()
            steps += [row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params or ())]
    return steps


def _merge_plans(tmp_path: Path, *, indexed: bool) -> list[str]:
    """The plans of what ``rekey`` runs to merge the two rows, on an archive with 0020's indexes or without them (as
    0019 left it: dropped here rather than the schema downgraded, since today's merge writes later revisions'
    columns)."""
    path = tmp_path / f"archive-{indexed}.db"
    archive = _archived_twice(f"sqlite:///{path}")
    try:
        if not indexed:
            with archive.engine.begin() as conn:
                for index in INDEXES.values():
                    conn.execute(text(f"DROP INDEX {index}"))
        with captured(archive.engine) as statements:
            result = archive.rekey()
        assert len(result.merged) == 1  # the merge happened, on either schema
        with archive.reader.connect() as conn:
            kept = result.merged[0][1]
            assert conn.scalar(select(Reject.article_id).where(Reject.url == OLD)) == kept
            assert not conn.scalar(select(StoryBucket.article_id).where(StoryBucket.article_id == result.merged[0][0]))
    finally:
        archive.close()
    return _plans(path, statements)


def test_a_merge_reads_neither_rejects_nor_story_buckets_row_by_row(tmp_path: Path) -> None:
    scans = re.compile(r"^SCAN (rejects|story_buckets)\b")
    before = _merge_plans(tmp_path, indexed=False)
    assert {step for step in before if scans.match(step)} == {"SCAN rejects", "SCAN story_buckets"}

    after = _merge_plans(tmp_path, indexed=True)
    assert [step for step in after if scans.match(step)] == []
    for table, index in INDEXES.items():  # the merge's UPDATE of rejects, the foreign keys' actions
        assert any(re.match(rf"SEARCH {table} USING (COVERING )?INDEX {index} \(article_id=\?\)", s) for s in after)


def _pg_plan(engine: Engine, sql: str) -> str:
    """PostgreSQL's plan of ``sql`` with sequential scans priced out: an index that serves it is the one chosen (a
    small table is otherwise read whole, index or not)."""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        return "\n".join(str(row[0]) for row in conn.execute(text(f"EXPLAIN {sql}")))


STATEMENTS = {
    "rejects": "UPDATE rejects SET article_id = 2 WHERE article_id = 1",
    "story_buckets": "DELETE FROM story_buckets WHERE article_id = 1",
}
"""What a merge and the foreign keys' ON DELETE actions run against the two tables (SQLite's plans of them above)."""


def test_0020_adds_the_indexes_and_its_downgrade_drops_them(db_url: str) -> None:
    engine = connect(db_url)
    upgrade(engine, "0019")

    def indexed() -> dict[str, list[str]]:
        return {
            table: [ix["column_names"] for ix in inspect(engine).get_indexes(table) if ix["name"] == name]
            for table, name in INDEXES.items()
        }

    def plans() -> dict[str, str]:
        if engine.dialect.name == "postgresql":
            return {table: _pg_plan(engine, sql) for table, sql in STATEMENTS.items()}
        with engine.connect() as conn:
            return {
                table: "\n".join(str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
                for table, sql in STATEMENTS.items()
            }

    assert indexed() == {"rejects": [], "story_buckets": []}
    assert not any(name in plan for plan in plans().values() for name in INDEXES.values())
    upgrade(engine, "0020")
    assert indexed() == {"rejects": [["article_id"]], "story_buckets": [["article_id"]]}
    for table, plan in plans().items():
        assert INDEXES[table] in plan, plan
    _downgrade(engine, "0019")
    assert indexed() == {"rejects": [], "story_buckets": []}
    engine.dispose()


@pytest.mark.parametrize("table", sorted(INDEXES))
def test_the_models_declare_the_indexes(table: str) -> None:
    """``Base.metadata.create_all`` (bench/store.py, the schema comparison of test_migrations) makes them too."""
    from aggregator.store.models import Base

    declared = {index.name: [c.name for c in index.columns] for index in Base.metadata.tables[table].indexes}
    assert declared[INDEXES[table]] == ["article_id"]
