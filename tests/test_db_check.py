"""``aggregator db check``: each rule found broken when it is, and a crawl killed at several points leaves none broken.

The crash probe crawls the bundled sample (caliber.az, slowed down so that it can be hit mid-run), SIGKILLs the crawl
and its archive writer process early, mid-run and while the writer is committing batches, checks the archive after
each kill, then lets a normal crawl finish: the archive is consistent throughout and ends equal to a clean crawl's.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from aggregator.commands.check import Finding, run_checks
from aggregator.mirror import serve_mirror
from aggregator.paths import mirror_dir
from aggregator.store.db import normalise_url
from aggregator.store.models import Article
from tests.conftest import run_cli
from tests.test_crash_safety import alive, children, crawl


def checks(db_url: str) -> list[Finding]:
    engine = create_engine(normalise_url(db_url))
    try:
        with engine.connect() as conn:
            return run_checks(conn)
    finally:
        engine.dispose()


def failed(db_url: str) -> list[Finding]:
    return [finding for finding in checks(db_url) if not finding.ok]


def articles(db_url: str) -> dict[str, str]:
    engine = create_engine(normalise_url(db_url))
    try:
        with engine.connect() as conn:
            return dict(conn.execute(select(Article.url, Article.title)).all())  # type: ignore[arg-type]
    except Exception:  # the schema is not there yet
        return {}
    finally:
        engine.dispose()


def count(db_url: str) -> int:
    engine = create_engine(normalise_url(db_url))
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Article)) or 0)
    except Exception:
        return 0
    finally:
        engine.dispose()


SLOW = ("-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "-s", "DOWNLOAD_DELAY=0.05", "-s", "AGGREGATOR_STORE_BATCH=3")
"""One request at a time and batches of three: the sample's 49 articles take a few seconds, and commit often."""


def kill(process: subprocess.Popen[bytes], *, writer_first: bool = False) -> None:
    """SIGKILL the crawl and its archive writer process (the writer first: a batch it is committing dies mid-way)."""
    writers = children(process.pid) if process.poll() is None else []
    if writer_first:
        for pid in writers:
            os.kill(pid, signal.SIGKILL)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    for pid in writers:
        with_deadline = time.monotonic() + 15
        while alive(pid) and time.monotonic() < with_deadline:
            time.sleep(0.05)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def wait_for(db_url: str, process: subprocess.Popen[bytes], articles_at_least: int) -> None:
    deadline = time.monotonic() + 60
    while count(db_url) < articles_at_least and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)


def wait_for_run(db_url: str, process: subprocess.Popen[bytes]) -> None:
    """Until the crawl's run row is there: its archive migrated and its pipelines open."""
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        engine = create_engine(normalise_url(db_url))
        try:
            with engine.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM crawl_runs WHERE status = 'running'")).scalar():
                    return
        except Exception:  # the schema is not there yet
            pass
        finally:
            engine.dispose()
        time.sleep(0.02)


def finish(mirror: str, db_url: str) -> None:
    done = crawl(mirror, db_url)
    _, err = done.communicate(timeout=180)
    assert done.returncode == 0, err.decode()[-2000:]


def test_killed_crawls_leave_the_archive_consistent(db_url: str, tmp_path: Path) -> None:
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    with serve_mirror(mirror_dir()) as mirror:
        finish(mirror, clean_url)
        clean = articles(clean_url)
        assert len(clean) > 30 and not failed(clean_url)

        # Early (before the first batch is written), mid-run, and with the writer killed first while batches commit.
        for at_least, writer_first in ((0, False), (10, False), (20, True)):
            process = crawl(mirror, db_url, *SLOW)
            if at_least:
                wait_for(db_url, process, at_least)
            else:  # the run is open (the schema is there), nothing written yet: a plain sleep raced the migration
                wait_for_run(db_url, process)
            assert process.poll() is None, "the crawl finished before it could be killed: slow it down further"
            kill(process, writer_first=writer_first)
            assert failed(db_url) == [], f"after a kill at {at_least} articles"
        runs = next(f for f in checks(db_url) if f.check.startswith("runs left running"))
        assert "left by a process that is gone" in runs.detail  # in order until the next run: not a failure

        finish(mirror, db_url)
        assert failed(db_url) == []
        assert articles(db_url) == clean
        engine = create_engine(normalise_url(db_url))
        with engine.connect() as conn:  # the next run marked every killed one failed
            assert conn.execute(text("SELECT count(*) FROM crawl_runs WHERE status = 'running'")).scalar() == 0
        engine.dispose()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite archive of the bundled sample, crawled once for the tests that break it (each on a copy)."""
    path = tmp_path_factory.mktemp("sample") / "archive.db"
    with serve_mirror(mirror_dir()) as mirror:
        finish(mirror, f"sqlite:///{path}")
    return path


def broken(sample: Path, tmp_path: Path, *statements: str) -> str:
    """A copy of the sample with ``statements`` run on it by a plain sqlite3 connection (no foreign keys, no
    triggers' help): the damage a bug or a hand-made edit could do."""
    copy = tmp_path / "archive.db"
    copy.write_bytes(sample.read_bytes())
    with sqlite3.connect(copy) as conn:
        for statement in statements:
            conn.execute(statement)
    return f"sqlite:///{copy}"


def test_a_consistent_archive_passes_and_exits_0(sample: Path) -> None:
    result = run_cli("--db", f"sqlite:///{sample}", "db", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 10 and all(line.startswith("ok ") for line in lines)


@pytest.mark.parametrize(
    ("statements", "check", "ids"),
    [
        (["DELETE FROM snapshots WHERE article_id = 2"], "every article has a snapshot", [2]),
        (["DELETE FROM articles_fts_docsize WHERE id = 3"], "search index holds every article", [3]),
        (
            [
                "DROP TRIGGER articles_fts_update",
                "UPDATE articles SET title = 'qqzzyx', body_text = 'qqzzyx' WHERE id = 4",
            ],
            "search index holds every article",
            [],
        ),
        (
            # its own story is left empty too
            ["UPDATE articles SET story_id = 999999 WHERE id = 5"],
            "every article's story exists,every story has an article",
            [5],
        ),
        (
            ["UPDATE articles SET story_id = NULL WHERE id = 6"],
            "every article is in a story,every story has an article",
            [6],
        ),
        (
            ["INSERT INTO stories (id, created_at, updated_at) VALUES (999999, '2026-01-01', '2026-01-01')"],
            "every story has an article",
            [999999],
        ),
        (["INSERT INTO story_buckets VALUES (0, 1, 888888)"], "story buckets belong to existing articles", [888888]),
        (
            ["DELETE FROM story_buckets WHERE article_id = (SELECT min(article_id) FROM story_buckets) AND band = 7"],
            "every sketched article has its buckets",
            None,
        ),
        (
            ["UPDATE articles SET url = replace(url, 'https://caliber.az/', 'https://m.caliber.az/') WHERE id = 7"],
            "keys in today's canonical form",
            [7],
        ),
    ],
)
def test_each_broken_rule_is_found(
    sample: Path, tmp_path: Path, statements: list[str], check: str, ids: list[int] | None
) -> None:
    url = broken(sample, tmp_path, *statements)
    found = failed(url)
    assert [f.check for f in found] == check.split(",")
    if ids is not None:
        assert found[0].examples == ids
    assert found[0].mend


def test_a_failed_check_exits_1_and_says_what_mends_it(sample: Path, tmp_path: Path) -> None:
    url = broken(sample, tmp_path, "UPDATE articles SET story_id = NULL WHERE id IN (2, 3)")
    result = run_cli("--db", url, "db", "check")
    assert result.returncode == 1
    assert "FAILED  every article is in a story: 2 (ids 2, 3); mend: aggregator stories rebuild" in result.stdout
    as_json = run_cli("--db", url, "db", "check", "--json")
    assert as_json.returncode == 1
    assert '"count": 2' in as_json.stdout


def test_a_run_a_later_run_left_running_fails(sample: Path, tmp_path: Path) -> None:
    """A dead process's run that the next run of its source did not mark failed (as ``pipelines.store`` does)."""
    import socket

    host = socket.gethostname()
    dead = subprocess.Popen(["true"])
    dead.wait()
    row = (
        "INSERT INTO crawl_runs (source, spider, started_at, status, host, pid, pages, items_new, items_updated, "
        "items_unchanged, rejected, http_errors, dates_unparsed) VALUES ('caliber', 'caliber', '2026-01-01 00:00:00', "
        "'running', '{host}', {pid}, 0, 0, 0, 0, 0, 0, 0)"
    )
    waiting = broken(sample, tmp_path, row.format(host=host, pid=dead.pid))
    assert failed(waiting) == []  # the next run of caliber will mark it failed
    (tmp_path / "archive.db").unlink()
    left = broken(sample, tmp_path, row.format(host=host, pid=dead.pid), row.format(host=host, pid=os.getpid()))
    found = failed(left)
    assert [f.check for f in found] == ["runs left running have a live process"]


def read_only(path: Path) -> str:
    """An SQLite URI opening ``path`` read-only, as SQLite opens a file its user may not write (``SQLITE_READONLY`` on
    any write); the test process is root, whom a file's mode does not stop."""
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def test_a_read_only_archive_passes_with_the_search_index_words_unchecked(sample: Path) -> None:
    """FTS5's integrity-check is an INSERT: on an archive the operator can only read it failed as "damage" (exit
    status 1, mend: rebuild the index). The rest of the rule still runs there, and finds what it can."""
    found = checks(read_only(sample))
    assert [f.check for f in found if not f.ok] == []
    (search,) = [f for f in found if f.check == "search index holds every article"]
    assert search.skipped and [f.check for f in found if f.skipped] == [search.check]
    assert search.detail == (
        "every article has an entry; its words were not checked: FTS5's integrity-check writes, and the archive is "
        "open read-only"
    )


def test_a_read_only_archive_still_shows_the_index_damage_a_read_finds(sample: Path, tmp_path: Path) -> None:
    broken(sample, tmp_path, "DELETE FROM articles_fts_docsize WHERE id = 3")
    found = [f for f in checks(read_only(tmp_path / "archive.db")) if not f.ok]
    assert [(f.check, f.examples) for f in found] == [("search index holds every article", [3])]


def test_a_crawls_commit_during_the_check_is_no_damage(sample: Path, tmp_path: Path) -> None:
    """The checks read as of one commit (one read transaction); FTS5's integrity-check, a write, cannot start from a
    snapshot older than the newest commit (``SQLITE_BUSY_SNAPSHOT``): "database is locked" was reported as damage."""
    from aggregator.store.db import connect, reader

    url = broken(sample, tmp_path)
    engine = connect(url)
    try:
        with reader(engine).connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM articles")).scalar()  # the snapshot is taken
            with sqlite3.connect(tmp_path / "archive.db") as crawl:  # a crawl's batch lands meanwhile
                crawl.execute("UPDATE articles SET views = views + 1 WHERE id = 2")
            found = run_checks(conn)
    finally:
        engine.dispose()
    assert [f.check for f in found if not f.ok] == []
    (search,) = [f for f in found if f.skipped]
    assert search.detail.endswith("its words were not checked: FTS5's integrity-check writes, and a crawl was "
                                  "writing: run it between crawls")  # fmt: skip


@pytest.fixture
def immutable(sample: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the sample that no process may write, root included (``chattr +i``): how an operator's read-only
    archive looks to SQLite, through the command as it opens it. Skipped where the flag cannot be set."""
    copy = tmp_path / "readonly" / "archive.db"
    copy.parent.mkdir()
    copy.write_bytes(sample.read_bytes())
    flagged = subprocess.run(["chattr", "+i", str(copy)], capture_output=True, text=True, check=False)
    if flagged.returncode != 0:
        pytest.skip(f"cannot make a file immutable here: {flagged.stderr.strip()}")
    try:
        yield copy
    finally:
        subprocess.run(["chattr", "-i", str(copy)], check=True)


def test_db_check_of_a_file_nobody_may_write_exits_0_and_says_what_it_skipped(immutable: Path) -> None:
    with pytest.raises(PermissionError):
        immutable.open("r+b")
    result = run_cli("--db", f"sqlite:///{immutable}", "db", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 10 and all(line.startswith("ok ") for line in lines)
    assert (
        "ok      search index holds every article (every article has an entry; its words were not checked: FTS5's "
        "integrity-check writes, and the archive is open read-only)"
    ) in lines
