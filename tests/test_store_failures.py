"""An archive that cannot be written: the operator is told so, in the database's words, not sent to the site.

Each crawl here is a real ``aggregator crawl`` process against the bundled sample on 127.0.0.1, its archive made
unwritable by a real cause that works as root: an immutable file (``chattr +i``), a PostgreSQL role that may only
read, a file size limit (``ulimit -f``, which fails a write as a full disk or a quota does).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import ROOT, run_cli
from tests.crawl_checks import runs


def source_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("caliber: ")]


@pytest.fixture
def immutable_archive(tmp_path: Path) -> Iterator[str]:
    """An SQLite archive whose file even root cannot write (the immutable attribute), made writable again after."""
    path = tmp_path / "archive.db"
    url = f"sqlite:///{path}"
    made = run_cli("--db", url, "db", "upgrade")
    assert made.returncode == 0, made.stderr[-3000:]
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("the immutable attribute cannot be set here (no chattr, a file system without it, or no right)")
    try:
        yield url
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def test_an_archive_file_that_cannot_be_written_says_so_and_fails_the_source(
    immutable_archive: str, mirror_url: str
) -> None:
    """It said "crawl ended with None; no page was fetched; unhealthy: no article found on the listings": the store's
    error was lost, and the operator was sent to the site's layout. An archive this process may not write is known
    before anything starts: the command refuses it in one line (exit 2), as any command that writes does; one that
    turns out unwritable only when the store first writes (a PostgreSQL role, below) fails its sources."""
    done = run_cli("--db", immutable_archive, "crawl", "caliber", "--mirror", mirror_url)
    assert done.returncode == 2, done.stderr[-3000:]
    path = immutable_archive.removeprefix("sqlite:///")
    assert done.stderr.strip() == (
        f"aggregator: error: the archive at {path} is read-only (this process may not write the file): a crawl "
        "writes to it; nothing was crawled"
    ), done.stderr[-3000:]
    assert "no article found" not in done.stderr  # no verdict on a crawl that never started


def test_a_postgres_archive_the_crawls_role_may_only_read_says_so(postgres_url: str, mirror_url: str) -> None:
    import psycopg

    from aggregator.store import Archive

    Archive.open(postgres_url).close()
    admin = make_url(postgres_url)
    params = {"host": admin.host, "port": admin.port or 5432, "user": admin.username, "dbname": admin.database}
    role = f"aggregator_reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
    try:
        reader = admin.set(username=role).render_as_string(hide_password=False)
        done = run_cli("--db", reader, "crawl", "caliber", "--mirror", mirror_url)
    finally:
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')
    assert done.returncode == 1, done.stderr[-3000:]
    assert source_lines(done.stderr) == [
        "caliber: the crawl could not start: the archive cannot be written: permission denied for table sources"
    ], done.stderr[-3000:]
    assert runs(postgres_url) == []


FILE_SIZE_LIMIT = 128 * 1024
"""Bytes a file of the crawl may reach: the run's row is written, a batch of the sample's articles is not."""


def test_a_run_that_lost_items_to_store_errors_is_failed_and_its_health_red(tmp_path: Path, mirror_url: str) -> None:
    """It exited 1 for the items it could not write, and its run was "finished", its health green: `runs`, `health`
    and `metrics` (``aggregator_source_healthy 1``) said all was well."""
    db = f"sqlite:///{tmp_path / 'archive.db'}"
    made = run_cli("--db", db, "db", "upgrade")  # the schema alone is larger than the limit: only new writes fail
    assert made.returncode == 0, made.stderr[-3000:]

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))  # Python ignores SIGXFSZ

    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "--db", db, "crawl", "caliber", "--mirror", mirror_url],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, preexec_fn=limited,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    (run,) = runs(db)
    lost = run.stats["aggregator/store_errors"]
    assert lost >= 1, done.stderr[-3000:]
    said = f"{lost} item(s) could not be written to the archive (store errors: see the log)"
    assert source_lines(done.stderr) == [f"caliber: {said}"], done.stderr[-3000:]  # said once, not again as health
    assert run.status == "failed" and run.finish_reason == f"finished: {lost} item(s) not stored"
    assert run.health["status"] == "red" and said in run.health["problems"], run.health
    health = run_cli("--db", db, "health", "--json")
    (caliber,) = [row for row in json.loads(health.stdout) if row["source"] == "caliber"]
    assert caliber["status"] == "red" and said in caliber["problems"]
    metrics = run_cli("--db", db, "metrics")
    assert 'aggregator_source_healthy{source="caliber"} 0.0' in metrics.stdout, metrics.stdout[-3000:]
