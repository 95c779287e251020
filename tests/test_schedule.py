"""``aggregator schedule``: runs on a fixed interval, never stacked, and a clean stop on SIGTERM."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from aggregator.commands.schedule import UnitMissing, _loop, exited, parse_interval, worst_status
from aggregator.store.db import normalise_url
from aggregator.store.models import CrawlRun
from tests.conftest import ROOT, free_port, run_cli
from tests.helpers.slow_site import slow_site

STOPPING = "stopping (a run in progress stops now, keeping what it fetched)"


def runs(db: str) -> list[CrawlRun]:
    with Session(create_engine(normalise_url(db))) as s:
        return list(s.scalars(select(CrawlRun).order_by(CrawlRun.id)))


def test_intervals() -> None:
    assert [parse_interval(t) for t in ("90s", "30s", "10m", "1h", "1d", "1.5m")] == [90, 30, 600, 3600, 86400, 90]
    for bad in ("", "ten minutes", "0", "-5m", "10w"):
        with pytest.raises(ValueError, match="not an interval"):
            parse_interval(bad)
    # A bare number was seconds: `--every 10`, meant as 10 minutes, crawled the real sites every 10 seconds.
    for bare in ("10", " 90 ", "1.5"):
        with pytest.raises(UnitMissing, match=f"{bare.strip()!r} needs a unit: 30s, 10m, 1h"):
            parse_interval(bare)
    # An age counted back from now past the year 1 was a traceback in `health --max-age` ("date value out of range").
    assert parse_interval("36600d") == 36600 * 86400
    with pytest.raises(ValueError, match="too long an interval"):
        parse_interval("99999999h")


@pytest.mark.parametrize(
    ("statuses", "worst"),
    [([0, 0], 0), ([0, 3, 0], 3), ([3, 1, 3], 1), ([1, 2, 0], 2), ([2, -9], 137), ([0, 120, 2], 120)],
)
def test_the_worst_status_of_the_runs(statuses: list[int], worst: int) -> None:
    # 3 (skipped, nothing else wrong) is milder than 1 (a source failed); a killed run reads as the shell shows it.
    assert worst_status(statuses) == worst


def test_a_try_out_whose_runs_failed_exits_with_their_status(tmp_path: Path) -> None:
    # Both runs "exited with status 2" (no mirror there), and the scheduler exited 0: a failed try-out looked fine.
    db = f"sqlite:///{tmp_path / 'a.db'}"
    mirror = f"http://127.0.0.1:{free_port()}"
    done = run_cli("--db", db, "schedule", "caliber", "--every", "1s", "--max-runs", "2", "--mirror", mirror)
    assert done.stderr.count("exited with status 2") == 2, done.stderr[-3000:]
    assert done.returncode == 2, done.stderr[-3000:]
    assert "2 run(s) done: exit status 2" in done.stderr


def test_the_log_level_is_passed_to_each_run(tmp_path: Path) -> None:
    # `schedule` had no --log-level: its runs logged at the crawl's default (INFO under a container's or systemd's
    # log), and an operator chasing a failing source could not ask them for more, nor for less.
    db = f"sqlite:///{tmp_path / 'a.db'}"
    done = run_cli("--db", db, "schedule", "caliber", "--offline", "--every", "1h", "--max-runs", "1",
                   "--log-level", "debug", timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    debug = re.compile(r"^\S+ \S+ \[scrapy\.core\.engine\] DEBUG: Crawled \(200\)", re.M)  # the crawl's own log
    assert debug.search(done.stderr), done.stderr[-3000:]
    assert [r.status for r in runs(db)] == ["finished"]


def test_a_log_level_that_is_not_one_is_refused_before_any_run(tmp_path: Path) -> None:
    # Refused by typer ("No such option"); accepted as it is, every run would have failed on it, one an interval.
    db = f"sqlite:///{tmp_path / 'a.db'}"
    done = run_cli("--db", db, "schedule", "caliber", "--offline", "--log-level", "BOGUS")
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.strip().splitlines() == [
        "aggregator: error: --log-level: 'BOGUS' is not a log level: CRITICAL, ERROR, WARNING, INFO, DEBUG",
        "Try 'aggregator schedule --help' for help.",
    ]
    assert not (tmp_path / "a.db").exists()  # no run started


def test_an_interval_without_its_unit_is_refused_as_health_refuses_an_age(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    done = run_cli("--db", db, "schedule", "caliber", "--offline", "--every", "10", "--max-runs", "1")
    assert done.returncode == 2, done.stderr[-3000:]
    said, hint = done.stderr.splitlines()  # the error; where the help is (the command as it was run)
    assert said == "aggregator: error: Invalid value for --every: '10' needs a unit: 30s, 10m, 1h"
    assert hint.startswith("Try '") and hint.endswith("aggregator schedule --help' for help.")
    assert not (tmp_path / "a.db").exists()  # no run started
    age = run_cli("--db", db, "health", "--max-age", "10")  # the same words, with the setting's unit said
    assert age.returncode == 2 and age.stderr.splitlines()[0] == (
        "aggregator: error: Invalid value for --max-age: '10' needs a unit: 30m, 2h, 1d "
        "(AGGREGATOR_HEALTH_MAX_AGE_HOURS is in hours)"
    )
    helped = " ".join(run_cli("schedule", "--help").stdout.split())
    assert "with its unit: 30s, 10m, 1h, 1d (a bare number is refused)" in helped


def test_an_overrunning_run_is_not_stacked(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    done = run_cli("--db", db, "schedule", "caliber", "--offline", "--every", "1s", "--max-runs", "3", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    recorded = runs(db)
    assert [r.status for r in recorded] == ["finished"] * 3
    for before, after in itertools.pairwise(recorded):
        assert before.finished_at is not None and after.started_at >= before.finished_at  # one at a time
    assert "overran its interval" in done.stderr  # a crawl takes longer than a second: ticks skipped, none stacked
    assert done.stderr.count("exited with status 0") == 3


def test_sigterm_stops_the_running_crawl_cleanly(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--db", db, "schedule", "caliber", "--offline", "--every", "1h"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    engine = create_engine(normalise_url(db))
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with engine.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM crawl_runs")).scalar():
                    break
        except Exception:  # no schema yet
            pass
        time.sleep(0.05)
    engine.dispose()
    # Past the spider's opening: a SIGTERM during Scrapy's start-up ends the process before any close. 1.5 s was not
    # always enough on a loaded 2-CPU machine; a run that finishes before the signal is accepted below too.
    time.sleep(3)
    assert proc.poll() is None, proc.communicate()[1][-3000:]
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert f"SIGTERM: {STOPPING}" in err and err.rstrip().endswith("schedule: stopped")
    (run,) = runs(db)
    assert run.status in {"partial", "finished"} and run.finished_at is not None  # closed, not left "running"


def test_a_run_killed_by_a_signal_is_said_so_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    """It said "run 1 exited with status -9": no command exits with that, and "killed by SIGKILL" (the OOM killer,
    a container's stop timeout) is what an operator needs to read."""
    assert exited(0) == "exited with status 0" and exited(2) == "exited with status 2"
    assert exited(-signal.SIGKILL) == "was killed by SIGKILL" and exited(-signal.SIGTERM) == "was killed by SIGTERM"
    killed = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
    assert _loop(killed, 0.1, 1, threading.Event(), []) == 137  # as a shell shows it
    err = capsys.readouterr().err
    assert re.search(r"schedule: run 1 was killed by SIGKILL after [\d.]+s$", err, re.MULTILINE), err


def wait_for_a_run(db: str, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    engine = create_engine(normalise_url(db))
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(Exception), engine.connect() as conn:  # (no archive or no schema yet)
                if conn.execute(text("SELECT count(*) FROM crawl_runs")).scalar():
                    return
            time.sleep(0.05)
    finally:
        engine.dispose()
    pytest.fail(f"no run started: {proc.communicate()[1][-3000:] if proc.poll() is not None else 'still waiting'}")


def test_sighup_stops_the_running_crawl_cleanly(tmp_path: Path) -> None:
    """A closed terminal or SSH session sends SIGHUP to the scheduler and to its crawl (one process group), as
    ``os.killpg`` does here. The scheduler died of it (status 129, nothing said) and so did the crawl, mid-batch, its
    row left "running"."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    with slow_site() as site:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "--db", db, "schedule", "caliber", "--mirror", site, "--every", "1s"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        wait_for_a_run(db, proc)
        time.sleep(2)  # past the spider's opening: article pages in flight (each takes 5 s)
        os.killpg(proc.pid, signal.SIGHUP)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert f"SIGHUP: {STOPPING}" in err and err.rstrip().endswith("schedule: stopped")
    assert "overran its interval" not in err  # a run cut short by the stop overran nothing
    (run,) = runs(db)
    assert (run.status, run.finish_reason) == ("partial", "shutdown")  # closed, not left "running"


def test_a_stop_signal_while_a_crawl_starts_is_passed_on_to_it(tmp_path: Path) -> None:
    """SIGTERM after the loop looked at its stop flag and before the crawl's process was known to the handler (a slow
    fork and exec: tests/helpers/schedule_race.py) was lost: the crawl ran its whole course, the stop waited for it."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    marker = tmp_path / "starting"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    with slow_site() as site:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.schedule_race", str(marker),
             "--db", db, "schedule", "caliber", "--mirror", site, "--every", "1s"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert marker.exists(), proc.communicate()[1][-3000:]
        proc.send_signal(signal.SIGTERM)  # the crawl's process is not started yet
        try:
            _, err = proc.communicate(timeout=25)  # the whole crawl of the slow site takes over half a minute
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("the stop was lost: the scheduler waited for the whole crawl")
    assert proc.returncode == 0, err[-3000:]
    assert f"SIGTERM: {STOPPING}" in err and err.rstrip().endswith("schedule: stopped")
    assert re.search(r"run 1 (was killed by SIGTERM|exited with status 0) after", err), err[-3000:]
    assert "overran its interval" not in err
    assert all(run.status != "running" for run in runs_if_any(db))


def runs_if_any(db: str) -> list[CrawlRun]:
    try:
        return runs(db)
    except Exception:  # the crawl was stopped before it made the archive
        return []
