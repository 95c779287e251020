"""One run per source at a time: a lock per source, held for the whole crawl.

On SQLite, an advisory file lock (``flock``) on ``<database>.<source>.lock`` next to the database file: the
kernel drops it when the process dies, even by SIGKILL, so a killed run never leaves the source locked. On
PostgreSQL, a session advisory lock (``pg_try_advisory_lock``) on a connection kept open for the run: it works
across hosts (every crawler of one archive asks the same server), and the server drops it when the connection goes.
Neither waits: a second run finds the source busy and says so at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from aggregator.store.db import connect, normalise_url


class SourceBusy(Exception):
    """Another run of the source holds its lock."""


class SourceResting(Exception):
    """The source's site asked (Retry-After) for no request before a time that has not come yet."""


def lock_key(source: str) -> int:
    """A stable signed 64-bit advisory-lock key for a source (the same on every host)."""
    digest = hashlib.blake2b(f"aggregator-run:{source}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class SourceLocks:
    """Per-source locks on one archive; ``acquire`` returns the sources it could lock, the others are busy."""

    def __init__(self, db_url: str) -> None:
        self.url = make_url(normalise_url(db_url))
        self._stack = ExitStack()
        self._files: list[IO[bytes]] = []
        self._connection: Any = None

    def _file_lock(self, source: str) -> bool:
        database = self.url.database
        if not database or database == ":memory:":
            return True  # a private in-memory database: no other process can run on it
        path = Path(f"{Path(database).expanduser()}.{source}.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+b")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
        self._files.append(handle)
        return True

    def _advisory_lock(self, source: str) -> bool:
        if self._connection is None:
            engine = connect(self.url.render_as_string(hide_password=False), poolclass=_single_pool())
            self._stack.callback(engine.dispose)
            self._connection = self._stack.enter_context(engine.connect())
        got = self._connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": lock_key(source)}).scalar()
        self._connection.commit()
        return bool(got)

    def acquire(self, sources: Sequence[str]) -> tuple[list[str], list[str]]:
        """Try to lock each source at once: (locked, busy)."""
        locked: list[str] = []
        busy: list[str] = []
        for source in sources:
            ok = self._advisory_lock(source) if self.url.get_backend_name() == "postgresql" else self._file_lock(source)
            (locked if ok else busy).append(source)
        return locked, busy

    def release(self) -> None:
        for handle in self._files:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()
        self._files.clear()
        self._connection = None
        self._stack.close()  # closing the connection ends its advisory locks


def _single_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool


@contextmanager
def source_locks(db_url: str, sources: Sequence[str]) -> Iterator[tuple[list[str], list[str]]]:
    """Hold the locks of the ``sources`` that are free for the block; yields (locked, busy)."""
    locks = SourceLocks(db_url)
    try:
        yield locks.acquire(sources)
    finally:
        locks.release()


class RunLock:
    """Scrapy extension: a run started by plain ``scrapy crawl`` (Scrapyd's jobs, a developer's shell) takes its
    source's lock too, so it never overlaps another run of the source.

    ``aggregator crawl`` locks its sources before it starts the crawl (``AGGREGATOR_LOCKED_SOURCES``) and
    scale-out workers share a frontier on purpose (``AGGREGATOR_REDIS_URL``): for those this extension stays off.
    Otherwise it locks the spider's source when the crawler is built, before any pipeline opens (so a refused run
    leaves no trace in the archive), raises ``SourceBusy`` (Scrapy exits with status 1, the reason in the log) when
    another run holds it, or ``SourceResting`` while the source's site has asked for a rest (aggregator/backoff.py),
    and releases it when the crawl's engine stops.
    """

    def __init__(self, db_url: str, source: str) -> None:
        self.source = source
        self._locks = SourceLocks(db_url)
        _, busy = self._locks.acquire([source])
        if busy:
            self._locks.release()
            raise SourceBusy(f"{source}: another run of this source is in progress (locked); this run does not start")
        from aggregator.backoff import resting_sources

        until = resting_sources(db_url, [source]).get(source)
        if until is not None:
            self._locks.release()
            raise SourceResting(
                f"{source}: its site asked for no request before {until.isoformat(timespec='seconds')} "
                "(Retry-After); this run does not start"
            )

    @classmethod
    def from_crawler(cls, crawler: Any) -> RunLock:
        from scrapy import signals
        from scrapy.exceptions import NotConfigured

        settings = crawler.settings
        source = getattr(crawler.spider, "source_key", None) or getattr(crawler.spidercls, "name", None)
        # Off without a word (Scrapy logs a NotConfigured that carries a message as a warning): scale-out workers
        # share their sources' frontier on purpose, the aggregator command holds the lock already, or
        # AGGREGATOR_RUN_LOCK is off (runs of one source may overlap).
        if (
            not source
            or settings.get("AGGREGATOR_REDIS_URL")
            or source in settings.getlist("AGGREGATOR_LOCKED_SOURCES")
            or not settings.getbool("AGGREGATOR_RUN_LOCK", True)
        ):
            raise NotConfigured
        extension = cls(settings["AGGREGATOR_DB_URL"], source)
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    @staticmethod
    def held_by(crawler: Any) -> bool:
        """Whether this crawl holds its source's lock through the extension (built before any pipeline)."""
        extensions = getattr(crawler, "extensions", None)
        return any(isinstance(e, RunLock) for e in getattr(extensions, "middlewares", ()))

    def engine_stopped(self) -> None:
        self._locks.release()
