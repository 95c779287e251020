"""No read of the API or the CLI reads a big table row by row.

Every statement the API's endpoints and the CLI's read commands run on the crawled sample is put to SQLite's
planner (``EXPLAIN QUERY PLAN``). The plan of a statement that would read the whole of ``articles``, ``snapshots``,
``rejects``, ``redirects`` or ``story_buckets`` says ``SCAN <table>`` without ``COVERING INDEX``: on a real archive
that is every row, and the overflow pages of a row whose texts are long (the columns after them are stored there).
Such a statement once made ``/metrics`` take 5.5 s at 1,000,000 articles, ``/api/sources`` 3 s and ``stories list``
3.6 s. A walk back along the primary key that stops at a LIMIT (``ORDER BY <table>.id DESC LIMIT n``: the latest
rejects) is allowed.

SQLite plans without statistics (the archive never runs ANALYZE), so the plans on the small sample are those on an
archive of any size.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from aggregator.api import create_app
from aggregator.cli import app as cli
from tests.helpers.query_plans import query_plans, row_by_row

BIG_TABLES = ("articles", "snapshots", "rejects", "redirects", "story_buckets")
LIMITED_WALK = re.compile(r"ORDER BY (\w+)\.id DESC LIMIT \d+( OFFSET \d+)?$")

API_PATHS = [
    "/api/articles", "/api/articles?source=caliber", "/api/articles?language=ru", "/api/articles?since=2025-01-01",
    "/api/articles?story={story}", "/api/articles/{article}", "/api/sources", "/healthz", "/api/health", "/metrics",
    "/api/most-read", "/feeds/all.rss", "/feeds/caliber.rss", "/feeds/all.atom", "/feeds/caliber.atom", "/",
    "/?source=caliber", "/news/{article}",
    "/api/search?q=Азербайджан", "/api/search?q=Азербайджан&source=caliber&language=ru&since=2025-01-01",
    "/?language=az", "/search?q=Азербайджан", "/sitemap.xml", "/sitemaps/0.xml", "/sitemap-news.xml", "/robots.txt",
    "/api/articles?until=2026-01-01", "/api/most-read?language=az", "/api/changes", "/api/changes?since=2025-01-01",
]  # fmt: skip
CLI_READS = [
    ["articles", "list"], ["articles", "list", "--source", "caliber"], ["articles", "list", "--language", "ru"],
    ["articles", "list", "--undated"], ["articles", "list", "--withdrawn"], ["articles", "list", "--story", "{story}"],
    ["articles", "show", "{article}"], ["articles", "history", "{article}"], ["stats"], ["runs"], ["health"],
    ["metrics"], ["rejects", "list"], ["rejects", "show", "{reject}"], ["stories", "list"],
    ["stories", "list", "--source", "caliber"], ["stories", "show", "{story}"], ["search", "Азербайджан"],
    ["search", "Азербайджан", "--language", "ru", "--source", "caliber"],
    ["export", "--format", "jsonl", "--output", "{tmp}/export.jsonl"],
    ["export", "--changed-since", "2025-01-01", "--output", "{tmp}/changes.jsonl"],
]  # fmt: skip


@contextmanager
def traced() -> Iterator[tuple[list[tuple[str, str]], list[str]]]:
    """Every SQL statement SQLite runs (its parameters written in), with what ran it (set ``where[0]``): the API's
    hot reads go to the driver's cursor directly (``queries.run``), so SQLite's own trace sees what SQLAlchemy's
    events (``tests.helpers.query_plans.captured``) would not."""
    statements: list[tuple[str, str]] = []
    where = [""]

    def trace(dbapi_connection: object, _record: object) -> None:
        raw = getattr(dbapi_connection, "driver_connection", dbapi_connection)
        if isinstance(raw, sqlite3.Connection):
            raw.set_trace_callback(lambda sql: statements.append((where[0], sql)))

    event.listen(Engine, "connect", trace)
    try:
        yield statements, where
    finally:
        event.remove(Engine, "connect", trace)


def test_no_api_or_cli_read_reads_a_big_table_row_by_row(sample_db: str, tmp_path: Path) -> None:
    path = Path(sample_db.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as db:
        article, story = db.execute("SELECT id, story_id FROM articles ORDER BY id LIMIT 1").fetchone()
        (reject,) = db.execute("SELECT min(id) FROM rejects").fetchone()
    values = {"article": article, "story": story, "reject": reject, "tmp": tmp_path}

    with traced() as (statements, where):
        with TestClient(create_app(sample_db, most_read_ttl=0, change_settle=0)) as client:
            routes = {route.path for route in client.app.routes if "GET" in getattr(route, "methods", ())}  # type: ignore[attr-defined]
            documentation = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
            asked = {p.split("?")[0].replace("{article}", "{article_id}").replace("caliber.rss", "{source}.rss")
                     .replace("caliber.atom", "{source}.atom")
                     .replace("sitemaps/0.xml", "sitemaps/{number}.xml") for p in API_PATHS}  # fmt: skip
            assert routes - documentation <= asked, "a new endpoint: add it to API_PATHS"
            first = client.get("/api/articles?limit=2").json()
            changed = client.get("/api/changes?limit=2").json()
            found = client.get("/api/search?q=Азербайджан&limit=2").json()
            cursors = [
                f"/api/articles?limit=2&cursor={first['next_cursor']}",
                f"/api/changes?cursor={changed['next_cursor']}",
                f"/api/search?q=Азербайджан&limit=2&cursor={found['next_cursor']}",
                f"/search?q=Азербайджан&cursor={found['next_cursor']}",
            ]
            for template in [*API_PATHS, *cursors]:
                where[0] = url = template.format(**values)
                # A registered source the sample does not crawl has no verdict: /api/health says 503, read the same way
                assert client.get(url).status_code in ((200, 503) if url == "/api/health" else (200,)), url
            where[0] = "POST views"
            assert client.post(f"/api/articles/{article}/views").status_code in (200, 204)
        runner = CliRunner()
        for command in CLI_READS:
            args = [part.format(**values) for part in command]
            where[0] = "aggregator " + " ".join(args)
            done = runner.invoke(cli, ["--db", sample_db, *args])
            assert done.exit_code in ((0, 1) if args == ["health"] else (0,)), (args, done.output[-2000:])

    found: dict[str, list[str]] = {}
    for ran_by, sql in statements:
        flat = " ".join(sql.split())
        plan = query_plans(path, [(sql, ())])
        if (bad := row_by_row(plan, BIG_TABLES)) and not LIMITED_WALK.search(flat):
            found.setdefault(ran_by, []).append(f"{bad}: {flat[:300]}")
        # A list of one language or source reads that language's or source's articles from an index that starts
        # with it: walking every article's for it, a language no article has (anyone may ask for one) read the
        # whole table (3.3 s at 1,000,000).
        for name, column in (("language", "language"), ("source", "source"), ("story", "story_id")):
            filtered = f"?{name}=" in ran_by and " FROM articles WHERE " in flat and f"articles.{column} = " in flat
            if filtered and not any(f"({column}=?" in step for step in plan):
                found.setdefault(ran_by, []).append(f"{plan}: not by {column}: {flat[:300]}")
    by_filter = [ran_by for ran_by, _ in statements if "?language=" in ran_by or "?source=" in ran_by]
    assert len(set(by_filter)) >= 3  # the filtered lists above were checked
    assert len({ran_by for ran_by, _ in statements}) >= len(API_PATHS) + len(CLI_READS)  # each was traced
    assert not found, "\n".join(f"{ran_by}\n  " + "\n  ".join(plans) for ran_by, plans in found.items())
