"""Killed runs: a scale-out crawl with a killed worker, or one that found nothing, is not green; a killed run's row
shows what it wrote and when it last did, not zeros and the time the next run noticed it.

An operator review: a worker killed with every queued request of three sources left `aggregator health` saying
`apa green 5×3 found 0` (the count was judged only once every worker had finished, which a killed one never does),
and the killed worker's row said `failed 0 0 0 0 0 0`, `18s` (until the next run noticed it), while it had written
33 articles and 2 rejects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from aggregator.health_report import source_health
from aggregator.run_counts import REQUEUED_FOR, UNKNOWN_COUNTS
from aggregator.store import Archive
from aggregator.store.models import CrawlRun
from aggregator.store.repository import RejectRecord
from tests.test_store import item

NOW = datetime.now(UTC).replace(microsecond=0)
ABANDONED = "abandoned: its process is gone"


def worker(crawl: str, items: int, *, status: str = "finished", pid: int = 100, **stats: Any) -> CrawlRun:
    """A scale-out worker's run of apa as the store records it: its own verdict green, ``items`` articles found;
    ``status`` failed (abandoned) or running: no verdict, no stats."""
    judged = status in ("finished", "partial")
    counted = {"aggregator/health/extracted": items, "aggregator/health/title": items, "aggregator/health/body": items,
               "aggregator/health/date": items, "downloader/request_count": items + 3,
               "response_received_count": items + 3, "finish_reason": "finished" if status == "finished" else
               "closespider_timeout", "aggregator/crawl_id": crawl, **stats}  # fmt: skip
    return CrawlRun(
        source="apa", spider="apa", started_at=NOW - timedelta(minutes=10), crawl_id=crawl, status=status,
        finish_reason=ABANDONED if status == "failed" else counted["finish_reason"] if judged else None,
        finished_at=NOW - timedelta(minutes=1) if status != "running" else None, stats=counted if judged else None,
        health={"status": "green", "problems": [], "shared_frontier": True} if judged else None, host="vm", pid=pid,
    )  # fmt: skip


def apa_health(db_url: str, runs: list[CrawlRun]) -> tuple[dict[str, Any], list[int]]:
    archive = Archive.open(db_url)
    try:
        with Session(archive.engine) as s, s.begin():
            s.add_all(runs)
            s.flush()
            ids = [run.id for run in runs]
        with archive.engine.connect() as conn:
            [row] = source_health(conn, ["apa"], now=NOW, max_age=None)
    finally:
        archive.close()
    return row, ids


def test_a_crawl_whose_killed_worker_nobody_took_up_is_incomplete_and_red(db_url: str) -> None:
    # The review's crawl: the killed worker's run abandoned, the two others through with nothing found.
    row, (killed, *_) = apa_health(db_url, [worker("c1", 0, status="failed", pid=1), worker("c1", 0), worker("c1", 0)])
    assert (row["status"], row["run_status"], row["workers"], row["items"]) == ("red", "failed", 3, 0)
    assert row["problems"] == [
        (
            f"incomplete: worker run {killed} was killed ({ABANDONED}), and no worker queued again what it may have "
            "had in hand (the next crawl finds it)"
        )
    ]


def test_a_crawl_whose_killed_worker_was_taken_up_says_by_which_run(db_url: str) -> None:
    # The killed worker's run is still "running" (its host is another: no run abandons it for hours), but a worker
    # found its heartbeat expired with requests in hand: it is gone, and the crawl is not running.
    taken_up = worker("c1", 14, pid=2, **{REQUEUED_FOR + "vm:1": 12})
    row, (killed, _, by) = apa_health(db_url, [worker("c1", 0, status="running", pid=1), worker("c1", 0), taken_up])
    assert (row["status"], row["run_status"], row["items"]) == ("red", "failed", 14)
    said = f"worker run {killed} was killed (its heartbeat expired): run {by} queued again the 12 request(s) it had"
    assert row["problems"] == [f"{said} in hand"]


def test_a_crawl_through_with_no_article_is_red_though_a_worker_was_cut_short(db_url: str) -> None:
    # A run of its own is red at no article; a crawl was judged on its count only once every worker had finished,
    # and one worker stopped at its time limit left it green with none.
    row, _ = apa_health(db_url, [worker("c1", 0, status="partial"), worker("c1", 0)])
    assert (row["status"], row["problems"]) == ("red", ["no article found on the listings"])
    # Every worker cut short: what it had time for says nothing of the listings, as for a run of its own.
    row, _ = apa_health(db_url, [worker("c2", 0, status="partial"), worker("c2", 0, status="partial")])
    assert (row["status"], row["problems"]) == ("green", [])
    # Still running: not judged on its count yet.
    row, _ = apa_health(db_url, [worker("c3", 0), worker("c3", 0, status="running", pid=7)])
    assert (row["status"], row["run_status"]) == ("green", "running")


# -- a killed run's row ---------------------------------------------------------------------------------------


def test_a_killed_runs_row_shows_what_it_wrote_and_ends_at_its_last_write(db_url: str, monkeypatch: Any) -> None:
    clock = [datetime(2026, 3, 1, 9, 0, tzinfo=UTC)]
    monkeypatch.setattr("aggregator.store.repository.utcnow", lambda: clock[0])
    archive = Archive.open(db_url)
    try:
        from aggregator.sources import all_sources

        archive.sync_sources(all_sources())
        archive.save([item(1), item(2)])  # archived by an earlier run
        clock[0] += timedelta(hours=1)
        killed = archive.start_run("caliber", "caliber", host="vm", pid=1)
        clock[0] += timedelta(seconds=2)
        bad = item(9, title="")
        archive.save(
            [item(3), item(4), item(1, body_text="Текст 1, исправленный", body_html="<p>Текст 1, исправленный</p>")],
            [
                RejectRecord("caliber", bad.url, "validate", "no title", 200, bad.to_record(), bad.raw_body),
                RejectRecord("caliber", "https://caliber.az/post/gone", "fetch", "HTTP 404", 404),
            ],
            run_id=killed,
        )
        clock[0] += timedelta(seconds=3)
        last_write = clock[0]
        archive.save([item(2), item(5)], run_id=killed)  # one unchanged, one new
        clock[0] += timedelta(seconds=13)  # killed meanwhile; the next run notices it now
        [abandoned] = archive.abandon_stale_runs("caliber", is_stale=lambda run: True)
        assert abandoned.id == killed
        [row] = [run for run in archive.list_runs() if run.id == killed]
    finally:
        archive.close()
    assert (row.status, row.finish_reason) == ("failed", ABANDONED)
    assert row.finished_at == last_write  # not the time it was noticed
    counts = (row.items_new, row.items_updated, row.items_unchanged, row.rejected, row.http_errors)
    assert counts == (3, 1, 1, 1, 1)
    assert row.stats is not None and row.stats[UNKNOWN_COUNTS] == ["pages", "dates_unparsed"]


def test_a_killed_scale_out_workers_articles_and_end_are_unknown(db_url: str) -> None:
    archive = Archive.open(db_url)
    try:
        from aggregator.sources import all_sources

        archive.sync_sources(all_sources())
        killed = archive.start_run("caliber", "caliber", host="vm", pid=1, crawl_id="c1")
        other = archive.start_run("caliber", "caliber", host="vm", pid=2, crawl_id="c1")
        # The other worker's articles, in the same time: not the killed one's to count.
        archive.save([item(1), item(2)], run_id=other)
        archive.save([], [RejectRecord("caliber", "https://caliber.az/post/gone", "fetch", "HTTP 404", 404)],
                     run_id=killed)  # fmt: skip
        archive.abandon_stale_runs("caliber", is_stale=lambda run: run.id == killed)
        [row] = [run for run in archive.list_runs() if run.id == killed]
    finally:
        archive.close()
    assert row.status == "failed" and row.finished_at is None  # unknown: a later article of its may be unseen
    assert (row.items_new, row.http_errors) == (0, 1)
    assert row.stats is not None
    assert row.stats[UNKNOWN_COUNTS] == ["items_new", "items_updated", "items_unchanged", "pages", "dates_unparsed"]


def test_runs_prints_a_killed_runs_unknown_counts_as_unknown(db_url: str) -> None:
    """A killed run's pages and undated articles are nobody's to count: ``runs`` printed them as 0."""
    from rich.console import Console

    from aggregator.commands.runs import run_summary, runs_view

    archive = Archive.open(db_url)
    try:
        from aggregator.sources import all_sources

        archive.sync_sources(all_sources())
        killed = archive.start_run("caliber", "caliber", host="vm", pid=1)
        archive.save([item(3)], run_id=killed)
        archive.abandon_stale_runs("caliber", is_stale=lambda run: True)
        [row] = [run_summary(run) for run in archive.list_runs() if run.id == killed]
    finally:
        archive.close()
    assert row["unknown_counts"] == ["dates_unparsed", "pages"] and row["new"] == 1
    for width in (200, 40):  # the table, and the lines a run of a narrow terminal
        console = Console(width=width, record=True, force_terminal=False)
        for part in runs_view([row], console):
            console.print(part)
        text = " ".join(console.export_text().split())
        assert ("? pages" in text) if width == 40 else (" ? 1 0 0 " in text), text
