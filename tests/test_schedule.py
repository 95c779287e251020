"""``aggregator schedule``: runs on a fixed interval, never stacked, and a clean stop on SIGTERM."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from aggregator.commands.schedule import parse_interval, worst_status
from aggregator.store.db import normalise_url
from aggregator.store.models import CrawlRun
from tests.conftest import ROOT, free_port, run_cli


def runs(db: str) -> list[CrawlRun]:
    with Session(create_engine(normalise_url(db))) as s:
        return list(s.scalars(select(CrawlRun).order_by(CrawlRun.id)))


def test_intervals() -> None:
    assert [parse_interval(t) for t in ("90", "30s", "10m", "1h", "1d", "1.5m")] == [90, 30, 600, 3600, 86400, 90]
    for bad in ("", "ten minutes", "0", "-5m", "10w"):
        with pytest.raises(ValueError, match="not an interval"):
            parse_interval(bad)
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
    assert "SIGTERM: stopping after the current run" in err and err.rstrip().endswith("schedule: stopped")
    (run,) = runs(db)
    assert run.status in {"partial", "finished"} and run.finished_at is not None  # closed, not left "running"
