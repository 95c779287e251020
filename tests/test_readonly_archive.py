"""An archive the operator may only read: a backup on a read-only mount, the crawler's file, an immutable file.

The reading commands work on it, through a ``mode=ro`` URL or because the process may not write the file (or its
folder); nothing changes it, nothing creates or upgrades it; the commands that write say in one line that it is
read-only. The tests run as root, whom a file's mode does not stop: the archive is made read-only by a ``mode=ro``
URL, by the immutable attribute (``chattr +i``, where it can be set) and by running the command as ``nobody``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import pwd
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy.engine import make_url

from aggregator.store.db import (
    ReadOnlyWrite,
    connect,
    dispose,
    existing_file_url,
    newest_migration,
    normalise_url,
    require_existing,
    shown_url,
    sqlite_file,
    upgrade,
)
from tests.conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite archive of caliber.az's bundled sample, crawled once; each test reads a copy of it."""
    path = tmp_path_factory.mktemp("crawled") / "archive.db"
    done = run_cli("--db", f"sqlite:///{path}", "crawl", "caliber", "--offline")
    assert done.returncode == 0, done.stderr[-3000:]
    return path


@pytest.fixture
def copy(crawled: Path, tmp_path: Path) -> Path:
    target = tmp_path / "archive.db"
    shutil.copyfile(crawled, target)
    return target


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def truth(path: Path) -> dict[str, Any]:
    """What the reading commands should say, read from the file by plain SQL (mode=ro: read before it is locked;
    immutable=1: nothing is made beside it, as a read-only connection to a WAL database would)."""
    with sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True) as conn:
        articles = dict(conn.execute("SELECT id, title FROM articles").fetchall())
        runs = {row[0] for row in conn.execute("SELECT id FROM crawl_runs")}
    conn.close()
    baku = {i for i, title in articles.items() if "Baku" in title}
    assert articles and runs and baku  # the sample has English titles about Baku
    return {"articles": articles, "runs": runs, "baku": baku}


def reads_everything(run: Any, url: str, expected: dict[str, Any], scratch: Path) -> None:
    """Each reading command, run by ``run`` on ``url``, exits 0 and answers what the archive holds."""

    def ok(*args: str) -> str:
        done = run("--db", url, *args)
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-3000:])
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        return str(done.stdout)

    articles: dict[int, str] = expected["articles"]
    listed = json.loads(ok("articles", "list", "--json", "--limit", "100000"))
    assert {row["id"]: row["title"] for row in listed} == articles
    some = min(articles)
    assert json.loads(ok("articles", "show", str(some), "--json"))["title"] == articles[some]
    totals = json.loads(ok("stats", "--totals", "--json"))["sources"]
    assert [(row["source"], row["articles"]) for row in totals if row["articles"]] == [("caliber", len(articles))]
    assert {row["id"] for row in json.loads(ok("runs", "--json"))} == expected["runs"]
    (health,) = json.loads(ok("health", "--source", "caliber", "--json"))
    assert (health["source"], health["status"]) == ("caliber", "green")
    found = {row["id"] for row in json.loads(ok("search", "Baku", "--json", "--limit", "1000"))}
    assert expected["baku"] <= found <= set(articles)  # the titles that say it, and texts that do
    checks = json.loads(ok("db", "check", "--json"))
    assert checks and all(check["ok"] for check in checks), checks
    exported = scratch / "export.jsonl"
    ok("export", "-o", str(exported))
    assert sorted(json.loads(line)["title"] for line in exported.read_text().splitlines()) == sorted(articles.values())


def in_wal_mode(path: Path) -> bool:
    """Whether the database file says it is in WAL mode (its header's read and write versions are 2), read without
    SQLite, which would make the files ``beside`` tells."""
    return path.read_bytes()[18:20] == b"\x02\x02"


def beside(path: Path) -> list[str]:
    """The files SQLite keeps beside a database (``-wal``, ``-shm``, ``-journal``) that are there."""
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(f"{path.name}-"))


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.stdout[-2000:], done.stderr[-3000:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-3000:]
    return lines[0]


# -- URLs ----------------------------------------------------------------------------------------------------


def test_the_uri_form_sqlalchemy_documents_names_the_file() -> None:
    """``sqlite:///file:/p.db?mode=ro&uri=true`` was "no archive at file:/p.db": the file had ``file:`` in its path."""
    assert sqlite_file("sqlite:///file:/srv/archive.db?mode=ro&uri=true") == Path("/srv/archive.db")
    assert sqlite_file("sqlite:///file:/srv/my%20archives/a.db?mode=ro&uri=true") == Path("/srv/my archives/a.db")
    assert sqlite_file("sqlite:///file:///srv/archive.db?mode=ro&uri=true") == Path("/srv/archive.db")
    assert sqlite_file("sqlite:///file://localhost/srv/archive.db?mode=ro&uri=true") == Path("/srv/archive.db")
    assert sqlite_file("sqlite:///file:data/archive.db?mode=ro&uri=true") == Path("data/archive.db")
    assert sqlite_file("sqlite:///file:mem?mode=memory&uri=true") is None


def test_sqlite_parameters_on_a_plain_path_take_the_uri_form() -> None:
    """Without ``uri=true`` SQLAlchemy dropped ``mode=ro`` (the file opened read-write); with it, the file SQLite opened
    was named ``archive.db?mode=ro``. Both now mean the documented form; a plain URL is left as it is."""
    documented = normalise_url("sqlite:///file:/srv/archive.db?mode=ro&uri=true")
    assert normalise_url("sqlite:////srv/archive.db?mode=ro") == documented
    assert normalise_url("sqlite:////srv/archive.db?mode=ro&uri=true") == documented
    assert normalise_url("sqlite:///file:/srv/archive.db?mode=ro") == documented
    parsed = make_url(documented)
    assert (parsed.database, dict(parsed.query)) == ("file:/srv/archive.db", {"mode": "ro", "uri": "true"})
    assert normalise_url("sqlite:////srv/archive.db") == "sqlite:////srv/archive.db"
    assert normalise_url("sqlite://") == "sqlite://"


def test_an_existing_file_url_keeps_mode_ro(copy: Path) -> None:
    """The read API's engine (``existing_file_url``) opened a ``mode=ro`` archive ``mode=rw``."""
    require_existing(f"sqlite:///file:{copy}?mode=ro&uri=true")  # raised "no archive at file:/..."
    url = existing_file_url(f"sqlite:///file:{copy}?mode=ro&uri=true")
    assert not isinstance(url, str)
    assert (url.database, url.query["mode"], url.query["uri"]) == (f"file:{copy}", "ro", "true")
    assert existing_file_url(f"sqlite:///{copy}").query["mode"] == "rw"  # type: ignore[union-attr]


# -- a mode=ro URL -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    ["sqlite:///file:{path}?mode=ro&uri=true", "sqlite:///{path}?mode=ro", "sqlite:///{path}?mode=ro&uri=true"],
)
def test_every_reading_command_reads_a_mode_ro_url_and_changes_nothing(
    spelling: str, copy: Path, tmp_path: Path
) -> None:
    expected = truth(copy)
    before = digest(copy)
    assert in_wal_mode(copy) and beside(copy) == []
    reads_everything(run_cli, spelling.format(path=copy), expected, tmp_path)
    assert digest(copy) == before
    assert not [p.name for p in tmp_path.iterdir() if "?" in p.name]  # no "archive.db?mode=ro" beside it
    assert beside(copy) == []  # an empty archive.db-wal and a 32 KiB archive.db-shm were left behind


def test_a_backup_copy_is_read_in_its_own_journal_mode(crawled: Path, tmp_path: Path) -> None:
    """``db backup`` writes a copy in rollback-journal mode (one file); opened read-only, every connection failed on
    switching it to WAL ("attempt to write a readonly database")."""
    backup = tmp_path / "backup" / "archive.db"
    backup.parent.mkdir()
    done = run_cli("--db", f"sqlite:///{crawled}", "db", "backup", str(backup))
    assert done.returncode == 0, done.stderr[-3000:]
    before = digest(backup)
    reads_everything(run_cli, f"sqlite:///file:{backup}?mode=ro&uri=true", truth(crawled), tmp_path)
    assert digest(backup) == before
    assert beside(backup) == []  # a rollback-journal database is read without a -wal or -shm
    with sqlite3.connect(backup) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    conn.close()


@pytest.mark.parametrize("spelling", ["sqlite:///file:{path}?mode=ro&uri=true", "sqlite:///{path}?mode=ro"])
def test_a_write_to_a_mode_ro_url_is_one_line_naming_the_archive(spelling: str, copy: Path) -> None:
    """``sqlite:///p.db?mode=ro`` withdrew the article: SQLAlchemy had dropped ``mode=ro``."""
    before = digest(copy)
    done = run_cli("--db", spelling.format(path=copy), "articles", "withdraw", "1", "--reason", "a test")
    assert one_line_error(done) == (
        f"aggregator: error: the archive at {copy} is read-only (the URL opens it read-only: mode=ro): nothing was "
        "written"
    )
    assert digest(copy) == before


def test_db_upgrade_of_a_current_read_only_archive_has_nothing_to_do(copy: Path) -> None:
    done = run_cli("--db", f"sqlite:///file:{copy}?mode=ro&uri=true", "db", "upgrade")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith(f"schema at revision {newest_migration()}:")
    assert beside(copy) == []


# -- the folder, as it was found ------------------------------------------------------------------------------


def test_log_files_that_were_there_are_left_there(copy: Path) -> None:
    """Files found beside the archive are some other process's (one reading it, or one that died): left as found."""
    with sqlite3.connect(f"file:{copy}?mode=ro", uri=True) as conn:  # what every mode=ro command used to leave
        conn.execute("SELECT count(*) FROM articles").fetchone()
    conn.close()
    assert beside(copy) == ["archive.db-shm", "archive.db-wal"]
    done = run_cli("--db", f"sqlite:///{copy}?mode=ro", "articles", "list", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    assert beside(copy) == ["archive.db-shm", "archive.db-wal"]


def test_log_files_another_process_reads_through_are_left(copy: Path) -> None:
    """A process that has the archive open (a crawl, a server, another command) reads through the -wal and -shm the
    command made: they stay, and the archive is whole for it."""
    engine = connect(f"sqlite:///{copy}?mode=ro")
    with engine.connect() as conn:
        count = conn.exec_driver_sql("SELECT count(*) FROM articles").scalar()
    assert beside(copy) == ["archive.db-shm", "archive.db-wal"]
    count_rows = "print(conn.execute('SELECT count(*) FROM articles').fetchone()[0], flush=True)"
    reads = "\n".join(
        ["import sqlite3, sys", f"conn = sqlite3.connect({f'file:{copy}?mode=ro'!r}, uri=True)", count_rows,
         "sys.stdin.read()", count_rows]
    )  # fmt: skip
    other = subprocess.Popen([sys.executable, "-c", reads], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdin is not None
        assert int(other.stdout.readline()) == count
        dispose(engine)
        assert beside(copy) == ["archive.db-shm", "archive.db-wal"]
        other.stdin.close()
        assert int(other.stdout.readline()) == count
    finally:
        other.wait(timeout=60)
    assert other.returncode == 0


def test_a_log_holding_commits_is_left_and_the_archive_unchanged(copy: Path) -> None:
    """A commit a crawl made while a command read (into the log the command made, the crawl closing first) stays in
    the log for the archive's next writer: the read-only command neither removes it nor copies it into the file."""
    before = digest(copy)
    engine = connect(f"sqlite:///{copy}?mode=ro")
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT count(*) FROM articles").scalar()
    writer = sqlite3.connect(copy, isolation_level=None)
    writer.execute("UPDATE articles SET title = title || ' (edited)' WHERE id = (SELECT min(id) FROM articles)")
    writer.close()  # the command's connection still reads: the log stays
    logged = (copy.parent / "archive.db-wal").stat().st_size
    assert logged > 0
    dispose(engine)
    assert beside(copy) == ["archive.db-shm", "archive.db-wal"]
    assert (copy.parent / "archive.db-wal").stat().st_size == logged and digest(copy) == before
    with sqlite3.connect(copy) as conn:  # the commit is there for the next reader
        assert conn.execute("SELECT count(*) FROM articles WHERE title LIKE '% (edited)'").fetchone() == (1,)
    conn.close()


# -- the archive, as an operator names it ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "sqlite:///{path}",
        "sqlite:///{path}?mode=ro",
        "sqlite:///file:{quoted}?mode=ro&uri=true",
        "sqlite:///file:{quoted}?uri=true",
    ],
)
def test_db_upgrade_names_the_archive_by_its_path(spelling: str, crawled: Path, tmp_path: Path) -> None:
    """A URI filename was printed as SQLAlchemy renders it, ``sqlite:///file%3A/.../my%2520archives%5B2%5D/...``."""
    path = tmp_path / "my archives [2]" / "archive.db"
    path.parent.mkdir()
    shutil.copyfile(crawled, path)
    url = spelling.format(path=path, quoted=quote(str(path), safe="/"))
    done = run_cli("--db", url, "db", "upgrade", env={"COLUMNS": "60"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == f"schema at revision {newest_migration()}: {path}\n"


def test_an_archive_behind_this_release_is_named_by_its_path(behind: Path) -> None:
    url = f"sqlite:///file:{quote(str(behind), safe='/')}?uri=true"
    done = run_cli("--db", url, "articles", "list")
    assert one_line_error(done).startswith(f"aggregator: error: the archive at {behind} has schema revision ")


def test_a_database_url_is_shown_with_its_password_starred() -> None:
    assert shown_url("postgresql://aggregator:s3cret@db.internal:5432/archive") == (
        "postgresql://aggregator:***@db.internal:5432/archive"
    )
    assert shown_url(make_url("postgresql+psycopg://aggregator:s3cret@db.internal/archive")) == (
        "postgresql+psycopg://aggregator:***@db.internal/archive"
    )
    assert shown_url(make_url(normalise_url("sqlite:////srv/my archives/a.db?mode=ro"))) == "/srv/my archives/a.db"
    assert shown_url("sqlite://") == "sqlite://"


def test_a_missing_archive_is_not_created_through_a_mode_ro_url(tmp_path: Path) -> None:
    missing = tmp_path / "archive.db"
    done = run_cli("--db", f"sqlite:///file:{missing}?mode=ro&uri=true", "db", "upgrade")
    assert one_line_error(done) == (
        f"aggregator: error: no archive at {missing}, and none is created there (the URL opens it read-only: mode=ro)"
    )
    assert not missing.exists()


@pytest.fixture
def behind(tmp_path: Path) -> Path:
    """An archive at the revision before this release's."""
    path = tmp_path / "old.db"
    engine = connect(f"sqlite:///{path}")
    try:
        upgrade(engine, f"{int(newest_migration() or 0) - 1:04d}")
    finally:
        engine.dispose()
    return path


@pytest.mark.parametrize("command", [("db", "upgrade"), ("crawl", "caliber", "--offline"), ("articles", "list")])
def test_a_read_only_archive_behind_this_release_is_refused_with_its_revision(
    command: tuple[str, ...], behind: Path
) -> None:
    """``db upgrade`` was "attempt to write a readonly database" half-way through a migration; ``crawl`` waited 30 s
    for another process to have upgraded it first; ``articles list`` said to run ``db upgrade``."""
    before = digest(behind)
    newest = newest_migration() or ""
    done = run_cli("--db", f"sqlite:///file:{behind}?mode=ro&uri=true", *command)
    assert one_line_error(done) == (
        f"aggregator: error: the archive at {behind} is read-only (the URL opens it read-only: mode=ro) and at schema "
        f"revision '{int(newest) - 1:04d}', older than this release's '{newest}': it cannot be upgraded there; "
        "upgrade a copy this process may write (`aggregator --db sqlite:///COPY db upgrade`), or read it with the "
        "release that wrote it"
    )
    assert digest(behind) == before


def test_the_refused_write_crosses_a_process_boundary_whole() -> None:
    """A crawl's writer process hands its errors back pickled."""
    orig = sqlite3.OperationalError("attempt to write a readonly database")
    error = pickle.loads(pickle.dumps(ReadOnlyWrite("the archive at /a.db is read-only", "UPDATE x", (1,), orig)))
    assert (str(error), error.statement, error.params, str(error.orig)) == (
        "the archive at /a.db is read-only",
        "UPDATE x",
        (1,),
        "attempt to write a readonly database",
    )


# -- a file no process may write -------------------------------------------------------------------------------


@pytest.fixture
def immutable(copy: Path) -> Iterator[Path]:
    """The copy with the immutable attribute: root may not write it either. Skipped where it cannot be set."""
    chattr = shutil.which("chattr")
    flagged = subprocess.run([chattr or "chattr", "+i", str(copy)], capture_output=True, text=True, check=False)
    if chattr is None or flagged.returncode != 0:
        pytest.skip(f"cannot make a file immutable here: {flagged.stderr.strip() or 'no chattr'}")
    try:
        yield copy
    finally:
        subprocess.run([chattr, "-i", str(copy)], check=True)


def test_an_immutable_archive_is_read_and_a_write_is_one_line(immutable: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{immutable}"
    reads_everything(run_cli, url, truth(immutable), tmp_path)
    done = run_cli("--db", url, "articles", "withdraw", "1", "--reason", "a test")
    assert one_line_error(done) == (
        f"aggregator: error: the archive at {immutable} is read-only (this process may not write the file): nothing "
        "was written"
    )


# -- another user's archive, in another user's folder ------------------------------------------------------------


def as_nobody() -> list[str]:
    """The command prefix that runs a program as ``nobody`` (runuser, else setpriv); skipped without either."""
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody here")
    if os.geteuid() != 0:
        pytest.skip("switching to nobody needs root")
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"]
    if shutil.which("setpriv"):
        return ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
    pytest.skip("neither runuser nor setpriv is here")


def nobodys_python(prefix: list[str], env: dict[str, str]) -> str:
    """An interpreter of this Python version that nobody may run, with this project's packages: the venv's own, or,
    where it lies in a folder only root may enter (a pyenv build under /root), the system's of the same version."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (sys.executable, shutil.which(version, path="/usr/local/bin:/usr/bin:/bin")):
        if candidate is None:
            continue
        probe = [*prefix, candidate, "-c", "import aggregator.cli"]
        if subprocess.run(probe, env=env, capture_output=True, timeout=120, check=False).returncode == 0:
            return candidate
    pytest.skip(f"no {version} that nobody may run with this project's packages")


@pytest.fixture
def foreign(crawled: Path) -> Iterator[Path]:
    """A copy of the archive in a folder root owns (0755) and nobody may only read, the file 0644, no -wal or -shm
    beside it: how the crawler's archive looks to an operator's account (tmp_path is root's alone: 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="aggregator-readonly-", dir="/tmp"))
    try:
        folder.chmod(0o755)
        path = folder / "archive.db"
        shutil.copyfile(crawled, path)
        path.chmod(0o644)
        yield path
    finally:
        shutil.rmtree(folder)


def test_nobody_reads_an_archive_it_may_not_write_in_a_folder_it_may_not_write(crawled: Path, foreign: Path) -> None:
    """Every command failed as it connected, switching the database to WAL (a write); nor could SQLite read it in WAL
    mode without making its -shm file beside it. It is read as it is on disk (immutable), and nothing is made there."""
    prefix = as_nobody()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    env.update(
        HOME="/tmp",
        COLUMNS="200",
        PYTHONPATH=os.pathsep.join([sysconfig.get_paths()["purelib"], str(ROOT)]),
        PYTHONDONTWRITEBYTECODE="1",
    )
    python = nobodys_python(prefix, env)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [*prefix, python, "-m", "aggregator", *args]
        return subprocess.run(command, env=env, cwd="/tmp", capture_output=True, text=True, timeout=180, check=False)

    expected = truth(crawled)  # the same bytes; read as root here, the copy would get the -shm file nobody lacks
    before = digest(foreign)
    scratch = Path(tempfile.mkdtemp(prefix="aggregator-readonly-out-", dir="/tmp"))
    try:
        scratch.chmod(0o777)  # where nobody writes the export
        reads_everything(run, f"sqlite:///{foreign}", expected, scratch)
        # `db backup` opened it to write: SQLite, unable to make the -shm file beside it, could not read it
        backed_up = run("--db", f"sqlite:///{foreign}", "db", "backup", str(scratch / "copy.db"))
        assert backed_up.returncode == 0, backed_up.stderr[-3000:]
        with sqlite3.connect(scratch / "copy.db") as copied:
            assert dict(copied.execute("SELECT id, title FROM articles").fetchall()) == expected["articles"]
        copied.close()
    finally:
        shutil.rmtree(scratch)
    done = run("--db", f"sqlite:///{foreign}", "articles", "withdraw", "1", "--reason", "a test")
    assert one_line_error(done) == (
        f"aggregator: error: the archive at {foreign} is read-only (this process may not write the file): nothing "
        "was written"
    )
    # A crawl into it: its lock file could not be made beside the archive (a traceback), or the stores failed.
    done = run("--db", f"sqlite:///{foreign}", "crawl", "caliber", "--offline")
    assert one_line_error(done) == (
        f"aggregator: error: the archive at {foreign} is read-only (this process may not write the file): a crawl "
        "writes to it; nothing was crawled"
    )
    assert digest(foreign) == before
    assert sorted(p.name for p in foreign.parent.iterdir()) == ["archive.db"]


@pytest.mark.parametrize("spelling", ["sqlite:///file:{path}?mode=ro&uri=true", "sqlite:///{path}?mode=ro"])
def test_a_crawl_into_a_mode_ro_url_is_refused_before_it_fetches(spelling: str, copy: Path, tmp_path: Path) -> None:
    """Each source's store failed on its first write, after the crawl had fetched its pages; and the lock file of a
    URI filename was made under the working folder, as ``./file:/...``."""
    before = digest(copy)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    done = run_cli("--db", spelling.format(path=copy), "crawl", "caliber", "--offline", cwd=cwd)
    assert one_line_error(done) == (
        f"aggregator: error: the archive at {copy} is read-only (the URL opens it read-only: mode=ro): a crawl writes "
        "to it; nothing was crawled"
    )
    assert digest(copy) == before
    assert list(cwd.iterdir()) == []


def test_the_lock_of_a_uri_filename_is_beside_the_archive(copy: Path) -> None:
    """Two runs, one given the archive's path and one its URI filename, take the same lock."""
    from aggregator.locks import SourceLocks

    plain = SourceLocks(f"sqlite:///{copy}")
    uri = SourceLocks(f"sqlite:///file:{copy}?uri=true")
    try:
        assert plain.acquire(["caliber"]) == (["caliber"], [])
        assert uri.acquire(["caliber"]) == ([], ["caliber"])
        assert (copy.parent / f"{copy.name}.caliber.lock").is_file()
    finally:
        plain.release()
        uri.release()


@pytest.mark.parametrize("scale_out", [False, True], ids=["alone", "scale-out"])
def test_a_plain_scrapy_crawl_into_a_read_only_archive_says_so_in_one_line_and_starts_nothing(
    copy: Path, scale_out: bool
) -> None:
    """Scrapyd's jobs are plain ``scrapy crawl`` runs: the store failed as the spider opened, its error under Scrapy's
    own (an AssertionError of its stats on close), after the run had opened; then, refused where the run's lock is
    taken, the reason came last under asyncio's "Task exception was never retrieved" and a traceback (exit status 1).
    A scale-out worker (which takes no lock) still failed in the store. Now one ERROR line that says no row can be
    recorded, and a spider closed with the finish reason ``archive_read_only``, as a job of a busy source closes;
    a worker's Redis is not asked (nothing answers at its address here), as ``aggregator crawl`` refuses the archive
    first."""
    from tests.conftest import free_port

    before = digest(copy)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    url = f"sqlite:///file:{copy}?mode=ro&uri=true"
    redis = ["-s", f"AGGREGATOR_REDIS_URL=redis://127.0.0.1:{free_port()}/8"] if scale_out else []
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "caliber", "-s", f"AGGREGATOR_DB_URL={url}",
         "-s", "AGGREGATOR_MIRROR=http://127.0.0.1:9", *redis],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "Task exception" not in done.stderr, done.stderr[-3000:]
    said = [line.split("] ", 1)[1] for line in done.stderr.splitlines() if "] WARNING: " in line or "] ERROR: " in line]
    refused = (
        f"ERROR: caliber: the archive at {copy} is read-only (the URL opens it read-only: mode=ro): a crawl writes to "
        "it; this run does not start, and cannot be recorded there: AGGREGATOR_DB_URL must name an archive this "
        "process may write"
    )
    assert said == [refused], done.stderr[-3000:]
    assert "Spider closed (archive_read_only)" in done.stderr
    assert "'finish_reason': 'archive_read_only'" in done.stderr
    assert digest(copy) == before
    assert sorted(p.name for p in copy.parent.iterdir()) == ["archive.db"]  # no lock file, no -wal, no -shm
