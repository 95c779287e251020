"""Run the spiders of one or more sources in one Scrapy process, with live progress and a summary."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from twisted.python.failure import Failure

from aggregator.backoff import FINISH_REASON as RATE_LIMITED
from aggregator.backoff import PAUSED_STAT as RATE_LIMITED_PAUSES
from aggregator.backoff import UNTIL_STAT as RATE_LIMITED_UNTIL
from aggregator.backoff import resting_sources
from aggregator.encoding import CORRECTED_STAT as CHARSET_CORRECTED
from aggregator.health_checks import STORE_ERRORS, store_errors_said
from aggregator.items import EMPTY_LISTINGS, ENTRY_FAILED
from aggregator.locks import LOCK_LOST, LockWatch, SourceLocks
from aggregator.mirror import serve_mirror
from aggregator.paths import mirror_dir
from aggregator.run_counts import FRONTIER_PROBLEM, FRONTIER_UNREACHABLE, RUN_COUNTS, STOPPED, TIME_LIMIT, run_counts
from aggregator.settings import user_agent
from aggregator.sources import Source
from aggregator.store.db import one_line, refuse_read_only
from aggregator.tables import compact_table, header_column
from pipelines.store import ArchiveUnwritable

logger = logging.getLogger(__name__)

# (column title, stats key) of the live table and the summary
COUNTERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pages", RUN_COUNTS["pages"]),
    ("accepted", ("aggregator/articles",)),  # articles the pipelines passed to the store ("rejected": refused)
    ("new", RUN_COUNTS["items_new"]),
    ("updated", RUN_COUNTS["items_updated"]),
    ("unchanged", RUN_COUNTS["items_unchanged"]),
    ("rejected", RUN_COUNTS["rejected"]),
    ("fetch errors", RUN_COUNTS["http_errors"]),
    ("undated", RUN_COUNTS["dates_unparsed"]),
)
"""The summary's and the live table's columns, each the sum of these stats; a column the run row has is counted as
the row counts it (``counter_values``)."""
_ROW_COLUMNS = {keys: column for column, keys in RUN_COUNTS.items()}


def counter_values(stats: dict[str, Any]) -> list[int]:
    """The ``COUNTERS`` of a run, those the run row has from ``run_counts``: the summary of a run and its row in
    ``aggregator runs`` say the same (a swept page found gone is no fetch error in either)."""
    row = run_counts(stats)
    return [
        row[_ROW_COLUMNS[keys]] if keys in _ROW_COLUMNS else sum(int(stats.get(k) or 0) for k in keys)
        for _, keys in COUNTERS
    ]


# Exit statuses of `aggregator crawl` (2 is a usage or database error, said before any crawl starts).
EXIT_OK = 0
EXIT_FAILED = 1
"""A source's crawl failed, or its health is red."""
EXIT_BUSY = 3
"""A source was not crawled because another run of it holds its lock, or because its site asked for no request
before a time that has not come yet (and nothing else went wrong)."""


@dataclass
class SourceOutcome:
    source: str
    finish_reason: str | None
    stats: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    busy: bool = False
    """Not crawled: another run of the source was in progress."""
    time_limit: float | None = None
    """The run's time limit in seconds (``AGGREGATOR_MAX_RUN_MINUTES``), None for none."""
    resting_until: datetime | None = None
    """Not crawled: the site asked, in its Retry-After, for no request before this time (aggregator/backoff.py)."""

    @property
    def skipped(self) -> bool:
        return self.busy or self.resting_until is not None

    @property
    def ok(self) -> bool:
        return not self.problems and not self.skipped

    @property
    def health(self) -> dict[str, Any] | None:
        verdict = self.stats.get("aggregator/health/verdict")
        return verdict if isinstance(verdict, dict) else None


def exit_status(outcomes: Sequence[SourceOutcome]) -> int:
    if any(o.problems for o in outcomes):
        return EXIT_FAILED
    if any(o.skipped for o in outcomes):
        return EXIT_BUSY
    return EXIT_OK


def project_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Our Scrapy settings (module defaults, then the environment), with ``overrides`` on top. What follows from them
    (AutoThrottle off for a mirror, the shared scheduler for ``AGGREGATOR_REDIS_URL``) is worked out by the
    ``aggregator.addon`` add-on when each crawler is built, for plain ``scrapy crawl`` alike."""
    settings = Settings()
    settings.setmodule("aggregator.settings", priority="project")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    if overrides and "AGGREGATOR_CONTACT_URL" in overrides and "USER_AGENT" not in overrides:
        settings.set("USER_AGENT", user_agent(overrides["AGGREGATOR_CONTACT_URL"]), priority="cmdline")
    return settings


class _Board:
    """The live progress table: one row per source, read from each crawler's stats."""

    def __init__(self, crawlers: dict[str, Crawler]) -> None:
        self.crawlers = crawlers

    def __rich__(self) -> Table:
        return stats_table(
            {key: c.stats.get_stats() if c.stats else {} for key, c in self.crawlers.items()},
            title="Crawling…",
        )


def stats_table(per_source: dict[str, dict[str, Any]], title: str) -> Table:
    """Counters per source; fits an 80-column terminal with every header whole (a two-word one wraps there)."""
    table = compact_table(title)
    table.add_column("source", no_wrap=True)
    for label, _ in COUNTERS:
        header_column(table, label, justify="right")
    for key, stats in per_source.items():
        table.add_row(key, *(str(value) for value in counter_values(stats)))
    return table


@contextmanager
def _logs_above(display: Live) -> Iterator[None]:
    """While the live table shows, log records are printed above it. Rich's ``Live`` takes over ``sys.stderr`` to
    do so, but Scrapy's log handler holds the stream ``sys.stderr`` was when the crawl process was made: its lines
    ("Gave up retrying ... 500") were written into the table, which went on being drawn below each one."""
    with display:
        console_stderr = sys.stderr  # Live's proxy when the console is a terminal, else the stream itself
        moved = [
            (handler, handler.setStream(console_stderr))
            for handler in logging.getLogger().handlers
            if type(handler) is logging.StreamHandler and handler.stream is _stderr_before(console_stderr)
        ]
        try:
            yield
        finally:
            for handler, stream in moved:
                handler.setStream(stream)


def _stderr_before(stream: Any) -> Any:
    """The stream a Rich proxy (``FileProxy``) stands for, or ``stream`` itself."""
    return getattr(stream, "rich_proxied_file", stream)


STARTUP_LISTINGS = {"scrapy.middleware": None, "scrapy.addons": None, "scrapy.crawler": "Overridden settings"}
"""Loggers whose start-up listings a crawl under ``aggregator crawl`` leaves out of its log by default: each crawler
logs its enabled middlewares, extensions, pipelines and add-ons and its overridden settings (~60 lines a source, the
same every run, and what the code says), which made a cron run's log 1,000 lines for the bundled six sources.
``None``: every INFO record of the logger (each says nothing else); a string: the records starting with it (the
crawler's logger also says when a signal stops the crawl)."""


class _StartupListings(logging.Filter):
    def __init__(self, starts: str | None) -> None:
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        return self.starts is not None and not str(record.msg).startswith(self.starts)


@contextmanager
def _quiet_startup(quiet: bool) -> Iterator[None]:
    """Leave Scrapy's start-up listings (``STARTUP_LISTINGS``) out of the log while the crawls run, when ``quiet``."""
    if not quiet:
        yield
        return
    filters = [(logging.getLogger(name), _StartupListings(starts)) for name, starts in STARTUP_LISTINGS.items()]
    for named, listing in filters:
        named.addFilter(listing)
    try:
        yield
    finally:
        for named, listing in filters:
            named.removeFilter(listing)


@contextmanager
def _offline_mirror(offline: bool, mirror: str | None, root: Path | None) -> Iterator[str | None]:
    if offline:
        with serve_mirror(root or mirror_dir()) as base:
            yield base
    else:
        yield mirror


def run_crawl(
    sources: Sequence[Source],
    *,
    db_url: str | None = None,
    offline: bool = False,
    mirror: str | None = None,
    mirror_root: Path | None = None,
    settings: dict[str, Any] | None = None,
    console: Console | None = None,
    live: bool | None = None,
    refresh: bool = False,
) -> list[SourceOutcome]:
    """Crawl ``sources`` concurrently in this process (the Twisted reactor runs once per process).

    Each source is crawled under its lock (``aggregator.locks``); a source another run holds is not crawled and
    comes back ``busy``. Scale-out workers (``AGGREGATOR_REDIS_URL``) take no lock: sharing a source's frontier
    among many processes is their point. On PostgreSQL the locks are watched while the crawls run (``LockWatch``):
    a crawl whose lock went with its connection to another run stops (``LOCK_LOST``). A crawl that could not start
    (its store could not write the archive) comes back with that reason as its only problem.
    """
    console = console or Console(stderr=True)
    live = console.is_terminal if live is None else live
    overrides: dict[str, Any] = dict(settings or {})
    if db_url:
        overrides["AGGREGATOR_DB_URL"] = db_url
    if refresh:
        overrides["AGGREGATOR_REFRESH"] = True
    # Scrapy's start-up listings stay in the log only when asked for by a log level (``--log-level INFO``).
    quiet = "LOG_LEVEL" not in overrides
    if live:
        overrides.setdefault("LOG_LEVEL", "WARNING")
    scrapy_settings = project_settings(overrides)
    # Each source's store failed on its first write, after its lock file could not be made beside the archive (a
    # traceback) or the crawl had fetched its pages for nothing.
    refuse_read_only(str(scrapy_settings["AGGREGATOR_DB_URL"]), "a crawl writes to it; nothing was crawled")
    shared_frontier = bool(scrapy_settings.get("AGGREGATOR_REDIS_URL"))
    keys = [s.key for s in sources]
    by_key = {s.key: s for s in sources}
    locks = None if shared_frontier else SourceLocks(scrapy_settings["AGGREGATOR_DB_URL"])
    locking: AbstractContextManager[tuple[list[str], list[str]]] = (
        nullcontext((keys, [])) if locks is None else locks.held(keys)
    )
    with locking as (free, busy), _offline_mirror(offline, mirror, mirror_root) as base, ExitStack() as stack:
        # A mirror's Retry-After holds crawls of a mirror, the site's crawls of the site (aggregator/backoff.py).
        against_mirror = bool(base or scrapy_settings.get("AGGREGATOR_MIRROR"))
        resting = resting_sources(scrapy_settings["AGGREGATOR_DB_URL"], free, mirror=against_mirror)
        free = [key for key in free if key not in resting]
        if base:
            overrides["AGGREGATOR_MIRROR"] = base
        if not shared_frontier:
            overrides["AGGREGATOR_LOCKED_SOURCES"] = list(free)
        else:  # a Redis that cannot be used is each run's recorded failure (frontier_unreachable), not a refusal
            overrides["AGGREGATOR_FRONTIER_CHECK"] = False
        crawlers: dict[str, Crawler] = {}
        not_started: dict[str, str] = {}
        if free:
            process = CrawlerProcess(project_settings(overrides))
            # (each crawler logs its listings as ``process.crawl`` starts it)
            stack.enter_context(_quiet_startup(quiet))
            # On PostgreSQL the locks are held by a connection, which can drop while the crawls run.
            watch = LockWatch(locks, LockWatch.interval_of(scrapy_settings)) if locks is not None else None
            for key in free:
                crawler = process.create_crawler(key)
                crawlers[key] = crawler
                if watch is not None:
                    watch.watch(key, crawler)
                process.crawl(crawler).addErrback(_could_not_start, key, not_started)
            display = Live(_Board(crawlers), console=console, refresh_per_second=4, transient=True)
            with _logs_above(display) if live else nullcontext():
                process.start()
    outcomes = [SourceOutcome(key, None, {}, busy=True) for key in busy]
    outcomes += [SourceOutcome(key, None, {}, resting_until=until) for key, until in resting.items()]
    for key, crawler in crawlers.items():
        stats = crawler.stats.get_stats() if crawler.stats else {}
        outcome = SourceOutcome(key, stats.get("finish_reason"), stats)
        outcome.time_limit = crawler.settings.getfloat("CLOSESPIDER_TIMEOUT") or None
        if key in not_started:
            # Nothing else is true of it: "no page was fetched" and a red health ("no article found on the
            # listings") are what not starting looks like, and they sent the operator to the site.
            outcome.problems.append(f"the crawl could not start: {not_started[key]}")
            outcomes.append(outcome)
            continue
        if outcome.finish_reason == RATE_LIMITED:
            outcome.problems.append(
                f"the site asked for no request before {stats.get(RATE_LIMITED_UNTIL, '?')} (HTTP 429/503 with "
                "Retry-After): this run stopped early; the next one fetches what it did not"
            )
        elif outcome.finish_reason == FRONTIER_UNREACHABLE:
            # Its health verdict says the same words, so the line says them once
            outcome.problems.append(str(stats.get(FRONTIER_PROBLEM) or f"crawl ended with {FRONTIER_UNREACHABLE!r}"))
        elif outcome.finish_reason == LOCK_LOST:
            outcome.problems.append(
                "stopped: the connection holding this run's lock dropped, and another run of this source took the "
                f"lock meanwhile; that run goes on (this one ran {_seconds(stats)})"
            )
        # A run at its time limit or stopped by SIGTERM is cut short on purpose, not broken (a stopped systemd unit
        # would otherwise be marked failed and alert); what it fetched is stored, and its run is partial.
        elif outcome.finish_reason not in ("finished", TIME_LIMIT, STOPPED):
            outcome.problems.append(f"crawl ended with {outcome.finish_reason!r}")
        exceptions = sum(v for k, v in stats.items() if k.startswith("spider_exceptions/"))
        if exceptions:
            outcome.problems.append(f"{exceptions} spider exception(s): see the log")
        if stats.get(STORE_ERRORS, 0):
            outcome.problems.append(store_errors_said(int(stats[STORE_ERRORS])))
        if not stats.get("response_received_count", 0) and not shared_frontier:  # a worker may find it drained
            outcome.problems.append("no page was fetched")
        if stats.get(ENTRY_FAILED, 0):
            outcome.problems.append(
                f"{stats[ENTRY_FAILED]} way(s) in to the site (listing, feed or sitemap) could not be fetched: "
                f"`aggregator rejects list --source {key}` says why"
            )
        if stats.get("feed/not_a_feed", 0):
            outcome.problems.append(f"{stats['feed/not_a_feed']} feed URL(s) answered with something not a feed")
        if stats.get(EMPTY_LISTINGS, 0):
            outcome.problems.append(
                f"{stats[EMPTY_LISTINGS]} entry page(s) declared no feed and linked no article of the site: "
                f"`aggregator rejects list --source {key}` says which"
            )
        health = outcome.health
        if health and health.get("status") == "red":
            # The store errors are said above already, and a verdict red for them alone adds nothing to that.
            judged = health.get("problems") or []
            said = [p for p in (_why_nothing(p, stats, by_key.get(key)) for p in judged) if p not in outcome.problems]
            if said or not judged:
                outcome.problems.append("unhealthy: " + "; ".join(said or ["see `aggregator health`"]))
        outcomes.append(outcome)
    order = {key: i for i, key in enumerate(keys)}
    return sorted(outcomes, key=lambda o: order.get(o.source, len(order)))


def _seconds(stats: dict[str, Any]) -> str:
    elapsed = stats.get("elapsed_time_seconds")
    return f"{elapsed:.1f}s" if isinstance(elapsed, int | float) else "a while"


def _could_not_start(failure: Failure, key: str, not_started: dict[str, str]) -> None:
    """The errback of a crawl whose start failed (``Crawler.crawl`` raised: a pipeline's ``open_spider``, the
    store's above all, whose archive cannot be written): keep its reason for the summary and log it. Unheard, the
    failure went nowhere (Twisted reports an unhandled Deferred error, if ever, when it is collected) and the crawl
    seemed to have run and found nothing."""
    from spiders.base import SpiderSetupError

    exc = failure.value
    if isinstance(exc, ArchiveUnwritable | SpiderSetupError):  # each says what to do: no traceback to read
        reason = str(exc)
        logger.error("%s: the crawl could not start: %s", key, reason)
    else:  # not foreseen: the traceback is for whoever mends it
        reason = one_line(exc) if exc is not None else failure.getErrorMessage()
        logger.error("%s: the crawl could not start: %s\n%s", key, reason, failure.getTraceback())
    not_started[key] = reason


NOTHING_FOUND = "no article found"
"""How the health check's problem of a run that found no article begins (``aggregator.health_checks``)."""


def _why_nothing(problem: str, stats: dict[str, Any], source: Source | None) -> str:
    """A health problem as the summary says it: "no article found" made precise for a generic source, whose spider
    counts what its feeds and sitemaps listed and what it left out (``spiders.generic``), when those counts tell
    why; any other problem as it is."""
    if not problem.startswith(NOTHING_FOUND):
        return problem
    why = nothing_found(stats, source)
    return f"{NOTHING_FOUND}: {why}" if why else problem


def nothing_found(stats: dict[str, Any], source: Source | None = None) -> str | None:
    """Why a run of a generic source archived nothing, from its stats: its feeds and sitemaps listed no link, or
    every link was left out (on another domain, not matching the entry's ``article_urls``, an unusable address) or
    led to a page that is no article (its ``og:type``, a listing's shape). None when the counts do not say (no feed
    or sitemap was read, which is a failure said already; the pages failed, which the HTTP error rate says).

    "the feed listed 4 link(s), all on other domains (azxeber.az): check the entry's domains": every run of such an
    entry finds nothing, and "no article found on the listings" sent the operator to the site rather than to the
    entry."""
    if "aggregator/listed_links" not in stats:  # not a generic source
        return None
    feeds, sitemaps = int(stats.get("aggregator/feeds", 0)), int(stats.get("aggregator/sitemaps", 0))
    listings = int(stats.get("aggregator/listings", 0))
    if not feeds and not sitemaps and not listings:
        return None
    what = " and ".join(
        part
        for part in (
            ("the feed" if feeds == 1 else f"the {feeds} feeds") if feeds else "",
            ("the sitemap" if sitemaps == 1 else f"the {sitemaps} sitemaps") if sitemaps else "",
            ("the listing" if listings == 1 else f"the {listings} listings") if listings else "",
        )
        if part
    )
    listed = int(stats.get("aggregator/listed_links", 0))
    if not listed:
        return f"{what} listed no link: check the entry's entry_urls (a site that moved its feed may leave it empty)"
    hosts = stats.get("aggregator/off_domain_hosts")
    named = f" ({', '.join(hosts)})" if isinstance(hosts, dict) and hosts else ""
    causes = [
        (int(stats.get("aggregator/off_domain_links", 0)), f"on other domains{named}", _domains_advice(hosts, source)),
        (int(stats.get("aggregator/not_articles/article_urls", 0)), "not matching the entry's article_urls",
         "check its article_urls"),
        (int(stats.get("aggregator/bad_links", 0)), "unusable addresses", ""),
        (int(stats.get("aggregator/not_articles/og_type", 0)), "to pages whose og:type says they are no article",
         "give feeds or sitemaps of the articles"),
        (int(stats.get("aggregator/not_articles/listing", 0)), "to listings (section fronts), not articles",
         "give feeds or sitemaps of the articles"),
    ]  # fmt: skip
    found = [(count, words, advice) for count, words, advice in causes if count]
    if not found:
        return None
    if len(found) == 1 and found[0][0] >= listed:
        told = f"{what} listed {listed} link(s), all {found[0][1]}"
    else:
        told = f"{what} listed {listed} link(s): " + ", ".join(f"{count} {words}" for count, words, _ in found)
    advice = list(dict.fromkeys(advice for _, _, advice in found if advice))
    return told + (f": {'; '.join(advice)}" if advice else "")


def _domains_advice(hosts: Any, source: Source | None) -> str:
    """What to check when links are on other domains; for an entry whose domain is ``www.x.az`` and links on
    ``x.az``, that (the registry's ``domains`` own their subdomains, not their parent)."""
    for domain in source.domains if source is not None else ():
        bare = domain.removeprefix("www.")
        if bare != domain and isinstance(hosts, dict) and any(h == bare or h.endswith("." + bare) for h in hosts):
            return f"check the entry's domains ({domain} does not own {bare}: give {bare})"
    return "check the entry's domains"


def print_summary(outcomes: Sequence[SourceOutcome], console: Console | None = None) -> None:
    console = console or Console()
    ran = {o.source: o.stats for o in outcomes if not o.skipped}
    if ran:  # (a run that crawled nothing, every source locked or resting, printed an empty table under cron)
        console.print(stats_table(ran, title="Crawl summary"))
    for outcome in outcomes:
        if outcome.busy:
            print(f"{outcome.source}: skipped: another run of this source is in progress (locked)", file=sys.stderr)
            continue
        if outcome.resting_until is not None:
            until = outcome.resting_until.isoformat(timespec="seconds")
            print(
                f"{outcome.source}: skipped: its site asked for no request before {until} (Retry-After); "
                "the first run after that goes on",
                file=sys.stderr,
            )
            continue
        elapsed = outcome.stats.get("elapsed_time_seconds")
        timing = f" in {elapsed:.1f}s" if isinstance(elapsed, int | float) else ""
        if outcome.ok:
            health = f", health {outcome.health['status']}" if outcome.health else ""
            left_alone = int(outcome.stats.get("aggregator/skipped_refused", 0))
            waiting = f", {left_alone} refused page(s) left alone for now (`rejects list`)" if left_alone else ""
            paused = int(outcome.stats.get(RATE_LIMITED_PAUSES, 0))
            waiting += f", paused {paused} time(s) as the site asked (429/Retry-After)" if paused else ""
            mended = int(outcome.stats.get(CHARSET_CORRECTED, 0))
            waiting += f", {mended} page(s) read in another encoding than they declare" if mended else ""
            withdrawn = int(outcome.stats.get("aggregator/articles_withdrawn", 0))
            waiting += (
                f", {withdrawn} archived article(s) withdrawn: their pages are gone (`articles list --withdrawn`)"
                if withdrawn
                else ""
            )
            waiting += "".join(f", {note}" for note in _held(outcome))
            restored = int(outcome.stats.get("aggregator/articles_restored", 0))
            waiting += f", {restored} withdrawn article(s) shown again: their pages are back" if restored else ""
            swept = int(outcome.stats.get("aggregator/swept", 0))
            # A sweep request the duplicate filter dropped was asked for by a listing (or another worker): not due.
            asked_elsewhere = int(outcome.stats.get("aggregator/swept_dropped", 0))
            more = int(outcome.stats.get("aggregator/sweep_due", 0)) - swept - asked_elsewhere
            waiting += (
                f", {swept} older article(s) looked at again (sweep{f'; {more} more due' if more > 0 else ''})"
                if swept
                else ""
            )
            reason = outcome.finish_reason
            if reason in (TIME_LIMIT, STOPPED):  # the time first: "the next run goes on in 8.8s" read as a promise
                limit = f" ({outcome.time_limit / 60:g} min)" if outcome.time_limit else ""
                cause = f"at the run time limit{limit}" if reason == TIME_LIMIT else "on request (SIGTERM or Ctrl-C)"
                reason = f"stopped {cause}{timing.replace(' in ', ' after ')}; the next run goes on"
                timing = ""
            console.print(  # no highlighting: Rich's number highlighter coloured "1." of "1.2s" and not the rest
                f"[green]✓[/green] {outcome.source}: {escape(str(reason))}{timing}{health}{waiting}",
                highlight=False,
                soft_wrap=True,  # one line a source, whole, in a log (Rich folded it at 80 columns there)
            )
        else:  # a site answering 404 everywhere is red, and that is when the held withdrawals must be said most
            print(f"{outcome.source}: " + "; ".join([*outcome.problems, *_held(outcome)]), file=sys.stderr)


def _held(outcome: SourceOutcome) -> list[str]:
    held = int(outcome.stats.get("aggregator/withdrawals_held", 0))
    return (
        [f"{held} archived article(s) answered 404/410 but not withdrawn: no page of the site answered"] if held else []
    )
