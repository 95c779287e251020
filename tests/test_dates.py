"""Dates as the source sites print them -> exact UTC instants (the caliber.az forms; the full set is issue 3's)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregator.items import ArticleItem
from pipelines.dates import DatesPipeline, parse_date

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("23 Марта 2024 18:14", "2024-03-23T14:14:00+00:00"),
        ("02 Октября 2025 01:40", "2025-10-01T21:40:00+00:00"),
        ("10 January 2026 20:07", "2026-01-10T16:07:00+00:00"),
        ("KARABAKH  02 February 2023 - 13:15", "2023-02-02T09:15:00+00:00"),
        ("23 Mart 2024 18:14", "2024-03-23T14:14:00+00:00"),
        ("28 Fevral 2026 02:15", "2026-02-27T22:15:00+00:00"),
        ("16 İyun 2025 09:00", "2025-06-16T05:00:00+00:00"),
        ("25.06.2026 15:31", "2026-06-25T11:31:00+00:00"),
        ("14 noyabr 2025 16:23 (UTC +04:00)", "2025-11-14T12:23:00+00:00"),
        ("Tue, 15 Sep 2026 01:52:20 +0400", "2026-09-14T21:52:20+00:00"),
        ("Mon, 14 Sep 2026 00:41:31 +04", "2026-09-13T20:41:31+00:00"),
        ("2026-01-10T20:07:00+04:00", "2026-01-10T16:07:00+00:00"),
        ("Вчера, 15:31", "2026-11-24T11:31:00+00:00"),
        # Baku kept summer time (UTC+05:00) until 2016: the zone database knows, a fixed offset would not.
        ("15 Июля 2015 12:00", "2015-07-15T07:00:00+00:00"),
        ("15 Января 2015 12:00", "2015-01-15T08:00:00+00:00"),
    ],
)
def test_printed_dates(text: str, instant: str) -> None:
    assert parse_date(text, timezone="Asia/Baku", now=NOW) == datetime.fromisoformat(instant)


@pytest.mark.parametrize("text", ["", "   ", "Просмотров: 179", "01 Января 1985 10:00", "30 Декабря 2026 10:00"])
def test_not_a_plausible_date(text: str) -> None:
    assert parse_date(text, timezone="Asia/Baku", now=NOW) is None


def test_results_are_aware_utc() -> None:
    result = parse_date("23 Марта 2024 18:14", timezone="Asia/Baku", now=NOW)
    assert result is not None and result.tzinfo is UTC


def test_pipeline_fills_published_at_and_counts_failures() -> None:
    good = ArticleItem(source="caliber", url="https://caliber.az/post/x", published_raw="23 Марта 2024 18:14",
                       fetched_at=NOW)  # fmt: skip
    bad = ArticleItem(source="caliber", url="https://caliber.az/post/y", published_raw="скоро", fetched_at=NOW)
    pipeline = DatesPipeline()
    assert pipeline.process_item(good).published_at == datetime(2024, 3, 23, 14, 14, tzinfo=UTC)
    assert pipeline.process_item(bad).published_at is None
