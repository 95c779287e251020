"""A site that asks the crawler to slow down is obeyed.

Scrapy retries an HTTP 429 (Too Many Requests) or 503 (Service Unavailable) at once and does not read the
``Retry-After`` header that comes with it, and AutoThrottle does not slow down on either: a site that rate-limits
the crawler gets the next requests straight away. ``RetryAfterMiddleware`` (a downloader middleware) reads the
answer instead:

- a 429 or 503 with ``Retry-After`` (seconds, or an HTTP date), or a 429 without it (then
  ``AGGREGATOR_RATE_LIMIT_WAIT`` seconds, 60 by default), pauses every request to that site (its download slot) for
  that long. Scrapy's retry then fetches the page again after the pause (``RETRY_TIMES``), and the rest of the site's
  pages wait too. Each pause counts in ``aggregator/rate_limited``.
- a wait longer than ``AGGREGATOR_RETRY_AFTER_MAX`` seconds (300 by default) is not waited out: the run stops with
  the finish reason ``rate_limited`` (its row is "partial", ``aggregator crawl`` exits 1 and says why), and
  ``aggregator/rate_limited_until`` in its stats says until when the site asked to be left alone (a day at most,
  ``LONGEST_REST``). What the run did
  not fetch is not archived yet, so the next run fetches it.
- until that time has come, ``aggregator crawl`` (and ``aggregator schedule``) does not start the source again
  (``resting_sources``): it is skipped, as a locked one is, with the time on stderr. A hold is kept apart by where it
  was asked: one a mirror asked for (a run with ``AGGREGATOR_MIRROR``, ``--offline``) holds only crawls against a
  mirror, and one the real site asked for only crawls of the real site. A test crawl against a mirror whose
  ``_mirror.toml`` answers 429 silenced the real crawls of the same archive for up to a day.
- ``aggregator health`` shows a hold of the real site's while it lasts (``note_hold``): red when it is longer than
  ``HOLD_RED`` (the source goes unfetched for hours, every skipped run exiting 3, which a systemd unit counts as
  success), a note under a green verdict when shorter. ``lift_hold`` lifts it (an operator who knows better: the site
  answered so by mistake, or the run was a test).
- a 503 without ``Retry-After`` is an ordinary server error (retried by Scrapy, then a failed fetch).
- a run that stops during a pause (SIGTERM or Ctrl-C, its time limit, another site's too long Retry-After) ends at
  once, not when the pause is over: the requests the pause holds are not fetched, and go back to the scheduler
  (``PauseCutShort``), where a stopped run leaves what it did not fetch. So the next run fetches them: they are not
  archived, and no reject row says they failed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from time import monotonic
from typing import Any, Self
from weakref import WeakSet

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.asyncio import AsyncioLoopingCall, call_later, create_looping_call
from scrapy.utils.defer import deferred_from_coro
from sqlalchemy import Connection, select, update
from twisted.internet.task import LoopingCall

from aggregator.html import raw_header
from aggregator.present import utc_iso
from aggregator.shutdown import closing_or_done
from aggregator.store.models import CrawlRun

logger = logging.getLogger(__name__)

PAUSED_STAT = "aggregator/rate_limited"
UNTIL_STAT = "aggregator/rate_limited_until"
FINISH_REASON = "rate_limited"
SLOW_DOWN = frozenset({429, 503})
LONGEST_REST = timedelta(hours=24)
"""The longest a site's Retry-After keeps the source from being crawled again: one misconfigured answer (a CDN's
maintenance page asking for 315360000 s, a date years ahead) silenced the source for years, every run skipped with
exit status 3, which systemd counts as success, and its health never judged again. A site still asking after a day
is asked again, and its answer stops that run as before."""
MIRROR_STAT = "aggregator/mirror"
"""The mirror a run crawled (``AGGREGATOR_MIRROR``); absent from a run of the real sites. Which holds apply to which
crawls (``latest_hold``)."""
LIFTED_STAT = "aggregator/rate_limited_lifted"
"""When an operator lifted the hold a run's Retry-After put on its source (``lift_hold``)."""
HOLD_RED = timedelta(hours=1)
"""A hold of the real site's longer than this turns the source red in ``aggregator health`` while it lasts. A shorter
one (holds start at ``AGGREGATOR_RETRY_AFTER_MAX``, 5 minutes by default) skips a run or two of a schedule, as a site
that is down for a while does; a longer one leaves the archive without the site's news for hours, and nothing else
says so: the skipped runs record no row and exit 3."""
RUNS_LOOKED_AT = 20
"""The latest runs of a source looked at for the latest one of a kind (mirror or real site) that finished."""
CLOSE_WATCH = 0.1
"""Seconds between looks, while a site is paused, at whether the crawl has begun to close (see ``_watch_close``)."""


class PauseCutShort(IgnoreRequest):
    """A request a site's pause held (or would have held) when the crawl began to close: it is not fetched.

    ``RetryAfterMiddleware.process_exception`` hands it back to the scheduler, so no errback sees it: the spider's
    (``fetch_failed``) would have made it a failed fetch, a reject row for a page that was never asked for. An
    ``IgnoreRequest``, so that Scrapy logs no error for it where it does reach an errback or a caller of
    ``engine.download_async`` (the robots.txt middleware's request, handed back once, comes back: see there)."""


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait that a ``Retry-After`` header value asks for (RFC 9110: delay-seconds or an HTTP date);
    None when it is absent or unreadable. A date in the past asks for no wait."""
    if value is None or not (value := value.strip()):
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are in GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True, slots=True)
class Hold:
    """A source's runs held back by a site's Retry-After: its latest run of a kind was stopped with one
    (``FINISH_REASON``) that has not passed yet, and no operator has lifted it."""

    source: str
    run: int
    """The run the site stopped."""
    until: datetime
    asked_at: datetime
    """When that run ended (the hold began)."""
    mirror: str | None
    """The mirror that asked for it; None: the real site."""

    @property
    def length(self) -> timedelta:
        return self.until - self.asked_at

    def said(self) -> str:
        """The hold in the words of ``aggregator health``'s problems."""
        asker, runs, where = (
            (f"the mirror {self.mirror}", "its runs against a mirror", " --offline --lift-hold` (or --mirror URL)")
            if self.mirror
            else ("the site", "its runs", " --lift-hold`")
        )
        return (
            f"held by {asker}'s Retry-After until {self.until.isoformat(timespec='seconds')} (run {self.run}, "
            f"{_span(self.length)}): {runs} are skipped until then; `aggregator crawl {self.source}{where} crawls "
            "it now"
        )


def latest_hold(conn: Connection, key: str, *, mirror: bool | None, now: datetime | None = None) -> Hold | None:
    """The hold on the runs of source ``key`` against a mirror (``mirror`` True) or against the real site (False),
    from the latest finished run of that kind; ``mirror`` None: from the latest finished run of either kind (what a
    caller that does not say where it crawls gets, as before holds were kept apart). None when there is none, it has
    passed or it was lifted.

    A run still going (or killed: no stats) says nothing of either: it is passed over for the one before it."""
    now = now or datetime.now(UTC)
    runs = conn.execute(
        select(CrawlRun.id, CrawlRun.stats, CrawlRun.started_at, CrawlRun.finished_at)
        .where(CrawlRun.source == key, CrawlRun.stats.is_not(None))
        .order_by(CrawlRun.id.desc())
        .limit(RUNS_LOOKED_AT)
    ).all()
    for run in runs:
        stats = run.stats if isinstance(run.stats, dict) else {}
        against = stats.get(MIRROR_STAT)
        if mirror is not None and bool(against) != mirror:
            continue
        until = _instant(stats.get(UNTIL_STAT))
        if until is None or until <= now or stats.get(LIFTED_STAT):
            return None
        asked_at = run.finished_at or run.started_at
        return Hold(key, run.id, until, asked_at, str(against) if against else None)
    return None


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def resting_sources(
    db_url: str, keys: Sequence[str], now: datetime | None = None, *, mirror: bool | None = None
) -> dict[str, datetime]:
    """The sources among ``keys`` whose runs a site's Retry-After holds back (``latest_hold``: ``mirror`` says which
    crawls ask), with the time it named."""
    from aggregator.store import Archive

    archive = Archive.open(db_url)
    try:
        with archive.reader.connect() as conn:
            holds = [latest_hold(conn, key, mirror=mirror, now=now) for key in keys]
    finally:
        archive.close()
    return {hold.source: hold.until for hold in holds if hold is not None}


def lift_hold(db_url: str, source: str, *, mirror: bool = False, now: datetime | None = None) -> Hold | None:
    """Lift the hold a site's Retry-After put on the crawls of ``source`` against a mirror (``mirror``) or the real
    site: the next run starts whatever the time, and ``aggregator health`` no longer shows it. Returns the hold
    lifted, None when there was none.

    Recorded on the run the site stopped (``LIFTED_STAT``, the time), which keeps what the site asked for."""
    from aggregator.store import Archive
    from aggregator.store.db import refuse_read_only

    refuse_read_only(db_url, "lifting a hold writes to it")
    now = now or datetime.now(UTC)
    archive = Archive.open(db_url)
    try:
        with archive.session.begin() as session:
            hold = latest_hold(session.connection(), source, mirror=mirror, now=now)
            if hold is None:
                return None
            stats = session.execute(select(CrawlRun.stats).where(CrawlRun.id == hold.run)).scalar_one()
            lifted = {**(stats or {}), LIFTED_STAT: now.isoformat(timespec="seconds")}
            session.execute(update(CrawlRun).where(CrawlRun.id == hold.run).values(stats=lifted))
    finally:
        archive.close()
    logger.info("%s: lifted the hold until %s (run %s)", source, hold.until.isoformat(timespec="seconds"), hold.run)
    return hold


def note_hold(conn: Connection, row: dict[str, Any], now: datetime | None = None) -> None:
    """Add to a source's ``aggregator health`` row (``health_report.source_health``) the hold a site's Retry-After
    puts on its runs: ``held_until``, the time the real site named (None: no hold), and a problem saying it; red when
    that hold is longer than ``HOLD_RED``. A hold a mirror asked for is said too (a test crawl is skipped by it, and
    should not seem to be skipped for nothing), and changes nothing else: the real site's runs go on."""
    hold = latest_hold(conn, row["source"], mirror=False, now=now)
    row["held_until"] = utc_iso(hold.until) if hold is not None else None
    if hold is not None and hold.length > HOLD_RED:
        row["status"] = "red"
    held = [found for found in (hold, latest_hold(conn, row["source"], mirror=True, now=now)) if found is not None]
    if held:
        row["problems"] = [*(row.get("problems") or []), *(found.said() for found in held)]


def _span(length: timedelta) -> str:
    minutes = round(length.total_seconds() / 60)
    return f"{minutes} min" if minutes < 120 else f"{round(minutes / 60, 1):g} h"


class RetryAfterMiddleware:
    """Downloader middleware: pause a site that answers 429 (or 503 with ``Retry-After``); stop the run when the
    site asks for a longer wait than the run should sit out."""

    def __init__(self, crawler: Crawler, default_wait: float, longest_wait: float) -> None:
        self.crawler = crawler
        self.default_wait = default_wait
        self.longest_wait = longest_wait
        self.autothrottle = crawler.settings.getbool("AUTOTHROTTLE_ENABLED")
        self._paused: dict[str, tuple[float, float]] = {}  # slot key -> (its delay before the pause, pause's end)
        self._stopping = False
        self._closing = False
        """The crawl has begun to close: paused sites' requests are let go, not held (``_let_go``)."""
        self._watch: AsyncioLoopingCall | LoopingCall | None = None
        self._handed_back: WeakSet[Request] = WeakSet()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        middleware = cls(
            crawler,
            default_wait=settings.getfloat("AGGREGATOR_RATE_LIMIT_WAIT", 60.0),
            longest_wait=settings.getfloat("AGGREGATOR_RETRY_AFTER_MAX", 300.0),
        )
        crawler.signals.connect(middleware._opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware._closed, signal=signals.spider_closed)
        return middleware

    def _opened(self, spider: Spider) -> None:
        """Say, in the run's stats, which mirror it crawls: a hold it records holds only crawls of a mirror, and the
        latest run of the real site is the latest without (``latest_hold``)."""
        mirror = self.crawler.settings.get("AGGREGATOR_MIRROR")
        if mirror and self.crawler.stats is not None:
            self.crawler.stats.set_value(MIRROR_STAT, str(mirror))

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        """Once the crawl closes, a request that reaches a paused site is not queued behind its pause: the close would
        wait for it. (The engine takes no request from the scheduler then; these were held up before the downloader,
        by the robots.txt middleware waiting for a robots.txt that the pause holds.)"""
        if self._closing and self._held(self._slot_key(request)):
            raise PauseCutShort(f"{request.url}: not fetched, the crawl closes while its site is paused")

    def process_exception(self, request: Request, exception: Exception, spider: Spider | None = None) -> Request | None:
        """A request the closing crawl let go (``PauseCutShort``) goes back to the scheduler, as if it had never left
        it: a stopped run drops what its scheduler holds (or keeps it, with a JOBDIR or the shared frontier of
        ``aggregator.scaleout``), and the next run asks for it. ``dont_filter``: the duplicate filter has seen it
        once, and would drop it, a "dropped" request to the sweep's count.

        Not twice: a request fetched by ``engine.download_async`` (robots.txt), not by the scheduler, comes straight
        back here when handed back, and would go round for ever; the second time it fails to its caller."""
        if not isinstance(exception, PauseCutShort) or request in self._handed_back:
            return None
        again = request.replace(dont_filter=True)
        self._handed_back.add(again)
        return again

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        if response.status not in SLOW_DOWN:
            if self._paused:
                self._recover(request)
            return response
        header = raw_header(response.headers, b"Retry-After")
        asked = retry_after(header.decode("latin-1") if header else None)
        if asked is None:
            if response.status != 429:
                return response  # a plain server error
            wait = self.default_wait
        else:
            wait = asked
        site = self._slot_key(request)
        if wait > self.longest_wait:
            self._stop(site, response, wait)
        else:
            self._pause(request, site, response.status, wait)
        return response

    # -- pausing a site ------------------------------------------------------------------------------

    def _slot_key(self, request: Request) -> str:
        engine = self.crawler.engine
        if engine is not None:
            return str(engine.downloader.get_slot_key(request))
        return str(request.meta.get("download_slot") or "")

    def _pause(self, request: Request, site: str, status: int, wait: float) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(PAUSED_STAT)
        engine = self.crawler.engine
        slot = engine.downloader.slots.get(site) if engine is not None else None
        if slot is None:
            return
        # The downloader waits until `delay` has passed since `lastseen` before a slot's next request, and does not
        # look at all while the delay is 0: a delay of a millisecond (given back at the next good answer) makes it
        # look, and a `lastseen` that far in the future makes it wait the whole pause.
        until = monotonic() + wait
        original, until_before = self._paused.get(site, (slot.delay, 0.0))
        self._paused[site] = (original, max(until, until_before))
        slot.delay = max(slot.delay, 0.001)
        slot.lastseen = max(slot.lastseen, until)
        logger.info("%s answered %d: no request to it for %.0f s (%s)", site, status, wait, request.url)
        self._watch_close()

    def _held(self, site: str) -> bool:
        paused = self._paused.get(site)
        return paused is not None and monotonic() < paused[1]

    # -- a close during a pause ----------------------------------------------------------------------

    def _watch_close(self) -> None:
        """While a site is paused, look every ``CLOSE_WATCH`` seconds whether the crawl has begun to close.

        The pause holds the site's requests in the downloader (its slot's queue, behind a ``call_later`` for the
        pause's end), and Scrapy's close (``close_spider_async``, whatever asked for it: SIGTERM or SIGINT through
        ``aggregator.shutdown``, ``CLOSESPIDER_TIMEOUT``, a ``rate_limited`` stop) waits for every request in the
        downloader: the close waited out the pause, up to ``AGGREGATOR_RETRY_AFTER_MAX`` (a stop took 236 s, where
        systemd kills a unit 90 s after its SIGTERM). Scrapy says nothing when a close begins (``spider_closed``
        comes when it is over), hence the look, as cheap as it is short-lived: only while a pause lasts."""
        if self._watch is not None or not self.crawler.crawling:  # (not crawling: the middleware on its own)
            return
        self._watch = create_looping_call(self._look)
        self._watch.start(CLOSE_WATCH, now=False)

    def _look(self) -> None:
        if not self._closing and closing_or_done(self.crawler):
            self._closing = True
        if self._closing:
            self._let_go()  # every look: a request may have joined a paused queue since
        elif not any(self._held(site) for site in self._paused):
            self._unwatch()  # no pause left to cut short

    def _unwatch(self) -> None:
        if self._watch is not None:
            if self._watch.running:
                self._watch.stop()
            self._watch = None

    def _let_go(self) -> None:
        """Fail the requests that paused sites' slots hold with ``PauseCutShort``: out of the downloader, they no longer
        keep the close waiting (``process_exception`` hands them back to the scheduler)."""
        engine = self.crawler.engine
        if engine is None:
            return
        for site in [site for site in self._paused if self._held(site)]:
            slot = engine.downloader.slots.get(site)
            if slot is None or not slot.queue:
                continue
            held = list(slot.queue)
            slot.queue.clear()
            logger.info(
                "%s: the crawl closes: %d request(s) held by the pause its Retry-After asked for are not fetched "
                "(the next run fetches them)",
                site,
                len(held),
            )
            for request, deferred in held:
                deferred.errback(PauseCutShort(f"{request.url}: not fetched, the crawl closes during a pause"))

    def _recover(self, request: Request) -> None:
        """A good answer after the pause is over gives the site back its delay (answers to requests sent before
        the pause may still come in during it: the delay stays until the pause has passed)."""
        site = self._slot_key(request)
        paused = self._paused.get(site)
        if paused is None or monotonic() < paused[1]:
            return
        del self._paused[site]
        engine = self.crawler.engine
        slot = engine.downloader.slots.get(site) if engine is not None else None
        if slot is not None and not self.autothrottle:  # AutoThrottle sets the delay itself
            slot.delay = paused[0]

    # -- giving up for this run ----------------------------------------------------------------------

    def _stop(self, site: str, response: Response, wait: float) -> None:
        assert self.crawler.stats is not None
        until = datetime.now(UTC) + min(timedelta(seconds=wait), LONGEST_REST)
        self.crawler.stats.max_value(UNTIL_STAT, until.isoformat(timespec="seconds"))
        if self._stopping:
            return
        self._stopping = True
        logger.warning(
            "%s answered %d and asks for no request before %s (Retry-After, %.0f s: longer than "
            "AGGREGATOR_RETRY_AFTER_MAX, %.0f s): this run stops; the next one fetches what it did not",
            site,
            response.status,
            until.isoformat(timespec="seconds"),
            wait,
            self.longest_wait,
        )
        engine = self.crawler.engine
        if engine is not None:
            # Not from inside the downloader's own call chain: the engine closes the spider on its next turn.
            call_later(0, self._close, engine)

    @staticmethod
    def _close(engine: Any) -> None:
        deferred_from_coro(engine.close_spider_async(reason=FINISH_REASON))

    def _closed(self, spider: Spider, reason: str) -> None:
        self._unwatch()
        self._paused.clear()
