"""Dates read from whole pages: what the generic extractor takes as the printed date, and the instant it gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from aggregator.extract import extract_page

BAKU = timezone(timedelta(hours=4))
PAGE = (
    '<html lang="ru"><head><title>Ночной рейс задержали в аэропорту</title>'
    '<meta property="article:published_time" content="{meta}"></head><body><article>'
    '<h1>Ночной рейс задержали в аэропорту</h1><span class="news-date">{printed}</span><p>'
    + "Вылет ночного рейса в Стамбул перенесли из-за тумана, пассажиров разместили в гостинице у аэропорта. " * 3
    + "</p></article></body></html>"
)


@pytest.mark.parametrize(
    ("meta", "printed", "expected_raw", "expected"),
    [
        # The metadata's bare day is the UTC one (20:05 on the 9th in UTC): the printed 00:05 of the 10th in Baku is
        # that day's, shown and dated by (it was the metadata's day at Baku's midnight: a day early).
        ("2026-12-09", "10 декабря 2026, 00:05", "10 декабря 2026, 00:05", "2026-12-09T20:05:00+00:00"),
        ("2026-12-09", "Сегодня, 00:05", "Сегодня, 00:05", "2026-12-09T20:05:00+00:00"),
        # A printed date on neither day is another statement: the metadata's day stands, and is what is shown.
        ("2026-12-08", "10 декабря 2026, 00:05", "2026-12-08", "2026-12-07T20:00:00+00:00"),
    ],
)
def test_a_bare_utc_day_in_the_metadata_takes_the_printed_time_early_the_next_baku_day(
    meta: str, printed: str, expected_raw: str, expected: str
) -> None:
    fetched = datetime(2026, 12, 10, 0, 30, tzinfo=BAKU).astimezone(UTC)
    record = extract_page(
        PAGE.format(meta=meta, printed=printed).encode(), "https://vesti-goroda.example/a/3", fetched_at=fetched
    )
    assert (record["published_raw"], record["published_meta"]) == (expected_raw, meta)
    assert record["published_at"] == expected
