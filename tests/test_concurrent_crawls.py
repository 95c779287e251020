"""Two crawl processes writing to one archive at once: no duplicate, no lost row, no "database is locked".

`aggregator crawl` never runs one source twice at once (see test_unattended.py, the lock); writers still meet on one
archive when different sources or scale-out workers share it, or runs with the lock switched off, as here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.crawl_checks import check_archive, counts, expected


def test_two_crawls_at_once(db_url: str, mirror_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    # Two runs of one source, the hardest case for the store (the same URLs at the same time): a run takes its
    # source's lock unless told otherwise, so this test tells it.
    command = [sys.executable, "-m", "scrapy", "crawl", "caliber", "-s", f"AGGREGATOR_MIRROR={mirror_url}",
               "-s", f"AGGREGATOR_DB_URL={db_url}", "-s", "AGGREGATOR_RUN_LOCK=0"]  # fmt: skip
    procs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)
    ]  # both start on an empty database: both also race to create the schema
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()[-3000:]
        assert b"database is locked" not in err
    n = len(expected("caliber")["articles"])  # only caliber was crawled
    assert counts(db_url)["articles"] == n
    assert counts(db_url)["snapshots"] == n
    assert counts(db_url)["crawl_runs"] == 2  # one per process
    check_archive(db_url, "caliber")
