"""``aggregator db backup``: a consistent, self-contained copy of an SQLite archive, taken while a crawl writes."""

from __future__ import annotations

import errno
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aggregator.cli import CliError, app
from aggregator.paths import replaced_whole
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.db import current_revision, head_revision
from tests.conftest import run_cli
from tests.test_store import item


def archive_with_articles(path: Path, articles: int = 3) -> Path:
    """An SQLite archive file at ``path`` holding a few articles."""
    archive = Archive.open(f"sqlite:///{path}")
    try:
        archive.sync_sources(all_sources())
        archive.save([item(n) for n in range(articles)])
    finally:
        archive.close()
    return path


@pytest.fixture
def archive_file(tmp_path: Path) -> Path:
    return archive_with_articles(tmp_path / "archive.db")


def invoke(db: Path, *args: str):
    return CliRunner().invoke(app, ["--db", f"sqlite:///{db}", "db", "backup", *args])


def test_a_backup_taken_mid_write_is_the_archive_as_of_the_last_commit_in_one_file(
    archive_file: Path, tmp_path: Path
) -> None:
    # A batch committed to the write-ahead log and not yet copied back into archive.db (a file copy misses it)...
    committed = sqlite3.connect(archive_file, isolation_level=None)
    committed.execute("PRAGMA wal_autocheckpoint=0")
    committed.execute("UPDATE articles SET title = title || ' (edited)' WHERE title = 'Заголовок 2'")
    # ... and a crawl's writer in the middle of the next one: a row written, not committed, the write lock held.
    writer = sqlite3.connect(archive_file, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE articles SET title = 'half-written' WHERE id = (SELECT min(id) FROM articles)")
    target = tmp_path / "copies" / "archive-copy.db"
    target.parent.mkdir()
    try:
        result = invoke(archive_file, str(target))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        committed.close()
    assert result.exit_code == 0, (result.exception, result.output)
    assert f"to {target} (" in result.output  # on one line, however narrow the terminal: copied and pasted

    # One file: no -wal or -shm to carry along, no temporary file left.
    assert sorted(p.name for p in target.parent.iterdir()) == ["archive-copy.db"]
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        titles = sorted(t for (t,) in copy.execute("SELECT title FROM articles"))
    assert titles == ["Заголовок 0", "Заголовок 1", "Заголовок 2 (edited)"]

    # The copy is an archive the commands read as they read the original.
    listed = run_cli("--db", f"sqlite:///{target}", "articles", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(a["title"] for a in json.loads(listed.stdout)) == titles


def test_a_read_only_url_is_backed_up_without_a_write_to_the_archive(archive_file: Path, tmp_path: Path) -> None:
    """`db backup` opened a `mode=ro` archive to write: as its connection closed, SQLite copied the write-ahead log
    back into archive.db (a write to an archive the URL opens read-only) and removed the log."""
    # The archive as a crawl leaves it mid-run: a commit in the write-ahead log, not yet in archive.db (the files are
    # copied while the writer holds them open: its close would have copied the log back).
    source = tmp_path / "source.db"
    archive_file.rename(source)
    writer = sqlite3.connect(source, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("UPDATE articles SET title = title || ' (edited)' WHERE title = 'Заголовок 2'")
    for suffix in ("", "-wal"):
        (tmp_path / f"archive.db{suffix}").write_bytes((tmp_path / f"source.db{suffix}").read_bytes())
    writer.close()
    before = {p.name: p.read_bytes() for p in tmp_path.glob("archive.db*")}
    assert sorted(before) == ["archive.db", "archive.db-wal"] and before["archive.db-wal"]
    target = tmp_path / "copy.db"
    for spelling in (f"sqlite:///{archive_file}?mode=ro", f"sqlite:///file:{archive_file}?mode=ro&uri=true"):
        result = CliRunner().invoke(app, ["--db", spelling, "db", "backup", str(target), "--force"])
        assert result.exit_code == 0, (result.exception, result.output)
        after = {p.name: p.read_bytes() for p in tmp_path.glob("archive.db*") if not p.name.endswith("-shm")}
        assert after == before  # SQLite's index of the log, -shm, is made beside it as for every read-only read
        with sqlite3.connect(target) as copy:
            assert "Заголовок 2 (edited)" in {t for (t,) in copy.execute("SELECT title FROM articles")}


def test_a_backup_does_not_migrate_the_archive_it_copies(archive_file: Path, tmp_path: Path) -> None:
    # A backup is what an operator takes before an upgrade: it copies the schema as it is.
    with sqlite3.connect(archive_file) as db:
        db.execute("UPDATE alembic_version SET version_num = '0001'")
    result = invoke(archive_file, str(tmp_path / "before-upgrade.db"))
    assert result.exit_code == 0, (result.exception, result.output)
    archive = Archive.open(f"sqlite:///{tmp_path / 'before-upgrade.db'}", migrate=False)
    try:
        assert current_revision(archive.engine) == "0001" != head_revision(archive.engine)
    finally:
        archive.close()


def test_backup_refusals_are_one_line_and_leave_files_alone(archive_file: Path, tmp_path: Path) -> None:
    existing = tmp_path / "old-backup.db"
    existing.write_bytes(b"yesterday's backup")

    def refused(db: Path, *args: str) -> str:
        result = invoke(db, *args)
        assert isinstance(result.exception, CliError), (result.exception, result.output)
        return str(result.exception)

    assert refused(archive_file, str(existing)) == f"{existing} exists: give --force to replace it"
    assert existing.read_bytes() == b"yesterday's backup"
    assert "overwrite the archive itself" in refused(archive_file, str(archive_file))
    assert refused(archive_file, str(tmp_path / "nope" / "b.db")) == f"no such folder: {tmp_path / 'nope'}"
    assert "is a folder" in refused(archive_file, str(tmp_path))

    assert invoke(archive_file, str(existing), "--force").exit_code == 0
    with sqlite3.connect(existing) as copy:
        assert copy.execute("SELECT count(*) FROM articles").fetchone()[0] == 3

    postgres = CliRunner().invoke(
        app, ["--db", "postgresql://postgres@127.0.0.1:5432/test", "db", "backup", str(tmp_path / "pg.db")]
    )
    assert isinstance(postgres.exception, CliError)
    assert "pg_dump" in str(postgres.exception)
    assert not (tmp_path / "pg.db").exists()


def test_a_failed_check_of_the_copy_keeps_the_previous_backup(
    archive_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = tmp_path / "nightly.db"
    previous.write_bytes(b"last night's backup")
    monkeypatch.setattr(
        "aggregator.commands.backup.quick_check", lambda _copy: ["row 7 missing from index ix_articles_source"]
    )
    result = invoke(archive_file, str(previous), "--force")
    assert isinstance(result.exception, CliError), (result.exception, result.output)
    assert "row 7 missing from index" in str(result.exception)
    assert previous.read_bytes() == b"last night's backup"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.db", "nightly.db"]  # no partial copy left


def test_a_copy_that_fails_half_way_leaves_no_journal_beside_the_backup(
    archive_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk stops the copy with SQLite's journal of the partial file written: it stayed, a hidden
    ".nightly.db.<pid>.partial-journal" nothing would remove."""

    def disk_full(copy: sqlite3.Connection) -> list[str]:
        (name,) = [row[2] for row in copy.execute("PRAGMA database_list") if row[1] == "main"]
        Path(name + "-journal").write_bytes(b"a hot journal")  # what SQLite leaves when a write fails midway
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr("aggregator.commands.backup.quick_check", disk_full)
    result = invoke(archive_file, str(tmp_path / "nightly.db"))
    assert result.exception is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.db"]


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="no sysfs, a folder even root may not create files in")
def test_a_folder_the_backup_may_not_be_written_in_is_one_line_naming_the_backup(archive_file: Path) -> None:
    """SQLite's "unable to open database file" was said as "backup of <the archive> failed", as if the archive could
    not be read; on a read-only disk it was a traceback (removing the partial copy failed too, and hid why)."""
    result = invoke(archive_file, "/sys/archive-copy.db")
    assert isinstance(result.exception, CliError), (result.exception, result.output)
    assert str(result.exception).startswith("cannot write the backup to /sys/archive-copy.db: "), result.exception


def test_a_partial_file_that_cannot_be_removed_does_not_hide_why_the_write_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On a read-only disk, removing even a file that is not there fails (EROFS): that error replaced the first one.
    def read_only(self: Path, missing_ok: bool = False) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "unlink", read_only)
    with pytest.raises(PermissionError, match="the first error"), replaced_whole(tmp_path / "out.db"):
        raise PermissionError("the first error")


def test_a_device_or_a_pipe_is_never_replaced_and_a_link_stays_a_link(archive_file: Path, tmp_path: Path) -> None:
    """The copy and the metrics file are written beside their place and renamed over it: as root, `db backup
    /dev/full --force` made /dev/full a regular file, and a symbolic link was replaced by a file of its own."""
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args in (("db", "backup", str(fifo), "--force"), ("metrics", "-o", str(fifo))):
        result = CliRunner().invoke(app, ["--db", f"sqlite:///{archive_file}", *args])
        assert isinstance(result.exception, CliError), (args, result.output)
        assert str(result.exception).startswith(f"not a regular file (a device, a pipe?): {fifo}"), args
        assert fifo.is_fifo()
    real = tmp_path / "backups" / "archive-copy.db"
    real.parent.mkdir()
    real.write_bytes(b"yesterday's backup")
    link = tmp_path / "latest.db"
    link.symlink_to(real)
    assert invoke(archive_file, str(link), "--force").exit_code == 0
    assert link.is_symlink() and link.resolve() == real
    with sqlite3.connect(real) as copy:
        assert copy.execute("SELECT count(*) FROM articles").fetchone()[0] == 3
    with replaced_whole(link) as partial:  # as `metrics -o LINK` writes
        partial.write_text("metrics\n")
    assert link.is_symlink() and real.read_text() == "metrics\n"
