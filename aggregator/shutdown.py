"""A graceful stop stays graceful when SIGTERM comes more than once.

Scrapy stops gracefully at the first SIGINT or SIGTERM and forces an unclean shutdown at the second: the run is
not closed (its row stays "running"), and what the crawl fetched but had not stored yet is lost. That suits a user
at a terminal pressing Ctrl-C twice, but unattended crawls get a second SIGTERM they never asked for:

- ``systemctl stop`` sends SIGTERM to every process of the unit, and ``aggregator schedule`` passes the one it gets
  on to its running crawl: that crawl gets two;
- Ctrl-C reaches ``aggregator schedule`` and its crawl (one terminal process group): the crawl gets SIGINT, then the
  SIGTERM its scheduler passes on.

With ``GracefulStop`` (an extension), a SIGTERM that comes after the first stop signal is ignored with a log line:
a second SIGINT still forces the stop, and so does SIGKILL (what systemd and container runtimes send when a stop
takes too long).

So is a SIGTERM that comes while every crawl of the process is already closing (its spider finished: the last
batch being stored, the run being closed). Scrapy's graceful stop then cut that close short: Scrapy 2.19's
``close_spider`` called again during a close returns as soon as the requests in flight are done, not when the close
is, and the reactor stopped under it, leaving the run "running" and the crawl ending "with None" (exit status 1).
``crawl --all`` runs several crawls, and a stop that comes while one of them closes and the others still crawl did
the same to the closing one: its graceful stop now stops the crawls that still crawl and waits for every crawl to
be over, closes included, before it stops the reactor (``_stop_gracefully``).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

_OURS = "_aggregator_graceful_stop"
_stopping = False


class GracefulStop:
    """Extension: once the crawl's reactor runs, wraps Scrapy's SIGINT and SIGTERM handlers (once a process)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        from scrapy.utils.reactor import is_reactor_installed

        extension = cls()
        crawler.signals.connect(extension.engine_started, signal=signals.engine_started)
        # And as soon as the reactor runs: a stop while the spider opens (the store loads the archive's known URLs,
        # longer the larger the archive) met Scrapy's own handler, which stopped the reactor under the opening.
        # Scrapy installs its handlers at the reactor's start-up; a call at the next turn comes after. (Without a
        # reactor, TWISTED_REACTOR_ENABLED=False, importing one would install it: nothing is done then.)
        if is_reactor_installed():
            from twisted.internet import reactor, task

            reactor.callWhenRunning(task.deferLater, reactor, 0, install)
        return extension

    def engine_started(self) -> None:
        from twisted.internet import reactor, task

        # Scrapy installs its handlers when the reactor has started; a call at the reactor's next turn comes after.
        task.deferLater(reactor, 0, install)


def install() -> None:
    """Wrap the handlers Scrapy installed for SIGINT and SIGTERM (none: nothing to do, the default action stays)."""
    if threading.current_thread() is not threading.main_thread():
        return  # a reactor in another thread (Scrapy embedded in a program): signals are that program's business
    for signum in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(signum)
        if callable(current) and not getattr(current, _OURS, False):
            _wait_for_closes(current)
            signal.signal(signum, _relay(current))


def _wait_for_closes(handler: Any) -> None:
    """Make the graceful stop of the Scrapy process whose handler this is ``_stop_gracefully``. Scrapy's own
    (``_graceful_stop_reactor``: ``_stop_dfd``, then the reactor stopped) stops every crawl, a closing one too, which
    cuts its close short (see the module's text)."""
    process = getattr(handler, "__self__", None)  # CrawlerProcess._signal_shutdown, a bound method
    if process is None or not callable(getattr(process, "_stop_dfd", None)) or not hasattr(process, "crawlers"):
        return
    if not getattr(process, _OURS, False):
        process._stop_dfd = lambda: _stop_gracefully(process)
        setattr(process, _OURS, True)


def _stop_gracefully(process: Any) -> Any:
    """Stop the crawls of ``process`` that have not begun to close, and return a Deferred that fires when every crawl
    is over (``join``): the closing ones when their close is done."""
    from scrapy.utils.defer import deferred_from_coro

    for crawler in list(process.crawlers):
        if not closing_or_done(crawler):
            _stop_once_started(crawler)
    return deferred_from_coro(process.join())


def _stop_once_started(crawler: Crawler) -> None:
    """Stop the crawl now if its engine runs, else as soon as it does: a crawl stopped while its spider opens was
    only marked stopped (Scrapy 2.19's ``Crawler.stop_async`` stops a running engine only), so that the opening went
    on, the reactor was stopped under it (Scrapy's stop) or the crawl ran to its end (ours): its run stayed
    "running", the crawl ended "with None". Started, it closes as any stopped crawl does ("shutdown", partial)."""
    from scrapy.utils.defer import deferred_from_coro
    from twisted.internet import reactor, task

    if not crawler.crawling:
        return  # over: its opening failed, or it finished meanwhile
    engine = getattr(crawler, "_engine", None)
    if engine is None or not engine.running:
        task.deferLater(reactor, WAIT_FOR_START, _stop_once_started, crawler)
        return
    stop = getattr(crawler, "stop_async", None)  # Scrapy 2.14+; stop() is deprecated there
    stopped = deferred_from_coro(stop()) if stop is not None else crawler.stop()

    def failed(failure: Failure) -> None:
        logger.error("stopping the crawl of %s failed: %s", crawler.spidercls.name, failure.getErrorMessage())

    stopped.addErrback(failed)


WAIT_FOR_START = 0.05
"""Seconds between looks at a crawl that was asked to stop while its spider was opening."""


def _relay(handler: Any) -> Any:
    process = getattr(handler, "__self__", None)  # CrawlerProcess._signal_shutdown, a bound method

    def relay(signum: int, frame: FrameType | None) -> None:
        global _stopping
        if signum == signal.SIGTERM and _stopping:
            _log_later("SIGTERM again while stopping gracefully: ignored (a second SIGINT or SIGKILL forces the stop)")
            return
        if signum == signal.SIGTERM and closing(process):
            _stopping = True
            _log_later("SIGTERM while the crawl is closing: it closes as it was (SIGINT or SIGKILL forces the stop)")
            return
        _stopping = True
        handler(signum, frame)
        # Scrapy's handler has put its forcing one in place for every signal: SIGTERM goes on asking for the
        # graceful stop, SIGINT (a user's second Ctrl-C) forces it.
        current = signal.getsignal(signal.SIGTERM)
        if callable(current) and not getattr(current, _OURS, False):
            signal.signal(signal.SIGTERM, _relay(current))

    setattr(relay, _OURS, True)
    return relay


def closing(process: Any) -> bool:
    """Whether every crawl of the Scrapy ``process`` (``crawl --all`` runs several) has begun to close its spider or
    is done: none is starting or crawling, so a graceful stop has nothing left to stop."""
    crawlers = list(getattr(process, "crawlers", ()))
    return bool(crawlers) and all(closing_or_done(crawler) for crawler in crawlers)


def closing_or_done(crawler: Crawler) -> bool:
    """Whether ``crawler`` has begun to close its spider, or is done (also what ``aggregator.backoff`` watches for:
    a close waits for every request the downloader holds, those a site's pause holds too)."""
    if not crawler.crawling:  # its close is over (``process.crawl`` sets it before the reactor runs)
        return True
    # Scrapy 2.19 keeps no public flag: the engine's slot exists from the spider's opening to the end of its close,
    # and its ``closing`` Deferred from the start of the close. (``crawler.engine`` raises before the engine is made.)
    slot = getattr(getattr(crawler, "_engine", None), "_slot", None)
    return slot is not None and getattr(slot, "closing", None) is not None


def _log_later(message: str) -> None:
    """Log from the reactor's thread: a signal handler may interrupt a write to the very stream it would log to."""
    from twisted.internet import reactor

    reactor.callFromThread(logger.warning, message)
