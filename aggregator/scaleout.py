"""Scale-out: any number of crawl processes, on any number of hosts, sharing one frontier in Redis (scrapy-redis).

With ``AGGREGATOR_REDIS_URL`` set (environment or ``-s``), the ``aggregator.addon`` add-on switches Scrapy's
scheduler to ``SharedScheduler`` (scrapy-redis's, which keeps the request queue and the duplicate filter in Redis) and
its duplicate filter to ``SharedDupeFilter`` (scrapy-redis's, over our canonical URLs). What scrapy-redis leaves to the
operator, and we do here:

- **When the frontier is drained.** A worker does not stop at the first empty queue (another worker may be parsing
  a listing that will fill it): it stays until the shared queue has been empty, and no
  worker busy, for ``AGGREGATOR_REDIS_IDLE_SECONDS``, then exits. The heartbeat starts that clock and wakes the
  engine when it has run out: the engine itself looks only every 5 s once it has nothing to do.
- **Crawl generations.** The duplicate filter and the request queue persist between workers (``SCHEDULER_PERSIST``:
  the first worker to finish must not flush them under the others' feet), so the filter would also stop the next
  scheduled crawl from ever fetching a listing again. Each worker registers itself in Redis with a heartbeat (a key
  renewed every ``HEARTBEAT_SECONDS`` that expires after ``AGGREGATOR_REDIS_HEARTBEAT_TTL``); a worker that starts
  when no other is alive begins a new generation by clearing the duplicate filter and the request queue (under a
  short Redis lock, so that workers starting together agree), and the last one to leave clears them too. The queue
  goes with the filter: requests an earlier crawl left (a worker stopped at its time limit, killed, or a ``--refresh``
  run's) were let through by that crawl's filter and incremental checks, not this one's, so they were fetched a
  second time in one crawl (351 pages), a refresh run's leftovers were re-fetched by the next incremental run, and
  the refused-page wait was bypassed. The new generation's spider starts from its entry URLs.
- **One crawl, several run rows.** The workers of one generation are one crawl: the first names it (a random id in
  Redis, under the same lock), the others read the name, and each worker's run row records it
  (``crawl_runs.crawl_id``), so that ``aggregator health`` judges the crawl whole and ``aggregator runs`` shows
  which runs were one crawl.
- **A killed worker loses nothing.** scrapy-redis pops a request out of Redis: a SIGKILLed worker took with it
  every request it had popped and not seen through, up to ``CONCURRENT_REQUESTS`` of them, often a source's whole
  queue (the other workers, their queue empty and every link in the duplicate filter, fetched none of them, and
  the crawl ended green with no article of the source). So a worker leases what it pops: one Lua script takes the
  request out of the queue and records it under the worker's name (``leases:<host:pid>``, with its score), and the
  lease is let go only once what the request led to is safe: its links in the queue, its items written to the
  archive (the store's batches: ``StorePipeline.progress``). While another worker holding leases is busy (its
  heartbeat says how many of its requests are in progress), a worker whose queue is empty does not start its idle
  wait: that worker may still queue links, or be dead with its heartbeat not yet expired. A worker whose heartbeat
  has expired with leases is gone: the first worker to notice (every ``HEARTBEAT_SECONDS``, and as it joins)
  puts them back in the queue in one script, past the duplicate filter, says so in the log, and counts them
  (``REQUEUED_FOR``: its run's verdict is red for it, and ``aggregator health`` says which run was killed). A page
  fetched twice so is stored once: articles are written in whole transactions keyed by canonical URL. What no
  worker was left to take up (every worker exited before the killed one's heartbeat expired, which they do only
  when it was not busy) goes with its generation: a new one starts from an empty queue, fetches the listings
  again, and the incremental crawl (``aggregator.incremental``) fetches every linked article not archived yet.
  Only scrapy-redis's priority queue (the one ``redis_settings`` names) is leased; another queue class pops as
  scrapy-redis does.
- **What the queue holds runs no code.** scrapy-redis pickles the requests it queues, and unpickled every entry a
  worker popped: one entry written by anyone who could write to the Redis ran their code in every worker. The queue
  holds JSON instead (``SCHEDULER_SERIALIZER``: ``aggregator.queue_codec``), and an entry that is none of ours (a
  pickle an earlier release left, garbage, JSON of another shape, a callback that is no public method of the spider)
  is dropped unread as it is popped, its lease let go, counted (``QUEUE_ENTRIES_DROPPED``) and said in one line a
  pop. A request the codec cannot write (a value of no JSON kind in its meta) is a bug: said, counted
  (``UNQUEUEABLE``: the run is red) and not fetched, never pickled. A new generation empties the queue, pickles of an
  earlier release with it.
- **Redis outages.** No Redis error reaches Scrapy: one raised by ``enqueue_request`` inside the scraper's handling of
  a listing's links left the scraper never idle, and the worker hung for good, SIGTERM or not, its run "running"
  (which stops ``aggregator schedule``); one raised by ``next_request`` filled the log with tracebacks until the run's
  time limit, which it then reported as a success. While Redis does not answer, the requests a worker finds are held
  in its memory and pushed when Redis answers again, and Redis is asked at most once a ``RETRY_SECONDS`` (each try
  blocks the reactor for the client's timeouts). A link whose SADD to the duplicate filter failed is pushed whatever
  the filter says then: the SADD may have been carried out with its answer lost, and the filter would call the link
  seen because of it (a frozen Redis lost one link of 310 so). An outage longer than
  ``AGGREGATOR_REDIS_OUTAGE_SECONDS`` ends the worker's run with the finish reason ``frontier_lost`` (a failed run,
  exit status 1), as does finding, when Redis answers again, that another worker has begun a new crawl meanwhile
  (this worker's heartbeat expired) or that Redis lost the frontier. The close itself only tries Redis once, and
  says what it could not do rather than raising. The heartbeat survives errors: a LoopingCall stops for good at its
  first exception, and a worker whose heartbeat stopped was taken for dead by the next one to start, which began a
  new generation (clearing the filter) under its feet.
- **A Redis that fails from the start.** Nothing answering at the address, a wrong password, a read-only replica
  (a failover's old primary: it answers a PING and refuses every write): the scheduler's first commands fail as the
  engine opens the spider. Raised, that ended the run in Scrapy's tracebacks ("Engine slot not assigned"), with no
  run row and a summary line without the address. The worker's run is recorded instead and ends at once, failed
  and red, with the finish reason ``frontier_unreachable`` and the reason in one line (``aggregator crawl``'s
  summary, the health verdict): the address (a password starred out) and Redis's own words.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import socket
import time
import uuid
from collections import deque
from typing import Any, Self

from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.misc import load_object
from scrapy_redis import connection
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet.task import LoopingCall

from aggregator.environment import redis_address_problem, shown_redis_url
from aggregator.locks import ARCHIVE_READ_ONLY, RefusedRun, read_only_refusal
from aggregator.queue_codec import Unqueueable, UnreadableEntry
from aggregator.run_counts import (
    CRAWL_ID,
    FRONTIER_LOST,
    FRONTIER_PROBLEM,
    FRONTIER_UNREACHABLE,
    QUEUE_ENTRIES_DROPPED,
    REQUEUED_FOR,
    UNQUEUEABLE,
)
from aggregator.shutdown import closing_or_done
from aggregator.store.db import one_line
from aggregator.urls import canonical_url

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
HEARTBEAT_TTL = 15.0
"""The default life of a heartbeat (``AGGREGATOR_REDIS_HEARTBEAT_TTL``)."""
OUTAGE_SECONDS = 30.0
"""The default longest Redis outage a worker waits out (``AGGREGATOR_REDIS_OUTAGE_SECONDS``): a restart of Redis or a
failover takes seconds; a worker left without its frontier for longer ends its run as failed (``FRONTIER_LOST``)
rather than crawling on alone or hanging."""
RETRY_SECONDS = 1.0
"""While Redis does not answer, it is asked again at most this often: every try blocks the reactor (the crawl) for as
long as the client takes to give up, and a worker asked it for each of a listing's links."""
CLIENT_PARAMS: dict[str, Any] = {"socket_connect_timeout": 3.0, "socket_timeout": 5.0}
"""The frontier's Redis client, under the operator's own ``REDIS_PARAMS``. scrapy-redis's 30-second timeouts, and
redis-py's ten retries a command, held the reactor (every download and parse of the worker) for that long at each
call to a Redis that had gone. And no retry at all (``SharedScheduler.from_crawler``): a command whose answer was
lost may have been carried out, and the duplicate filter's SADD, sent again, answered "seen" to its own first try:
a link lost (Redis frozen for 6 s: 309 requests queued of 310). The scheduler retries, knowing what it sent."""

_POP_LEASED = """
local got = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #got == 0 then return false end
redis.call('ZREM', KEYS[1], got[1])
redis.call('HSET', KEYS[2], ARGV[1], got[2] .. '|' .. got[1])
redis.call('SADD', KEYS[3], ARGV[2])
return got[1]
"""
"""Pop the queue's first request (scrapy-redis's order: the lowest score) and lease it to this worker, in one step:
KEYS the queue, this worker's leases, the lease holders; ARGV the lease's name, this worker. A lease keeps the score
and the request as the queue had them (``score|request``: a score has no ``|``)."""

_REQUEUE_GONE = """
local busy, gone = 0, {}
for _, holder in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if holder ~= ARGV[3] then
    local beat = redis.call('GET', ARGV[1] .. holder)
    if beat then
      if (tonumber(string.match(beat, ' (%d+)$')) or 0) > 0 then busy = busy + 1 end
    else
      local count = 0
      for _, lease in ipairs(redis.call('HVALS', ARGV[2] .. holder)) do
        local at = string.find(lease, '|', 1, true)
        redis.call('ZADD', KEYS[1], string.sub(lease, 1, at - 1), string.sub(lease, at + 1))
        count = count + 1
      end
      redis.call('DEL', ARGV[2] .. holder)
      redis.call('SREM', KEYS[2], holder)
      table.insert(gone, holder)
      table.insert(gone, count)
    end
  end
end
table.insert(gone, 1, busy)
return gone
"""
"""Put the leases of every worker whose heartbeat has expired back in the queue, and count the workers alive that
are busy (their heartbeat's second word: their requests in progress): KEYS the queue, the lease holders; ARGV the
heartbeat keys' prefix, the lease keys' prefix, this worker. Returns [busy, holder, count, holder, count, ...]."""


def redis_unreachable(redis_url: str, timeout: float = 3.0) -> str | None:
    """Why Redis does not answer a PING at ``redis_url``, or None when it does.

    ``FrontierCheck`` asks more before a plain ``scrapy crawl`` starts: a write too.
    """
    exc = _ping_failure(redis_url, timeout)
    return _said(exc) if exc is not None else None  # "...refused.", said inside a sentence of ours


def _ping_failure(redis_url: str, timeout: float, *, write: str | None = None) -> Exception | None:
    """What a PING of ``redis_url`` raised (one try), or None when Redis answered; with ``write``, a key no one sets,
    what a write (a DEL of that key) raised, or None when Redis took it.

    A PING alone lets a read-only replica through (a failover's old primary answers it and refuses every write): the
    scale-out worker it let start found out only as its scheduler opened. A DEL is refused there as any write, and
    deletes nothing on a primary."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    try:
        # One try: redis-py's default retries would hold a crawl's start several timeouts long for an answer of no.
        client = redis.Redis.from_url(
            redis_url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        try:
            client.ping()
            if write is not None:
                client.delete(write)
        finally:
            client.close()
    except (redis.RedisError, ValueError) as exc:  # ValueError: an address redis-py cannot read
        return exc
    return None


def redis_failure(redis_url: str, exc: BaseException) -> str:
    """Where and how Redis failed, for one line: "nothing answers at AGGREGATOR_REDIS_URL=...: <why>" when no server
    was reached (refused, timed out, no such socket), "Redis at AGGREGATOR_REDIS_URL=... refuses: <its words>" when
    one was and said no (credentials, a read-only replica). The address's password is starred out."""
    shown = shown_redis_url(redis_url)
    silent = isinstance(exc, RedisConnectionError | RedisTimeoutError) and not isinstance(exc, AuthenticationError)
    where = (
        f"nothing answers at AGGREGATOR_REDIS_URL={shown}"
        if silent
        else f"Redis at AGGREGATOR_REDIS_URL={shown} refuses"
    )
    return f"{where}: {_said(exc)}"


class FrontierCheck:
    """Scrapy extension: a scale-out crawl whose Redis cannot be used (nothing answers at the address, a wrong
    password, a read-only replica: the frontier's first write is tried) stops before its engine is built, its run
    recorded first, failed and red (``record_unstarted_run``), as ``aggregator crawl`` records it, with one ERROR
    line: ``caliber: the shared frontier cannot be used (frontier_unreachable): nothing answers at
    AGGREGATOR_REDIS_URL=...: ...; this run does not start (run 12 recorded as failed): AGGREGATOR_REDIS_URL must
    name ...``, and the finish reason ``frontier_unreachable`` (``aggregator.locks.RefusedRun``). A worker that may
    only read its archive is refused first (``ARCHIVE_READ_ONLY``), as ``aggregator crawl`` refuses it before it
    starts: its row cannot be written, and its store would fail on the first article.

    ``aggregator crawl`` turns it off (``AGGREGATOR_FRONTIER_CHECK``): its runs whose Redis cannot be used are
    recorded as failed (``frontier_unreachable``, see ``SharedScheduler``), one summary line each, which the
    monitoring of its runs sees. This is for a plain ``scrapy crawl`` (Scrapyd's jobs). Raised from here, the reason
    ended the run in asyncio's "Task exception was never retrieved" and a traceback (exit status 1); a read-only
    replica, which answers a PING, was found only as the scheduler opened, and said three times (the scheduler, the
    health monitor, its verdict); a read-only archive failed the store in Scrapy's tracebacks.
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self | RefusedRun:
        settings = crawler.settings
        redis_url = settings.get("AGGREGATOR_REDIS_URL")
        if not redis_url or not settings.getbool("AGGREGATOR_FRONTIER_CHECK", True):
            raise NotConfigured  # not a scale-out crawl, or one that records a Redis it cannot use as a failed run
        spider = crawler.spider
        name = str(getattr(spider, "name", None) or getattr(crawler.spidercls, "name", None) or "unknown")
        source = str(getattr(spider, "source_key", None) or name)
        db_url = settings.get("AGGREGATOR_DB_URL")
        read_only = read_only_refusal(db_url, source) if db_url else None
        if read_only:
            return RefusedRun.of(crawler, ARCHIVE_READ_ONLY, read_only, level=logging.ERROR)
        # A -s setting has not been through aggregator.environment's checks
        wrong = redis_address_problem(redis_url)
        if wrong:
            problem = f"the shared frontier cannot be used ({FRONTIER_UNREACHABLE}): AGGREGATOR_REDIS_URL {wrong}"
        else:
            namespace = settings.get("AGGREGATOR_REDIS_NAMESPACE") or "aggregator"
            failure = _ping_failure(redis_url, 3.0, write=f"{namespace}:{name}:frontier-check")
            if failure is None:
                return cls()
            problem = unusable_frontier(redis_url, failure)
        try:
            run_id = record_unstarted_run(crawler, problem)
            recorded = f" (run {run_id} recorded as failed)" if run_id is not None else ""
        except Exception as exc:  # the run is refused whatever: the line says why it has no row
            recorded = f" (and could not be recorded in the archive: {one_line(exc)})"
        return RefusedRun.of(
            crawler,
            FRONTIER_UNREACHABLE,
            f"{source}: {problem}; this run does not start{recorded}: AGGREGATOR_REDIS_URL must name a Redis primary "
            "that answers and takes this worker's writes",
            level=logging.ERROR,
            stats={FRONTIER_PROBLEM: problem},
        )


def unusable_frontier(redis_url: str, exc: BaseException) -> str:
    """Why a run's shared frontier cannot be used, as its health verdict and ``aggregator crawl``'s summary say it."""
    return f"the shared frontier cannot be used ({FRONTIER_UNREACHABLE}): {redis_failure(redis_url, exc)}"


def record_unstarted_run(crawler: Crawler, problem: str) -> int | None:
    """Record a run that ``FrontierCheck`` stops before it starts: its row in the archive, failed and red for
    ``problem``, as ``aggregator crawl`` records the same run (``SharedScheduler._cannot_open``). Returns the row's
    id, None for a crawler without the project's settings (no archive to record in); raises what the archive raised.

    Scrapyd's jobs are plain ``scrapy crawl`` runs: stopped here with no row, a Redis down for a day left ``aggregator
    health``, ``aggregator runs`` and /metrics showing the last good run, green, while every scheduled job failed, and
    only the job logs said so."""
    from aggregator.health import health_verdict
    from aggregator.health_checks import LOOKED_IN, ON_THE_LISTINGS, Measures
    from aggregator.sources import all_sources
    from aggregator.store import Archive

    spider = crawler.spider
    name = str(getattr(spider, "name", None) or getattr(crawler.spidercls, "name", None) or "unknown")
    source = str(getattr(spider, "source_key", None) or name)
    stats: dict[str, Any] = {
        "finish_reason": FRONTIER_UNREACHABLE,
        FRONTIER_PROBLEM: problem,
        LOOKED_IN: str(getattr(spider, "looked_in", ON_THE_LISTINGS)),
    }
    verdict = health_verdict(crawler.settings, Measures.from_stats(stats, []), [problem])
    db_url = crawler.settings.get("AGGREGATOR_DB_URL")
    if not db_url:
        return None
    archive = Archive.open(db_url)
    try:
        archive.sync_sources(all_sources())
        run_id = archive.start_run(source, name, host=socket.gethostname(), pid=os.getpid())
        archive.finish_run(run_id, status="failed", reason=FRONTIER_UNREACHABLE, stats=stats, health=verdict)
    finally:
        archive.close()
    return int(run_id)


SERIALIZER = "aggregator.queue_codec"
"""How the shared queue's requests are written (scrapy-redis's ``SCHEDULER_SERIALIZER``): JSON."""


def redis_settings(redis_url: str, namespace: str = "aggregator") -> dict[str, Any]:
    """The Scrapy settings that put a crawl's frontier in Redis, under the keys of ``namespace``
    (``AGGREGATOR_REDIS_NAMESPACE``)."""
    return {
        "SCHEDULER": "aggregator.scaleout.SharedScheduler",
        "DUPEFILTER_CLASS": "aggregator.scaleout.SharedDupeFilter",
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_QUEUE_KEY": f"{namespace}:%(spider)s:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{namespace}:%(spider)s:dupefilter",
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        # JSON, not scrapy-redis's pickles: what a worker pops runs no code (aggregator/queue_codec.py)
        "SCHEDULER_SERIALIZER": SERIALIZER,
        "REDIS_URL": redis_url,
    }


class SharedDupeFilter(RFPDupeFilter):  # type: ignore[misc]
    """scrapy-redis's filter keyed like ours: the canonical real URL (two spellings of a link are one article)."""

    def request_fingerprint(self, request: Request) -> str:
        return f"{request.method} {canonical_url(request.url)}"


class SharedScheduler(Scheduler):  # type: ignore[misc]
    """scrapy-redis's scheduler, with an idle timeout, worker heartbeats, crawl generations and a frontier that rides
    out a short Redis outage (see the module)."""

    idle_seconds: float = 10.0
    heartbeat_ttl: float = HEARTBEAT_TTL
    outage_seconds: float = OUTAGE_SECONDS
    namespace: str = "aggregator"
    redis_url: str = ""
    df: Any
    queue: Any
    _empty_since: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.crawler: Any = None
        self._held: deque[tuple[Request, int]] = deque()
        """Requests found while Redis did not answer, each with what the shared duplicate filter said of it
        (``_UNASKED``, ``_ASKED``: its SADD failed, ``_LET_THROUGH``: its SADD answered, its push did not)."""
        self._outage_since: float | None = None
        self._retry_at = 0.0
        self._lost = False
        """The worker gave up on its frontier (``FRONTIER_LOST``): it asks Redis nothing more until its close."""
        self._replaced = False
        """Another worker began a new crawl while this one could not reach Redis: what this one holds is not pushed
        into it, nor does this one clear it on its way out."""
        self.unusable: str | None = None
        """Why Redis could not be used when the scheduler opened (``FRONTIER_PROBLEM``), None when it could."""
        self._leases = 0
        self._leased: dict[str, Request] = {}
        """This worker's leases (see the module) whose requests the engine has not seen through yet."""
        self._settling: dict[str, int] = {}
        """Leases whose requests are seen through, each with the store's batch that holds what they led to: let go
        once that batch is written."""
        self._releasing: list[str] = []
        """Leases to let go of in Redis (kept for the next try when Redis did not answer)."""
        self._drained = False
        """The shared queue was empty when last asked."""
        self._peers_busy = False
        """Another worker holding leases had requests in progress when last asked (every ``HEARTBEAT_SECONDS``)."""

    @classmethod
    def from_settings(cls, settings: Any) -> Self:
        """scrapy-redis's, without its PING: a Redis that fails from the start fails the scheduler's ``open``, where
        the run is recorded as failed (``_cannot_open``). Raised from here, before the engine had its scheduler,
        the error failed Scrapy's clean-up in turn ("Engine slot not assigned"), which was all the crawl said."""
        kwargs: dict[str, Any] = {
            "persist": settings.getbool("SCHEDULER_PERSIST"),
            "flush_on_start": settings.getbool("SCHEDULER_FLUSH_ON_START"),
            "idle_before_close": settings.getint("SCHEDULER_IDLE_BEFORE_CLOSE"),
        }
        optional = {
            "queue_key": "SCHEDULER_QUEUE_KEY",
            "queue_cls": "SCHEDULER_QUEUE_CLASS",
            "dupefilter_key": "SCHEDULER_DUPEFILTER_KEY",
            "dupefilter_cls": "DUPEFILTER_CLASS",
            "serializer": "SCHEDULER_SERIALIZER",
        }
        for name, setting in optional.items():
            if value := settings.get(setting):
                kwargs[name] = value
        # Never scrapy-redis's default, pickle, which runs whatever code an entry names as it is read
        kwargs.setdefault("serializer", SERIALIZER)
        if isinstance(kwargs.get("serializer"), str):
            kwargs["serializer"] = importlib.import_module(kwargs["serializer"])
        # No duplicate filter yet: ``open`` makes it, on this scheduler's client. The client connects at its first
        # command.
        return cls(server=connection.from_settings(settings), **kwargs)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        # scrapy-redis's own from_crawler, with the client's timeouts and retries of CLIENT_PARAMS under the
        # operator's REDIS_PARAMS
        settings = crawler.settings.copy()
        settings.frozen = False
        params = {**CLIENT_PARAMS, "retry": Retry(NoBackoff(), 0), **crawler.settings.getdict("REDIS_PARAMS")}
        settings.set("REDIS_PARAMS", params, priority="cmdline")
        scheduler: Self = cls.from_settings(settings)
        scheduler.stats = crawler.stats
        scheduler.crawler = crawler
        scheduler.idle_seconds = crawler.settings.getfloat("AGGREGATOR_REDIS_IDLE_SECONDS", 10.0)
        scheduler.heartbeat_ttl = crawler.settings.getfloat("AGGREGATOR_REDIS_HEARTBEAT_TTL", HEARTBEAT_TTL)
        scheduler.outage_seconds = crawler.settings.getfloat("AGGREGATOR_REDIS_OUTAGE_SECONDS", OUTAGE_SECONDS)
        scheduler.namespace = crawler.settings.get("AGGREGATOR_REDIS_NAMESPACE") or "aggregator"
        scheduler.redis_url = crawler.settings.get("AGGREGATOR_REDIS_URL") or crawler.settings.get("REDIS_URL") or ""
        signaller = getattr(crawler, "signals", None)
        if signaller is not None:  # a crawl's (a scheduler on its own has none)
            signaller.connect(scheduler._refuse_start, signal=signals.spider_opened)
        return scheduler

    # -- workers and generations -------------------------------------------------------------------------

    def _key(self, what: str) -> str:
        return f"{self.namespace}:{self.spider.name}:{what}"

    def _beat(self) -> None:
        # The time, and how many of this worker's requests are in progress (the others wait while it is busy: see
        # the module). px: whole milliseconds, so that a fractional setting is kept as it is.
        beat = f"{time.time()} {len(self._leased)}"
        self.server.set(self._key(f"worker:{self.worker}"), beat, px=int(self.heartbeat_ttl * 1000))

    def _tick(self) -> None:
        """The heartbeat loop's call, every ``HEARTBEAT_SECONDS``: renew the heartbeat, push what an outage held
        back, and end the run once an outage has lasted too long. It never raises: a LoopingCall stops for good at
        its first exception, and one Redis error stopped the heartbeat for the rest of the run (another worker then
        took this one for dead and began a new generation, clearing the duplicate filter: pages fetched twice)."""
        try:
            if self._lost:
                return
            self._follow_leases()
            if self._frontier_ready():
                try:
                    self._beat()
                    self._release_leases()
                    self._requeue_gone()
                    self._watch_idle()
                except RedisError as exc:
                    self._failed(exc)
            self._check_outage()
        except Exception:  # not Redis's: said, and the beat goes on
            logger.exception("%s: the scale-out heartbeat failed", self.spider.name)

    def _watch_idle(self) -> None:
        """Start the idle clock as soon as the frontier is quiet (nothing queued, no worker busy, this one included),
        and once it has run out have the engine look at once (raises RedisError). The engine asks
        ``has_pending_requests`` only every 5 s once it has nothing to do (its slot's heartbeat), and a peer's
        heartbeat says it is no longer busy up to ``HEARTBEAT_SECONDS`` late: a clock started at the engine's next
        question and read at the one after kept two workers of a drained 2,000-page crawl waiting 8 s, where the idle
        wait is 2 (``bench/crawl.py``'s (d))."""
        if self._peers_busy or _in_progress(self.crawler) or len(self.queue):
            return  # has_pending_requests stops the clock at its next question
        if self._empty_since is None:
            self._empty_since = time.monotonic()
        elif time.monotonic() - self._empty_since >= self.idle_seconds:
            _wake_engine(self.crawler)

    def _others_alive(self) -> bool:
        mine = self._key(f"worker:{self.worker}")
        return any(key != mine for key in self.server.scan_iter(match=self._key("worker:*")))

    def open(self, spider: Spider) -> Any:
        self.spider = spider
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._empty_since = None
        # scrapy-redis's open, without its "Resuming crawl (N requests scheduled)": a new generation drops them. The
        # duplicate filter shares the scheduler's client (scrapy-redis gives it one of its own, without CLIENT_PARAMS).
        if not self.df:
            self.df = load_object(self.dupefilter_cls)(
                self.server,
                key=self.dupefilter_key % {"spider": spider.name},
                debug=spider.settings.getbool("DUPEFILTER_DEBUG"),
            )
        self.queue = load_object(self.queue_cls)(
            server=self.server, spider=spider, key=self.queue_key % {"spider": spider.name}, serializer=self.serializer
        )
        # (registered here, loaded into Redis at their first call)
        self._leasing = isinstance(self.queue, PriorityQueue)
        self._pop_leased = self.server.register_script(_POP_LEASED)
        self._requeue = self.server.register_script(_REQUEUE_GONE)
        try:
            self._join_crawl()
        except RedisError as exc:  # the engine goes on opening the spider, and the run's row, then closes it
            self._cannot_open(exc)
            return
        if self.stats:
            self.stats.set_value(CRAWL_ID, self.crawl_id)  # for the run's row (pipelines.store)
        self._heartbeat = LoopingCall(self._tick)
        self._heartbeat.start(HEARTBEAT_SECONDS, now=False)

    def _join_crawl(self) -> None:
        """Begin a new crawl generation, or join the workers alive, under the generation lock; name the crawl and
        beat (raises RedisError)."""
        spider = self.spider
        lock = self.server.lock(self._key("generation-lock"), timeout=30, blocking_timeout=30)
        with lock:
            if not self._others_alive():
                left = len(self.queue) + self._drop_leases()
                self.df.clear()
                self.queue.clear()
                self.server.delete(self._key("crawl"))
                logger.info(
                    "%s: no other worker alive: a new crawl generation (duplicate filter cleared%s)",
                    spider.name,
                    f"; {left} request(s) an earlier crawl left in the queue or in a worker's hands dropped"
                    if left
                    else "",
                )
            elif left := len(self.queue):  # a killed worker's, for one: this one drains them
                logger.info("%s: joining the crawl of the workers alive (%d request(s) queued)", spider.name, left)
            # The generation's name: the first worker's, or this one's when it is the first (or when the workers it
            # joins run a release that names none)
            self.server.set(self._key("crawl"), uuid.uuid4().hex, nx=True)
            name = self.server.get(self._key("crawl"))
            self.crawl_id: str = name.decode() if isinstance(name, bytes) else str(name)
            self._beat()
            self._requeue_gone()  # a worker that died before this one joined

    def _cannot_open(self, exc: RedisError) -> None:
        """Redis failed the scheduler's first commands: say why, with the address, and have the run end as soon as
        it is open (``_refuse_start``), recorded with ``FRONTIER_UNREACHABLE``. Not raised: an exception out of
        ``open`` skipped the opening of the pipelines (no run row) and Scrapy's clean-up failed after it, in
        tracebacks that hid the reason."""
        self._lost = True  # nothing more is asked of Redis, the close's sign-off included
        self.unusable = unusable_frontier(self.redis_url, exc)
        if self.stats:
            self.stats.set_value(FRONTIER_PROBLEM, self.unusable)
        logger.error("%s: %s; this run stops before it fetches anything", self.spider.name, self.unusable)

    def _refuse_start(self, spider: Spider) -> None:
        """``spider_opened``: a run whose frontier could not be opened closes at once, before the engine starts.
        By then its run row is open (the pipelines open after the scheduler), so the close records it."""
        if self.unusable is not None:
            raise CloseSpider(FRONTIER_UNREACHABLE)

    def close(self, reason: str) -> Any:
        """Sign off: push what an outage held back, delete the heartbeat, and, the last worker out, clear the
        frontier for the next crawl. One try, whatever the outage: a close that raised or waited on Redis left the
        run "running" (the engine's close waits for its scheduler)."""
        if getattr(self, "_heartbeat", None) is not None and self._heartbeat.running:
            self._heartbeat.stop()
        if not hasattr(self, "crawl_id"):  # its open failed: nothing of this worker's is in Redis
            return super().close(reason)
        try:
            if self._held and not self._replaced and self._same_generation():
                self._push_held()
            with self.server.lock(self._key("generation-lock"), timeout=30, blocking_timeout=30):
                self.server.delete(self._key(f"worker:{self.worker}"))
                if not self._replaced:
                    # By now every request it took is seen through, and what it led to written (Scrapy closes the
                    # scheduler after the item pipelines): its leases go.
                    self.server.delete(self._key(f"leases:{self.worker}"))
                    self.server.srem(self._key("lease-holders"), self.worker)
                if not self._replaced and not self._others_alive():
                    # The last worker out: the next crawl starts afresh (its first worker would clear them too)
                    left = len(self.queue) + self._drop_leases()
                    self.df.clear()
                    self.queue.clear()
                    if left:
                        logger.info(
                            "%s: the last worker out: %d request(s) left unfetched are dropped (the next crawl finds "
                            "them again on the listings)",
                            self.spider.name,
                            left,
                        )
        except RedisError as exc:
            logger.warning(
                "%s: could not sign off from Redis (%s): its heartbeat expires within %g s",
                self.spider.name,
                _said(exc),
                self.heartbeat_ttl,
            )
        if self._held:
            logger.warning(
                "%s: %d request(s) found while Redis did not answer were not fetched (the next crawl finds them "
                "again on the listings)",
                self.spider.name,
                len(self._held),
            )
            if self.stats:
                self.stats.set_value("aggregator/redis_held_unfetched", len(self._held))
        return super().close(reason)  # with SCHEDULER_PERSIST, nothing

    def _crawl_named(self) -> str | None:
        """The crawl named in Redis now, None for none (raises RedisError)."""
        name = self.server.get(self._key("crawl"))
        return name.decode() if isinstance(name, bytes) else None if name is None else str(name)

    def _same_generation(self) -> bool:
        """Whether the crawl named in Redis is still this worker's (raises RedisError)."""
        self._replaced = self._replaced or self._crawl_named() != self.crawl_id
        return not self._replaced

    # -- Redis outages ---------------------------------------------------------------------------------------

    def _failed(self, exc: RedisError) -> None:
        """Redis did not answer: said once an outage, tried again in ``RETRY_SECONDS``."""
        now = time.monotonic()
        if self._outage_since is None:
            self._outage_since = now
            logger.warning(
                "%s: Redis (the shared frontier) does not answer: %s; the requests this worker finds are held "
                "until it does (at most %g s, AGGREGATOR_REDIS_OUTAGE_SECONDS)",
                self.spider.name,
                _said(exc),
                self.outage_seconds,
            )
            if self.stats:
                self.stats.inc_value("aggregator/redis_outages")
        self._retry_at = now + RETRY_SECONDS
        self._check_outage()

    def _check_outage(self) -> None:
        if self._outage_since is None:
            return
        lasted = time.monotonic() - self._outage_since
        if lasted >= self.outage_seconds:
            self._give_up(f"Redis has not answered for {lasted:.0f} s (AGGREGATOR_REDIS_OUTAGE_SECONDS)")

    def _frontier_ready(self) -> bool:
        """Whether Redis may be asked now, with nothing held back ahead of what is asked. After an outage, one
        question first (is the crawl named in Redis still this worker's?), then what was held is pushed."""
        if self._lost:
            return False
        if self._outage_since is not None:
            if time.monotonic() < self._retry_at:
                return False
            try:
                named = self._crawl_named()
            except RedisError as exc:
                self._failed(exc)
                return False
            lasted = time.monotonic() - self._outage_since
            self._outage_since = None
            if self.stats:
                self.stats.max_value("aggregator/redis_outage_seconds", round(lasted, 1))
            if named != self.crawl_id:
                self._replaced = True
                self._give_up(
                    f"Redis answers again after {lasted:.0f} s, "
                    + (
                        "without this crawl's frontier (restarted without its data?)"
                        if named is None
                        else "but another worker has begun a new crawl meanwhile"
                    )
                )
                return False
            logger.warning(
                "%s: Redis answers again after %.1f s; %d held request(s) go to the shared queue",
                self.spider.name,
                lasted,
                len(self._held),
            )
        if not self._held:
            return True
        try:
            self._push_held()
        except RedisError as exc:
            self._failed(exc)
            return False
        return True

    def _push_held(self) -> None:
        """Push the held requests, oldest first, one that fails staying held with what it got (raises RedisError).
        One the duplicate filter was never asked about is asked now, and dropped if seen. One whose SADD failed is
        recorded in the filter and pushed whatever the filter says: the SADD may have been carried out with its answer
        lost, and the filter would call the request seen because of it (at worst, a page another worker fetched is
        fetched again; stored once all the same). One the filter let through is pushed."""
        while self._held:
            request, said = self._held[0]
            if said != _LET_THROUGH and not request.dont_filter:
                self._held[0] = (request, _ASKED)
                if self.df.request_seen(request) and said == _UNASKED:
                    self._held.popleft()
                    self.df.log(request, self.spider)
                    signaller = getattr(self.crawler, "signals", None)
                    if signaller is not None:  # what the engine says of a request its scheduler refuses
                        signaller.send_catch_log(signals.request_dropped, request=request, spider=self.spider)
                    continue
            self._held[0] = (request, _LET_THROUGH)
            try:
                self.queue.push(request)
            except (Unqueueable, ValueError) as exc:
                self._held.popleft()
                self._unqueueable(request, exc)
                continue
            self._held.popleft()
            if self.stats:
                self.stats.inc_value("scheduler/enqueued/redis")

    def _unqueueable(self, request: Request, exc: Exception) -> None:
        """A request the shared queue cannot hold (``aggregator.queue_codec``: a value its meta holds that JSON and
        the codec's tags cannot write; a callback that is no method of the spider): a bug in whatever made it, said
        with what it is and counted (``UNQUEUEABLE``: the run's health is red), and the request dropped. Never
        written some other way (pickle runs code as it is read), and never raised: an exception out of the scheduler
        in the middle of a listing's links hung the worker."""
        logger.error(
            "%s: %s cannot be put in the shared queue, and is not fetched: %s (a bug: see aggregator/queue_codec.py)",
            self.spider.name,
            request,
            exc,
        )
        if self.stats:
            self.stats.inc_value(UNQUEUEABLE)

    def _hold(self, request: Request, said: int) -> bool:
        self._held.append((request, said))
        if self.stats:
            self.stats.inc_value("aggregator/redis_held")
        return True

    def _give_up(self, why: str) -> None:
        """End this worker's run with ``FRONTIER_LOST``, once; its close (``close``) tries Redis one last time."""
        if self._lost:
            return
        self._lost = True
        logger.error(
            "%s: %s: this worker stops (finish reason %s)%s",
            self.spider.name,
            why,
            FRONTIER_LOST,
            f"; the {len(self._held)} request(s) it holds are not fetched by it" if self._held else "",
        )
        try:
            engine = self.crawler.engine
        except Exception:  # no crawl (a scheduler on its own) or no engine yet
            return
        if engine is None or closing_or_done(self.crawler):
            return
        # Not from inside the engine's or the scraper's own call chain: the engine closes the spider on its next turn
        call_later(0, _close_spider, engine)

    # -- leases ----------------------------------------------------------------------------------------------

    def _pop(self) -> Request | None:
        """The queue's first request that is one, leased to this worker (raises RedisError). Entries before it that
        are none (``_pop_one``) are dropped, counted (``QUEUE_ENTRIES_DROPPED``) and said in one line."""
        dropped: list[str] = []
        try:
            while True:
                try:
                    return self._pop_one()
                except _Dropped as exc:
                    dropped.append(str(exc))
        finally:
            if dropped:
                self._said_dropped(dropped)

    def _pop_one(self) -> Request | None:
        """The queue's first entry as a request, leased to this worker; raises ``_Dropped`` for an entry that is none
        (taken out of the queue and its lease let go: it is never read again), RedisError."""
        if not self._leasing:
            try:
                popped: Request | None = self.queue.pop(self.idle_before_close)
            except (UnreadableEntry, ValueError, TypeError, KeyError) as exc:  # already out of the queue
                raise _Dropped(_said(exc)) from None
            return self._checked(popped) if popped is not None else None
        self._leases += 1
        lease = str(self._leases)
        keys = [self.queue.key, self._key(f"leases:{self.worker}"), self._key("lease-holders")]
        data = self._pop_leased(keys=keys, args=[lease, self.worker])
        if data is None:
            return None
        try:
            request: Request = self._checked(self.queue._decode_request(data))
        except (_Dropped, UnreadableEntry, ValueError, TypeError, KeyError) as exc:
            self.server.hdel(self._key(f"leases:{self.worker}"), lease)
            raise _Dropped(_said(exc)) from None
        self._leased[lease] = request
        return request

    def _checked(self, request: Request) -> Request:
        """``request`` if its callback and errback are public methods of this worker's spider (an entry names them by
        name, and ``request_from_dict`` takes any attribute of the spider), else raises ``_Dropped``."""
        for what in (request.callback, request.errback):
            if what is None:
                continue
            if not (inspect.ismethod(what) and what.__self__ is self.spider and not what.__name__.startswith("_")):
                raise _Dropped(f"a request whose callback is no method of the spider: {what!r}")
        return request

    def _said_dropped(self, why: list[str]) -> None:
        reasons = len(set(why))
        logger.warning(
            "%s: %d entr%s of the shared queue dropped unread, no request as this release writes them (%s); nothing "
            "of %s is run (Redis must be writable by the crawl's workers alone)",
            self.spider.name,
            len(why),
            "y" if len(why) == 1 else "ies",
            why[0] if reasons == 1 else f"{why[0]}; and {reasons - 1} other reason(s)",
            "it" if len(why) == 1 else "them",
        )
        if self.stats:
            self.stats.inc_value(QUEUE_ENTRIES_DROPPED, len(why))

    def _follow_leases(self) -> None:
        """Note which leased requests the engine has seen through since the last call, and which of those the store
        has written what they led to: those are let go at the next ``_release_leases``. A worker whose queue is
        empty and that has nothing in progress has the store write what it holds, so that its leases go now, not
        at its close: another worker killed meanwhile would otherwise be waited for in vain (it is not busy)."""
        in_progress = _in_progress(self.crawler)
        if in_progress is None:  # no engine (a scheduler on its own): its requests are never seen through
            return
        seen = [lease for lease, request in self._leased.items() if request not in in_progress]
        for lease in seen:
            del self._leased[lease]
        flush = self._drained and not self._leased and bool(self._settling or seen)
        progress = self._store_progress(flush)
        if progress is None:  # no store: nothing to wait for
            self._releasing += seen
            return
        holding, written = progress
        self._settling.update(dict.fromkeys(seen, holding))
        done = [lease for lease, batch in self._settling.items() if batch <= written]
        for lease in done:
            del self._settling[lease]
        self._releasing += done

    def _store_progress(self, flush: bool) -> tuple[int, int] | None:
        """The store's (the batch that will hold what it has been given so far, the batches written), asked with
        its signal (``pipelines.store.STORE_PROGRESS``); ``flush``: have it write what it holds first. None without
        a store."""
        from pipelines.store import STORE_PROGRESS

        signaller = getattr(self.crawler, "signals", None)
        if signaller is None:
            return None
        for _, answer in signaller.send_catch_log(STORE_PROGRESS, flush=flush):
            if isinstance(answer, tuple):
                return answer
        return None

    def _release_leases(self) -> None:
        """Let go of the leases ``_follow_leases`` found done (raises RedisError: they are tried again)."""
        if self._releasing:
            self.server.hdel(self._key(f"leases:{self.worker}"), *self._releasing)
            self._releasing = []

    def _requeue_gone(self) -> None:
        """Put back in the queue what workers gone had leased (their heartbeat expired), counted and said; and note
        whether another worker holding leases is busy (raises RedisError)."""
        if not self._leasing:
            return
        keys = [self.queue.key, self._key("lease-holders")]
        busy, *gone = self._requeue(keys=keys, args=[self._key("worker:"), self._key("leases:"), self.worker])
        self._peers_busy = int(busy) > 0
        for holder, count in zip(gone[::2], gone[1::2], strict=True):
            if not count:
                continue
            name = holder.decode() if isinstance(holder, bytes) else str(holder)
            logger.warning(
                "%s: worker %s is gone (its heartbeat expired) with %d request(s) it had taken from the shared queue "
                "and not seen through: queued again",
                self.spider.name,
                name,
                count,
            )
            if self.stats:
                self.stats.inc_value(REQUEUED_FOR + name, int(count))

    def _drop_leases(self) -> int:
        """Delete every worker's leases (a generation's end or start: see ``_join_crawl``), returning how many there
        were (raises RedisError)."""
        holders = self._key("lease-holders")
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in self.server.smembers(holders)]
        keys = [self._key(f"leases:{name}") for name in names]
        dropped = sum(int(self.server.hlen(key)) for key in keys)
        self.server.delete(holders, *keys)
        return dropped

    # -- the frontier ----------------------------------------------------------------------------------------

    # scrapy-redis 0.9.1 passes ``spider=`` to the stats collector, which Scrapy 2.19 deprecates: the two methods
    # that count are restated without it. Neither lets a Redis error through to Scrapy (see the module).

    def enqueue_request(self, request: Request) -> bool:
        if not self._frontier_ready():
            return self._hold(request, _UNASKED)
        said = _UNASKED
        try:
            if not request.dont_filter:
                said = _ASKED
                if self.df.request_seen(request):
                    self.df.log(request, self.spider)
                    return False
            said = _LET_THROUGH
            self.queue.push(request)
        except RedisError as exc:
            self._failed(exc)
            return self._hold(request, said)
        except (Unqueueable, ValueError) as exc:  # ValueError: Request.to_dict's, a callback no method of the spider
            self._unqueueable(request, exc)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        if not self._frontier_ready():
            return None  # an outage is no empty queue: the idle clock does not run
        try:
            request = self._pop()
        except RedisError as exc:
            self._failed(exc)
            return None
        if request is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        self._drained = request is None
        self._empty_since = None if request is not None else (self._empty_since or time.monotonic())
        return request

    def has_pending_requests(self) -> bool:
        """True while the shared queue holds requests or another worker holding leases is busy (it may add to the
        queue, or be dead with requests to be queued again when its heartbeat expires), and for ``idle_seconds``
        after that (another worker may still be parsing a page): then the worker may close. True during an outage
        too: the frontier is not known to be drained (the outage's own limit ends the run)."""
        if not self._frontier_ready():
            return True
        try:
            queued = len(self.queue)
        except RedisError as exc:
            self._failed(exc)
            return True
        self._drained = not queued
        if queued or self._peers_busy:
            self._empty_since = None
            return True
        if self._empty_since is None:
            self._empty_since = time.monotonic()
        return time.monotonic() - self._empty_since < self.idle_seconds

    def __len__(self) -> int:
        """The requests held here and, when Redis answers, those of the shared queue (never raises)."""
        if self._lost or self._outage_since is not None:
            return len(self._held)
        try:
            return len(self._held) + len(self.queue)
        except RedisError as exc:
            self._failed(exc)
            return len(self._held)


class _Dropped(Exception):
    """A queue entry that is no request of this release's (``SharedScheduler._pop_one``), with why."""


_UNASKED, _ASKED, _LET_THROUGH = 0, 1, 2
"""What the shared duplicate filter said of a held request: nothing (not asked), nothing (asked: its answer lost, so
it may have recorded the request), or let it through."""


def _in_progress(crawler: Any) -> set[Request] | None:
    """The requests the crawl's engine has taken from its scheduler and not seen through, None without an engine.
    Scrapy's engine keeps each in its slot's ``inprogress`` from the moment it takes it until its download, and then
    its callback's output, is all handled: the links scheduled (in the shared queue), the items through every item
    pipeline (in the store's hands); a redirect's or a retry's new request scheduled."""
    slot = getattr(getattr(crawler, "engine", None), "_slot", None)
    found = getattr(slot, "inprogress", None)
    return found if isinstance(found, set) else None


def _wake_engine(crawler: Any) -> None:
    """Have the engine look for work (and find the spider idle) now rather than at its next heartbeat, as Scrapy's
    engine does itself whenever a request or an item is done; nothing without an engine."""
    nextcall = getattr(getattr(getattr(crawler, "engine", None), "_slot", None), "nextcall", None)
    if nextcall is not None:
        nextcall.schedule()


def _close_spider(engine: Any) -> None:
    deferred_from_coro(engine.close_spider_async(reason=FRONTIER_LOST)).addErrback(
        lambda failure: logger.error("Closing the spider (%s) failed: %s", FRONTIER_LOST, failure.getErrorMessage())
    )


def _said(exc: BaseException) -> str:
    """A Redis error as a log line says it: its message, or its kind when it has none."""
    return str(exc).rstrip(".") or type(exc).__name__
