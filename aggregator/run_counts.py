"""What a run counted, read from its Scrapy stats: one definition for the ``crawl_runs`` row and for the summary
``aggregator crawl`` prints (they disagreed on answers 304: the row counted them unchanged, the summary did not); and
the finish reasons of a run cut short on purpose, which the summary and the health check both know."""

from __future__ import annotations

from typing import Any

TIME_LIMIT = "closespider_timeout"
"""Scrapy's finish reason for a run stopped at ``CLOSESPIDER_TIMEOUT`` (``AGGREGATOR_MAX_RUN_MINUTES``)."""
STOPPED = "shutdown"
"""Scrapy's finish reason for a run stopped by SIGTERM or Ctrl-C (``systemctl stop``, a deploy)."""

CRAWL_ID = "aggregator/crawl_id"
"""The stats key of the scale-out crawl a worker's run is part of (``aggregator.scaleout``; ``crawl_runs.crawl_id``)."""

NOT_MODIFIED = "aggregator/not_modified"
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
    "http_errors": ("aggregator/http_errors",),
    "dates_unparsed": ("aggregator/dates_unparsed",),
}
"""``crawl_runs`` count column -> the Scrapy stats keys it adds up."""


def run_counts(stats: dict[str, Any]) -> dict[str, int]:
    """A run's counts from its Scrapy stats: what ``crawl_runs`` keeps and ``aggregator crawl``'s summary prints."""
    return {column: sum(int(stats.get(key) or 0) for key in keys) for column, keys in RUN_COUNTS.items()}
