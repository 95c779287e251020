"""The API's hot reads on SQLite run their prebuilt statements on the driver's cursor (``queries.run``): they must
answer exactly what SQLAlchemy's own execution of the same statements answers. And ``serve --workers``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Connection, select

from aggregator.api.app import read_only_engine
from aggregator.store import queries
from aggregator.store.db import connect
from aggregator.store.models import Article
from tests.conftest import ROOT, free_port


def reference_page(
    conn: Connection, filters: queries.ArticleFilter, limit: int, after: queries.Position | None
) -> list[Any]:
    """``list_page``'s rows, read through ``conn.execute``."""
    params = filters.params() | {"limit": limit + 1}
    if after:
        params |= {"after_moment": after.moment, "after_id": after.id}
    given = frozenset(filters.params())
    rows = [] if filters.undated else list(conn.execute(queries._part(False, given, after is not None, False), params))
    bounded = len(rows) > limit
    if bounded:
        params["bound"] = queries.article_time(rows[-1])
    rows += list(conn.execute(queries._part(True, given, after is not None, bounded), params))
    rows.sort(key=lambda r: (queries.article_time(r), r.id), reverse=True)
    return rows[:limit]


def same(fast: list[Any], slow: list[Any]) -> None:
    assert [tuple(r) for r in fast] == [tuple(r) for r in slow]
    for a, b in zip(fast, slow, strict=True):
        assert a.id == b.id and a.published_at == b.published_at and a.archived_at == b.archived_at


def test_sqlite_reads_answer_what_sqlalchemy_answers(sample_db: str) -> None:
    for engine in (read_only_engine(sample_db), connect(sample_db)):  # the API's engine and the CLI's
        with engine.connect() as conn:
            ids = list(conn.execute(select(Article.id)).scalars())
            assert len(ids) > 20
            with_siblings = 0
            for article_id in [*ids, max(ids) + 1]:
                row = queries.get_article(conn, article_id)
                reference = conn.execute(queries._ARTICLE, {"id": article_id}).first()
                if reference is None:
                    assert row is None
                    continue
                assert tuple(row) == tuple(reference)
                assert row.published_at is None or row.published_at.tzinfo is not None
                assert isinstance(row.cited_outlets, list)  # JSON columns decoded as SQLAlchemy decodes them
                siblings = queries.story_siblings(conn, row.id, row.story_id)
                same(siblings, list(conn.execute(queries._SIBLINGS, {"story": row.story_id, "id": row.id})))
                with_siblings += bool(siblings)
            assert with_siblings  # the sample has stories told by several sources

            now = datetime.now(UTC)
            for hours in (1, 24, 24 * 365 * 30):
                cutoff = now - timedelta(hours=hours)
                same(
                    queries.most_read(conn, hours=hours, limit=7, now=now),
                    list(conn.execute(queries._MOST_READ, {"cutoff": cutoff, "limit": 7})),
                )

            language = conn.execute(select(Article.language).limit(1)).scalar_one()
            for filters in (
                queries.ArticleFilter(),
                queries.ArticleFilter(language=language),
                queries.ArticleFilter(source="caliber", since=now - timedelta(days=3650)),
                queries.ArticleFilter(undated=True),
                queries.ArticleFilter(until=now, language=language),
            ):
                after: queries.Position | None = None
                pages = 0
                while True:
                    page, following = queries.list_page(conn, filters, limit=3, after=after)
                    same(page, reference_page(conn, filters, 3, after))
                    pages += 1
                    if following is None:
                        break
                    after = following
                assert pages > 1 or filters.undated
        engine.dispose()


def test_serve_with_several_worker_processes(sample_db: str, tmp_path: Path) -> None:
    port = free_port()
    script = Path(sys.executable).with_name("aggregator")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "aggregator"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")} | {"COLUMNS": "200"}
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [*command, "--db", sample_db, "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while log.read_text().count("Application startup complete") < 2:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        workers = [p for p in psutil.Process(server.pid).children() if "spawn_main" in " ".join(p.cmdline())]
        assert len(workers) == 2
        for _ in range(20):  # fresh connections: any worker may take each
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/articles?limit=2", timeout=30) as answer:
                page = json.load(answer)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/news/{page['items'][0]['id']}", timeout=30) as answer:
                assert page["items"][0]["title"].split()[0] in answer.read().decode()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert server.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()
    # No Redis named: the operator is told that each process counts its own readers.
    assert "Views: each process remembers its own readers (AGGREGATOR_REDIS_URL names a Redis to share them)" in (
        log.read_text()
    )


def test_json_instants_are_spelled_as_utc_iso() -> None:
    from aggregator.api.app import json_body
    from aggregator.present import utc_iso

    instants = [
        datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 10, 0, 1, 5, tzinfo=UTC),
        datetime(2026, 11, 25, 14, 0, tzinfo=timezone(timedelta(hours=4))).astimezone(UTC),
    ]
    data = {"at": instants, "text": "Статья «ё» </script>", "none": None}
    assert json.loads(json_body(data)) == {"at": [utc_iso(i) for i in instants], "text": data["text"], "none": None}
    assert "Статья".encode() in json_body(data)  # UTF-8, not \\u escapes
