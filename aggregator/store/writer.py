"""The archive's writer: where the store pipeline's batches are written, beside the crawl.

By default a writer process (one per crawling process, shared by every spider in it): compressing snapshots,
sketching bodies, matching stories and waiting on the database then take neither the crawler's CPU nor its GIL, so
on a machine with two cores the crawl and the writes run side by side. ``AGGREGATOR_STORE_WRITER=thread`` writes
from a thread of the crawling process instead (one process fewer). This module imports neither Scrapy nor Twisted:
it is all that the writer process loads (``spawn`` would re-import the program's main module too: see
``_bare_main``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import types
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager

from sqlalchemy.exc import InterfaceError, OperationalError

from aggregator.items import ArticleItem
from aggregator.store import db
from aggregator.store.repository import Archive, RedirectRecord, RejectRecord, SaveResult, minhash_of

logger = logging.getLogger(__name__)

WRITER_KINDS = ("process", "thread")
PARENT_CHECK_SECONDS = 0.5
WRITER_SQLITE_CACHE_KIB = 16_384


class SharedWriters:
    """One writer per crawling process and kind, shared by the store pipelines of every spider it runs (``crawl
    --all`` runs them all in one process): started by the first spider to open, shut down when the last closes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executors: dict[str, Executor] = {}
        self._users: dict[str, int] = {}

    def acquire(self, kind: str) -> Executor:
        with self._lock:
            executor = self._executors.get(kind)
            if executor is None:
                executor = self._executors[kind] = _start(kind)
            self._users[kind] = self._users.get(kind, 0) + 1
            return executor

    def replace_broken(self, kind: str, broken: Executor) -> Executor:
        """A new writer in place of one whose process died (killed, out of memory), for every pipeline that shared
        it: the first to find it broken starts the new one, the others get that one."""
        with self._lock:
            current = self._executors.get(kind)
            if current is not None and current is not broken:
                return current
            executor = self._executors[kind] = _start(kind)
        broken.shutdown(wait=False, cancel_futures=True)
        return executor

    def release(self, kind: str) -> None:
        with self._lock:
            self._users[kind] -= 1
            if self._users[kind]:
                return
            executor = self._executors.pop(kind)
        executor.submit(_close_archives).result()
        executor.shutdown(wait=True)


def _start(kind: str) -> Executor:
    if kind != "process":
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-writer")
    # spawn, not fork: the crawling process has threads (Twisted's pool, the reactor) that a fork would copy in
    # whatever state they are in.
    executor = ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_writer_started,
        initargs=(os.getpid(),),
    )
    with _bare_main(), _stops_held():  # the process starts here, in the first call (and is sent what to import)
        executor.submit(_started)
    return executor


STOPS = frozenset({signal.SIGINT, signal.SIGTERM})


@contextmanager
def _stops_held() -> Iterator[None]:
    """The writer process is born with SIGINT and SIGTERM blocked, and unblocks them once it ignores them
    (``_writer_started``). It takes a second or so to import what it runs before that: a ``systemctl stop`` (which
    signals every process of the unit) or a Ctrl-C in that second killed it, and the crawl, stopping gracefully,
    could not write what it had fetched ("The archive writer failed while closing: BrokenProcessPool"). A blocked
    signal waits, and one that is ignored when it is unblocked is dropped.

    The mask is blocked in this thread only, while it starts the process (a child inherits its forking thread's);
    a signal for the crawl in the meantime goes to another thread of it, or waits the few milliseconds."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


WRITERS = SharedWriters()


@contextmanager
def _bare_main() -> Iterator[None]:
    """While a writer process starts, the program's main module is an empty one: ``spawn`` re-imports the main
    module in the new process (the ``aggregator`` command's would load the whole CLI there, ~15 MiB), and the
    writer needs nothing of it (what it runs is named by this module's path)."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


# -- what runs in the writer (its process, or its thread) -----------------------------------------------------

_archives: dict[str, Archive] = {}
_archives_lock = threading.Lock()


def _writer_started(parent: int) -> None:
    """A writer process leaves interrupts and termination requests to its parent, and ends when its parent is gone:
    a crawl killed with SIGKILL cannot tell it to, and the pipe it reads its batches from stays open (the process
    holds both of its ends).

    Ctrl-C reaches every process of the terminal's foreground group, and ``systemctl stop`` sends SIGTERM to every
    process of the unit: the crawl then stops gracefully, storing what it has fetched, and this process must live
    until it has written that and is shut down (a SIGKILL, systemd's after its stop timeout, still ends it).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)  # blocked from its birth (``_stops_held``)
    # The crawl's batches (AGGREGATOR_STORE_BATCH, 100 articles) dirty a few MiB of pages: a quarter of the page
    # cache bulk imports get is plenty, and the crawl's memory is the crawler's plus this process's.
    db.SQLITE_CACHE_KIB = WRITER_SQLITE_CACHE_KIB
    threading.Thread(target=_exit_with, args=(parent,), name="archive-writer-parent", daemon=True).start()


def _exit_with(parent: int) -> None:
    """Exit once the parent process is gone. A batch being written then is rolled back with its transaction (the
    killed crawl fetches those pages again next time), so the archive holds it whole or not at all."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    logger.warning("The crawl (pid %d) is gone: its archive writer exits", parent)
    os._exit(1)


def _open_archive(db_url: str) -> Archive:
    with _archives_lock:
        archive = _archives.get(db_url)
        if archive is None:
            archive = _archives[db_url] = Archive.open(db_url, migrate=False)  # the pipeline migrated it
        return archive


def _started() -> None:
    """The first call, which starts the process."""


def connect(db_url: str) -> None:
    _open_archive(db_url)


def _close_archives() -> None:
    with _archives_lock:
        for archive in _archives.values():
            archive.close()
        _archives.clear()


def write_batch(
    db_url: str,
    articles: list[ArticleItem],
    rejects: list[RejectRecord],
    run_id: int | None,
    seen: list[str] | None = None,
    redirects: list[RedirectRecord] | None = None,
) -> SaveResult | str:
    """Write one batch (and when the articles answered 304 were last seen, and the redirects the crawl did not
    follow); a failure comes back as its one-line summary (database errors do not always pickle)."""
    try:
        for item in articles:  # sketched here when the dedupe step left it to the writer: before the transaction
            item.minhash = minhash_of(item)
        archive = _open_archive(db_url)
        try:
            result = archive.save(articles, rejects, run_id=run_id) if articles or rejects else SaveResult()
        except Exception as exc:
            if len(articles) < 2 and not (articles and rejects):
                raise
            result = _one_at_a_time(archive, articles, rejects, run_id, exc)
        if seen:
            result.restored += archive.mark_seen(seen)
        if redirects:
            archive.record_redirects(redirects)
        return result
    except Exception as exc:
        logger.exception("Could not write %d article(s), %d reject(s) to the archive", len(articles), len(rejects))
        return _summary(exc)


def _one_at_a_time(
    archive: Archive, articles: list[ArticleItem], rejects: list[RejectRecord], run_id: int | None, error: Exception
) -> SaveResult:
    """The batch failed as a whole: each article alone, so that one the database refuses (a value it cannot keep)
    costs only itself. Such an article becomes a reject of the ``store`` stage, with the error, its item and its page
    (retried like any other refusal); the batch's rejects follow. A database that refuses everything (it is down)
    raises as before."""
    logger.warning("A batch of %d article(s) could not be written (%s): writing them one at a time", len(articles),
                   _summary(error))  # fmt: skip
    result = SaveResult()
    refused = list(rejects)
    for item in articles:
        try:
            one = archive.save([item], run_id=run_id)
        except (OperationalError, InterfaceError):
            raise  # the database, not this article (gone, locked, out of space): the batch fails as a whole
        except Exception as exc:
            logger.error("Could not store %s: %s", item.url, _summary(exc))
            refused.append(RejectRecord.of_page(item, "store", f"could not be stored: {_summary(exc)}"))
            continue
        result.new += one.new
        result.updated += one.updated
        result.unchanged += one.unchanged
        result.undated += one.undated
        result.new_ids += one.new_ids
        result.restored += one.restored
    if refused:
        last = archive.save([], refused, run_id=run_id)
        result.rejected, result.withdrawn = last.rejected, last.withdrawn
    return result


def _summary(exc: BaseException) -> str:
    """One line: the driver's own message for a database error (SQLAlchemy's adds the statement and parameters)."""
    orig = getattr(exc, "orig", None)
    error = orig if isinstance(orig, BaseException) else exc
    lines = "".join(traceback.format_exception_only(type(error), error)).strip().splitlines()
    return lines[0] if lines else type(error).__name__
