"""A source whose schedule stopped turns red in ``aggregator health`` and ``/api/health`` (aggregator/health_report.py):
a run judges itself, so without this the last verdict stays green for ever. A source never judged is unknown, not
green; a scale-out crawl is judged on its workers' runs together."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from aggregator.api import create_app
from aggregator.commands.runs import health_table
from aggregator.health_report import source_health
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.models import CrawlRun
from tests.conftest import run_cli
from tests.test_cli import _rendered

NOW = datetime.now(UTC).replace(microsecond=0)
GREEN = {"status": "green", "problems": [], "items": 40, "extracted": 40, "median": 41.0}


def add_runs(db_url: str) -> None:
    """caliber: judged an hour ago, then a run that failed before judging; haqqin: judged three days ago; apa: red
    an hour ago; report: never run."""
    archive = Archive.open(db_url)
    try:
        with Session(archive.engine) as s, s.begin():
            for source, started, status, health in (
                ("caliber", NOW - timedelta(hours=1), "finished", GREEN),
                ("caliber", NOW - timedelta(minutes=10), "failed", None),
                ("haqqin", NOW - timedelta(days=3), "finished", GREEN),
                ("apa", NOW - timedelta(hours=1), "finished", GREEN | {"status": "red", "problems": ["title 40%"]}),
            ):
                s.add(
                    CrawlRun(
                        source=source, spider=source, started_at=started, finished_at=started + timedelta(minutes=1),
                        status=status, health=health,
                    )
                )  # fmt: skip
    finally:
        archive.close()


def rows_by_source(db_url: str, max_age: timedelta | None) -> dict[str, dict]:
    archive = Archive.open(db_url)
    try:
        with archive.engine.connect() as conn:
            rows = source_health(conn, ["caliber", "haqqin", "apa", "report"], now=NOW, max_age=max_age)
    finally:
        archive.close()
    return {r["source"]: r for r in rows}


def test_a_verdict_older_than_the_maximum_age_is_red(db_url: str) -> None:
    add_runs(db_url)
    rows = rows_by_source(db_url, timedelta(hours=24))
    caliber, haqqin, apa, report = rows["caliber"], rows["haqqin"], rows["apa"], rows["report"]
    assert caliber["status"] == "green" and caliber["problems"] == []
    assert caliber["items"] == 40 and caliber["median"] == 41.0
    # The latest judged run is shown, and the start of the newest run beside it (one that failed before judging).
    assert datetime.fromisoformat(caliber["finished_at"]) == NOW - timedelta(minutes=59)
    assert datetime.fromisoformat(caliber["latest_run_started_at"]) == NOW - timedelta(minutes=10)
    assert haqqin["status"] == "red"
    since = (NOW - timedelta(days=3, minutes=-1)).isoformat()
    assert haqqin["problems"] == [f"no judged run since {since} (over 1 d ago): is the schedule running?"]
    assert apa["status"] == "red" and apa["problems"] == ["title 40%"]
    assert report["status"] == "unknown" and report["run"] is None
    assert report["problems"] == ["no run recorded yet: is it scheduled?"]
    # Without a maximum age, only the runs' own verdicts count.
    assert rows_by_source(db_url, None)["haqqin"]["status"] == "green"
    assert "(over 30 min ago)" in rows_by_source(db_url, timedelta(minutes=30))["caliber"]["problems"][0]


def test_the_health_command_takes_a_maximum_age(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    add_runs(db)
    default = run_cli("--db", db, "health", "--json")
    assert default.returncode == 1  # haqqin is three days old, apa is red
    shown = {r["source"]: r for r in json.loads(default.stdout)}
    assert shown["report"]["status"] == "unknown"  # never run: listed too
    assert "is the schedule running?" in shown["haqqin"]["problems"][0]
    assert run_cli("--db", db, "health", "--source", "caliber", "--max-age", "2h").returncode == 0
    assert run_cli("--db", db, "health", "--source", "caliber", "--max-age", "30m").returncode == 1
    assert run_cli("--db", db, "health", "--source", "haqqin", "--max-age", "0").returncode == 0
    env = {"AGGREGATOR_HEALTH_MAX_AGE_HOURS": "100"}
    assert run_cli("--db", db, "health", "--source", "haqqin", env=env).returncode == 0
    table = run_cli("--db", db, "health", "--source", "haqqin")
    assert table.returncode == 1 and "red" in table.stdout and "haqqin" in table.stdout
    bad = run_cli("--db", db, "health", "--max-age", "soon")
    assert bad.returncode == 2 and "not an interval" in bad.stderr
    # A bare number was seconds (every source red "over 0.0333333 min ago"), where the setting is in hours.
    for command in ("health", "metrics"):
        bare = run_cli("--db", db, command, "--max-age", "2")
        assert bare.returncode == 2 and "'2' needs a unit: 30m, 2h, 1d" in " ".join(bare.stderr.split()), bare.stderr


def test_the_api_says_whether_it_can_serve_and_how_the_crawl_is_doing(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    add_runs(db)
    with TestClient(create_app(db, health_max_age=timedelta(hours=24))) as client:
        alive = client.get("/healthz")
        assert alive.status_code == 200 and alive.json() == {"status": "ok", "database": "ok"}
        health = client.get("/api/health")
        assert health.status_code == 503  # for a monitor: a source is red
        body = health.json()
        assert body["status"] == "red" and body["red"] == ["haqqin", "apa"]
        assert body["unknown"] == [s.key for s in all_sources() if s.key not in {"caliber", "haqqin", "apa"}]
        assert [s["source"] for s in body["sources"]] == [s.key for s in all_sources()]
        assert {s["source"]: s["status"] for s in body["sources"]}["caliber"] == "green"
        caliber = next(s for s in body["sources"] if s["source"] == "caliber")
        for key in ("finished_at", "latest_run_started_at"):  # spelled as the rest of the API spells instants
            assert caliber[key].endswith("Z") and datetime.fromisoformat(caliber[key]).tzinfo is not None, key
    with TestClient(create_app(db, health_max_age=None)) as client:
        assert client.get("/api/health").json()["red"] == ["apa"]
    with TestClient(create_app(f"sqlite:///{tmp_path / 'gone' / 'archive.db'}")) as client:
        down = client.get("/healthz")
        assert down.status_code == 503 and down.json() == {"status": "error", "database": "OperationalError"}


def test_the_api_is_green_when_every_source_is(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    archive = Archive.open(db)
    try:
        with Session(archive.engine) as s, s.begin():
            for source in all_sources():
                s.add(CrawlRun(source=source.key, spider=source.key, started_at=NOW, finished_at=NOW, status="finished",
                               health=GREEN))  # fmt: skip
    finally:
        archive.close()
    with TestClient(create_app(db)) as client:
        health = client.get("/api/health")
    assert health.status_code == 200 and health.json()["status"] == "green" and health.json()["red"] == []
    assert health.json()["unknown"] == []


def test_a_source_with_no_verdict_is_unknown_and_not_healthy(tmp_path: Path) -> None:
    """A source just added, or whose cron job never fired, has no run: `health` showed it as "–" and exited 0 (its
    JSON left it out), /api/health answered 200 green and /metrics had no healthy gauge of it, so an operator was
    told all was well. A source whose only run is still going, or was killed before it was judged, has no verdict
    either."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    archive = Archive.open(db)
    try:
        with Session(archive.engine) as s, s.begin():
            for source in all_sources():
                # report: never run; trend: its first run is going; minval: its one run was killed (abandoned)
                if source.key not in {"report", "trend", "minval"}:
                    s.add(CrawlRun(source=source.key, spider=source.key, started_at=NOW, finished_at=NOW,
                                   status="finished", health=GREEN))  # fmt: skip
            s.add(CrawlRun(source="minval", spider="minval", started_at=NOW, finished_at=NOW, status="failed"))
        run = archive.start_run("trend", "trend")
    finally:
        archive.close()
    rows = rows_by_source(db, timedelta(hours=24))
    assert rows["report"]["status"] == "unknown"
    assert rows["report"]["problems"] == ["no run recorded yet: is it scheduled?"]
    for command in (["health"], ["health", "--source", "report"], ["health", "--max-age", "0"]):
        shown = run_cli("--db", db, *command)
        assert shown.returncode == 1, (command, shown.stdout)
        assert "unknown" in shown.stdout and "no run recorded yet" in shown.stdout
    assert run_cli("--db", db, "health", "--source", "caliber").returncode == 0
    listed = {r["source"]: r for r in json.loads(run_cli("--db", db, "health", "--json").stdout)}
    assert listed["report"]["status"] == "unknown" and listed["report"]["run"] is None
    assert listed["minval"]["status"] == "unknown"
    assert listed["minval"]["problems"] == [f"none of its last 1 run(s) was judged (run {run - 1}: failed)"]
    assert listed["trend"]["status"] == "unknown"
    [going] = listed["trend"]["problems"]
    assert going.startswith(
        f"no judged run yet: run {run} is running since {listed['trend']['latest_run_started_at'][:19]}"
    )
    with TestClient(create_app(db)) as client:
        health = client.get("/api/health")
        metrics = client.get("/metrics").text
    assert health.status_code == 503
    assert health.json()["status"] == "unknown" and health.json()["red"] == []
    assert health.json()["unknown"] == ["report", "trend", "minval"]
    assert 'aggregator_source_healthy{source="report"} 0.0' in metrics
    assert 'aggregator_source_healthy{source="caliber"} 1.0' in metrics


def worker_run(crawl: str | None, extracted: int, missing_titles: int = 0, status: str = "finished") -> CrawlRun:
    """A scale-out worker's run of caliber as the store records it, its own verdict green (the item count is not a
    worker's to judge; two missing titles are under the three that count)."""
    stats = {"aggregator/health/extracted": extracted, "aggregator/health/title": extracted - missing_titles,
             "aggregator/health/body": extracted, "aggregator/health/date": extracted,
             "downloader/request_count": extracted + 5, "response_received_count": extracted + 5,
             "aggregator/articles_new": extracted, "finish_reason": "finished",
             "aggregator/crawl_id": crawl}  # fmt: skip
    health = {"status": "green", "problems": [], "items": extracted, "extracted": extracted,
              "coverage": {"title": 1 - missing_titles / extracted, "body": 1.0, "date": 1.0}, "undated": 0.0,
              "http_error_rate": 0.0, "http_errors": 0, "median": None, "shared_frontier": True}  # fmt: skip
    done = status != "running"
    return CrawlRun(
        source="caliber", spider="caliber", started_at=NOW - timedelta(minutes=10), crawl_id=crawl, status=status,
        finished_at=NOW - timedelta(minutes=1) if done else None, stats=stats if done else None,
        health=health if done else None, pages=extracted + 5, items_new=extracted,
    )  # fmt: skip


def solo_run(items: int) -> CrawlRun:
    return CrawlRun(source="caliber", spider="caliber", started_at=NOW - timedelta(hours=3), status="finished",
                    finished_at=NOW - timedelta(hours=3), health=GREEN | {"items": items})  # fmt: skip


def caliber_health(db_url: str) -> dict:
    return rows_by_source(db_url, timedelta(hours=24))["caliber"]


def test_a_scale_out_crawl_is_judged_and_listed_as_a_whole(db_url: str) -> None:
    """Each worker sharing a frontier records its own run: `health` showed the last one to finish (4 articles, a median
    of 100: a drop that was only its share) and judged nothing of the whole, whose titles were missing in 9% of its
    64 articles, two in each worker's share (under the three a worker's own check counts); `runs` did not say which
    runs were one crawl."""
    archive = Archive.open(db_url)
    try:
        with Session(archive.engine) as s, s.begin():
            s.add(solo_run(100))
            s.add(worker_run(None, 5))  # a worker's share, recorded before crawls were named: no history
            s.add_all([worker_run("c1", 70), worker_run("c1", 50)])  # a crawl of 120
            s.add(solo_run(90))
            shares = [worker_run("c2", 30, 2), worker_run("c2", 30, 2), worker_run("c2", 4, 2)]
            s.add_all(shares)
            s.flush()
            first = shares[0].id
    finally:
        archive.close()

    row = caliber_health(db_url)
    assert row["status"] == "red"
    assert row["problems"] == ["of 64 article(s) only title in 91% (layout change?)"]
    assert (row["items"], row["extracted"], row["median"]) == (64, 64, 100)  # the median of 90, 120 and 100
    assert (row["run"], row["crawl"], row["workers"], row["run_status"]) == (first, first, 3, "finished")
    table, _ = health_table([row], wide=True)
    assert f"{first}×3" in _rendered(table, 200)  # the crawl's first run, and how many runs it had

    listed = json.loads(run_cli("--db", db_url, "runs", "--json").stdout)
    assert [(r["id"], r["crawl"]) for r in listed[:3]] == [(first + 2, first), (first + 1, first), (first, first)]
    assert listed[-1]["crawl"] is None and listed[-2]["crawl"] is None  # a run of its own; the unnamed worker
    assert listed[-3]["crawl"] == listed[-4]["crawl"] == first - 3
    wide = run_cli("--db", db_url, "runs", "--limit", "3").stdout.splitlines()
    assert "crawl" in wide[1].split() and wide[3].split()[:2] == [str(first + 2), str(first)]
    narrow = run_cli("--db", db_url, "runs", "--limit", "3", env={"COLUMNS": "80"})
    assert f"scale-out crawl {first} (caliber): runs {first}, {first + 1}, {first + 2}" in narrow.stdout

    # The next crawl, one worker through and one still going: judged on what is in, but not on its article count yet.
    archive = Archive.open(db_url)
    try:
        with Session(archive.engine) as s, s.begin():
            through, going = worker_run("c3", 20), worker_run("c3", 5, status="running")
            s.add_all([through, going])
            s.flush()
            started = through.id
        row = caliber_health(db_url)
        assert (row["status"], row["problems"], row["items"]) == ("green", [], 20)
        assert (row["crawl"], row["workers"], row["run_status"]) == (started, 2, "running")
        with Session(archive.engine) as s, s.begin():  # both through: 25 articles against a median of 95
            done = worker_run("c3", 5)
            s.execute(
                update(CrawlRun)
                .where(CrawlRun.id == started + 1)
                .values(status=done.status, finished_at=done.finished_at, stats=done.stats, health=done.health)
            )
    finally:
        archive.close()
    row = caliber_health(db_url)
    assert row["status"] == "red" and row["problems"] == ["25 article(s) found, median of the last 4 run(s) 95"]


def test_a_scale_out_crawl_that_found_nothing_is_said_where_its_spider_looked(db_url: str) -> None:
    # Judged whole from its workers' rows, a generic source's crawl that found nothing was "no article found on the
    # listings": listings it does not have. A crawl recorded before the rows said where the spider looks read them.
    def worker(source: str, crawl: str, looked_in: str | None) -> CrawlRun:
        stats = {"downloader/request_count": 2, "response_received_count": 2, "finish_reason": "finished",
                 "aggregator/crawl_id": crawl} | ({"aggregator/looked_in": looked_in} if looked_in else {})  # fmt: skip
        return CrawlRun(
            source=source, spider=source, started_at=NOW - timedelta(minutes=10), finished_at=NOW, crawl_id=crawl,
            status="finished", stats=stats, health={"status": "green", "problems": [], "shared_frontier": True},
        )  # fmt: skip

    archive = Archive.open(db_url)
    try:
        with Session(archive.engine) as s, s.begin():
            s.add_all([worker("minval", "m1", "in the feeds, sitemaps or listings"), worker("minval", "m1", None)])
            s.add_all([worker("haqqin", "h1", "in the feeds"), worker("caliber", "c1", None)])
        with archive.engine.connect() as conn:
            rows = {r["source"]: r for r in source_health(conn, ["minval", "haqqin", "caliber"], now=NOW, max_age=None)}
    finally:
        archive.close()
    assert {key: (row["status"], row["problems"]) for key, row in rows.items()} == {
        "minval": ("red", ["no article found in the feeds, sitemaps or listings"]),
        "haqqin": ("red", ["no article found in the feeds"]),
        "caliber": ("red", ["no article found on the listings"]),
    }
    assert "looked_in" not in rows["minval"]  # not a measure


def test_a_scale_out_crawl_quotes_a_date_one_of_its_workers_could_not_read(db_url: str) -> None:
    """Judged whole, the crawl says its dates could not be read with a worker's example, as a run of its own does."""
    first, second = worker_run("d1", 20), worker_run("d1", 20)
    for worker in (first, second):
        worker.stats = {**(worker.stats or {}), "aggregator/dates_unparsed": 10}
    second.stats = {**second.stats, "aggregator/dates_unread_example": "2026/12/06 10h15"}  # the other read none
    archive = Archive.open(db_url)
    try:
        with Session(archive.engine) as s, s.begin():
            s.add_all([first, second])
    finally:
        archive.close()
    row = caliber_health(db_url)
    assert row["problems"] == ["50% of the dates could not be read (e.g. '2026/12/06 10h15')"]
    assert "unread_example" not in row  # not a measure


# -- narrow terminals ------------------------------------------------------------------------------------------

INCREMENTAL = {
    "status": "red", "problems": ["title missing (layout change?)"], "items": 1234, "extracted": 87,
    "median": 1250.5, "coverage": {"title": 0.25, "body": 0.5, "date": 0.75}, "undated": 0.125,
    "http_error_rate": 0.0625,
}  # fmt: skip
"""A verdict whose coverage is of far fewer articles (87 extracted) than the run found (1234): each share means
something only beside the 87."""


def shown_at(rows: list[dict], width: int) -> str:
    from rich.console import Console

    from aggregator.commands.runs import health_view

    console = Console(width=width, record=True, force_terminal=False)
    for part in health_view(rows, console):
        console.print(part)
    return console.export_text()


@pytest.mark.parametrize("width", [40, 60, 80, 120, 160])
def test_health_shows_every_figure_and_what_its_share_is_of_at_any_width(width: int) -> None:
    """Rich dropped the last columns of a table with no room for them (at 60 columns the undated and HTTP error
    shares went, without a word) and a narrow table showed the coverage shares without the count they are of."""
    row = {"source": "haqqin", "run": 12345, "finished_at": "2026-12-03T12:39:31Z", **INCREMENTAL}
    never = {
        "source": "report",
        "run": None,
        "status": "unknown",
        "problems": ["no run recorded yet: is it scheduled?"],
    }
    text = shown_at([row, never], width)
    assert "…" not in text and max(len(line.rstrip()) for line in text.splitlines()) <= width, text
    for value in ("haqqin", "12345", "12:39", "red", "1234", "1250.5", "87", "25%", "50%", "75%", "12%", "6%",
                  "title missing (layout change?)", "report", "unknown", "no run recorded yet"):  # fmt: skip
        assert value in text, (value, text)
    # "found", the articles the listings led to (refused ones too): not the crawl summary's "accepted" ones
    for label in ("found", "median", "extracted", "title", "body", "date", "undated"):
        assert label in text, (label, text)
    assert "http" in text.lower() and "err" in text  # "http err", or its words over two lines of a header
    words = " ".join(text.split())
    if "of 87 extracted:" in words:  # a few lines a source, each figure named
        assert width < 60 and "of 87 extracted: title 25%, body 50%, date 75%, undated 12%" in words
        assert "1234 articles found, median 1250.5; HTTP errors 6% of requests" in words
    else:  # a table: the 87 in the row of the shares, under its header
        (line,) = [line for line in text.splitlines() if " 87 " in line]
        assert all(share in line.split() for share in ("25%", "50%", "75%", "12%")), line


def test_the_health_command_on_a_narrow_terminal_says_what_each_share_is_of(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    archive = Archive.open(db)
    try:
        with Session(archive.engine) as s, s.begin():
            started = NOW - timedelta(minutes=5)
            s.add(CrawlRun(source="caliber", spider="caliber", started_at=started, finished_at=started,
                           status="finished", health=INCREMENTAL))  # fmt: skip
    finally:
        archive.close()
    for columns in ("60", "80"):
        done = run_cli("--db", db, "health", env={"COLUMNS": columns})
        assert done.returncode == 1, done.stderr
        assert max(len(line.rstrip()) for line in done.stdout.splitlines()) <= int(columns), done.stdout
        for shown in ("Coverage of the articles extracted", "extracted", "undated", "http", "87", "1234", "12%", "6%"):
            assert shown in done.stdout, (columns, shown, done.stdout)
