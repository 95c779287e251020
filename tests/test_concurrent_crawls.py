"""Two crawl processes writing to one archive at once: no duplicate, no lost row, no "database is locked"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.crawl_checks import check_archive, counts, expected, sources_with_samples


def test_two_crawls_at_once(db_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    command = [sys.executable, "-m", "aggregator", "--db", db_url, "crawl", "--all", "--offline"]
    procs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)
    ]  # both start on an empty database: both also race to create the schema
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()[-3000:]
        assert b"database is locked" not in err
    n = len(expected()["articles"])
    assert counts(db_url)["articles"] == n
    assert counts(db_url)["snapshots"] == n
    assert counts(db_url)["crawl_runs"] == 2 * len(sources_with_samples())  # one run per source and process
    check_archive(db_url)
