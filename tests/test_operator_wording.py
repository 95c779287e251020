"""What the operator's commands print, line by line: no empty summary, result lines whole in a log, a one-worker
crawl named as a run, spans and ages in the words that fit them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from aggregator.commands.runs import _health_cells, runs_table
from aggregator.crawl import SourceOutcome, print_summary
from aggregator.health_report import _span
from tests.conftest import run_cli


def _printed(outcomes: list[SourceOutcome], width: int = 80) -> list[str]:
    console = Console(width=width, record=True, force_terminal=False, file=open("/dev/null", "w"))  # noqa: SIM115
    print_summary(outcomes, console)
    console.file.close()
    return console.export_text().splitlines()


def test_a_crawl_that_crawled_nothing_prints_no_summary_table() -> None:
    # Every source locked by another run, or resting as its site asked: the reasons go to stderr, and under cron each
    # overlapping tick added a titled table with no row to the log.
    resting = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
    skipped = [SourceOutcome("caliber", None, {}, busy=True), SourceOutcome("apa", None, {}, resting_until=resting)]
    assert _printed(skipped) == []
    ran = _printed([*skipped, SourceOutcome("haqqin", "finished", {"elapsed_time_seconds": 1.5})])
    assert ran[0].strip() == "Crawl summary" and any(line.startswith("haqqin") for line in ran)


def test_a_result_line_is_one_line_at_any_width() -> None:
    stats = {
        "elapsed_time_seconds": 1.8,
        "aggregator/skipped_refused": 4,
        "aggregator/charset_corrected": 1,
        "aggregator/swept": 3,
        "aggregator/sweep_due": 9,
    }
    (line,) = [line for line in _printed([SourceOutcome("caliber", "finished", stats)], width=60) if "✓" in line]
    assert line.startswith("✓ caliber: finished in 1.8s") and line.rstrip().endswith("more due)")


def test_a_scale_out_crawl_of_one_worker_is_shown_as_a_run() -> None:
    def health_row(workers: int) -> dict[str, object]:
        return {
            "source": "apa", "status": "green", "run": 17, "crawl": 17, "workers": workers, "items": 12,
            "extracted": 12, "finished_at": "2026-12-06T03:00:00+00:00", "coverage": {}, "median": None,
        }  # fmt: skip

    assert _health_cells(health_row(1), wide=True)["run"] == "17"
    assert _health_cells(health_row(3), wide=True)["run"] == "17×3"

    def run_row(run_id: int, crawl: int | None) -> dict[str, object]:
        return {
            "id": run_id, "crawl": crawl, "source": "apa", "started_at": "2026-12-06T03:00:00+00:00",
            "finished_at": "2026-12-06T03:01:00+00:00", "status": "finished", "finish_reason": "finished",
            "pages": 5, "new": 1, "updated": 0, "unchanged": 0, "rejected": 0, "http_errors": 0,
            "dates_unparsed": 0, "swept": 0, "health": "green", "host": "h", "pid": 1,
        }  # fmt: skip

    _, below = runs_table([run_row(17, 17), run_row(20, 18), run_row(21, 18)], wide=False)
    assert [line for line in below if "scale-out" in line] == ["scale-out crawl 18 (apa): runs 20, 21"]


def test_spans_under_a_minute_are_said_in_seconds() -> None:
    assert _span(timedelta(seconds=30)) == "30 s"  # was "0.5 min"
    assert _span(timedelta(seconds=90)) == "90 s"
    assert _span(timedelta(minutes=5)) == "5 min"
    assert _span(timedelta(hours=2)) == "2 h" and _span(timedelta(days=1)) == "1 d"


def test_pruning_runs_of_any_age_says_so(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    assert run_cli("--db", db, "db", "upgrade").returncode == 0
    done = run_cli("--db", db, "db", "prune-runs", "--older-than", "0", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "of any age" in done.stdout and "0 days" not in done.stdout
