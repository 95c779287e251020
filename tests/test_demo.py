"""`make demo` from a fresh clone: a new .venv, the install, the offline crawl and the table of what was archived."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.crawl_checks import expected


@pytest.mark.slow
def test_make_demo_from_a_fresh_clone(tmp_path: Path) -> None:
    if shutil.which("make") is None or shutil.which("git") is None:
        pytest.skip("make and git are needed to build a fresh clone")
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode != 0:
        pytest.skip("not a git checkout with commits: nothing to clone")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGGREGATOR_", "VIRTUAL_ENV", "PYTHONPATH"))}
    env["COLUMNS"] = "220"
    done = subprocess.run(["make", "demo"], cwd=clone, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (clone / ".venv" / "bin" / "aggregator").exists()
    assert (clone / "data" / "archive.db").is_file()
    assert "Crawl summary" in done.stdout
    n = len(expected()["articles"])
    assert f"{n} of {n} archived articles" in done.stdout
    assert "https://caliber.az/en/post/142379" in done.stdout
