"""What a run counted, read from its Scrapy stats: one definition for the ``crawl_runs`` row, which ``aggregator runs``
and ``aggregator metrics`` show, and for the failed fetches the health check judges (they disagreed on a swept page
found gone: ``LEFT_OUT``); the summary ``aggregator crawl`` prints adds up the same stats keys (``RUN_COUNTS``: the row
and the summary disagreed on answers 304, the row counting them unchanged and the summary not). And the finish reasons
of a run cut short on purpose, which the summary and the health check both know."""

from __future__ import annotations

from typing import Any

TIME_LIMIT = "closespider_timeout"
"""Scrapy's finish reason for a run stopped at ``CLOSESPIDER_TIMEOUT`` (``AGGREGATOR_MAX_RUN_MINUTES``)."""
STOPPED = "shutdown"
"""Scrapy's finish reason for a run stopped by SIGTERM or Ctrl-C (``systemctl stop``, a deploy)."""
FRONTIER_LOST = "frontier_lost"
"""The finish reason of a scale-out worker that could not reach its shared frontier (Redis) for longer than
``AGGREGATOR_REDIS_OUTAGE_SECONDS``, or whose crawl another worker replaced meanwhile (``aggregator.scaleout``): a
failed run, and a red one."""
FRONTIER_UNREACHABLE = "frontier_unreachable"
"""The finish reason of a scale-out worker whose Redis failed its first commands, when the scheduler opened (nothing
answers at the address, a wrong password, a read-only replica): the run is recorded, failed and red, and ends before
it fetches anything (``aggregator.scaleout``)."""
FRONTIER_PROBLEM = "aggregator/frontier_unreachable"
"""The stats key of why a ``FRONTIER_UNREACHABLE`` run's Redis could not be used, in the words its health verdict and
the crawl's summary line both say, its address with any password starred out."""

CRAWL_ID = "aggregator/crawl_id"
"""The stats key of the scale-out crawl a worker's run is part of (``aggregator.scaleout``; ``crawl_runs.crawl_id``)."""
REQUEUED_FOR = "aggregator/requeued_for/"
"""The stats key prefix, followed by a worker's ``host:pid``, counting the requests a scale-out worker queued again
for another worker of its crawl that was gone with them (killed, or cut off from Redis longer than its heartbeat
lives): the requests it had taken from the shared queue and not seen through (``aggregator.scaleout``)."""
QUEUE_ENTRIES_DROPPED = "aggregator/queue_entries_dropped"
"""The stats key counting the entries a scale-out worker popped from the shared queue and dropped unread: not a
request as this release writes them (``aggregator.queue_codec``: a pickle an earlier release left, or an entry written
by something else than a worker). Nothing of such an entry is run."""
UNQUEUEABLE = "aggregator/unqueueable_requests"
"""The stats key counting the requests a scale-out worker could not put in the shared queue (a value in their meta
that ``aggregator.queue_codec`` cannot write): a bug, each said in an ERROR line, and the run's health is red."""

UNKNOWN_COUNTS = "aggregator/unknown_counts"
"""The stats key of a run row closed as abandoned (its process killed: ``Archive.abandon_stale_runs``): the count
columns the archive cannot tell of it, left 0 in the row (its pages, its undated articles; a scale-out worker's
articles too). Its other counts are what the archive shows it wrote."""

NOT_MODIFIED = "aggregator/not_modified"
UNDATED = "aggregator/articles_undated"
"""The stats key counting the articles a run archived, or found unchanged, that the archive holds without a date
(``SaveResult.undated``): what ``articles list --undated`` lists."""
SWEPT_GONE = "aggregator/swept_gone"
"""The stats key counting the pages the sweep asked for again and found gone (404, 410: ``aggregator.sweep``)."""
RUN_COUNTS: dict[str, tuple[str, ...]] = {
    # A 304 answer is a page fetched and an article unchanged (aggregator.incremental), though Scrapy never sees it
    # as a response (the middleware turns it into an exception before the engine does).
    "pages": ("response_received_count", NOT_MODIFIED),
    "items_new": ("aggregator/articles_new",),
    "items_updated": ("aggregator/articles_updated",),
    "items_unchanged": ("aggregator/articles_unchanged", NOT_MODIFIED),
    # A page a pipeline failed on (a fault, not a refusal: ``pipelines.store``'s ``item_error``) is quarantined as
    # a refused one is, and counted with them: it is an article the run did not archive.
    "rejected": ("item_dropped_count", "aggregator/rejected/error"),
    # Failed fetches (``FetchFailure``: an HTTP error status, DNS, a timeout), less those of LEFT_OUT below.
    "http_errors": ("aggregator/http_errors",),
    # Undated articles, as the archive holds them (the column's name is older): the dates pipeline's own counts
    # (``aggregator/dates_unparsed``, ``aggregator/dates_missing``) said 0 for a source whose pages printed no date at
    # all, while `stats` and `articles list --undated` showed them, and counted a new version without a date that
    # keeps the archived one.
    "dates_unparsed": (UNDATED,),
}
"""``crawl_runs`` count column -> the Scrapy stats keys it adds up."""
LEFT_OUT: dict[str, tuple[str, ...]] = {
    # An archived article the sweep found gone (404, 410) is withdrawn by its source: the answer the sweep asks for,
    # an outcome an operator expects, not a failing site. The health check's HTTP error rate has always left it out
    # (its alarm must not fire for a source that takes down old articles); `runs` and `metrics`, which show this
    # column, counted it, and showed errors on a source whose verdict had none. They show it apart: `swept_gone`.
    "http_errors": (SWEPT_GONE,),
}
"""Count column -> the stats keys counted among ``RUN_COUNTS``' that it leaves out again."""


def run_counts(stats: dict[str, Any]) -> dict[str, int]:
    """A run's counts from its Scrapy stats: what ``crawl_runs`` keeps, ``aggregator runs`` and ``aggregator
    metrics`` show, and the health check judges (``http_errors``: ``aggregator.health_checks.Measures``)."""

    def total(keys: tuple[str, ...]) -> int:
        return sum(int(stats.get(key) or 0) for key in keys)

    return {column: max(0, total(keys) - total(LEFT_OUT.get(column, ()))) for column, keys in RUN_COUNTS.items()}


def requeued_for(stats: dict[str, Any]) -> dict[str, int]:
    """The workers (``host:pid``) a run queued requests again for, and how many each (``REQUEUED_FOR``)."""
    return {
        key.removeprefix(REQUEUED_FOR): int(value)
        for key, value in stats.items()
        if key.startswith(REQUEUED_FOR) and isinstance(value, int) and value
    }
