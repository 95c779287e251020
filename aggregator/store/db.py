"""Engines and schema migrations for SQLite (the embedded default) and PostgreSQL, through the same code."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class DatabaseError(RuntimeError):
    """A database URL that cannot be used, said in one line."""


def normalise_url(url: str) -> str:
    """Accept the common spellings of a PostgreSQL URL and use psycopg 3 for all of them."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"not a database URL: {url!r}") from exc
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise DatabaseError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://")
    return parsed.render_as_string(hide_password=False)


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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy, not the sqlite3 module, says when transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    _wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # A writer's batch touches pages all over the story buckets' and the indexes' b-trees: with SQLite's default
    # 2 MiB page cache it spilled dirty pages to the WAL mid-transaction and read them back. The cache only grows
    # with the pages a connection really touches (a small archive never fills it).
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


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


def connect(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys and a busy timeout, and their folder is made."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


# Alembic is imported where it is used: the archive's writer process and the read API never migrate, and
# Alembic with what it loads (Mako, Pygments) is ~15 MiB of their memory.


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


SCHEMA_LOCK = 0x61676772  # any constant: the advisory lock key of schema upgrades on PostgreSQL


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the latest by default).

    On PostgreSQL, concurrent upgrades (two crawls starting on an empty database) wait for each other on an advisory
    lock, and the second finds the work done.
    """
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def ensure_schema(engine: Engine, *, wait: float = 30.0) -> None:
    """Upgrade when the schema is behind the code (what ``crawl`` does before it starts).

    When another process upgrades the same database at the same moment (SQLite has no lock to wait on), this one's
    upgrade fails on a table that now exists: it then waits for the other to reach the head revision.
    """
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
