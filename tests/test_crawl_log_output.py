"""What a crawl writes to a terminal and to a log: log lines above the live table, never inside it; no start-up
listings of Scrapy's components in a cron job's log unless a log level asks for them."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, run_cli

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LISTINGS = ("Enabled downloader middlewares", "Enabled item pipelines", "Enabled extensions", "Overridden settings")


def _on_a_terminal(args: list[str], cwd: Path) -> str:
    """Run ``aggregator`` with its standard error on a pseudo-terminal (the live table shows); what it wrote there."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    env.update({"COLUMNS": "120", "LINES": "40", "TERM": "xterm"})
    script = Path(sys.executable).with_name("aggregator")
    process = subprocess.Popen(
        [str(script), *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=120) in (0, 1), b"".join(chunks)[-2000:]
    return b"".join(chunks).decode("utf-8", "replace")


def test_log_lines_are_printed_above_the_live_table(tmp_path: Path) -> None:
    # The caliber sample holds a page answered with HTTP 500: Scrapy's retry logs "Gave up retrying" at ERROR, which
    # a terminal's default level (WARNING) shows while the table is drawn.
    output = _on_a_terminal(["--db", f"sqlite:///{tmp_path / 'a.db'}", "crawl", "caliber", "--offline"], ROOT)
    lines = [line for line in output.split("\n") if "Gave up retrying" in line]
    assert lines, output[-2000:]
    for line in lines:
        # What the terminal shows on that line: the text after the last carriage return, without control sequences
        shown = ANSI.sub("", line.rstrip("\r").rsplit("\r", 1)[-1])
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[scrapy\.downloadermiddlewares\.retry\] ERROR", shown), (
            f"the log line was written into the table: {shown!r}"
        )
    assert "caliber" in ANSI.sub("", output.rsplit("Gave up retrying", 1)[-1]), "the summary follows the log lines"


def test_a_cron_log_leaves_out_scrapys_start_up_listings(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    quiet = run_cli("--db", db, "crawl", "haqqin", "--offline")
    assert quiet.returncode in (0, 1), quiet.stderr[-2000:]
    assert "Spider opened" in quiet.stderr  # INFO, as a log that is no terminal's is by default
    assert "Dumping Scrapy stats" in quiet.stderr  # the run's figures stay
    assert not [words for words in LISTINGS if words in quiet.stderr]
    asked = run_cli("--db", db, "crawl", "haqqin", "--offline", "--log-level", "INFO")
    assert asked.returncode in (0, 1), asked.stderr[-2000:]
    assert [words for words in LISTINGS if words in asked.stderr] == list(LISTINGS)
