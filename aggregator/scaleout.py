"""Scale-out: any number of crawl processes, on any number of hosts, sharing one frontier in Redis (scrapy-redis).

With ``AGGREGATOR_REDIS_URL`` set (environment or ``-s``), the ``aggregator.addon`` add-on switches Scrapy's
scheduler to ``SharedScheduler`` (scrapy-redis's, which keeps the request queue and the duplicate filter in Redis) and
its duplicate filter to ``SharedDupeFilter`` (scrapy-redis's, over our canonical URLs). What scrapy-redis leaves to the
operator, and we do here:

- **When the frontier is drained.** A worker does not stop at the first empty queue (another worker may be parsing
  a listing that will fill it): it stays until the shared queue has been empty for
  ``AGGREGATOR_REDIS_IDLE_SECONDS``, then exits.
- **Crawl generations.** The duplicate filter persists between workers (``SCHEDULER_PERSIST``: the first worker
  to finish must not flush it under the others' feet), so it would also stop the next scheduled crawl from ever
  fetching a listing again. Each worker registers itself in Redis with a heartbeat (a key renewed every
  ``HEARTBEAT_SECONDS`` that expires after ``AGGREGATOR_REDIS_HEARTBEAT_TTL``); a worker
  that starts when no other is alive begins a new generation by clearing the duplicate filter (under a short Redis
  lock, so that workers starting together agree), and the last one to leave clears it too.
- **One crawl, several run rows.** The workers of one generation are one crawl: the first names it (a random id in
  Redis, under the same lock), the others read the name, and each worker's run row records it
  (``crawl_runs.crawl_id``), so that ``aggregator health`` judges the crawl whole and ``aggregator runs`` shows
  which runs were one crawl.
- **A killed worker loses nothing.** The requests a SIGKILLed worker had taken from the queue are gone from Redis,
  but no article is lost: a new generation fetches the listings again, and the incremental crawl
  (``aggregator.incremental``) fetches every linked article that is not archived yet. Articles are written in
  whole transactions keyed by canonical URL, so nothing is half-written or stored twice.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from typing import Any, Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler
from twisted.internet.task import LoopingCall

from aggregator.environment import redis_address_problem, shown_redis_url
from aggregator.run_counts import CRAWL_ID
from aggregator.urls import canonical_url

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
HEARTBEAT_TTL = 15.0
"""The default life of a heartbeat (``AGGREGATOR_REDIS_HEARTBEAT_TTL``)."""


def redis_unreachable(redis_url: str, timeout: float = 3.0) -> str | None:
    """Why Redis does not answer a PING at ``redis_url``, or None when it does.

    ``aggregator crawl`` asks before it starts, as it asks a mirror: scrapy-redis finds out only once Scrapy's engine
    is opening the spider, and the crawl then ends in a Twisted traceback and "crawl ended with None".
    """
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
        finally:
            client.close()
    except (redis.RedisError, ValueError) as exc:  # ValueError: an address redis-py cannot read
        return str(exc).rstrip(".") or type(exc).__name__  # "...refused.", said inside a sentence of ours
    return None


class FrontierUnreachable(Exception):
    """The crawl's Redis (``AGGREGATOR_REDIS_URL``) cannot be used: the run does not start."""


class FrontierCheck:
    """Scrapy extension: a scale-out crawl whose Redis does not answer stops before its engine is built, its last
    line ``FrontierUnreachable: nothing answers at AGGREGATOR_REDIS_URL=...: ...; this run does not start``.

    ``aggregator crawl`` asks before it starts; this is for a plain ``scrapy crawl`` (Scrapyd's jobs), which used to
    end in ``RuntimeError: Engine slot not assigned``: scrapy-redis's scheduler finds the server gone while the engine
    opens the spider, and Scrapy's clean-up after that failure fails in turn, hiding the reason under its own error.
    Raised here, when the crawler builds its extensions (as ``aggregator.locks.RunLock`` refuses a busy source), the
    reason is the error Scrapy reports, and nothing has started that would need closing.
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        redis_url = crawler.settings.get("AGGREGATOR_REDIS_URL")
        if not redis_url:
            raise NotConfigured  # not a scale-out crawl
        # A -s setting has not been through aggregator.environment's checks
        problem = redis_address_problem(redis_url)
        if problem:
            raise FrontierUnreachable(f"AGGREGATOR_REDIS_URL {problem}; this run does not start")
        why = redis_unreachable(redis_url)
        if why:
            raise FrontierUnreachable(
                f"nothing answers at AGGREGATOR_REDIS_URL={shown_redis_url(redis_url)}: {why}; this run does not start"
            )
        return cls()


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
        "REDIS_URL": redis_url,
    }


class SharedDupeFilter(RFPDupeFilter):  # type: ignore[misc]
    """scrapy-redis's filter keyed like ours: the canonical real URL (two spellings of a link are one article)."""

    def request_fingerprint(self, request: Request) -> str:
        return f"{request.method} {canonical_url(request.url)}"


class SharedScheduler(Scheduler):  # type: ignore[misc]
    """scrapy-redis's scheduler, with an idle timeout, worker heartbeats and crawl generations (see the module)."""

    idle_seconds: float = 10.0
    heartbeat_ttl: float = HEARTBEAT_TTL
    namespace: str = "aggregator"

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        scheduler: Self = super().from_crawler(crawler)
        scheduler.idle_seconds = crawler.settings.getfloat("AGGREGATOR_REDIS_IDLE_SECONDS", 10.0)
        scheduler.heartbeat_ttl = crawler.settings.getfloat("AGGREGATOR_REDIS_HEARTBEAT_TTL", HEARTBEAT_TTL)
        scheduler.namespace = crawler.settings.get("AGGREGATOR_REDIS_NAMESPACE") or "aggregator"
        return scheduler

    # -- workers and generations -------------------------------------------------------------------------

    def _key(self, what: str) -> str:
        return f"{self.namespace}:{self.spider.name}:{what}"

    def _beat(self) -> None:
        # px: whole milliseconds, so that a fractional setting is kept as it is
        self.server.set(self._key(f"worker:{self.worker}"), str(time.time()), px=int(self.heartbeat_ttl * 1000))

    def _others_alive(self) -> bool:
        mine = self._key(f"worker:{self.worker}")
        return any(key != mine for key in self.server.scan_iter(match=self._key("worker:*")))

    def open(self, spider: Spider) -> Any:
        self.spider = spider
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._empty_since: float | None = None
        lock = self.server.lock(self._key("generation-lock"), timeout=30, blocking_timeout=30)
        with lock:
            result = super().open(spider)
            if not self._others_alive():
                self.df.clear()
                self.server.delete(self._key("crawl"))
                logger.info("%s: no other worker alive: a new crawl generation (duplicate filter cleared)", spider.name)
            # The generation's name: the first worker's, or this one's when it is the first (or when the workers it
            # joins run a release that names none)
            self.server.set(self._key("crawl"), uuid.uuid4().hex, nx=True)
            name = self.server.get(self._key("crawl"))
            self.crawl_id: str = name.decode() if isinstance(name, bytes) else str(name)
            self._beat()
        if self.stats:
            self.stats.set_value(CRAWL_ID, self.crawl_id)  # for the run's row (pipelines.store)
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.start(HEARTBEAT_SECONDS, now=False)
        return result

    def close(self, reason: str) -> Any:
        if getattr(self, "_heartbeat", None) is not None and self._heartbeat.running:
            self._heartbeat.stop()
        with self.server.lock(self._key("generation-lock"), timeout=30, blocking_timeout=30):
            self.server.delete(self._key(f"worker:{self.worker}"))
            if not self._others_alive() and not len(self.queue):
                self.df.clear()  # the last worker out: the next crawl starts afresh
        return super().close(reason)

    # -- the frontier ----------------------------------------------------------------------------------------

    # scrapy-redis 0.9.1 passes ``spider=`` to the stats collector, which Scrapy 2.19 deprecates: the two methods
    # that count are restated without it.

    def enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self) -> Request | None:
        request: Request | None = self.queue.pop(self.idle_before_close)
        if request is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        self._empty_since = None if request is not None else (self._empty_since or time.monotonic())
        return request

    def has_pending_requests(self) -> bool:
        """True while the shared queue holds requests, and for ``idle_seconds`` after it was last seen empty
        (another worker may still be parsing a page that adds to it): then the worker may close."""
        if len(self.queue):
            self._empty_since = None
            return True
        if self._empty_since is None:
            self._empty_since = time.monotonic()
        return time.monotonic() - self._empty_since < self.idle_seconds
