"""The health checks' measures, limits and rules, apart from Scrapy and Spidermon: the monitors of
``aggregator.health`` apply them to a run as it closes, ``aggregator.health_report`` to the runs of a scale-out crawl
summed (each worker sees an arbitrary share of the crawl, so only their sum can be judged as the whole)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from aggregator.run_counts import run_counts

PREFIX = "aggregator/health/"
FIELDS = ("title", "body", "date")
LEFT_ALONE_HTTP_ERRORS = PREFIX + "left_alone_http_errors"
STORE_ERRORS = "aggregator/store_errors"
"""The stats key counting the items the store could not write (``pipelines.store``)."""
LINKS_OVER_CAP = "aggregator/links_over_cap"
"""The stats key counting the article links a listing or feed gave past ``AGGREGATOR_MAX_LINKS_PER_LISTING``, not
followed (``spiders.base.LinkCap``); ``aggregator/capped_listings`` counts the listings and feeds that had them."""
CAPPED_LISTINGS = "aggregator/capped_listings"
LOOKED_IN = "aggregator/looked_in"
"""The stats key of where the run's spider looks for articles, in the words of a verdict that found none
(``spiders.base.SourceSpider.looked_in``, recorded by ``aggregator.health``): "no article found on the listings" sent
the operator of a source read from feeds and sitemaps to look for listings it does not have."""
ON_THE_LISTINGS = "on the listings"
"""Where a site spider looks (its HTML listings), and where a run recorded without ``LOOKED_IN`` looked."""
UNREAD_DATE = "aggregator/dates_unread_example"
"""The stats key of the first date text of the run that could not be read (``pipelines.dates``, made one short line
by ``unread_example``): "could not be read" quotes it, so the operator sees the new date format without opening the
archive."""
EXAMPLE_CHARS = 40
"""How much of an unread date text the verdict quotes: a date line is shorter; a longer text is no date line (a
selector that matched a paragraph), and a few words of it say so."""


def unread_example(text: str) -> str:
    """``text`` as the verdict may quote it: one line of printable characters (the page's own: no control character
    reaches a terminal or a log, no line break splits the one-line reason), at most ``EXAMPLE_CHARS`` long."""
    line = " ".join("".join(ch if ch.isprintable() else " " for ch in text[: EXAMPLE_CHARS * 4]).split())
    return line if len(line) <= EXAMPLE_CHARS else line[: EXAMPLE_CHARS - 1].rstrip() + "…"


@dataclass(slots=True)
class Thresholds:
    history: int = 10
    min_items_ratio: float = 0.5
    min_coverage: float = 0.95
    min_missing: int = 3
    max_undated: float = 0.05
    max_http_errors: float = 0.1

    @classmethod
    def from_settings(cls, settings: Any) -> Thresholds:
        return cls(
            history=settings.getint("AGGREGATOR_HEALTH_HISTORY", 10),
            min_items_ratio=settings.getfloat("AGGREGATOR_HEALTH_MIN_ITEMS_RATIO", 0.5),
            min_coverage=settings.getfloat("AGGREGATOR_HEALTH_MIN_COVERAGE", 0.95),
            min_missing=settings.getint("AGGREGATOR_HEALTH_MIN_MISSING", 3),
            max_undated=settings.getfloat("AGGREGATOR_HEALTH_MAX_UNDATED", 0.05),
            max_http_errors=settings.getfloat("AGGREGATOR_HEALTH_MAX_HTTP_ERRORS", 0.1),
        )


@dataclass(slots=True)
class Measures:
    """What a run saw, in the terms the monitors judge."""

    items: int
    """Articles the listings led to: extracted (or left alone as refused), answered 304, or skipped as already
    archived."""
    extracted: int
    coverage: dict[str, float | None]
    undated: float | None
    http_error_rate: float
    http_errors: int = 0
    """Failed fetches: the run's, as ``aggregator runs`` counts them (``run_counts``: a swept page found gone is no
    failure), and the refused pages it left alone as failed when last fetched."""
    median: float | None = None
    """Median ``items`` of the previous runs (None without history)."""
    history: list[int] = field(default_factory=list)
    not_stored: int = 0
    """Items the store could not write to the archive (``aggregator/store_errors``: a database that went away, a
    full disk): what the run fetched and lost."""
    links_over_cap: int = 0
    """Article links past ``AGGREGATOR_MAX_LINKS_PER_LISTING`` on a listing or feed, not followed
    (``LINKS_OVER_CAP``)."""
    looked_in: str = ON_THE_LISTINGS
    """Where the spider looks for articles (``LOOKED_IN``), as "no article found" says it: not a measure, and not
    kept with the verdict's measures."""
    unread_example: str | None = None
    """A date text the run could not read (``UNREAD_DATE``), which "could not be read" quotes: not a measure either
    (``NOT_MEASURES``)."""

    @classmethod
    def from_stats(cls, stats: dict[str, Any], history: list[int]) -> Measures:
        extracted = int(stats.get(PREFIX + "extracted", 0))
        items = extracted + int(stats.get("aggregator/not_modified", 0)) + int(stats.get("aggregator/skipped_known", 0))
        # What only the sweep asked for is not what the listings led to: a run with a sweep is not a fuller listing.
        swept = int(stats.get("aggregator/swept_extracted", 0)) + int(stats.get("aggregator/swept_not_modified", 0))
        items -= max(0, swept - int(stats.get("aggregator/swept_listed", 0)))
        coverage = {name: (int(stats.get(PREFIX + name, 0)) / extracted if extracted else None) for name in FIELDS}
        # Printed dates not read: those left undated, and those the feed entry's date stood in for (pipelines.dates).
        unread = int(stats.get("aggregator/dates_unparsed", 0)) + int(stats.get("aggregator/dates_page_unparsed", 0))
        undated = unread / extracted if extracted else None
        left_alone = int(stats.get(LEFT_ALONE_HTTP_ERRORS, 0))  # failed fetches not tried again this run
        # An archived article skipped unasked counts as the good answer it was, as a refused page counts as its failure:
        # else an incremental run, which asks for little but listings, would judge a few dead links a broken site.
        skipped = int(stats.get("aggregator/skipped_known", 0))
        # Pages asked for, not attempts: a failed fetch counts once among the errors however often it was tried, so
        # Scrapy's retries of it must not count among the requests either (a site failing every page was "29%").
        attempts = int(stats.get("downloader/request_count", 0)) - int(stats.get("retry/count", 0))
        requests = max(0, attempts) + left_alone + skipped
        # The run's failed fetches as `runs` and `metrics` count them (a swept page found gone is none: it withdraws
        # its article, the source's answer, not a failing site), and those of the refused pages left alone.
        errors = run_counts(stats)["http_errors"] + left_alone
        return cls(
            items=items,
            extracted=extracted,
            coverage=coverage,
            undated=undated,
            http_error_rate=errors / requests if requests else 0.0,
            http_errors=errors,
            median=statistics.median(history) if history else None,
            history=history,
            not_stored=int(stats.get(STORE_ERRORS, 0) or 0),
            links_over_cap=int(stats.get(LINKS_OVER_CAP, 0) or 0),
            looked_in=str(stats.get(LOOKED_IN) or ON_THE_LISTINGS),
            unread_example=str(stats[UNREAD_DATE]) if stats.get(UNREAD_DATE) else None,
        )


NOT_MEASURES = ("history", "looked_in", "unread_example")
"""The fields of ``Measures`` a verdict does not keep with its measures (``crawl_runs.health``, ``/api/health``)."""


def items_problem(m: Measures, limits: Thresholds) -> str | None:
    """Articles found against the median of the last runs."""
    if m.items == 0:
        return f"no article found {m.looked_in}"
    if m.median is not None and m.items < limits.min_items_ratio * m.median:
        return f"{m.items} article(s) found, median of the last {len(m.history)} run(s) {m.median:g}"
    return None


def coverage_problem(m: Measures, limits: Thresholds) -> str | None:
    """Title, body and date present."""
    low = [
        f"{name} in {share:.0%}"
        for name, share in m.coverage.items()
        if share is not None and share < limits.min_coverage and round((1 - share) * m.extracted) >= limits.min_missing
    ]
    return f"of {m.extracted} article(s) only " + ", ".join(low) + " (layout change?)" if low else None


def dates_problem(m: Measures, limits: Thresholds) -> str | None:
    """Printed dates read."""
    if m.undated is not None and m.undated > limits.max_undated and m.undated * m.extracted >= limits.min_missing:
        example = f" (e.g. {unread_example(m.unread_example)!r})" if m.unread_example else ""
        return f"{m.undated:.0%} of the dates could not be read{example}"
    return None


def http_problem(m: Measures, limits: Thresholds) -> str | None:
    """HTTP error rate."""
    if m.http_error_rate > limits.max_http_errors and m.http_errors >= limits.min_missing:
        return f"{m.http_error_rate:.0%} of the requests failed"
    return None


def store_problem(m: Measures, limits: Thresholds) -> str | None:
    """Items lost to store errors: one is too many. A run that fetched and extracted well but could not keep what it
    found (the database went away mid-run) was green, and ``aggregator_source_healthy`` said all was well while
    the archive missed its articles."""
    if m.not_stored:
        return store_errors_said(m.not_stored)
    return None


def cap_problem(m: Measures, limits: Thresholds) -> str | None:
    """Links a listing or feed gave past the cap, not followed: a listing of 100,000 links made one run fetch 10,904
    pages; capped, the run did what it should, and its articles past the cap are still missing (a site's listing that
    grew, which wants a higher ``AGGREGATOR_MAX_LINKS_PER_LISTING``, or a hostile one): red, so that it is seen."""
    if m.links_over_cap:
        return (
            f"{m.links_over_cap} article link(s) past AGGREGATOR_MAX_LINKS_PER_LISTING on a listing or feed were not "
            "followed (see the log)"
        )
    return None


def store_errors_said(count: int) -> str:
    """How a run's store errors are said, in its health problems and in the crawl's summary line alike."""
    return f"{count} item(s) could not be written to the archive (store errors: see the log)"
