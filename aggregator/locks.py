"""One run per source at a time: a lock per source, held for the whole crawl.

On SQLite, an advisory file lock (``flock``) on ``<database>.<source>.lock`` next to the database file: the
kernel drops it when the process dies, even by SIGKILL, so a killed run never leaves the source locked. On
PostgreSQL, a session advisory lock (``pg_try_advisory_lock``) on a connection kept open for the run: it works
across hosts (every crawler of one archive asks the same server), and the server drops it when the connection goes.
Neither waits: a second run finds the source busy and says so at once.

A connection can go while its process lives on: a server's ``idle_session_timeout``, a failover, a NAT or firewall
that forgets an idle flow. The server then drops the lock with it, silently, and a second run of the source starts
while the first still crawls. So while a crawl runs, ``LockWatch`` asks the lock's connection every
``AGGREGATOR_LOCK_CHECK_SECONDS`` whether it still holds its locks (the question also keeps the connection from
being idle). A lock found lost is taken again on a new connection when it is free; when another run holds it now,
this run stops (finish reason ``lock_lost``) and leaves the source to that one.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from aggregator.store.db import ArchiveReadOnly, connect, normalise_url, one_line, refuse_read_only, sqlite_file

logger = logging.getLogger(__name__)

LOCK_LOST = "lock_lost"
"""The finish reason of a run stopped because its source's lock went with its connection and another run of the
source holds it now."""
SOURCE_BUSY = "source_busy"
"""The finish reason of a plain ``scrapy crawl`` (a Scrapyd job) that did not start: another run holds its source's
lock."""
SOURCE_HELD = "retry_after_hold"
"""The finish reason of a plain ``scrapy crawl`` that did not start: its site's Retry-After holds the source's runs
back (aggregator/backoff.py)."""
ARCHIVE_READ_ONLY = "archive_read_only"
"""The finish reason of a plain ``scrapy crawl`` that did not start: this process may only read its archive
(``read_only_refusal``)."""
LOCK_CHECK_SECONDS = 30.0
"""How often a running crawl asks whether it still holds its sources' locks (``AGGREGATOR_LOCK_CHECK_SECONDS``)."""

# libpq's own limits for the lock's connection, so that a look at a connection a NAT dropped without a word (no
# reset ever comes) fails within seconds rather than after the kernel's retransmissions (15 minutes and more), and
# a server that does not answer a new connection is given up on.
_LOCK_CONNECTION = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 20_000,  # milliseconds
}
HOLDER = "aggregator "
"""How the lock's connection names itself on PostgreSQL (``application_name``, then "pid N on HOST"): what a run that
finds the source busy names as the holder (``SourceLocks.holder``)."""


class SourceBusy(Exception):
    """Another run of the source holds its lock."""


class SourceResting(Exception):
    """The source's site asked (Retry-After) for no request before a time that has not come yet."""


def lock_key(source: str) -> int:
    """A stable signed 64-bit advisory-lock key for a source (the same on every host)."""
    digest = hashlib.blake2b(f"aggregator-run:{source}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _pg_locks_ids(key: int) -> tuple[int, int]:
    """How ``pg_locks`` shows a bigint advisory lock key: its high and low 32 bits as ``classid`` and ``objid``."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


@dataclass
class LockCheck:
    """What a look at the held locks found (``SourceLocks.check``)."""

    taken_again: list[str] = field(default_factory=list)
    """Lost with their connection, and taken again on a new one: no other run had started meanwhile."""
    lost: list[str] = field(default_factory=list)
    """Lost, and another run holds them now: this process's runs of these sources must stop."""
    waiting: list[str] = field(default_factory=list)
    """Lost, and not taken again yet: the server could not be reached (``why``); the next look tries again."""
    why: str | None = None
    """Why the locks were lost, or could not be taken again (the driver's words)."""


class SourceLocks:
    """Per-source locks on one archive; ``acquire`` returns the sources it could lock, the others are busy."""

    def __init__(self, db_url: str) -> None:
        self.url = make_url(normalise_url(db_url))
        self._files: list[IO[bytes]] = []
        self._engine: Any = None
        self._connection: Any = None
        self._held: list[str] = []
        """Sources whose advisory lock the connection holds (PostgreSQL)."""
        self._lost: list[str] = []
        """Sources whose lock went with a dropped connection and is not taken again yet."""
        self._mutex = threading.Lock()  # a check runs on a thread of its own (``LockWatch``), a release may not wait

    @property
    def advisory(self) -> bool:
        """Whether these are PostgreSQL advisory locks, held by a connection that can drop (a file lock cannot)."""
        return self.url.get_backend_name() == "postgresql"

    def _lock_file(self, source: str) -> Path | None:
        """The lock file of ``source``; None for a private in-memory database (no other process can run on it)."""
        database = sqlite_file(self.url.render_as_string(hide_password=False))
        if database is None:
            return None
        # The file's path as SQLite opens it: a URI filename's (``file:/srv/archive.db?mode=ro``) made the lock
        # ``./file:/srv/...`` under the working folder, which a run given the plain path did not see.
        return Path(f"{database.expanduser()}.{source}.lock")

    def _file_lock(self, source: str) -> bool:
        path = self._lock_file(source)
        if path is None:
            return True
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

    def _connect(self) -> None:
        named = {**_LOCK_CONNECTION, "application_name": f"{HOLDER}pid {os.getpid()} on {socket.gethostname()}"[:63]}
        self._engine = connect(self.url.render_as_string(hide_password=False), poolclass=NullPool, connect_args=named)
        try:
            self._connection = self._engine.connect()
        except BaseException:
            self._drop_connection()
            raise

    def _drop_connection(self) -> None:
        """Close the lock's connection (ending its locks, if it still had any) and its engine."""
        connection, engine = self._connection, self._engine
        self._connection = self._engine = None
        if connection is not None:
            with suppress(Exception):
                connection.close()
        if engine is not None:
            with suppress(Exception):
                engine.dispose()

    def _advisory_lock(self, source: str) -> bool:
        if self._connection is None:
            self._connect()
        got = self._connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": lock_key(source)}).scalar()
        self._connection.commit()
        if got:
            self._held.append(source)
        return bool(got)

    def acquire(self, sources: Sequence[str]) -> tuple[list[str], list[str]]:
        """Try to lock each source at once: (locked, busy)."""
        locked: list[str] = []
        busy: list[str] = []
        with self._mutex:
            for source in sources:
                ok = self._advisory_lock(source) if self.advisory else self._file_lock(source)
                (locked if ok else busy).append(source)
        return locked, busy

    def holder(self, source: str) -> str | None:
        """Who holds the lock of ``source`` ("pid 4242", "pid 4242 on crawler-2"), as far as can be told; None when
        it cannot (a holder of an older version, a server that does not say, the lock let go meanwhile). Said by a run
        that finds the source busy, so that its operator knows which process to look at."""
        if not self.advisory:
            path = self._lock_file(source)
            try:
                pid = path.read_text().strip() if path is not None else ""
            except OSError:
                return None
            return f"pid {pid}" if pid.isdigit() else None
        classid, objid = _pg_locks_ids(lock_key(source))
        try:
            engine = connect(
                self.url.render_as_string(hide_password=False), poolclass=NullPool, connect_args=_LOCK_CONNECTION
            )
            try:
                with engine.connect() as conn:
                    name = conn.execute(
                        text(
                            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.classid = :classid "
                            "AND l.objid = :objid"
                        ),
                        {"classid": classid, "objid": objid},
                    ).scalar()
            finally:
                engine.dispose()
        except SQLAlchemyError:
            return None
        return name.removeprefix(HOLDER) if isinstance(name, str) and name.startswith(HOLDER) else None

    def _still_held(self) -> set[str]:
        """The held sources whose lock the connection has (``pg_locks`` of this session: a connection that a pool or
        a driver made anew behind our back would answer a plain ``SELECT 1`` and hold nothing)."""
        rows = self._connection.execute(
            text(
                "SELECT classid::bigint, objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND objsubid = 1 AND pid = pg_backend_pid()"
            )
        ).all()
        self._connection.commit()
        have = {(int(classid), int(objid)) for classid, objid in rows}
        return {source for source in self._held if _pg_locks_ids(lock_key(source)) in have}

    def check(self) -> LockCheck:
        """Whether the connection still holds every lock taken; any it lost (the connection dropped) is taken again on
        a new connection when it is free, and reported ``lost`` when another run holds it now. Blocks on the server
        (run it off the reactor's thread); a file lock cannot be lost: nothing to do on SQLite."""
        found = LockCheck()
        with self._mutex:
            if not self.advisory or (not self._held and not self._lost):
                return found
            if self._held:
                try:
                    still = self._still_held() if self._connection is not None else set()
                except SQLAlchemyError as exc:
                    found.why = one_line(exc)
                    still = set()
                gone = [source for source in self._held if source not in still]
                if gone:
                    found.why = found.why or "the connection holding them no longer does"
                    self._drop_connection()  # its remaining locks, if any, go with it: taken again below
                    self._lost += self._held
                    self._held = []
            if not self._lost:
                return found
            try:
                taken, busy = self._take_again()
            except SQLAlchemyError as exc:
                self._drop_connection()
                self._held = []  # any taken before the failure went with the connection: still in ``_lost``
                found.why = one_line(exc)
                found.waiting = list(self._lost)
                return found
            self._lost = []
            found.taken_again, found.lost = taken, busy
            return found

    def _take_again(self) -> tuple[list[str], list[str]]:
        taken: list[str] = []
        busy: list[str] = []
        for source in list(self._lost):
            (taken if self._advisory_lock(source) else busy).append(source)
        return taken, busy

    def release(self) -> None:
        with self._mutex:
            for handle in self._files:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
                handle.close()
            self._files.clear()
            self._held.clear()
            self._lost.clear()
            self._drop_connection()  # closing the connection ends its advisory locks

    @contextmanager
    def held(self, sources: Sequence[str]) -> Iterator[tuple[list[str], list[str]]]:
        """Hold the locks of the ``sources`` that are free for the block; yields (locked, busy)."""
        try:
            yield self.acquire(sources)
        finally:
            self.release()


def busy_message(source: str, holder: str | None) -> str:
    """What a run that finds ``source`` locked says (a plain ``scrapy crawl``'s warning)."""
    by = f" by {holder}" if holder else ""
    return f"{source}: another run of this source is in progress (locked{by}); this run does not start"


def read_only_refusal(db_url: str, source: str) -> str | None:
    """What a plain ``scrapy crawl`` of ``source`` says when this process may only read the archive at ``db_url``
    (``aggregator.store.db.read_only_reason``), or None when it may write it: the run does not start, and not even its
    row can be written there, so the line is all that tells of it. ``aggregator crawl`` refuses the same archive
    before it starts, in the same words up to the consequence."""
    try:
        refuse_read_only(
            db_url,
            "a crawl writes to it; this run does not start, and cannot be recorded there: AGGREGATOR_DB_URL must "
            "name an archive this process may write",
        )
    except ArchiveReadOnly as exc:
        return f"{source}: {exc}"
    return None


@contextmanager
def source_locks(db_url: str, sources: Sequence[str]) -> Iterator[tuple[list[str], list[str]]]:
    """Hold the locks of the ``sources`` that are free for the block; yields (locked, busy)."""
    with SourceLocks(db_url).held(sources) as found:
        yield found


class LockWatch:
    """Looks, every ``interval`` seconds while the crawls run, whether ``locks`` still holds their sources' locks
    (``SourceLocks.check``, on a thread: a server that does not answer must not hold up the crawl), and stops the
    crawl of a source whose lock another run holds now (finish reason ``LOCK_LOST``).

    Before, a run whose lock had gone with its connection crawled on beside the run that took the lock, and that run
    marked it "left running" (failed) while it still wrote. Started at the first crawl's ``engine_started``, stopped
    when the last crawl's spider closes; nothing is looked at on SQLite, whose file locks cannot be lost."""

    def __init__(self, locks: SourceLocks, interval: float = LOCK_CHECK_SECONDS) -> None:
        self.locks = locks
        self.interval = interval
        self._crawlers: dict[str, Any] = {}
        self._open: set[str] = set()
        self._to_stop: set[str] = set()
        self._loop: Any = None

    @classmethod
    def interval_of(cls, settings: Any) -> float:
        return float(settings.getfloat("AGGREGATOR_LOCK_CHECK_SECONDS", LOCK_CHECK_SECONDS))

    def watch(self, source: str, crawler: Any) -> None:
        """Watch the lock of ``source``, whose crawl is ``crawler`` (before the crawl starts)."""
        if not self.locks.advisory or self.interval <= 0:
            return
        from scrapy import signals

        self._crawlers[source] = crawler
        self._open.add(source)
        crawler.signals.connect(self._started, signal=signals.engine_started, weak=False)
        crawler.signals.connect(lambda *_, **__: self._closed(source), signal=signals.spider_closed, weak=False)

    def _started(self) -> None:
        if self._loop is not None:
            return
        from twisted.internet.task import LoopingCall

        self._loop = LoopingCall(self._look)
        self._loop.start(self.interval, now=False)

    def _closed(self, source: str) -> None:
        self._open.discard(source)
        if not self._open:
            self.stop()

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def _look(self) -> Any:
        """One look, on a thread of the reactor's pool; the loop waits for it before the next."""
        from twisted.internet.threads import deferToThread

        looked = deferToThread(self.locks.check)
        looked.addCallback(self._found)
        looked.addErrback(lambda failure: logger.error("Could not look at the crawl's locks: %s", failure.value))
        return looked

    def _found(self, found: LockCheck) -> None:
        for source in found.taken_again:
            logger.warning(
                "%s: the connection holding this run's lock dropped (%s); no other run had taken the lock: taken "
                "again", source, found.why,
            )  # fmt: skip
        if found.waiting:
            logger.warning(
                "%s: the connection holding this run's lock dropped (%s) and the lock cannot be taken again yet: "
                "trying again in %g s", ", ".join(found.waiting), found.why, self.interval,
            )  # fmt: skip
        for source in found.lost:
            logger.error(
                "%s: the connection holding this run's lock dropped (%s) and another run of this source holds the "
                "lock now: this run stops, and leaves the source to that one", source, found.why,
            )  # fmt: skip
            self._to_stop.add(source)
        for source in sorted(self._to_stop):
            if self._stop(source):
                self._to_stop.discard(source)

    def _stop(self, source: str) -> bool:
        """Close the crawl of ``source`` as ``LOCK_LOST``; False while its engine is not running yet (next look)."""
        from scrapy.utils.defer import deferred_from_coro

        from aggregator.shutdown import closing_or_done

        crawler = self._crawlers.get(source)
        if crawler is None or closing_or_done(crawler):
            return True
        engine = getattr(crawler, "_engine", None)
        if engine is None or not engine.running:
            return False
        if crawler.stats is not None:
            crawler.stats.set_value("aggregator/lock_lost", 1)
        deferred_from_coro(engine.close_spider_async(reason=LOCK_LOST))
        return True


class RunLock:
    """Scrapy extension: a run started by plain ``scrapy crawl`` (Scrapyd's jobs, a developer's shell) takes its
    source's lock too, so it never overlaps another run of the source.

    ``aggregator crawl`` locks its sources before it starts the crawl (``AGGREGATOR_LOCKED_SOURCES``) and
    scale-out workers share a frontier on purpose (``AGGREGATOR_REDIS_URL``): for those this extension stays off.
    Otherwise it locks the spider's source when the crawler is built, before any pipeline opens, watches it while the
    crawl runs (``LockWatch``), and releases it when the crawl's engine stops. A run that finds the source locked by
    another, or held back by its site's Retry-After (aggregator/backoff.py), or that may only read its archive, does
    not start (``RefusedRun``).
    """

    def __init__(self, db_url: str, source: str, *, mirror: bool = False) -> None:
        """Lock ``source``; raises ``SourceBusy`` when another run holds it, ``SourceResting`` while its site's
        Retry-After holds its runs back (``mirror``: the holds a mirror asked for, not the real site). The archive
        is one this process may write (``from_crawler`` asks first)."""
        self.source = source
        self._locks = SourceLocks(db_url)
        _, busy = self._locks.acquire([source])
        if busy:
            self._locks.release()
            raise SourceBusy(busy_message(source, self._locks.holder(source)))
        from aggregator.backoff import resting_sources

        until = resting_sources(db_url, [source], mirror=mirror).get(source)
        if until is not None:
            self._locks.release()
            raise SourceResting(
                f"{source}: its site asked for no request before {until.isoformat(timespec='seconds')} "
                "(Retry-After); this run does not start"
            )
        self._watch: LockWatch | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> RunLock | RefusedRun:
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
        # An archive it may not write: the lock file could not be made beside it, or the store failed as the spider
        # opened; raised from here, either ended the run in asyncio's "Task exception was never retrieved" and a
        # traceback (exit status 1), which read as a crash.
        read_only = read_only_refusal(settings["AGGREGATOR_DB_URL"], source)
        if read_only:
            return RefusedRun.of(crawler, ARCHIVE_READ_ONLY, read_only, level=logging.ERROR)
        try:
            extension = cls(settings["AGGREGATOR_DB_URL"], source, mirror=bool(settings.get("AGGREGATOR_MIRROR")))
        except SourceBusy as exc:
            return RefusedRun.of(crawler, SOURCE_BUSY, str(exc))
        except SourceResting as exc:
            return RefusedRun.of(crawler, SOURCE_HELD, str(exc))
        if settings.getbool("TWISTED_REACTOR_ENABLED", True):  # the watch's loop and thread are the reactor's
            extension._watch = LockWatch(extension._locks, LockWatch.interval_of(settings))
            extension._watch.watch(source, crawler)
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    @staticmethod
    def held_by(crawler: Any) -> bool:
        """Whether this crawl holds its source's lock through the extension (built before any pipeline)."""
        extensions = getattr(crawler, "extensions", None)
        return any(isinstance(e, RunLock) for e in getattr(extensions, "middlewares", ()))

    def engine_stopped(self) -> None:
        if self._watch is not None:
            self._watch.stop()
        self._locks.release()


REFUSED = 100
"""The priority of the settings a refused run is given: above the command line's (40), so that no ``-s`` brings back
what it must not start."""
NOTHING_STARTS: dict[str, Any] = {
    "ITEM_PIPELINES": {},  # the store's would record a run, and close the holder's as left running
    "SPIDER_MIDDLEWARES": {},  # the incremental one reads the archive's known articles
    "DOWNLOADER_MIDDLEWARES": {},
    # Scrapy's own scheduler: a scale-out worker's (aggregator.scaleout) would go to the Redis it was refused for
    "SCHEDULER": "scrapy.core.scheduler.Scheduler",
    "DUPEFILTER_CLASS": "scrapy.dupefilters.RFPDupeFilter",
    "SPIDERMON_SPIDER_OPEN_MONITORS": [],
    "SPIDERMON_SPIDER_CLOSE_MONITORS": [],  # the health verdict of a run that fetched nothing: red, and wrong
    "SPIDERMON_PERIODIC_MONITORS": {},
}
"""What a refused run is left without (``RefusedRun``): the project's pipelines and middlewares, the health
monitors, and a scale-out worker's shared scheduler. Scrapy's own stay, and the engine only opens and closes the
spider."""


class RefusedRun:
    """An extension in a plain ``scrapy crawl`` that must not start, in its place: ``RunLock``'s (its source is locked
    by another run, held back by its site's Retry-After, or its archive is read-only) or
    ``aggregator.scaleout.FrontierCheck``'s (a scale-out worker whose Redis cannot be used). One line says why (a
    WARNING for a run that only has to wait its turn, an ERROR for one that cannot run until the operator acts), and
    the spider is closed as it opens, with the finish reason (``SOURCE_BUSY``, ``SOURCE_HELD``, ``ARCHIVE_READ_ONLY``,
    ``FRONTIER_UNREACHABLE``) in its stats, before the crawl has touched the archive (a refused scale-out worker's
    row is recorded before, as ``aggregator crawl`` records it): Scrapy exits with status 0, as for any closed spider
    (a Scrapyd job "finished").

    Raised from the extension's ``from_crawler``, the refusal ended the run in asyncio's "Task exception was never
    retrieved" and a 22-line traceback (exit status 1), which read as a crash, in every Scrapyd job scheduled while
    another ran. Built before the engine (the settings are not frozen yet), it takes from the crawl what would start
    (``NOTHING_STARTS``): the spider opens with nothing to open, and ``CloseSpider`` at ``spider_opened`` closes it
    before its start requests are read."""

    def __init__(self, reason: str, message: str, stats: dict[str, Any] | None = None) -> None:
        self.reason = reason
        self.message = message
        self.stats = dict(stats or {})
        """Stats the refused run closes with, beside its finish reason (a scale-out worker's ``FRONTIER_PROBLEM``)."""

    @classmethod
    def of(
        cls,
        crawler: Any,
        reason: str,
        message: str,
        *,
        level: int = logging.WARNING,
        stats: dict[str, Any] | None = None,
    ) -> RefusedRun:
        from scrapy import signals

        logger.log(level, "%s", message)
        for name, value in NOTHING_STARTS.items():
            crawler.settings.set(name, value, priority=REFUSED)
        refused = cls(reason, message, stats)
        crawler.signals.connect(refused.spider_opened, signal=signals.spider_opened)
        return refused

    def spider_opened(self, spider: Any) -> None:
        from scrapy.exceptions import CloseSpider

        stats = getattr(getattr(spider, "crawler", None), "stats", None)
        if stats is not None:
            for key, value in self.stats.items():
                stats.set_value(key, value)
        raise CloseSpider(self.reason)
