"""Engines and schema migrations for SQLite (the embedded default) and PostgreSQL, through the same code."""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from alembic.config import Config
    from sqlalchemy.engine import ExceptionContext

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
"""The Alembic scripts: a folder of a checkout or an installed wheel, or a place inside a zipped egg (Scrapyd)."""


class DatabaseError(RuntimeError):
    """A database URL that cannot be used, said in one line."""


def _sqlite_url_meant(value: str) -> str | None:
    """The SQLite URL of a file path given where a database URL goes (``--db /srv/archive.db``), or None."""
    if ":" in value:  # a URL with a typo in it, not a path: guessing a file from it would mislead
        return None
    if "/" not in value and not value.startswith("~") and Path(value).suffix not in {".db", ".sqlite", ".sqlite3"}:
        return None
    # Absolute, as the default archive's is: a relative sqlite:/// URL means another file in another folder.
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def normalise_url(url: str) -> str:
    """Accept the common spellings of a PostgreSQL URL and use psycopg 3 for all of them."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        meant = _sqlite_url_meant(url)
        hint = f": for the SQLite file there, give {meant}" if meant else ""
        raise DatabaseError(f"not a database URL: {url!r}{hint}") from exc
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise DatabaseError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://")
    if parsed.get_backend_name() == "sqlite":
        parsed = _sqlite_uri_form(parsed)
    return parsed.render_as_string(hide_password=False)


SQLITE_URI_PARAMETERS = frozenset({"mode", "immutable", "nolock", "cache", "vfs", "psow", "modeof"})
"""The query parameters SQLite itself reads, from a URI filename only (https://www.sqlite.org/uri.html)."""


def _query_value(parsed: URL, key: str) -> str | None:
    value = parsed.query.get(key)
    return value if isinstance(value, str) or value is None else value[-1]


def _uri_flag(parsed: URL) -> bool:
    """Whether the URL says ``uri=true`` (the values SQLAlchemy's pysqlite dialect reads as true)."""
    return (_query_value(parsed, "uri") or "").strip().lower() in {"true", "yes", "on", "y", "t", "1"}


def _sqlite_uri_form(parsed: URL) -> URL:
    """An SQLite URL that gives SQLite parameters (``mode=ro``) in the form SQLAlchemy documents for them: the file as
    a URI filename, ``sqlite:///file:/srv/archive.db?mode=ro&uri=true``.

    The other spellings each opened something else: ``sqlite:////srv/archive.db?mode=ro`` (no ``uri=true``) the file
    read-write, SQLAlchemy dropping ``mode`` with a warning; ``sqlite:////srv/archive.db?mode=ro&uri=true`` a file
    named ``archive.db?mode=ro`` (created, if the folder let it be); ``sqlite:///file:/srv/archive.db?mode=ro`` a file
    ``archive.db`` in a folder ``file:`` under the working directory."""
    database = parsed.database or ""
    if database.startswith("file:"):
        return parsed if _uri_flag(parsed) else parsed.update_query_dict({"uri": "true"})
    if database in {"", ":memory:"} or not (_uri_flag(parsed) or SQLITE_URI_PARAMETERS & set(parsed.query)):
        return parsed
    return parsed.set(database="file:" + quote(database, safe="/")).update_query_dict({"uri": "true"})


BUSY_TIMEOUT_MS = 30_000
"""How long an SQLite connection waits for another process's write lock before "database is locked"."""
SQLITE_CACHE_KIB = 65_536
"""Page cache of each SQLite connection, in KiB (SQLite's default is 2,000)."""


def _wal(cursor: Any, attempts: int = 100) -> None:
    """Switch the database to write-ahead logging (persistent in the file: once is enough). The switch needs an
    exclusive lock and does not wait on busy_timeout, so two processes opening a new database at once retry."""
    for attempt in range(attempts):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1)


def _sqlite_pragmas(
    dbapi_connection: Any, _record: Any, *, autocheckpoint: bool = True, read_only: bool = False
) -> None:
    # SQLAlchemy, not the sqlite3 module, says when transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    if not read_only:  # switching to WAL writes the file's header: a read-only archive is read in the mode it is in
        _wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # A writer's batch touches pages all over the story buckets' and the indexes' b-trees: with SQLite's default
    # 2 MiB page cache it spilled dirty pages to the WAL mid-transaction and read them back. The cache only grows
    # with the pages a connection really touches (a small archive never fills it).
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    if not autocheckpoint:
        cursor.execute("PRAGMA wal_autocheckpoint=0")  # the engine's Checkpointer copies the log back instead
    cursor.close()


CHECKPOINT_INTERVAL = 0.2
"""Seconds between a background checkpointer's looks at the write-ahead log while the archive is being written."""
CHECKPOINT_QUIET = 2.0
"""Seconds after the last commit that it goes on looking (a commit is announced just before it lands)."""


class Checkpointer:
    """Copies an SQLite archive's write-ahead log back into the database file on a thread of its own.

    SQLite does that copy (a checkpoint) inside the commit that takes the log past 1,000 pages, and waits there for
    the disk (fsync of every page copied). A batch of thousands of articles dirties ten thousand pages or more
    (the story buckets' and the indexes' pages all over their b-trees), so at a million articles the checkpoint
    was a third of the writer's time. The connections of an engine made with ``connect(..., background_checkpoint
    =True)`` turn that off (``wal_autocheckpoint=0``) and this thread checkpoints instead, PASSIVE (never waiting
    for, nor holding up, a reader or the writer): the writer goes on with its next batch meanwhile, and sqlite3
    lets go of the GIL while the thread waits on the disk.

    The log is as durable as before (synchronous=NORMAL: a commit is in the log, not yet fsynced, either way); a
    process that dies leaves the log to the next connection, which reads through it and copies it back when it
    is closed or checkpoints.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._last_commit = -1.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def committing(self, _connection: Any = None) -> None:
        """A write transaction of the engine is committing: look at the log for the next few seconds."""
        self._last_commit = time.monotonic()
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stop.is_set():
                    self._thread = threading.Thread(target=self._run, name="archive-checkpoint", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            while not self._stop.wait(CHECKPOINT_INTERVAL):
                if time.monotonic() - self._last_commit < CHECKPOINT_QUIET:
                    self._checkpoint(connection)
            self._checkpoint(connection)
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:  # the next look tries again; the log stays whole meanwhile
            logger.warning("Background checkpoint of %s failed", self.path, exc_info=True)

    def close(self) -> None:
        """Copy what is left and stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


_checkpointers: weakref.WeakKeyDictionary[Engine, Checkpointer] = weakref.WeakKeyDictionary()


def dispose(engine: Engine) -> None:
    """Close the engine's connections, after its background checkpointer (if it has one) copied the log back; for a
    read-only engine, remove the empty log files its reads left beside the archive (``_remove_log_files``)."""
    checkpointer = _checkpointers.pop(engine, None)
    if checkpointer is not None:
        checkpointer.close()
    engine.dispose()
    found_none = _found_no_log_files.pop(engine, None)
    if found_none is not None:
        _remove_log_files(found_none)


READ_ONLY = "aggregator_read_only"
"""Execution option of the engines ``reader`` returns."""


def _sqlite_begin(connection: Any) -> None:
    """Every transaction that may write takes the write lock up front (BEGIN IMMEDIATE). A deferred transaction that
    reads and then writes fails at once with "database is locked" when another process wrote meanwhile (SQLite
    cannot wait there without risking a deadlock); an immediate one waits its turn (busy_timeout). It also makes DDL
    transactional, so two processes upgrading one database take turns.

    Reads (``reader``) begin deferred: in WAL mode they read the last committed state without any lock, so an
    operator's query neither waits for a crawl's batch nor holds the crawl's writer up while it runs."""
    connection.exec_driver_sql("BEGIN" if connection.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def reader(engine: Engine) -> Engine:
    """The same engine (and pool) for transactions that only read: on SQLite they take no write lock."""
    return engine.execution_options(**{READ_ONLY: True})


class ArchiveMissing(DatabaseError):
    """An SQLite archive file that does not exist, where a command only reads one."""


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (``None`` for PostgreSQL and for an in-memory database), a URI filename's too
    (``sqlite:///file:/srv/archive.db?mode=ro&uri=true``: the path as SQLite reads it, percent escapes decoded)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    database = parsed.database
    if database.startswith("file:"):  # normalise_url gave it uri=true
        if _query_value(parsed, "mode") == "memory":
            return None
        database = database.removeprefix("file:")
        if database.startswith("//"):  # an authority, empty or "localhost": file:///srv/a.db, file://localhost/srv/a.db
            database = "/" + database[2:].partition("/")[2]
        database = unquote(re.split(r"[?#]", database, maxsplit=1)[0])
        if not database or database == ":memory:":
            return None
    return Path(database).expanduser()


def shown_url(url: str | URL) -> str:
    """The archive at ``url`` as a line for an operator names it: an SQLite file by its path, as SQLite opens it (an
    engine's URL in the URI form printed ``sqlite:///file%3A/srv/my%2520archives/archive.db?mode=ro&uri=true``),
    any other database by its URL with the password starred out (``postgresql+psycopg://aggregator:***@db/archive``).
    """
    rendered = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    path = sqlite_file(rendered)
    return str(path) if path is not None else make_url(rendered).render_as_string(hide_password=True)


def _file_uri(parsed: URL, path: Path, **parameters: str) -> URL:
    """``parsed`` (an SQLite URL) opening ``path`` as a URI filename, with its parameters and these (``mode``...).

    Set on the URL, not rendered and parsed again: SQLAlchemy decodes a URL's percent escapes, and a ``?`` or ``%`` in
    a folder's name would reach SQLite bare."""
    uri = "file:" + quote(str(path.expanduser().resolve()), safe="/")
    return parsed.set(database=uri, query={**parsed.query, **parameters, "uri": "true"})


def existing_file_url(url: str) -> str | URL:
    """``url``, but for an SQLite file one that opens the file only if it exists (an SQLite URI with ``mode=rw``, or
    ``mode=ro`` where the URL says so).

    SQLite creates a missing file on connect: a server whose archive was removed (or moved by a restore) under it
    would open a new empty one in its place, answer from it, and leave it behind for the next crawl to fill.
    """
    path = sqlite_file(url)
    if path is None:
        return url
    parsed = make_url(normalise_url(url))
    return _file_uri(parsed, path, mode="ro" if _query_value(parsed, "mode") == "ro" else "rw")


def require_existing(url: str) -> None:
    """Refuse an SQLite URL whose file does not exist (``ArchiveMissing``), before anything creates it.

    Every command used to create the archive it was pointed at: ``aggregator --db sqlite:///achive.db articles
    list`` (one letter off) left a new empty archive behind and printed an empty table, as if nothing had been
    crawled. Commands that only read an archive check first; ``crawl`` and ``db upgrade`` create one.
    """
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise ArchiveMissing(
            f"no archive at {path}: check --db (or AGGREGATOR_DB_URL), or create it with `aggregator crawl` or "
            "`aggregator db upgrade`"
        )


class ArchiveReadOnly(DatabaseError):
    """An SQLite archive this process may only read, where a command would change it, its schema or create it."""


class ReadOnlyWrite(ArchiveReadOnly, OperationalError):
    """SQLite's refusal of a write to a read-only archive (``SQLITE_READONLY``) in one line naming the archive and why.

    Still the driver's error too (an ``OperationalError``, its ``orig``): what handles database errors goes on
    handling it (a crawl's store says the archive cannot be written, ``db check`` skips FTS5's integrity-check)."""

    def __init__(self, message: str, statement: str | None, params: Any, orig: BaseException) -> None:
        OperationalError.__init__(self, statement, params, orig)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> str | tuple[Any, ...]:  # from a crawl's writer process to the crawl
        return self.__class__, (self.message, self.statement, self.params, self.orig)


SQLITE_READONLY = 8
"""SQLite's primary result code of a write refused because the database is open read-only (its extended codes, such
as ``SQLITE_READONLY_DIRECTORY``, keep it in the low 8 bits)."""


def _may_write(path: Path) -> bool:
    return os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids)


def read_only_reason(url: str) -> str | None:
    """Why this process may only read the SQLite archive at ``url``, in a few words; None where it may write it (or
    it is not there yet, or not SQLite). Asked of the file before SQLite opens it: SQLite would open it read-write,
    fall back to read-only, and fail the first write (the switch to WAL, on every connection) with "attempt to write
    a readonly database"."""
    path = sqlite_file(url)
    if path is None:
        return None
    parsed = make_url(normalise_url(url))
    if _query_value(parsed, "mode") == "ro":
        return "the URL opens it read-only: mode=ro"
    if (_query_value(parsed, "immutable") or "0") != "0":
        return "the URL opens it immutable=1"
    if not path.exists():
        return None
    if not _may_write(path):
        try:
            on_read_only_disk = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
        except OSError:
            on_read_only_disk = False
        return "on a read-only file system" if on_read_only_disk else "this process may not write the file"
    if not _may_write(path.parent) and not _log_files_there(path):
        return "this process may not write its folder, where SQLite keeps the write-ahead log"
    return None


def refuse_read_only(url: str, consequence: str) -> None:
    """Raise ``ArchiveReadOnly`` (one line: the archive, why, and ``consequence``) when this process may only read the
    SQLite archive at ``url`` (``read_only_reason``): for a command that would write to it, before it starts."""
    why = read_only_reason(url)
    if why:
        raise ArchiveReadOnly(f"the archive at {sqlite_file(url)} is read-only ({why}): {consequence}")


def _log_files_there(path: Path) -> bool:
    """Whether the write-ahead log and its index (``-wal``, ``-shm``) are beside the database: a process that may
    not write the folder can use them there, not create them."""
    return all(path.with_name(path.name + suffix).is_file() for suffix in ("-wal", "-shm"))


_found_no_log_files: weakref.WeakKeyDictionary[Engine, Path] = weakref.WeakKeyDictionary()
"""The read-only engines (and their archive) that found neither ``-wal`` nor ``-shm`` beside it, in a folder this
process may write: what ``dispose`` leaves as it found it (``_remove_log_files``)."""


def _log_file(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _leaves_log_files(path: Path, parsed: URL) -> bool:
    """Whether reading the archive at ``path`` read-only through ``parsed`` may leave a ``-wal`` and a ``-shm`` file
    behind that were not there, and this process could remove them safely afterwards (``_remove_log_files``).

    A database in WAL mode is read through its ``-shm`` file, and SQLite opens (creates) the ``-wal`` beside it even
    on a read-only connection; only the last connection to close removes them, after it took the write lock on the
    database file, which a read-only one cannot take: ``articles list`` on a ``mode=ro`` URL left an empty
    ``archive.db-wal`` and a 32 KiB ``archive.db-shm`` in a folder that had neither. (A database in rollback-journal
    mode, as ``db backup`` writes it, is read without either; one opened ``immutable=1`` too.)"""
    if (_query_value(parsed, "immutable") or "0") != "0":
        return False
    if any(_log_file(path, suffix).exists() for suffix in ("-wal", "-shm")):
        return False  # as found: a process has it open, or one that died left them for the next
    return _may_write(path) and _may_write(path.parent)


def _remove_log_files(path: Path) -> None:
    """Remove the ``-wal`` and ``-shm`` files that this process's read-only reads left beside the archive at ``path``
    (``_leaves_log_files``), where that is safe, the way SQLite itself removes them: a connection that may write
    reads the database and closes, and SQLite, at the close, removes them only if it gets the database file's write
    lock (every connection that has read a database in WAL mode holds a read lock on it until it closes, in this
    process or another) and after copying any commit in the log into the database file.

    The connection writes nothing of its own, and only an empty log is left to it: one that holds commits (a crawl
    that wrote while the command read, and closed before it) stays, for the crawl's next connection to copy back, as
    a read-only command does not write the archive (a commit landing in the instant between the look at the log and
    the close is copied in, as by any last connection: nothing is lost). Anything in the way (a lock held, a file
    that vanished, a folder made read-only meanwhile) leaves the files as they are: they are harmless, as SQLite made
    them."""
    wal, shm = _log_file(path, "-wal"), _log_file(path, "-shm")
    try:
        if not (wal.is_file() and shm.is_file()) or wal.stat().st_size or _log_file(path, "-journal").exists():
            return
        uri = f"file:{quote(str(path.resolve()), safe='/')}?mode=rw"
        connection = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=1.0)
        try:
            connection.execute("PRAGMA schema_version").fetchone()  # a read: it opens the log, as the command's did
        finally:
            connection.close()
    except (OSError, sqlite3.Error):
        logger.debug("Left the log files beside %s", path, exc_info=True)


@contextmanager
def sqlite_connection(url: str, source: Path) -> Iterator[sqlite3.Connection]:
    """A plain ``sqlite3`` connection to the SQLite archive at ``url`` (its file ``source``: ``db backup`` copies
    through it), read-only as the reading commands open it
    (``connect``) when the URL says so or this process may only read it (``read_only_reason``): ``mode=ro``, and
    ``immutable=1`` where SQLite could not read it otherwise; the empty log files its read made beside it are removed
    after, as theirs are.

    Opened read-write, a ``mode=ro`` archive had its write-ahead log copied back into it as the copy's connection
    closed (a write to an archive the URL opens read-only), and one in a folder this process may not write could not
    be read at all (SQLite cannot make the ``-shm`` file it reads a WAL database through)."""
    if read_only_reason(url) is None:
        connection, leaves_log_files = sqlite3.connect(source, isolation_level=None), False
    else:
        read_only = _read_only_url(url, source)
        leaves_log_files = _leaves_log_files(source, read_only)
        # The URI filename SQLAlchemy would open (its own parameter, uri, aside)
        parameters = "&".join(f"{key}={value}" for key, value in sorted(read_only.query.items()) if key != "uri")
        connection = sqlite3.connect(f"{read_only.database}?{parameters}", uri=True, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()
        if leaves_log_files:
            _remove_log_files(source)


def _read_only_url(url: str, path: Path) -> URL:
    """The URL a read-only archive is opened with: ``mode=ro``, and ``immutable=1`` where SQLite could not read it
    otherwise.

    A database in WAL mode is read through its ``-shm`` file; where it is not there and cannot be made (a folder this
    process may not write), SQLite refuses even a read, unless the file is opened immutable: read without locks, as
    it is on disk. No ``-wal`` file beside it means no process has it open to write, and every commit is in the file
    itself. (A ``-wal`` file holding commits, without its ``-shm``, is left to SQLite's refusal: immutable would not
    read them.) A crawl that starts writing to it while a long command reads it is not seen, and could make the
    command read pages half old, half new: run it again."""
    parsed = make_url(normalise_url(url))
    parameters = {"mode": "ro"}
    wal = path.with_name(path.name + "-wal")
    if not _may_write(path.parent) and not _log_files_there(path) and (not wal.exists() or not wal.stat().st_size):
        parameters["immutable"] = "1"
    return _file_uri(parsed, path, **parameters)


def _read_only_write(url: str, path: Path, context: ExceptionContext) -> BaseException | None:
    """The ``handle_error`` listener of an SQLite engine: SQLite's "attempt to write a readonly database" as
    ``ReadOnlyWrite``, naming the archive and why it is read-only; any other error as it is."""
    orig = context.original_exception
    if (getattr(orig, "sqlite_errorcode", 0) & 0xFF) != SQLITE_READONLY:
        return None
    why = read_only_reason(url) or "SQLite refused to write to it"
    message = f"the archive at {path} is read-only ({why}): nothing was written"
    return ReadOnlyWrite(message, context.statement, context.parameters, orig)


def _refuse_old_schema(engine: Engine, path: Path, why: str) -> None:
    """Refuse, in one line (``ArchiveReadOnly``), a read-only archive at an older schema than this code's, or that
    holds none: no command could use it (the reading ones refuse it, ``SchemaBehind``, and the others would upgrade
    it). Said when the engine is made: ``crawl`` went on to try the upgrade, and waited 30 s for another process to
    have made it (``ensure_schema``) before it said "attempt to write a readonly database"."""
    newest = newest_migration()
    try:
        with reader(engine).connect() as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except OperationalError as exc:
        if "no such table" not in str(exc.orig):
            raise
        rows = []
    revision = str(rows[0][0]) if len(rows) == 1 else None
    if newest is None or revision == newest:
        return
    if revision is None:
        raise ArchiveReadOnly(
            f"the database at {path} is read-only ({why}) and holds no archive: none is created there"
        )
    if re.fullmatch(r"\d{4}", revision) and revision < newest:  # a newer one: ``check_known`` says so
        raise ArchiveReadOnly(
            f"the archive at {path} is read-only ({why}) and at schema revision {revision!r}, older than this "
            f"release's {newest!r}: it cannot be upgraded there; upgrade a copy this process may write (`aggregator "
            "--db sqlite:///COPY db upgrade`), or read it with the release that wrote it"
        )


def one_line(exc: BaseException) -> str:
    """An exception in the words an operator needs: a database error as the driver said it (SQLAlchemy's adds the
    statement and a link), the first line of it; anything else with its type."""
    cause = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    said = lines[0] if lines else type(cause).__name__
    return said if isinstance(exc, SQLAlchemyError) else f"{type(cause).__name__}: {said}"


def connect(url: str, *, background_checkpoint: bool = False, create: bool = True, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys and a busy timeout, and their folder is made.

    ``create=False``: an SQLite file that does not exist is not created (``existing_file_url``); connecting fails.

    ``background_checkpoint``: an SQLite file's log is copied back by a thread (``Checkpointer``), not inside the
    commits of this engine's writes; close such an engine with ``dispose``.

    An SQLite archive this process may only read (``read_only_reason``: a ``mode=ro`` URL, a file or folder it may
    not write, an immutable file, a read-only mount) is opened read-only (``_read_only_url``), neither created nor
    switched to WAL; one at an older schema is refused here (``_refuse_old_schema``), and a write to it, on any SQLite
    engine, fails as ``ReadOnlyWrite``.
    """
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        path = sqlite_file(url)
        why = read_only_reason(url)
        if path is not None and why is not None:
            if not path.is_file():
                raise ArchiveMissing(f"no archive at {path}, and none is created there ({why})")
            read_only_url = _read_only_url(url, path)
            leaves_log_files = _leaves_log_files(path, read_only_url)  # asked before a connection makes them
            engine = create_engine(read_only_url, **kwargs)
            event.listen(engine, "connect", partial(_sqlite_pragmas, read_only=True))
            if leaves_log_files:
                _found_no_log_files[engine] = path
        else:
            if path is not None and create:
                path.parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url if create else existing_file_url(url), **kwargs)
            background = background_checkpoint and path is not None
            event.listen(engine, "connect", partial(_sqlite_pragmas, autocheckpoint=not background))
            if background and path is not None:
                checkpointer = _checkpointers[engine] = Checkpointer(str(path))
                event.listen(engine, "commit", checkpointer.committing)
        event.listen(engine, "begin", _sqlite_begin)
        if path is not None:
            event.listen(engine, "handle_error", partial(_read_only_write, url, path), retval=True)
        if path is not None and why is not None:
            try:
                _refuse_old_schema(engine, path, why)
            except BaseException:
                dispose(engine)
                raise
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


# Alembic is imported where it is used: the archive's writer process and the read API never migrate, and
# Alembic with what it loads (Mako, Pygments) is ~15 MiB of their memory.


@cache
def migrations_dir() -> Path:
    """A folder holding the Alembic scripts, which Alembic reads with ``os`` calls.

    Scrapyd runs a deployed project from its egg, a zip file on ``sys.path``: there the scripts are copied out to a
    temporary folder, once a process, removed when it exits. Python 3.11's ``importlib.resources.as_file`` (what
    Alembic's ``package:folder`` form uses) cannot do that with a folder.
    """
    if MIGRATIONS_DIR.is_dir():
        return MIGRATIONS_DIR
    from importlib.resources import files

    copy = Path(tempfile.mkdtemp(prefix="aggregator-migrations-"))
    atexit.register(shutil.rmtree, copy, ignore_errors=True)
    _copy_resources(files(__package__ or "aggregator.store") / "migrations", copy)
    if not any((copy / "versions").glob("*.py")):
        raise DatabaseError(
            f"no schema migrations in {MIGRATIONS_DIR}: this build of aggregator lacks them (build a Scrapyd egg "
            "with the project's setup.py, as scrapyd-deploy does in the checkout)"
        )
    return copy


def _copy_resources(source: Traversable, target: Path) -> None:
    target.mkdir(exist_ok=True)
    for entry in source.iterdir():
        if entry.is_dir():
            if entry.name != "__pycache__":
                _copy_resources(entry, target / entry.name)
        elif not entry.name.endswith(".pyc"):
            (target / entry.name).write_bytes(entry.read_bytes())


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


SCHEMA_LOCK = 0x61676772  # any constant: the advisory lock key of schema upgrades on PostgreSQL


class SchemaTooNew(DatabaseError):
    """The archive's schema is at a revision this code has no migration for: a newer aggregator upgraded it."""


class SchemaBehind(DatabaseError):
    """The archive's schema is older than this code (or absent): a command that does not upgrade it refuses to run."""


def require_current(engine: Engine) -> None:
    """Refuse, in one line, an archive whose schema is not this code's (``SchemaBehind``, ``SchemaTooNew``).

    The commands that read or edit an archive upgraded it silently when it was behind: after installing a release, the
    first ``articles list`` ran its migrations, on PostgreSQL while crawls were writing (0015 builds indexes that hold
    writes back), and on an empty PostgreSQL database it created the tables. Only ``crawl``, ``schedule``, ``serve``
    and ``db upgrade`` upgrade; the others say what to run.
    """
    newest = newest_migration()
    if newest is not None and stored_revision(engine) == newest:  # the usual answer, without loading Alembic
        return
    current, head = current_revision(engine), head_revision(engine)
    if current == head:
        return
    check_known(engine, current)
    where = shown_url(engine.url)
    if current is None:
        raise SchemaBehind(f"the database at {where} holds no archive: create it with `aggregator db upgrade`")
    raise SchemaBehind(
        f"the archive at {where} has schema revision {current!r}, older than this release's {head!r}: run "
        "`aggregator db upgrade` (a crawl or `serve` does it too; on PostgreSQL, between crawls)"
    )


def check_known(engine: Engine, current: str | None) -> None:
    """Refuse, in one line, an archive whose revision this code does not know (``SchemaTooNew``).

    Alembic's own error, a traceback ending in "Can't locate revision identified by '0099'", is what an operator met
    after rolling one host back to an older release while another had upgraded the shared database.
    """
    if current is None:
        return
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config(engine))
    if current in {script.revision for script in scripts.walk_revisions()}:
        return
    from aggregator import __version__

    raise SchemaTooNew(
        f"the archive at {shown_url(engine.url)} has schema revision {current!r}, which "
        f"aggregator {__version__} does not know (its newest is {scripts.get_current_head()!r}): a newer aggregator "
        "upgraded it; run that release here too"
    )


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the latest by default).

    On PostgreSQL, concurrent upgrades (two crawls starting on an empty database) wait for each other on an advisory
    lock, and the second finds the work done. A schema newer than this code is ``SchemaTooNew``, before any change.
    """
    from alembic import command

    check_known(engine, current_revision(engine))
    config = alembic_config(engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


_MIGRATION_FILE = re.compile(r"(\d{4})_\w+\.py")


def newest_migration() -> str | None:
    """The head revision as the migration files' names give it: ``0017_folded_search.py`` is revision ``0017``, and
    each revises the one numbered before it. What ``head_revision`` answers without importing Alembic and every
    migration, about a quarter of a second of a command that only reads (a test holds the two equal)."""
    names = (_MIGRATION_FILE.fullmatch(path.name) for path in (migrations_dir() / "versions").iterdir())
    return max((match.group(1) for match in names if match), default=None)


def stored_revision(engine: Engine) -> str | None:
    """The revision the database's ``alembic_version`` table holds, by plain SQL; None without one (or with more)."""
    try:
        # A read: it takes no write lock (BEGIN IMMEDIATE waited out a crawl's open transaction for up to the busy
        # timeout before every command, then the command's own write waited as long again).
        with reader(engine).connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with reader(engine).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def ensure_schema(engine: Engine, *, wait: float = 30.0) -> None:
    """Upgrade when the schema is behind the code (what ``crawl`` does before it starts).

    When another process upgrades the same database at the same moment (SQLite has no lock to wait on), this one's
    upgrade fails on a table that now exists: it then waits for the other to reach the head revision. A schema newer
    than this code is ``upgrade``'s ``SchemaTooNew``, which is no database error to wait out.

    An archive already at the newest migration is told by plain SQL, as in ``require_current``: Alembic and its
    scripts cost every crawl's start a third of a second (half a second on a slow machine) to find nothing to do.
    """
    newest = newest_migration()
    if newest is not None and stored_revision(engine) == newest:
        return
    head = head_revision(engine)
    if current_revision(engine) == head:
        return
    logger.info("Upgrading the archive schema at %s", shown_url(engine.url))
    try:
        upgrade(engine)
    except SQLAlchemyError:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                if current_revision(engine) == head:
                    logger.info("Another process upgraded the schema meanwhile")
                    return
            except SQLAlchemyError:
                continue
        raise
