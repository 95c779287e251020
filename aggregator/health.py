"""A source's health after each run, judged by Spidermon monitors: a layout change must not pass silently.

The most common failure of a news crawler is a site that changes its markup: pages still answer 200, the extractor
finds nothing, and nothing complains. So after every run (Spidermon's ``spider_closed`` suite) four monitors look
at what the run saw:

- **items**: articles the listings led to (extracted, answered 304, or skipped as archived; not those only the sweep
  asked for, ``aggregator.sweep``) against the median of the source's last runs (``AGGREGATOR_HEALTH_HISTORY``);
  fewer than ``AGGREGATOR_HEALTH_MIN_ITEMS_RATIO`` of it, or none at all, is a broken listing;
- **coverage**: the share of extracted articles with a title, a body and a printed date (dropped ones included:
  they are what a renamed class produces), each at least ``AGGREGATOR_HEALTH_MIN_COVERAGE``; a field counts as
  missing only when at least ``AGGREGATOR_HEALTH_MIN_MISSING`` articles lack it (an incremental run extracts few
  pages, and the one broken page a site always has, fetched again on every run, would otherwise make it red);
- **dates**: the share of extracted articles whose printed date could not be read;
- **HTTP errors**: failed fetches over requests sent (judged from ``AGGREGATOR_HEALTH_MIN_MISSING`` failures on:
  a small run's one 404 is not a broken site). A page the sweep found gone is no failure: it withdraws its article.

A refused page that an incremental run leaves alone for now (``aggregator.incremental``: it waits longer after each
refusal) counts in that run's measures as it was when last refused (``count_left_alone``): an article missing the
field its refusal names, or a failed request. Otherwise a source whose layout broke would turn green again at the
next run, which fetches none of the pages that showed it.

The verdict ("green" or "red", with one reason per failed monitor) goes into the run's stats
(``aggregator/health/*``), from which the store writes ``crawl_runs.health`` and ``aggregator crawl`` its exit
status; ``aggregator health`` shows the latest verdict per source. A scale-out worker judges what it saw, its share of
the crawl, but for the item count, and is red when it queued again what another worker of its crawl, gone (killed),
had in hand (``aggregator.scaleout``); ``aggregator health`` judges the crawl, its workers' counts summed.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict
from typing import Any, Self

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import ScrapyDeprecationWarning
from scrapy.http import Response
from spidermon import Monitor, MonitorSuite, monitors
from spidermon.contrib.scrapy.extensions import Spidermon
from spidermon.contrib.scrapy.runners import SpiderMonitorResult, SpiderMonitorRunner
from sqlalchemy.exc import SQLAlchemyError

from aggregator.backoff import FINISH_REASON as RATE_LIMITED
from aggregator.health_checks import (
    FIELDS,
    LEFT_ALONE_HTTP_ERRORS,
    LOOKED_IN,
    NOT_MEASURES,
    ON_THE_LISTINGS,
    PREFIX,
    Measures,
    Thresholds,
    cap_problem,
    coverage_problem,
    dates_problem,
    http_problem,
    items_problem,
    store_problem,
)
from aggregator.items import ArticleItem, ExtractionFailure
from aggregator.locks import LOCK_LOST
from aggregator.run_counts import (
    FRONTIER_LOST,
    FRONTIER_PROBLEM,
    FRONTIER_UNREACHABLE,
    STOPPED,
    TIME_LIMIT,
    UNQUEUEABLE,
    requeued_for,
)

logger = logging.getLogger(__name__)

# Spidermon 1.27 reports through Spider.log(), which Scrapy 2.19 deprecates: one warning per run on an unattended
# job's stderr, about code that is not ours.
warnings.filterwarnings("ignore", r"Spider\.log\(\) is deprecated", ScrapyDeprecationWarning)


class FieldCoverage:
    """Counts, per run, the extracted articles and which of title, body and date each one had."""

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        extension = cls(crawler)
        crawler.signals.connect(extension.item_seen, signal=signals.item_scraped)
        crawler.signals.connect(extension.item_seen, signal=signals.item_dropped)
        return extension

    def item_seen(self, item: Any, response: Response | None = None, spider: Spider | None = None, **_: Any) -> None:
        if isinstance(item, ExtractionFailure) and self.stats is not None:
            # A page the extractor crashed on is an article it got nothing from: a redesign that makes it raise on
            # every page turns the coverage red, as one that makes it find nothing does.
            self.stats.inc_value(PREFIX + "extracted")
            return
        if not isinstance(item, ArticleItem) or self.stats is None:
            return
        self.stats.inc_value(PREFIX + "extracted")
        present = {
            "title": bool((item.title or "").strip()),
            "body": bool((item.body_text or "").strip() or (item.body_html or "").strip()),
            # The page's date: one the feed filled in (published_feed) is not the extractor's, and a layout change
            # that lost the date line must still show, though the feed keeps the articles dated.
            "date": bool(
                (item.published_raw or "").strip()
                or item.published_meta
                or (item.published_at and not item.published_feed)
            ),
        }
        for name, ok in present.items():
            if ok:
                self.stats.inc_value(PREFIX + name)


MISSING_BY_REASON = {"no title": "title", "no body": "body"}
"""The field a refusal's reason names as missing (``pipelines.validate`` and ``pipelines.cleanup`` word them)."""


def count_left_alone(stats: Any, stage: str, reason: str) -> None:
    """Count a refused page this run does not fetch as it was when last refused: a failed fetch as a failed request,
    a crashed extraction as an article with none of the fields, any other refusal as an extracted article that
    lacked the field its reason names (``no title``, ``no body``)."""
    if stage == "fetch":
        stats.inc_value(LEFT_ALONE_HTTP_ERRORS)
        return
    stats.inc_value(PREFIX + "extracted")
    if stage == "extract":  # the extractor crashed on it: nothing was extracted
        return
    missing = next((name for prefix, name in MISSING_BY_REASON.items() if reason.startswith(prefix)), None)
    for name in FIELDS:
        if name != missing:
            stats.inc_value(PREFIX + name)


def item_history(crawler: Crawler, source: str) -> list[int]:
    """``items`` of the source's last runs, from the archive (one query); empty when there is none yet."""
    from aggregator.store import Archive

    db_url = crawler.settings.get("AGGREGATOR_DB_URL")
    if not db_url:
        return []
    limit = crawler.settings.getint("AGGREGATOR_HEALTH_HISTORY", 10)
    try:
        archive = Archive.open(db_url, migrate=False, create=False)
        try:
            return archive.recent_item_counts(source, limit=limit)
        finally:
            archive.close()
    except SQLAlchemyError as exc:
        logger.info("No run history for %s: %s", source, str(exc).splitlines()[0])
        return []


class _HealthMonitor(Monitor):  # type: ignore[misc]
    """Reads the run's measures once per suite run (the suite computes them before the monitors run)."""

    @property
    def measures(self) -> Measures:
        found: Measures = self.data.crawler._aggregator_health_measures
        return found

    @property
    def limits(self) -> Thresholds:
        return Thresholds.from_settings(self.data.crawler.settings)


CUT_SHORT = frozenset({TIME_LIMIT, STOPPED, RATE_LIMITED, LOCK_LOST})
"""Finish reasons of a run stopped before it was through (``AGGREGATOR_MAX_RUN_MINUTES``, SIGTERM or Ctrl-C, a site's
Retry-After, its lock lost to another run): it found what it had time for, which says nothing of the listings."""


@monitors.name("items")
class ItemCountMonitor(_HealthMonitor):
    def test_items_against_median(self) -> None:
        """Articles found against the median of the last runs."""
        if self.data.crawler.settings.get("AGGREGATOR_REDIS_URL"):
            self.skipTest("a scale-out worker's share of the frontier is arbitrary")
        if self.data.stats.get("finish_reason") in CUT_SHORT:  # Scrapy's CoreStats set it, earlier in spider_closed
            self.skipTest("the run was cut short: its article count is what it had time for")
        if problem := items_problem(self.measures, self.limits):
            self.fail(problem)


@monitors.name("coverage")
class CoverageMonitor(_HealthMonitor):
    def test_field_coverage(self) -> None:
        """Title, body and date present."""
        if problem := coverage_problem(self.measures, self.limits):
            self.fail(problem)


@monitors.name("dates")
class UndatedMonitor(_HealthMonitor):
    def test_dates_parsed(self) -> None:
        """Printed dates read."""
        if problem := dates_problem(self.measures, self.limits):
            self.fail(problem)


@monitors.name("http")
class HttpErrorMonitor(_HealthMonitor):
    def test_http_errors(self) -> None:
        """HTTP error rate."""
        if problem := http_problem(self.measures, self.limits):
            self.fail(problem)


@monitors.name("links")
class LinkCapMonitor(_HealthMonitor):
    def test_no_listing_went_past_the_cap(self) -> None:
        """Every article link of each listing and feed followed (``AGGREGATOR_MAX_LINKS_PER_LISTING``)."""
        if problem := cap_problem(self.measures, self.limits):
            self.fail(problem)


@monitors.name("frontier")
class FrontierMonitor(_HealthMonitor):
    def test_the_frontier_lasted(self) -> None:
        """A scale-out worker that lost its shared frontier (Redis did not answer for longer than
        ``AGGREGATOR_REDIS_OUTAGE_SECONDS``) ended its run as failed; judged by its pages alone, the run was green,
        and so was ``aggregator_source_healthy``, while the crawl's requests waited in an unreachable Redis."""
        if self.data.stats.get("finish_reason") == FRONTIER_LOST:
            self.fail(f"the shared frontier (Redis) was lost: the run ended early ({FRONTIER_LOST})")
        if self.data.stats.get("finish_reason") == FRONTIER_UNREACHABLE:
            # The words aggregator.scaleout chose, with the address: the crawl's summary says them once
            self.fail(
                str(
                    self.data.stats.get(FRONTIER_PROBLEM)
                    or f"the shared frontier (Redis) could not be used ({FRONTIER_UNREACHABLE})"
                )
            )

    def test_no_worker_was_lost(self) -> None:
        """A worker of the crawl gone mid-crawl (killed, its host lost) is said by the worker that queued again the
        requests it had taken: its exit status is the one a cron job or a unit's monitoring sees (the killed one
        reports nothing), and ``aggregator health`` names the killed worker's run from this worker's stats."""
        if gone := requeued_for(self.data.stats):
            self.fail(gone_workers_said(gone))

    def test_every_request_was_queued(self) -> None:
        """A request the shared queue cannot hold (``aggregator.queue_codec``) is a bug that leaves its page unfetched:
        said in an ERROR line each, and red here, so that it is seen rather than read past."""
        if count := int(self.data.stats.get(UNQUEUEABLE) or 0):
            self.fail(f"{count} request(s) could not be put in the shared queue, and were not fetched (see the log)")


@monitors.name("store")
class StoreMonitor(_HealthMonitor):
    def test_everything_stored(self) -> None:
        """Everything the run found written to the archive."""
        if problem := store_problem(self.measures, self.limits):
            self.fail(problem)


class HealthSuite(MonitorSuite):  # type: ignore[misc]
    """The run's health: measures from the stats and the archive, then the monitors, then the verdict in stats."""

    monitors = (
        ItemCountMonitor,
        CoverageMonitor,
        UndatedMonitor,
        HttpErrorMonitor,
        StoreMonitor,
        LinkCapMonitor,
        FrontierMonitor,
    )

    def init_data(self, data: Any) -> None:
        crawler: Crawler = data["crawler"]
        spider = data["spider"]
        source = getattr(spider, "source_key", None) or spider.name
        history = [n for n in item_history(crawler, source) if n]
        # Kept in the run's stats too, for the store's row: a scale-out crawl is judged again from its workers' rows
        looked_in = str(getattr(spider, "looked_in", ON_THE_LISTINGS))
        if crawler.stats is not None:
            crawler.stats.set_value(LOOKED_IN, looked_in)
        stats = {**data["stats"], LOOKED_IN: looked_in}
        crawler._aggregator_health_measures = Measures.from_stats(stats, history)  # type: ignore[attr-defined]
        self._run_data = data
        super().init_data(data)

    def on_monitors_finished(self, result: Any) -> None:
        crawler: Crawler = self._run_data["crawler"]
        measures: Measures = crawler._aggregator_health_measures  # type: ignore[attr-defined]
        problems = [str(r.reason or _first_line(r.error)) for r in result.monitors_failed_results]
        verdict = health_verdict(crawler.settings, measures, problems)
        if crawler.stats is not None:
            crawler.stats.set_value(PREFIX + "verdict", verdict)
        if problems:
            logger.warning("Health of %s is red: %s", self._run_data["spider"].name, "; ".join(problems))


def gone_workers_said(gone: dict[str, int]) -> str:
    """How a worker says the workers of its crawl that were gone with requests it then queued again."""
    who = ", ".join(f"{worker} ({count} request(s))" for worker, count in sorted(gone.items()))
    return (
        f"a worker of this crawl stopped mid-crawl (killed, or cut off from Redis): {who}; this worker queued again "
        "what it had taken from the shared queue and not seen through"
    )


def health_verdict(settings: Any, measures: Measures, problems: list[str]) -> dict[str, Any]:
    """A run's verdict as its row keeps it (``crawl_runs.health``): green or red, the problems, the measures."""
    verdict = {"status": "red" if problems else "green", "problems": problems, **asdict(measures)}
    if settings.get("AGGREGATOR_REDIS_URL"):
        # A worker's item count is a share of the crawl: no history for the median, and not judged here. The crawl
        # is judged whole where its workers' rows are read (aggregator.health_report), by the limits they ran with.
        verdict["shared_frontier"] = True
        verdict["limits"] = asdict(Thresholds.from_settings(settings))
    for name in NOT_MEASURES:
        del verdict[name]
    return verdict


def _first_line(error: Any) -> str:
    text = str(error or "").strip().splitlines()
    return text[-1].removeprefix("AssertionError: ") if text else "failed"


class _OneLineResult(SpiderMonitorResult):  # type: ignore[misc]
    """Spidermon's report with each failed monitor as one line: the unittest traceback it prints by default reads
    like a crash to an operator scanning an unattended job's log, when it is a verdict."""

    def write_errors(self) -> None:
        for status in self.step.error_statuses:
            for item in self.step.items_for_status(status):
                self.log_error(f"{item.status}: {item.item.name}: {_first_line(item.error)}")


class _OneLineRunner(SpiderMonitorRunner):  # type: ignore[misc]
    def create_result(self) -> _OneLineResult:
        return _OneLineResult(self.spider)


class HealthMonitoring(Spidermon):  # type: ignore[misc]
    """Spidermon's extension, reporting failed monitors in one line each (see ``_OneLineResult``)."""

    def spider_closed(self, spider: Any) -> None:
        """Nothing to judge of a crawl that never started (a pipeline's opening failed, the archive's above all:
        ``spider_opened`` never came): its verdict would be "no article found on the listings", which is not what
        went wrong (``aggregator crawl`` says what did), and Spidermon's own close raised a KeyError after it."""
        if spider not in self.periodic_tasks:
            return
        super().spider_closed(spider)

    def _run_suites(self, spider: Any, suites: Any) -> None:
        data = self._generate_data_for_spider(spider)
        for suite in suites:
            _OneLineRunner(spider=spider).run(suite, **data)
