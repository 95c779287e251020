"""Health measures of an incremental run: the refused pages it leaves alone count as they were when last refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from aggregator.health import PREFIX, FieldCoverage, Measures, count_left_alone
from aggregator.items import ArticleItem
from pipelines.base import Rejected
from pipelines.cleanup import CleanupPipeline
from pipelines.validate import ValidatePipeline


def _stats() -> MemoryStatsCollector:
    return MemoryStatsCollector(get_crawler())


def _article(**fields: object) -> ArticleItem:
    base: dict = {"source": "caliber", "url": "https://caliber.az/post/x", "title": "Заголовок",
                  "body_html": "<p>Текст</p>", "body_text": "Текст",
                  "published_raw": "01 Марта 2026 14:00"}  # fmt: skip
    return ArticleItem(**{**base, **fields})


@pytest.mark.parametrize(
    ("pipeline", "fields"),
    [
        (ValidatePipeline(), {"title": ""}),
        (ValidatePipeline(), {"body_html": "", "body_text": ""}),
        (ValidatePipeline(), {"url": "https://evil.example/post/x"}),
        (CleanupPipeline(), {"body_html": "<p>Читайте также</p>", "body_text": "Читайте также"}),
    ],
)
def test_a_page_left_alone_counts_as_the_refused_item_did(pipeline: object, fields: dict) -> None:
    """What count_left_alone records for a refusal's stage and reason equals what the refused item itself gave the
    field coverage when it was refused (the reasons are the pipelines' own words)."""
    item = _article(**fields)
    with pytest.raises(Rejected) as refused:
        pipeline.process_item(item)  # type: ignore[attr-defined]
    crawler = get_crawler()
    FieldCoverage(crawler).item_seen(item)  # what item_dropped counted: the item as the pipeline left it
    left_alone = _stats()
    count_left_alone(left_alone, refused.value.stage, refused.value.reason)
    assert left_alone.get_stats() == crawler.stats.get_stats()


def test_failed_fetches_left_alone_keep_the_http_error_rate_of_the_run_that_met_them() -> None:
    """A site whose article pages all answer 500: the next runs do not fetch them, and stay red for it."""
    stats = _stats()
    stats.set_value("downloader/request_count", 8)  # robots.txt and the listings only
    for _ in range(20):
        count_left_alone(stats, "fetch", "HTTP 500")
    measures = Measures.from_stats(stats.get_stats(), history=[])
    assert (measures.http_errors, round(measures.http_error_rate, 2)) == (20, round(20 / 28, 2))
    assert measures.extracted == 0 and PREFIX + "extracted" not in stats.get_stats()


def test_an_incremental_run_judges_a_few_dead_links_as_the_full_run_did() -> None:
    """30 articles, 3 of them linked but dead. The full run asked for all of them: 3 failures in 41 requests. The next
    run asks for the listings only and skips the 27 archived ones: they count as the good answers they were, or
    3 failures in 11 requests would turn a healthy site red at every run."""
    full = _stats()
    full.set_value("downloader/request_count", 41)  # robots.txt, 7 listings, 30 articles, 3 retries
    full.set_value("aggregator/http_errors", 3)
    incremental = _stats()
    incremental.set_value("downloader/request_count", 8)
    incremental.set_value("aggregator/skipped_known", 27)
    for _ in range(3):
        count_left_alone(incremental, "fetch", "HTTP 404")
    rates = [Measures.from_stats(s.get_stats(), history=[]).http_error_rate for s in (full, incremental)]
    assert rates[0] < 0.1 and rates[1] < 0.1
    assert rates[1] == pytest.approx(3 / 38)


def test_the_http_error_rate_counts_pages_not_their_retries() -> None:
    """A site down for the whole run: 8 pages asked for, each tried 3 times (Scrapy's 2 retries), all 8 failed. The
    rate was 8 failures in 24 requests, 33%, where every page failed."""
    stats = _stats()
    stats.set_value("downloader/request_count", 24)
    stats.set_value("retry/count", 16)
    stats.set_value("aggregator/http_errors", 8)
    measures = Measures.from_stats(stats.get_stats(), history=[])
    assert measures.http_error_rate == 1.0
    full = _stats()  # as in the test above, with Scrapy's count of the 3 retries: the same rate as the next run's
    full.set_value("downloader/request_count", 41)
    full.set_value("retry/count", 3)
    full.set_value("aggregator/http_errors", 3)
    assert Measures.from_stats(full.get_stats(), history=[]).http_error_rate == pytest.approx(3 / 38)


def test_a_date_the_feed_filled_in_is_not_the_pages() -> None:
    """A redesign that loses the date line of every page must still turn the coverage red, though the feed entries'
    dates keep the articles dated (``published_feed``)."""
    crawler = get_crawler()
    coverage = FieldCoverage(crawler)
    feed = "Mon, 14 Sep 2026 10:30:00 +0400"
    at = datetime(2026, 9, 14, 6, 30, tzinfo=UTC)
    coverage.item_seen(_article(published_raw=None, published_feed=feed, published_at=at))
    coverage.item_seen(_article(published_feed=feed, published_at=at))  # the page's own date, a feed's beside it
    coverage.item_seen(_article(published_raw=None, published_at=at))  # dated, not by a feed
    measures = Measures.from_stats(crawler.stats.get_stats(), history=[])
    assert measures.coverage["date"] == 2 / 3


def test_a_printed_date_the_feed_stood_in_for_counts_as_not_read() -> None:
    """A new date format on a feed source: every page prints a date the parser cannot read, the feed entries' dates
    keep the articles dated. Not one article is undated, but the dates could not be read: the check must say so."""
    from aggregator.health_checks import Thresholds, dates_problem

    stats = _stats()
    stats.set_value(PREFIX + "extracted", 20)
    stats.set_value("aggregator/dates_from_feed", 20)
    stats.set_value("aggregator/dates_page_unparsed", 20)
    measures = Measures.from_stats(stats.get_stats(), history=[])
    assert measures.undated == 1.0
    assert dates_problem(measures, Thresholds()) == "100% of the dates could not be read"


def test_a_page_the_extractor_crashed_on_counts_as_an_article_with_none_of_the_fields() -> None:
    """A redesign that makes the extractor raise on every page must turn the coverage red, as one that makes it find
    nothing does; and the run that leaves such a page alone counts it the same way."""
    from aggregator.items import ExtractionFailure

    crawler = get_crawler()
    coverage = FieldCoverage(crawler)
    for n in range(10):
        coverage.item_seen(ExtractionFailure("caliber", f"https://caliber.az/post/{n}", "extraction failed: KeyError"))
    coverage.item_seen(_article())
    measures = Measures.from_stats(crawler.stats.get_stats(), history=[])
    assert measures.extracted == measures.items == 11
    assert measures.coverage == {"title": 1 / 11, "body": 1 / 11, "date": 1 / 11}
    left_alone = _stats()
    for _ in range(10):
        count_left_alone(left_alone, "extract", "extraction failed: KeyError")
    count_left_alone(left_alone, "validate", "nothing missing")
    assert left_alone.get_stats() == crawler.stats.get_stats()


def test_a_date_that_could_not_be_read_is_quoted_short_and_on_one_line() -> None:
    """A run red for "100% of the dates could not be read" never said what: the operator opened the archive to find
    the new date format. The run's first unread text is quoted, made one short line of printable characters (it is
    the page's own text, on its way to a terminal, a log line and a one-line reason)."""
    from aggregator.health import health_verdict
    from aggregator.health_checks import EXAMPLE_CHARS, Thresholds, dates_problem
    from pipelines.dates import DatesPipeline

    crawler = get_crawler()
    dates, coverage = DatesPipeline(crawler.stats), FieldCoverage(crawler)
    printed = "2026/12/06\n\x1b[2J10h15 " + "обновлено позже " * 5
    for text in (printed, "2026/12/07 09h30", "2026/12/07 11h00"):
        item = dates.process_item(_article(published_raw=text))
        coverage.item_seen(item)
    measures = Measures.from_stats(crawler.stats.get_stats(), history=[])
    problem = dates_problem(measures, Thresholds())
    quoted = "2026/12/06 [2J10h15 обновлено позже обн…"
    assert len(quoted) == EXAMPLE_CHARS
    assert problem == f"100% of the dates could not be read (e.g. '{quoted}')"
    assert problem.isprintable()
    assert "unread_example" not in health_verdict(crawler.settings, measures, [problem])  # not a measure
