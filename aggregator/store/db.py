"""Engines and schema migrations for SQLite (the embedded default) and PostgreSQL, through the same code."""

from __future__ import annotations

import atexit
import logging
import re
import shutil
import sqlite3
import tempfile
import threading
import time
import weakref
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from alembic.config import Config

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
    return parsed.render_as_string(hide_password=False)


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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, autocheckpoint: bool = True) -> None:
    # SQLAlchemy, not the sqlite3 module, says when transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
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
    """Close the engine's connections, after its background checkpointer (if it has one) copied the log back."""
    checkpointer = _checkpointers.pop(engine, None)
    if checkpointer is not None:
        checkpointer.close()
    engine.dispose()


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
    """The file of an SQLite URL (``None`` for PostgreSQL and for an in-memory database)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).expanduser()


def existing_file_url(url: str) -> str | URL:
    """``url``, but for an SQLite file one that opens the file only if it exists (an SQLite URI with ``mode=rw``).

    SQLite creates a missing file on connect: a server whose archive was removed (or moved by a restore) under it
    would open a new empty one in its place, answer from it, and leave it behind for the next crawl to fill.
    """
    path = sqlite_file(url)
    if path is None:
        return url
    uri = "file:" + quote(str(path.resolve()), safe="/")
    return make_url("sqlite://").set(database=uri, query={"mode": "rw", "uri": "true"})


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
    """
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        path = sqlite_file(url)
        if path is not None and create:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url if create else existing_file_url(url), **kwargs)
        background = background_checkpoint and path is not None
        event.listen(engine, "connect", partial(_sqlite_pragmas, autocheckpoint=not background))
        event.listen(engine, "begin", _sqlite_begin)
        if background and path is not None:
            checkpointer = _checkpointers[engine] = Checkpointer(str(path))
            event.listen(engine, "commit", checkpointer.committing)
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
    where = engine.url.render_as_string(hide_password=True)
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
        f"the archive at {engine.url.render_as_string(hide_password=True)} has schema revision {current!r}, which "
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
    logger.info("Upgrading the archive schema at %s", engine.url.render_as_string(hide_password=True))
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
