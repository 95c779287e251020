"""``articles list --no-cover`` (the pages whose cover extraction broke) and ``db prune-runs --json``, run in-process
through Typer's runner on an SQLite archive the tests fill."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from aggregator.cli import CliError, app
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.models import CrawlRun, Reject
from aggregator.store.repository import RejectRecord
from tests.conftest import run_cli
from tests.test_store import T0, item

COVER = "https://caliber.az/storage/cover-{}.jpg"


def invoke(db: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, ["--db", f"sqlite:///{db}", *args], env={"COLUMNS": "200"})
    assert result.exception is None or isinstance(result.exception, SystemExit | CliError), result.output
    return result


@pytest.fixture
def covers(tmp_path: Path) -> Path:
    """Eight caliber articles, each an hour newer than the one before: even ones have a cover, odd ones none; articles
    4 and 5 are in Azerbaijani, 6 and 7 undated, 3 withdrawn."""
    path = tmp_path / "archive.db"
    archive = Archive.open(f"sqlite:///{path}")
    try:
        archive.sync_sources(all_sources())
        items = []
        for n in range(8):
            changes: dict[str, Any] = {"published_at": T0 + timedelta(hours=n), "fetched_at": T0 + timedelta(hours=n)}
            if n % 2 == 0:
                changes["cover_image_url"] = COVER.format(n)
            if n in (4, 5):
                changes["language"] = "az"
            if n in (6, 7):
                changes["published_at"], changes["published_raw"] = None, "{{ date }}"
            items.append(item(n, **changes))
        archive.save(items)
        archive.withdraw([archive.article_id_for(item(3).canonical_url)], "a test")  # type: ignore[list-item]
    finally:
        archive.close()
    return path


def titles(result: Any) -> list[str]:
    assert result.exit_code == 0, result.output
    return [row["title"] for row in json.loads(result.output)]


def test_no_cover_lists_only_the_articles_without_one_newest_first(covers: Path) -> None:
    everything = titles(invoke(covers, "articles", "list", "--json"))
    assert len(everything) == 7  # the withdrawn one left out, as always
    assert titles(invoke(covers, "articles", "list", "--no-cover", "--json")) == [
        "Заголовок 7", "Заголовок 5", "Заголовок 1",
    ]  # fmt: skip
    rows = json.loads(invoke(covers, "articles", "list", "--no-cover", "--json").output)
    assert {row["cover_image_url"] for row in rows} == {None}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--language", "az"], ["Заголовок 5"]),
        (["--undated"], ["Заголовок 7"]),
        (["--source", "caliber", "--limit", "2"], ["Заголовок 7", "Заголовок 5"]),
        (["--since", "2026-03-01T15:00"], ["Заголовок 7", "Заголовок 5"]),  # 5 at 15:00; 7 by its archive time
        (["--until", "2026-03-01T15:00"], ["Заголовок 1"]),
        (["--withdrawn"], ["Заголовок 3"]),
        (["--source", "apa"], []),
    ],
)
def test_no_cover_combines_with_the_other_filters(covers: Path, options: list[str], expected: list[str]) -> None:
    assert titles(invoke(covers, "articles", "list", "--no-cover", *options, "--json")) == expected


def test_no_cover_table_counts_what_it_lists_from(covers: Path) -> None:
    shown = invoke(covers, "articles", "list", "--no-cover", "--limit", "1")
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[0].strip() == "1 of 3 archived articles without a cover image"
    assert "Заголовок 7" in shown.output and "Заголовок 5" not in shown.output


def test_no_cover_with_run_is_refused_in_one_line(covers: Path) -> None:
    refused = invoke(covers, "articles", "list", "--run", "1", "--no-cover")
    assert refused.exit_code == 2  # a usage error: its line on stderr, then where the help is
    assert refused.stderr.splitlines() == [
        "aggregator: error: --run lists what one run archived: it takes no --no-cover",
        "Try 'aggregator articles list --help' for help.",
    ]


# -- db prune-runs --json -------------------------------------------------------------------------------------------


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """Five old finished runs of caliber and three of apa (200 days ago), one old caliber run still "running", and a
    new run of each; a reject of the oldest caliber run."""
    path = tmp_path / "archive.db"
    archive = Archive.open(f"sqlite:///{path}")
    try:
        archive.sync_sources(all_sources())
        old = datetime.now(UTC) - timedelta(days=200)
        ids: list[int] = []
        for source, n in (("caliber", 5), ("apa", 3)):
            for _ in range(n):
                run = archive.start_run(source, source)
                archive.finish_run(run, status="finished", reason="finished", stats={})
                ids.append(run)
        archive.save([], [RejectRecord("caliber", "https://caliber.az/post/x", "fetch", "HTTP 500", 500)], ids[0])
        ids.append(archive.start_run("caliber", "caliber"))  # still running: never pruned
        with archive.session.begin() as session:
            for run_id in ids:
                session.get(CrawlRun, run_id).started_at = old  # type: ignore[union-attr]
        for source in ("caliber", "apa"):
            archive.finish_run(archive.start_run(source, source), status="finished", reason="finished", stats={})
    finally:
        archive.close()
    return path


def run_rows(path: Path) -> int:
    archive = Archive.open(f"sqlite:///{path}", migrate=False)
    try:
        with archive.reader.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(CrawlRun)) or 0)
    finally:
        archive.close()


def test_prune_runs_json_says_what_a_dry_run_would_delete_and_deletes_nothing(runs: Path) -> None:
    before = run_rows(runs)
    result = invoke(runs, "db", "prune-runs", "--keep", "1", "--older-than", "30", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    done = json.loads(result.output)  # the whole output is the one object
    started_before = datetime.fromisoformat(done.pop("started_before").replace("Z", "+00:00"))
    assert abs(started_before - (datetime.now(UTC) - timedelta(days=30))) < timedelta(minutes=5)
    # each source keeps its newest run (the new one): the old finished ones go, the running one stays
    assert done == {
        "dry_run": True, "older_than_days": 30.0, "keep": 1, "source": None,
        "deleted": {"apa": 3, "caliber": 5}, "total": 8,
    }  # fmt: skip
    assert run_rows(runs) == before


def test_prune_runs_json_says_what_it_deleted(runs: Path) -> None:
    before = run_rows(runs)
    result = invoke(runs, "db", "prune-runs", "--keep", "1", "--older-than", "30", "--source", "apa", "--json")
    assert result.exit_code == 0, result.output
    done = json.loads(result.output)
    assert (done["dry_run"], done["source"], done["deleted"], done["total"]) == (False, "apa", {"apa": 3}, 3)
    assert run_rows(runs) == before - 3
    again = json.loads(invoke(runs, "db", "prune-runs", "--keep", "1", "--older-than", "30", "--json").output)
    assert (again["deleted"], again["total"]) == ({"caliber": 5}, 5)
    archive = Archive.open(f"sqlite:///{runs}", migrate=False)
    try:
        with archive.reader.connect() as conn:  # the reject stays, without its run
            assert conn.execute(select(Reject.url, Reject.crawl_run_id)).all() == [("https://caliber.az/post/x", None)]
    finally:
        archive.close()


def test_prune_runs_json_when_runs_are_kept_for_good(runs: Path) -> None:
    """The settings are read from the environment once a process (``aggregator.settings``): a process of its own."""
    result = run_cli("--db", f"sqlite:///{runs}", "db", "prune-runs", "--json", env={"AGGREGATOR_RUNS_KEEP_DAYS": "0"})
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout)
    assert (done["deleted"], done["total"], done["older_than_days"], done["started_before"]) == ({}, 0, None, None)
    assert "kept for good" in result.stderr
