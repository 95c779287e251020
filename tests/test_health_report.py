"""A source whose schedule stopped turns red in ``aggregator health`` and ``/api/health`` (aggregator/health_report.py):
a run judges itself, so without this the last verdict stays green for ever."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from aggregator.api import create_app
from aggregator.health_report import source_health
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.models import CrawlRun
from tests.conftest import run_cli

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
