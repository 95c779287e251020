"""Prometheus metrics of the crawl (``aggregator metrics``, ``/metrics``): per source, its verdict, latest run and
archive, read from the archive on SQLite and PostgreSQL alike."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from aggregator.api import app as api
from aggregator.cli import CliError, app
from aggregator.metrics import exposition
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.repository import RejectRecord
from tests.conftest import run_cli
from tests.test_cli import one_line_error
from tests.test_store import item

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of the exposition: (metric name, its labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((f"aggregator_{name}", frozenset(labels.items())))


def judged(archive: Archive, source: str, *, status: str, verdict: str, pages: int, new: int) -> int:
    run = archive.start_run(source, source)
    stats = {"response_received_count": pages, "aggregator/articles_new": new, "aggregator/http_errors": 2}
    stats |= {"aggregator/swept": new * 2, "aggregator/sweep_due": new * 5}
    health = {"status": verdict, "problems": [], "coverage": {"title": 1.0, "body": 0.9, "date": 0.5}}
    archive.finish_run(run, status=status, reason="finished", stats=stats, health=health)
    return run


@pytest.fixture
def archive(db_url: str):
    archive = Archive.open(db_url)
    archive.sync_sources(all_sources())
    archive.save(
        [item(n) for n in range(3)],
        [RejectRecord("caliber", "https://caliber.az/post/broken", "validate", "no title")],
    )
    yield archive
    archive.close()


def test_each_source_has_its_verdict_its_latest_run_and_its_archive(archive: Archive) -> None:
    judged(archive, "caliber", status="finished", verdict="green", pages=40, new=30)
    judged(archive, "caliber", status="partial", verdict="red", pages=12, new=3)  # the latest: what counts
    archive.start_run("haqqin", "haqqin")  # running now, never judged
    before = datetime.now(UTC)

    found = samples(exposition(archive.reader.connect, ["caliber", "haqqin", "apa"], max_age=None).decode())

    assert value(found, "source_healthy", source="caliber") == 0.0
    assert value(found, "source_coverage_ratio", source="caliber", field="date") == 0.5
    assert value(found, "source_last_run_status", source="caliber", status="partial") == 1.0
    assert value(found, "source_last_run_status", source="caliber", status="finished") == 0.0
    assert value(found, "source_last_run_count", source="caliber", kind="pages") == 12.0
    assert value(found, "source_last_run_count", source="caliber", kind="new") == 3.0
    assert value(found, "source_last_run_count", source="caliber", kind="http_errors") == 2.0
    assert value(found, "source_last_run_count", source="caliber", kind="swept") == 6.0
    assert value(found, "source_last_run_count", source="caliber", kind="sweep_due") == 15.0
    ended = value(found, "source_last_run_finished_timestamp_seconds", source="caliber")
    assert ended is not None and abs(ended - before.timestamp()) < 60

    # Running, not judged: its run is there, no verdict (not healthy, no verdict time) and no end yet.
    assert value(found, "source_last_run_status", source="haqqin", status="running") == 1.0
    assert value(found, "source_healthy", source="haqqin") == 0.0
    assert value(found, "source_last_verdict_timestamp_seconds", source="haqqin") is None
    assert value(found, "source_last_run_finished_timestamp_seconds", source="haqqin") is None
    assert value(found, "source_last_run_started_timestamp_seconds", source="haqqin") is not None

    assert value(found, "source_articles", source="caliber") == 3.0
    newest = value(found, "source_latest_archived_timestamp_seconds", source="caliber")
    assert newest is not None and abs(newest - before.timestamp()) < 60  # an aware UTC time, on both back ends
    assert value(found, "source_rejects", source="caliber") == 1.0
    # A source never crawled: no run, not healthy (an alert on == 0 catches a schedule that never started), an
    # empty archive.
    assert value(found, "source_articles", source="apa") == 0.0
    assert value(found, "source_healthy", source="apa") == 0.0
    archive_only = {"aggregator_source_articles", "aggregator_source_withdrawn_articles", "aggregator_source_healthy"}
    assert not [key for key in found if ("source", "apa") in key[1] and key[0] not in archive_only]
    assert value(found, "source_withdrawn_articles", source="apa", by="source") == 0.0
    # Only the sources asked for.
    assert not [key for key in found if ("source", "report") in key[1]]


def test_a_scaled_out_crawl_is_reported_whole_not_as_its_last_workers_share(archive: Archive) -> None:
    """Three workers of one crawl (``crawl_runs.crawl_id``): the latest run row is the last worker's share, a few
    pages; the gauges show the crawl: summed counts, its first start, its last end, the worst status."""
    judged(archive, "caliber", status="finished", verdict="green", pages=99, new=99)  # an earlier crawl: not summed
    shares = [(60, 40, "finished"), (30, 20, "partial"), (3, 1, "finished")]
    runs = []
    for pages, new, status in shares:
        run = archive.start_run("caliber", "caliber", crawl_id="crawl-7")
        stats = {"response_received_count": pages, "aggregator/articles_new": new, "aggregator/swept": 1}
        archive.finish_run(run, status=status, reason="finished", stats=stats, health={"status": "green"})
        runs.append(run)
    archive.start_run("haqqin", "haqqin", crawl_id="crawl-7")  # the same crawl's other source: not caliber's

    found = samples(exposition(archive.reader.connect, ["caliber", "haqqin"], max_age=None).decode())

    assert value(found, "source_last_run_count", source="caliber", kind="pages") == 93.0
    assert value(found, "source_last_run_count", source="caliber", kind="new") == 61.0
    assert value(found, "source_last_run_count", source="caliber", kind="swept") == 3.0
    assert value(found, "source_last_run_workers", source="caliber") == 3.0
    assert value(found, "source_last_run_status", source="caliber", status="partial") == 1.0
    assert value(found, "source_last_run_status", source="caliber", status="finished") == 0.0
    with archive.reader.connect() as conn:
        from sqlalchemy import select

        from aggregator.store.models import CrawlRun

        times = conn.execute(
            select(CrawlRun.started_at, CrawlRun.finished_at).where(CrawlRun.id.in_(runs)).order_by(CrawlRun.id)
        ).all()
    started = value(found, "source_last_run_started_timestamp_seconds", source="caliber")
    assert started == pytest.approx(times[0].started_at.replace(tzinfo=UTC).timestamp())
    ended = value(found, "source_last_run_finished_timestamp_seconds", source="caliber")
    assert ended == pytest.approx(times[-1].finished_at.replace(tzinfo=UTC).timestamp())
    # A crawl with a worker still running has no end yet, and is running.
    assert value(found, "source_last_run_workers", source="haqqin") == 1.0
    assert value(found, "source_last_run_status", source="haqqin", status="running") == 1.0
    assert value(found, "source_last_run_finished_timestamp_seconds", source="haqqin") is None
    archive.start_run("caliber", "caliber", crawl_id="crawl-7")  # a fourth worker joins
    found = samples(exposition(archive.reader.connect, ["caliber"], max_age=None).decode())
    assert value(found, "source_last_run_status", source="caliber", status="running") == 1.0
    assert value(found, "source_last_run_finished_timestamp_seconds", source="caliber") is None
    assert value(found, "source_last_run_count", source="caliber", kind="pages") == 93.0


def test_withdrawn_articles_are_counted_apart_by_who_withdrew_them(archive: Archive) -> None:
    archive.save([], [RejectRecord("caliber", item(1).url, "fetch", "HTTP 410", http_status=410)])
    archive.withdraw([archive.article_id_for(item(2).canonical_url) or 0], "takedown request")
    found = samples(exposition(archive.reader.connect, ["caliber", "apa"], max_age=None).decode())
    assert value(found, "source_articles", source="caliber") == 1.0  # shown: 3 archived, 2 withdrawn
    assert value(found, "source_withdrawn_articles", source="caliber", by="source") == 1.0
    assert value(found, "source_withdrawn_articles", source="caliber", by="operator") == 1.0
    assert value(found, "source_withdrawn_articles", source="apa", by="operator") == 0.0


def test_a_green_verdict_older_than_the_maximum_age_is_unhealthy(archive: Archive) -> None:
    run = judged(archive, "caliber", status="finished", verdict="green", pages=40, new=30)
    found = samples(exposition(archive.reader.connect, ["caliber"], max_age=timedelta(hours=24)).decode())
    assert value(found, "source_healthy", source="caliber") == 1.0
    from sqlalchemy import update

    from aggregator.store.models import CrawlRun

    with archive.engine.begin() as conn:  # the schedule stopped two days ago
        two_days_ago = datetime.now(UTC) - timedelta(days=2)
        conn.execute(update(CrawlRun).where(CrawlRun.id == run).values(finished_at=two_days_ago))
    found = samples(exposition(archive.reader.connect, ["caliber"], max_age=timedelta(hours=24)).decode())
    assert value(found, "source_healthy", source="caliber") == 0.0


def test_the_read_api_serves_them_to_a_scraper(sample_db: str) -> None:
    with TestClient(api.create_app(sample_db, health_max_age=None)) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    assert answer.headers["cache-control"] == "no-store"
    found = samples(answer.text)
    crawled = {
        key
        for key in (s.key for s in all_sources())
        if value(found, "source_last_verdict_timestamp_seconds", source=key) is not None
    }
    assert crawled, "the sample crawl judged no source"
    with sqlite3.connect(sample_db.removeprefix("sqlite:///")) as db:
        counts = dict(db.execute("SELECT source, count(*) FROM articles GROUP BY source"))
    for key, count in counts.items():
        assert value(found, "source_articles", source=key) == float(count)


def test_the_command_prints_them_or_replaces_a_file_whole(sample_db: str, tmp_path: Path) -> None:
    printed = CliRunner().invoke(app, ["--db", sample_db, "metrics", "--max-age", "0"])
    assert printed.exit_code == 0, (printed.exception, printed.output)
    found = samples(printed.output)
    assert value(found, "source_articles", source="caliber")

    target = tmp_path / "textfile" / "aggregator.prom"
    target.parent.mkdir()
    target.write_text("# yesterday's\n")
    written = CliRunner().invoke(app, ["--db", sample_db, "metrics", "--output", str(target)])
    assert written.exit_code == 0, (written.exception, written.output)
    assert samples(target.read_text()).keys() == found.keys()
    assert sorted(p.name for p in target.parent.iterdir()) == ["aggregator.prom"]  # no partial file left

    missing = CliRunner().invoke(app, ["--db", sample_db, "metrics", "-o", str(tmp_path / "nope" / "a.prom")])
    assert isinstance(missing.exception, CliError)
    assert str(missing.exception) == f"no such folder: {tmp_path / 'nope'}"


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="no sysfs, a folder even root may not create files in")
def test_a_folder_the_metrics_may_not_be_written_in_is_one_line(sample_db: str) -> None:
    # It was a traceback: the cron job's mail said nothing an operator could act on.
    written = CliRunner().invoke(app, ["--db", sample_db, "metrics", "-o", "/sys/aggregator.prom"])
    assert isinstance(written.exception, CliError), written.exception
    assert str(written.exception).startswith("cannot write the metrics to /sys/aggregator.prom: "), written.exception


def test_the_command_refuses_a_folder_for_its_file_before_writing(tmp_path: Path) -> None:
    # It wrote the metrics beside the folder, then failed with a traceback renaming them onto it.
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    Archive.open(url).close()
    folder = tmp_path / "textfile"
    folder.mkdir()
    line = one_line_error(run_cli("--db", url, "metrics", "-o", str(folder)))
    example = folder / "aggregator.prom"
    assert line == f"aggregator: error: {folder} is a folder: give a file's name for the metrics, such as {example}"
    assert list(folder.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_a_scrape_reads_indexes_not_the_articles_table(tmp_path: Path) -> None:
    """Each scrape counts every source's shown and withdrawn articles and finds its newest: from an index alone
    (SQLite's plan: SEARCH, or SCAN ... USING COVERING INDEX), never by reading each row of a table. Before the index
    on (source, withdrawn_at, ...), a scrape of a 1,000,000-article archive read the whole table twice and took 5.5 s;
    `/api/sources` (the same count) 3 s."""
    from tests.helpers.query_plans import captured, query_plans, row_by_row

    path = tmp_path / "archive.db"
    archive = Archive.open(f"sqlite:///{path}")
    archive.sync_sources(all_sources())
    archive.save([item(n) for n in range(4)], [RejectRecord("caliber", "https://caliber.az/post/x", "validate", "no")])
    archive.withdraw([1], "a court order")
    judged(archive, "caliber", status="finished", verdict="green", pages=4, new=4)
    try:
        with captured(archive.reader) as statements:
            found = samples(exposition(archive.reader.connect, [s.key for s in all_sources()], max_age=None).decode())
    finally:
        archive.close()
    assert value(found, "source_articles", source="caliber") == 3.0
    assert value(found, "source_withdrawn_articles", source="caliber", by="operator") == 1.0

    plans = query_plans(path, statements)
    assert any("ix_articles_source_withdrawn" in p for p in plans), plans
    assert not row_by_row(plans, ("articles", "rejects")), plans
