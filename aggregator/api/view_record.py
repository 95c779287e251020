"""Which readers have viewed which articles lately: the views counter counts readers, not requests.

``POST /api/articles/{id}/views`` used to add one for every request, from anyone: a script, or a reader's tab
reloading, could put an article into the most-read list that every page shows. A reader (a client address) is now
counted once per article within a window (``AGGREGATOR_VIEW_WINDOW_SECONDS``), and at most ``VIEWS_PER_MINUTE``
times a minute across articles, so a script walking every id is stopped too.

Where the record lives:

- ``ViewRecord``: in the server process's memory, bounded: past ``max_entries`` the oldest entries are dropped (those
  readers would be counted again; under a flood of addresses that is the lesser harm than the server's memory). Each
  process keeps its own, so with ``aggregator serve --workers N``, or several hosts behind a balancer, a reader whose
  requests land on several processes is counted once in each, and a restart forgets it.
- ``SharedViewRecord``, when ``AGGREGATOR_REDIS_URL`` names a Redis: one record for every process on every host, kept
  across restarts. Each (reader, article) is a key that expires with the window, each reader's minute a counter that
  expires with the minute, claimed by one script (atomic: two processes claiming the same view at once count it
  once). Not a table in the archive: the record is the readers' addresses of the last window, which would go into
  every backup, need purging, and add a write of the archive to every view (on SQLite, one lock shared by all the
  processes); Redis forgets them by itself, and a deployment of several hosts may have one already (its scale-out
  crawls').
  While Redis does not answer, the process's own record stands in (a reader may then be counted again, once in each
  process), so a Redis outage never stops views from being counted or the pages from being served. A Redis that
  cannot be used at all when the server starts (a wrong address or password, a read-only replica) is another matter:
  ``aggregator serve`` refuses to start (``SharedViewRecord.unusable``), rather than serving with every process
  counting alone for good and one warning in the log at the first view saying why.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from redis.exceptions import RedisError

from aggregator.environment import shown_redis_url

VIEW_WINDOW_SECONDS = 1800.0
"""How long a reader's view of an article is the only one counted (``AGGREGATOR_VIEW_WINDOW_SECONDS``)."""
VIEWS_PER_MINUTE = 60
"""Views a reader may have counted in a minute, across articles: more than a person reads, fewer than a script."""
MAX_ENTRIES = 50_000
"""How many (reader, article) views, and how many readers' minutes, the record keeps at most (some 20 MB)."""
MINUTE = 60.0
REDIS_TIMEOUT = 1.0
"""Seconds a view waits for Redis before the process's own record answers it instead."""
START_CHECK_TIMEOUT = 3.0
"""Seconds ``aggregator serve`` waits at start for Redis to answer its check: as long as a crawl waits for its shared
frontier's (``aggregator.scaleout.FrontierCheck``)."""
REDIS_RETRY_SECONDS = 5.0
"""How long after Redis failed to answer the process's own record answers without asking it (a Redis that is down
would otherwise cost every view its timeout)."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Claim:
    """What a view is: ``new`` (now recorded: count it, or ``release`` it if it is not counted after all),
    ``seen`` (this reader's view of this article is already counted in the window), or ``capped`` (the reader has had
    their views of the minute counted: ``retry_after`` seconds until the minute is over). ``token``: a new claim's
    in Redis (what its key holds), empty for one of a process's own record."""

    kind: Literal["new", "seen", "capped"]
    at: float = 0.0
    retry_after: int = 0
    token: str = ""


@dataclass(slots=True)
class _Minute:
    start: float
    counted: int


class ViewRecord:
    """Recent counted views by (reader, article), and each reader's count in their current minute.

    Thread-safe: the views endpoint is a plain ``def``, run in the server's thread pool, and a claim checks and
    records under one lock, so two requests of one reader at once count once. ``clock`` is for the tests (seconds,
    never going back).
    """

    def __init__(
        self,
        window: float = VIEW_WINDOW_SECONDS,
        *,
        per_minute: int = VIEWS_PER_MINUTE,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.per_minute = per_minute
        self.max_entries = max_entries
        self.clock = clock
        self._lock = threading.Lock()
        # Both in the order of their times (views counted; minutes started), so what has expired is at the front.
        self._views: OrderedDict[tuple[str, int], float] = OrderedDict()
        self._minutes: OrderedDict[str, _Minute] = OrderedDict()

    def __len__(self) -> int:
        return len(self._views)

    def claim(self, reader: str, article_id: int) -> Claim:
        """Whether ``reader``'s view of the article is to be counted; a new one is recorded at once."""
        with self._lock:
            now = self.clock()
            self._forget(now)
            if (reader, article_id) in self._views:
                return Claim("seen")
            minute = self._minutes.get(reader)
            if minute is None or now - minute.start >= MINUTE:
                minute = self._minutes[reader] = _Minute(now, 0)
                self._minutes.move_to_end(reader)
            elif minute.counted >= self.per_minute:
                return Claim("capped", retry_after=max(1, math.ceil(minute.start + MINUTE - now)))
            minute.counted += 1
            if self.window > 0:  # 0: every view is counted, only the minute's cap applies
                self._views[(reader, article_id)] = now
            for table in (self._views, self._minutes):
                while len(table) > self.max_entries:
                    table.popitem(last=False)
            return Claim("new", at=now)

    def release(self, reader: str, article_id: int, claim: Claim) -> None:
        """Take back a new claim whose view was not counted (no such article, a withdrawn one, the archive down)."""
        if claim.kind != "new":
            return
        with self._lock:
            if self._views.get((reader, article_id)) == claim.at:
                del self._views[(reader, article_id)]
            minute = self._minutes.get(reader)
            if minute is not None and minute.start <= claim.at and minute.counted > 0:
                minute.counted -= 1

    def close(self) -> None:
        """Nothing to let go of (for the app's shutdown, as ``SharedViewRecord.close``)."""

    def _forget(self, now: float) -> None:
        while self._views and now - next(iter(self._views.values())) >= self.window:
            self._views.popitem(last=False)
        while self._minutes and now - next(iter(self._minutes.values())).start >= MINUTE:
            self._minutes.popitem(last=False)


# KEYS: the (reader, article) key, the reader's minute. ARGV: the window in ms (0: none), the cap, the claim's token.
# Answers {kind, milliseconds the minute has left (for "capped")}. A minute starts with its first counted view, as in
# ViewRecord: the counter gets its expiry when it is made (a counter brought back to 0 by a release keeps its own).
_CLAIM = """
if ARGV[1] ~= '0' and redis.call('EXISTS', KEYS[1]) == 1 then
  return {'seen', 0}
end
local counted = tonumber(redis.call('GET', KEYS[2]) or '0')
if counted >= tonumber(ARGV[2]) then
  return {'capped', redis.call('PTTL', KEYS[2])}
end
redis.call('INCR', KEYS[2])
if redis.call('PTTL', KEYS[2]) < 0 then
  redis.call('PEXPIRE', KEYS[2], 60000)
end
if ARGV[1] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[1])
end
return {'new', 0}
"""
# The claim taken back: its key only if it is still this claim's (a later claim's stays), and one off the minute.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then
  redis.call('DECR', KEYS[2])
end
return 0
"""


class SharedViewRecord:
    """The record in Redis, shared by every server process that names the same Redis and namespace; the process's
    own ``ViewRecord`` (``local``) answers while Redis does not. Thread-safe as ``ViewRecord`` (redis-py's client
    is; the outage state is under a lock)."""

    def __init__(
        self,
        redis_url: str,
        window: float = VIEW_WINDOW_SECONDS,
        *,
        namespace: str = "aggregator",
        per_minute: int = VIEWS_PER_MINUTE,
        timeout: float = REDIS_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.window = window
        self.per_minute = per_minute
        self.local = ViewRecord(window, per_minute=per_minute, clock=clock)
        self.clock = clock
        self.redis_url = redis_url
        self.shown_url = shown_redis_url(redis_url)
        # One try a command: redis-py's own retries would hold a reader's request for several timeouts.
        self._client: Any = redis.Redis.from_url(
            redis_url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        self._claim = self._client.register_script(_CLAIM)
        self._release = self._client.register_script(_RELEASE)
        self._prefix = f"{namespace}:read-api"  # beside the crawls' "{namespace}:{spider}:..." keys, none of theirs
        self._window_ms = math.ceil(window * 1000) if window > 0 else 0
        self._lock = threading.Lock()
        self._down_until: float | None = None  # while Redis is taken as down (the clock's time), else None

    def claim(self, reader: str, article_id: int) -> Claim:
        """As ``ViewRecord.claim``, across processes."""
        if self._resting():
            return self.local.claim(reader, article_id)
        token = uuid.uuid4().hex
        try:
            kind, left = self._claim(self._keys(reader, article_id), [self._window_ms, self.per_minute, token])
        except RedisError as exc:  # down, unreachable, refusing (a read-only replica, a wrong password), timed out
            self._failed(exc)
            return self.local.claim(reader, article_id)
        self._answered()
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        if kind == "capped":
            return Claim("capped", retry_after=max(1, math.ceil(int(left) / 1000)))
        if kind == "seen":
            return Claim("seen")
        return Claim("new", at=self.clock(), token=token)

    def release(self, reader: str, article_id: int, claim: Claim) -> None:
        """As ``ViewRecord.release``; a claim Redis did not make is the local record's."""
        if claim.kind != "new":
            return
        if not claim.token:
            self.local.release(reader, article_id, claim)
            return
        try:
            self._release(keys=self._keys(reader, article_id), args=[claim.token])
        except RedisError as exc:  # the view stays remembered until its window ends: not counted again in it
            self._failed(exc)

    def unusable(self) -> str | None:
        """Why this record's Redis cannot be used, in one line naming its address (a password starred out), or None
        when it takes what a view asks of it: the claim's script (run on keys no reader has: it changes nothing) and a
        write (a read-only replica, a fail-over's old primary, answers a PING and the script's reads, and refuses every
        write; the key deleted is none of the record's). In the words of ``aggregator crawl``'s refusal of an unusable
        frontier: "nothing answers at AGGREGATOR_REDIS_URL=...: ..." or "Redis at AGGREGATOR_REDIS_URL=... refuses:
        ..."."""
        from aggregator.scaleout import redis_failure  # Scrapy's: only for the check at start, not in every worker

        unseen = f"{self._prefix}:start-check:{uuid.uuid4().hex}"
        try:
            self._release(keys=[unseen, unseen], args=[""])
            self._client.delete(unseen)
        except RedisError as exc:
            return redis_failure(self.redis_url, exc)
        return None

    def close(self) -> None:
        self._client.close()

    def _keys(self, reader: str, article_id: int) -> list[str]:
        return [f"{self._prefix}:viewed:{reader}:{article_id}", f"{self._prefix}:minute:{reader}"]

    def _resting(self) -> bool:
        with self._lock:
            return self._down_until is not None and self.clock() < self._down_until

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            first = self._down_until is None
            self._down_until = self.clock() + REDIS_RETRY_SECONDS
        if first:
            logger.warning(
                "views: Redis at %s does not answer (%s: %s); this process remembers its own readers until it does",
                self.shown_url,
                type(exc).__name__,
                exc,
            )

    def _answered(self) -> None:
        with self._lock:
            if self._down_until is None:
                return
            self._down_until = None
        logger.warning("views: Redis at %s answers again; the readers are remembered there", self.shown_url)
