"""``aggregator db backup``: a consistent copy of an SQLite archive, taken while crawls go on writing to it.

Copying ``archive.db`` with ``cp`` while a crawl runs is not a backup: the newest batches live in ``archive.db-wal``
until they are copied back, and a file copied mid-write can be torn. SQLite's online backup copies the database as
one read transaction sees it (in WAL mode that takes no lock a writer waits on), so the copy is the archive as of
one commit. The copy is written beside its destination under a temporary name, switched to a single
self-contained file (no ``-wal`` beside it), checked with ``PRAGMA quick_check``, then renamed into place: an
interrupted backup leaves the previous one whole.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Annotated

import typer

from aggregator.cli import _db_url, check_output_file, db_app, fail, out, writing
from aggregator.paths import replaced_whole
from aggregator.store.db import require_existing, sqlite_connection, sqlite_file

BUSY_TIMEOUT_MS = 30_000


def quick_check(connection: sqlite3.Connection) -> list[str]:
    """What SQLite's ``quick_check`` finds wrong with a database (nothing: an empty list)."""
    found = [str(row[0]) for row in connection.execute("PRAGMA quick_check")]
    return [] if found == ["ok"] else found


def backup_sqlite(url: str, source: Path, target: Path) -> None:
    """Copy the SQLite archive at ``url`` (its file ``source``) to ``target`` (which must not be it), consistent as
    of one commit."""
    with replaced_whole(target, fsync=True) as partial, sqlite_connection(url, source) as src:
        src.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Created here first: a folder it may not write in is then an OSError saying so, where SQLite's own "unable
        # to open database file" read as if the archive could not be opened.
        partial.touch(exist_ok=False)
        try:
            with contextlib.closing(sqlite3.connect(partial, isolation_level=None)) as dst:
                # One step (pages=-1): a copy made in steps starts over whenever a crawl commits in between, and
                # under a busy crawl might never finish.
                src.backup(dst, pages=-1)
                dst.execute("PRAGMA journal_mode=DELETE")  # one file: the copy needs no -wal beside it
                problems = quick_check(dst)
                if problems:
                    raise sqlite3.DatabaseError("; ".join(problems[:3]))
        finally:
            # A copy that failed half-way (a full disk) leaves SQLite's journal of the partial file beside it, a
            # hidden ".FILE.<pid>.partial-journal" nothing would ever remove; the partial file itself goes with
            # ``replaced_whole``.
            for sidecar in ("-journal", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    partial.with_name(partial.name + sidecar).unlink(missing_ok=True)


@db_app.command("backup")
def db_backup(
    ctx: typer.Context,
    target: Annotated[Path, typer.Argument(metavar="FILE", help="Where to write the copy (an SQLite file).")],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
) -> None:
    """Copy an SQLite archive to FILE, consistent as of one commit, while crawls go on writing to it."""
    url = _db_url(ctx)
    require_existing(url)
    source = sqlite_file(url)
    if source is None:
        if url.startswith("postgres"):  # postgres://, postgresql://, postgresql+psycopg://
            fail("db backup copies an SQLite archive; back a PostgreSQL one up with pg_dump (pg_dump -Fc DATABASE)")
        fail("db backup copies an SQLite archive file; this archive is in memory")
    target = target.expanduser().resolve()
    check_output_file(target, "backup", db_url=url, replaced=True)
    if target.exists() and not force:
        fail(f"{target} exists: give --force to replace it")
    size = source.stat().st_size
    started = time.monotonic()
    with out.status(f"Copying {source} ({size / 2**20:,.1f} MiB) ..."):
        try:
            with writing("backup", target):
                backup_sqlite(url, source, target)
        except sqlite3.Error as exc:
            fail(f"backup of {source} failed: {exc}")
    seconds = time.monotonic() - started
    written = target.stat().st_size
    out.print(f"backed up {source} to {target} ({written / 2**20:,.1f} MiB in {seconds:.1f}s)", soft_wrap=True)
