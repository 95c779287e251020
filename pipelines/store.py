"""Store: write articles, their raw snapshots and every rejection to the archive, in batched transactions.

Batches are written by the archive's writer (``aggregator.store.writer``: a process beside the crawl by default,
so the writes take neither the crawler's CPU nor its GIL). An item whose batch is being written waits for it
(back-pressure), and closing the spider waits for every batch.

Also the crawl's bookkeeping: a ``crawl_runs`` row per run, and a quarantine row for each
item any pipeline refused (``item_dropped``) or failed on (``item_error``) and each page that could not be fetched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections import deque
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, Future
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.settings import BaseSettings
from sqlalchemy.exc import SQLAlchemyError
from twisted.python.failure import Failure

from aggregator.health_checks import STORE_ERRORS
from aggregator.items import GONE_STATUSES, ArticleItem, ExtractionFailure, FetchFailure, NotModifiedPage
from aggregator.locks import LOCK_LOST, RunLock
from aggregator.run_counts import CRAWL_ID
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.db import one_line, shown_url
from aggregator.store.models import CrawlRun, utcnow
from aggregator.store.repository import RedirectRecord, RejectRecord, SaveResult
from aggregator.store.writer import WRITER_KINDS, WRITERS, connect, write_batch
from aggregator.urls import linked_url
from pipelines.base import Pipeline, fault

logger = logging.getLogger(__name__)

RUN_STATUS = {
    "finished": "finished",
    "shutdown": "partial",
    "cancelled": "partial",
    "rate_limited": "partial",  # aggregator/backoff.py
    "closespider_timeout": "partial",  # AGGREGATOR_MAX_RUN_MINUTES
    LOCK_LOST: "partial",  # its lock went with its connection, and another run holds it now (aggregator/locks.py)
}


STORE_PROGRESS = object()
"""A signal the store answers with ``StorePipeline.progress``: a scale-out worker lets go of its requests' leases once
what they led to is written (``aggregator.scaleout``)."""


class ArchiveUnwritable(RuntimeError):
    """The store could not open the archive, or write the run's row, when the spider opened: the crawl does not
    start. The message is one line, the database's own reason in it."""


class StorePipeline(Pipeline):
    stage = "store"

    def __init__(self, crawler: Crawler, db_url: str, batch_size: int, writer: str = "process") -> None:
        super().__init__(crawler.stats)
        if writer not in WRITER_KINDS:
            raise ValueError(f"AGGREGATOR_STORE_WRITER must be one of {', '.join(WRITER_KINDS)}, not {writer!r}")
        self.crawler = crawler
        self.db_url = db_url
        self.batch_size = max(1, batch_size)
        self.writer_kind = writer
        self.archive: Archive | None = None
        self.run_id: int | None = None
        self.source: str | None = None
        self._articles: list[ArticleItem] = []
        self._rejects: list[RejectRecord] = []
        self._seen: list[str] = []
        self._redirects: list[RedirectRecord] = []
        self._site_answered = False
        self._held: list[RejectRecord] = []
        self._writer: Executor | None = None
        self._pending: list[tuple[Future[SaveResult | str], int]] = []
        self._batches = 0
        """Batches handed to the writer so far."""
        self._unwritten: deque[Future[SaveResult | str]] = deque()
        self._written = 0
        """Of those, how many the writer is through with, in order (``progress``)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        pipeline = cls(
            crawler,
            db_url=crawler.settings.get("AGGREGATOR_DB_URL"),
            batch_size=crawler.settings.getint("AGGREGATOR_STORE_BATCH", 100),
            writer=crawler.settings.get("AGGREGATOR_STORE_WRITER", "process"),
        )
        crawler.signals.connect(pipeline.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(pipeline.item_error, signal=signals.item_error)
        crawler.signals.connect(pipeline.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipeline.progress, signal=STORE_PROGRESS)
        return pipeline

    # -- the spider's life ---------------------------------------------------------------------------

    def open_spider(self) -> None:
        """Open the archive and start the run's row. An archive that cannot be written (a read-only or immutable
        file, a full disk, a database that refuses the connection) raises ``ArchiveUnwritable`` with the database's
        own words: the crawl does not start, and ``aggregator crawl`` says why. Without them the run ended "with
        None", nothing fetched, and its health red for "no article found on the listings", which sent the operator
        to the site's layout."""
        spider = self.crawler.spider
        name = spider.name if spider else "unknown"
        source = self.source = getattr(spider, "source_key", name)
        try:
            self.archive = Archive.open(self.db_url)
            self.archive.sync_sources(all_sources())
            self._abandon_stale_runs(source)
            # A scale-out worker's crawl, which its scheduler (opened before the pipelines) found or began in Redis
            crawl_id = self.stats.get_value(CRAWL_ID) if self.stats else None
            self.run_id = self.archive.start_run(
                source=source, spider=name, host=socket.gethostname(), pid=os.getpid(), crawl_id=crawl_id
            )
        except (SQLAlchemyError, OSError) as exc:
            if self.archive is not None:
                with contextlib.suppress(Exception):
                    self.archive.close()
                self.archive = None
            raise ArchiveUnwritable(f"the archive cannot be written: {one_line(exc)}") from exc
        self._writer = WRITERS.acquire(self.writer_kind)
        self._to_writer(connect, self.db_url)  # the writer connects while the first pages are fetched
        logger.info("Archiving into %s (run %s)", shown_url(self.archive.engine.url), self.run_id)

    def _abandon_stale_runs(self, source: str) -> None:
        """Close the rows that runs killed mid-way (SIGKILL, power loss) left "running", so that ``runs`` and the
        health history tell the truth: their process is gone from this host, they are older than
        ``AGGREGATOR_STALE_RUN_HOURS``, or this run holds the source's lock (no live run of it should exist).

        Never a run whose process is alive on this host, lock or not: a run whose lock went with its connection (an
        idle timeout, a failover) is still crawling, and was marked failed under it by the run that took the lock
        (it stops by itself when it finds the lock taken: ``aggregator.locks.LockWatch``). A pid that another process
        has taken since (it started after the run did) is no live run."""
        assert self.archive is not None
        settings = self.crawler.settings
        host = socket.gethostname()
        locked = source in settings.getlist("AGGREGATOR_LOCKED_SOURCES") or RunLock.held_by(self.crawler)
        oldest = utcnow() - timedelta(hours=settings.getfloat("AGGREGATOR_STALE_RUN_HOURS", 6.0))

        def is_stale(run: CrawlRun) -> bool:
            if run.host == host and run.pid is not None and run.pid != os.getpid():
                return not _runs_since(run.pid, run.started_at)
            return locked or run.started_at < oldest

        for run in self.archive.abandon_stale_runs(source, is_stale=is_stale):
            logger.warning(
                "Run %s of %s (pid %s on %s) was left running: marked failed", run.id, source, run.pid, run.host
            )

    async def close_spider(self) -> None:
        if self._held:
            self.count("withdrawals_held", len(self._held))
            logger.warning(
                "%s: %d archived article(s) answered HTTP 404/410 while no page of the site answered in this run: "
                "not withdrawn (the site may be down or misconfigured; a later run that reaches it decides)",
                self.source, len(self._held),
            )  # fmt: skip
            self._held = []
        self._submit()
        await self.drain()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self._writer is not None:
            self._harvest(wait=True)
            self._writer = None
            try:
                WRITERS.release(self.writer_kind)
            except Exception as exc:  # the writer process died (killed, out of memory): the run is recorded anyway
                logger.error("The archive writer failed while closing: %s: %s", type(exc).__name__, exc)
        if self.archive is None or self.run_id is None:
            return
        raw = self.stats.get_stats() if self.stats else {}
        health = raw.get("aggregator/health/verdict")
        stats = {k: _jsonable(v) for k, v in raw.items() if k != "aggregator/health/verdict"}
        status, reason = run_status(reason, int(raw.get(STORE_ERRORS) or 0))
        self.archive.finish_run(
            self.run_id,
            status=status,
            reason=reason,
            stats=stats,
            health=health if isinstance(health, dict) else None,
        )
        self._prune_runs()
        self.archive.close()

    def _prune_runs(self) -> None:
        """Delete this source's run rows older than ``AGGREGATOR_RUNS_KEEP_DAYS``: a crawl scheduled every few
        minutes would otherwise add tens of thousands a year. A failure here costs nothing but the pruning."""
        assert self.archive is not None
        settings = self.crawler.settings
        days = settings.getfloat("AGGREGATOR_RUNS_KEEP_DAYS", 90.0)
        source = self.source
        if days <= 0 or source is None:  # no source: never every source's rows
            return
        try:
            removed = self.archive.prune_runs(
                older_than=utcnow() - timedelta(days=days), keep=runs_to_keep(settings), source=source
            )
        except Exception as exc:  # the run itself is recorded already
            logger.warning("Could not delete the old run rows of %s: %s: %s", source, type(exc).__name__, exc)
            return
        if removed:
            logger.info("Deleted %d run row(s) of %s older than %g days", sum(removed.values()), source, days)

    # -- items ---------------------------------------------------------------------------------------

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, ArticleItem):
            self.count("articles")
            self._articles.append(item)
            self._answered()
        elif isinstance(item, FetchFailure):
            self.count("http_errors")
            record = RejectRecord(
                item.source, item.url, "fetch", item.reason, http_status=item.http_status, linked_url=item.linked_url
            )
            if item.entry:
                record.withdraws = False  # a listing, feed or sitemap gone: no article is
            elif item.http_status in GONE_STATUSES and not self._site_answered:
                # A site that answers 404 for everything (down, a broken deploy, a CDN misconfigured) would have
                # every archived article the run asks for withdrawn: the withdrawal waits for a page that answers.
                record.withdraws = False
                self._held.append(replace(record, withdraws=True, only_withdraws=True))
            self._rejects.append(record)
        elif isinstance(item, ExtractionFailure):
            self._rejects.append(RejectRecord.of_page(item, "extract", item.reason))
            self._answered()
        elif isinstance(item, NotModifiedPage):
            self._seen.append(item.url)
            self._answered()
        if self._buffered() >= self.batch_size:
            future = self._submit()
            if future is not None:
                await _settled(future)
        return item

    def item_dropped(self, item: Any, response: Response | None, exception: Exception, spider: Spider) -> None:
        stage = getattr(exception, "stage", "pipeline")
        self._quarantine(item, stage, getattr(exception, "reason", None) or str(exception))

    def item_error(self, item: Any, response: Response | None, spider: Spider, failure: Failure) -> None:
        self.count("rejected/error")
        self._quarantine(item, "error", fault(failure.value or RuntimeError(failure.getErrorMessage())))

    def request_dropped(self, request: Any, spider: Spider) -> None:
        """A redirect that led to a page this run had already asked for (the duplicate filter dropped it): kept, so
        that the next run knows the page by the address the listing links (``aggregator.incremental``)."""
        linked = linked_url(request.meta, request.url)
        if linked:
            self._redirects.append(RedirectRecord(self.source, linked, request.url))

    def _answered(self) -> None:
        """A page of the site answered (an article, refused or not, or a 304): withdrawals held back go ahead."""
        if not self._site_answered:
            self._site_answered = True
            self._rejects += self._held
            self._held = []

    def _quarantine(self, item: Any, stage: str, reason: str) -> None:
        if isinstance(item, ArticleItem):
            record = RejectRecord.of_page(item, stage, reason)
            self._answered()
        else:
            record = RejectRecord(None, str(getattr(item, "url", "")), stage, reason)
        self._rejects.append(record)
        if len(self._rejects) >= self.batch_size:
            self._submit()

    # -- writing -------------------------------------------------------------------------------------

    def _submit(self) -> Future[SaveResult | str] | None:
        """Hand the buffered batch to the writer (batches are written one at a time, in order)."""
        size = self._buffered()
        if self._writer is None or not size:
            return None
        articles, rejects, seen, redirects = self._articles, self._rejects, self._seen, self._redirects
        self._articles, self._rejects, self._seen, self._redirects = [], [], [], []
        try:
            future = self._to_writer(write_batch, self.db_url, articles, rejects, self.run_id, seen, redirects)
        except Exception as exc:  # no writer can be started: this batch is not stored (its pages come next run)
            logger.error("Could not write a batch of %d item(s) to the archive: %s", size, _writer_failed(exc))
            self.count("store_errors", size)
            return None
        self._harvest()
        self._pending.append((future, size))
        self._batches += 1
        self._unwritten.append(future)
        return future

    def progress(self, flush: bool = False) -> tuple[int, int]:
        """(the number of the batch that holds, or will hold, every item given to the store so far; how many
        batches the writer is through with): what was given before this call is written once the second reaches
        the first. Through, a batch the writer failed on too: its items are counted as store errors (the run fails),
        and waiting would not bring them back. ``flush``: hand what is buffered to the writer first."""
        if flush:
            self._submit()
        while self._unwritten and self._unwritten[0].done():  # the writer writes the batches one at a time, in order
            self._unwritten.popleft()
            self._written += 1
        return self._batches + (1 if self._buffered() else 0), self._written

    def _to_writer(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Submit to the writer; one whose process died (killed, out of memory) is replaced first, for every
        pipeline that shared it, so that one lost process costs only the batches it had not written."""
        assert self._writer is not None
        try:
            return self._writer.submit(fn, *args)
        except BrokenExecutor as exc:
            logger.error("The archive writer failed (%s): starting a new one", _writer_failed(exc))
            self.count("writer_restarts")
            self._writer = WRITERS.replace_broken(self.writer_kind, self._writer)
            return self._writer.submit(fn, *args)

    def _buffered(self) -> int:
        return len(self._articles) + len(self._rejects) + len(self._seen) + len(self._redirects)

    def _harvest(self, wait: bool = False) -> None:
        """Count what the written batches did, in the crawling thread (the only place stats are counted)."""
        still: list[tuple[Future[SaveResult | str], int]] = []
        for future, size in self._pending:
            if not wait and not future.done():
                still.append((future, size))
                continue
            try:
                result = future.result()
            except Exception as exc:  # the writer process died (killed, out of memory): this batch is not stored
                result = _writer_failed(exc)
            if isinstance(result, str):
                logger.error("Could not write a batch of %d item(s) to the archive: %s", size, result)
                self.count("store_errors", size)
                continue
            self.count("articles_new", result.new)
            self.count("articles_updated", result.updated)
            self.count("articles_unchanged", result.unchanged)
            self.count("quarantined", result.rejected)
            if result.withdrawn:
                self.count("articles_withdrawn", result.withdrawn)
            if result.restored:
                self.count("articles_restored", result.restored)
            if result.undated:
                self.count("articles_undated", result.undated)
        self._pending = still

    async def drain(self) -> None:
        """Wait until every submitted batch is written."""
        for future, _ in list(self._pending):
            await _settled(future)
        self._harvest(wait=True)


async def _settled(future: Future[Any]) -> None:
    """Wait for a batch (back-pressure); whether it was written is counted by ``_harvest``, not raised here."""
    with contextlib.suppress(Exception):
        await asyncio.wrap_future(future)


def _writer_failed(exc: BaseException) -> str:
    return f"the archive writer failed: {type(exc).__name__}: {exc}"


def run_status(reason: str, store_errors: int = 0) -> tuple[str, str]:
    """The run row's status and finish reason for Scrapy's finish ``reason``. A run that lost items to store errors
    failed, however it finished: it was "finished" (and its health green) while ``aggregator crawl`` exited 1 for the
    items it could not write, so ``runs`` and ``metrics`` hid what the exit status said. Its reason keeps Scrapy's
    and adds the count (the column holds 100 characters)."""
    if store_errors:
        return "failed", f"{reason}: {store_errors} item(s) not stored"[:100]
    return RUN_STATUS.get(reason, "failed"), reason


def runs_to_keep(settings: BaseSettings) -> int:
    """How many newest runs each source keeps whatever their age: enough for the health check's history."""
    return max(settings.getint("AGGREGATOR_RUNS_KEEP_MIN", 20), settings.getint("AGGREGATOR_HEALTH_HISTORY", 10))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


PID_START_SLACK = timedelta(seconds=2)
"""How much later than its run's row a process may seem to have started (the boot time /proc gives is whole seconds)."""


def _runs_since(pid: int, started_at: datetime) -> bool:
    """Whether process ``pid`` is alive on this host and is the one that started a run at ``started_at``: alive, and
    not started after it (where /proc says when it started; elsewhere, alive is taken as the run's)."""
    if not _alive(pid):
        return False
    began = _process_started(pid)
    if began is None:
        return True
    when = started_at if started_at.tzinfo is not None else started_at.replace(tzinfo=UTC)
    return began <= when + PID_START_SLACK


def _process_started(pid: int) -> datetime | None:
    """When process ``pid`` started, from Linux's /proc (None where it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        ticks = int(fields[19])  # starttime, the 22nd field: clock ticks after boot
        boot = next(
            int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime ")
        )
        return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC)
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)
