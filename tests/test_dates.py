"""Dates as the source sites print them -> exact UTC instants, and the re-publisher's way of printing them."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pipelines.dates as dates_module
from aggregator.items import ArticleItem
from aggregator.timezones import UnknownTimeZoneError, format_date
from pipelines.dates import DatesPipeline, parse_date

CORPUS = Path(__file__).parent / "fixtures" / "dates.tsv"
CORPUS_NOW = datetime.fromisoformat("2026-09-15T13:24:00+04:00")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
BAKU = timezone(timedelta(hours=4))
ZONES = ("Asia/Baku", "Europe/Moscow", "Europe/Istanbul", "UTC")


def corpus_rows() -> list[tuple[str, str, str]]:
    """Real date strings from the source sites with the instant each means (copied from the team's corpus)."""
    with CORPUS.open(encoding="utf-8") as fh:
        lines = [line for line in fh if not line.startswith("#")]
    return [(r["text"], r["timezone"], r["expected_utc"]) for r in csv.DictReader(lines, delimiter="\t")]


@pytest.mark.parametrize(("text", "tz", "expected"), corpus_rows())
def test_corpus(text: str, tz: str, expected: str) -> None:
    want = None if expected == "none" else datetime.fromisoformat(expected.replace("Z", "+00:00"))
    assert parse_date(text, timezone=tz, now=CORPUS_NOW) == want


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("23 Марта 2024 18:14", "2024-03-23T14:14:00+00:00"),
        ("02 Октября 2025 01:40", "2025-10-01T21:40:00+00:00"),
        ("KARABAKH  02 February 2023 - 13:15", "2023-02-02T09:15:00+00:00"),
        ("23 Mart 2024 18:14", "2024-03-23T14:14:00+00:00"),
        ("28 Fevral 2026 02:15", "2026-02-27T22:15:00+00:00"),
        ("16 İyun 2025 09:00", "2025-06-16T05:00:00+00:00"),
        ("15 сен. 2025", "2025-09-14T20:00:00+00:00"),
        ("15 сентябрь 2025 13:24", "2025-09-15T09:24:00+00:00"),
        ("21 сентября 2021г., вторник", "2021-09-20T20:00:00+00:00"),
        ("25 июня 2026 в 15:31", "2026-06-25T11:31:00+00:00"),
        ("12 марта, 2026 • 10:13", "2026-03-12T06:13:00+00:00"),
        ("10-05-2019 13:10", "2019-05-10T09:10:00+00:00"),
        ("19:12 - 17 / 06 / 2026", "2026-06-17T15:12:00+00:00"),
        ("15 Noyabr 10:31", "2026-11-15T06:31:00+00:00"),  # no year: the latest such date not after now (+1 day)
        ("27 Noyabr 10:31", "2025-11-27T06:31:00+00:00"),  # ... which is last year's when this year's is further
        ("sentyabrın 15-i", "2026-09-14T20:00:00+00:00"),
        ("September 15, 2025", "2025-09-14T20:00:00+00:00"),
        ("15th of September 2025", "2025-09-14T20:00:00+00:00"),
        ("Today, 10:15 AM", "2026-11-25T06:15:00+00:00"),
        ("Yesterday, 9:05 pm", "2026-11-24T17:05:00+00:00"),
        ("10 January 2026 8:07 PM", "2026-01-10T16:07:00+00:00"),  # not 08:07: "PM" is no trailing weekday
        ("10 Jan 2026, 12:15 AM", "2026-01-09T20:15:00+00:00"),
        ("позавчера в 10:00", "2026-11-23T06:00:00+00:00"),
        ("5 часов назад", "2026-11-25T05:00:00+00:00"),
        ("3 gün əvvəl", "2026-11-22T10:00:00+00:00"),
        ("an hour ago", "2026-11-25T09:00:00+00:00"),
        ("Mon, 14 Sep 2026 00:41:31 +04", "2026-09-13T20:41:31+00:00"),
        ("14 Sep 2026 10:00:00 GMT", "2026-09-14T10:00:00+00:00"),  # RFC 822 without the weekday
        ("2026-01-10T20:07:00+04:00", "2026-01-10T16:07:00+00:00"),
        ("2026-01-10", "2026-01-09T20:00:00+00:00"),
        ("Опубликовано: 2026-01-10 20:07", "2026-01-10T16:07:00+00:00"),
        ("14 noyabr 2025 16:23 (UTC +03:00)", "2025-11-14T13:23:00+00:00"),  # the printed offset wins
        # Baku kept summer time (UTC+05:00) until 2016: the zone database knows, a fixed offset would not.
        ("15 Июля 2015 12:00", "2015-07-15T07:00:00+00:00"),
        ("15 Января 2015 12:00", "2015-01-15T08:00:00+00:00"),
    ],
)
def test_printed_forms(text: str, instant: str) -> None:
    assert parse_date(text, timezone="Asia/Baku", now=NOW) == datetime.fromisoformat(instant)


@pytest.mark.parametrize("text", ["Сегодня, 15:31", "bu gün 15:31", "Today 15:31", "15:31"])
def test_a_today_hours_ahead_of_the_fetch_is_yesterday(text: str) -> None:
    # Fetched at 01:30 in Baku, a page or listing cached since the evening before still says "today, 15:31": that was
    # read as 15:31 of the fetch's day, 14 hours in the future (the future limit allows a day of clock errors).
    after_midnight = datetime(2026, 9, 15, 1, 30, tzinfo=BAKU)
    assert parse_date(text, timezone="Asia/Baku", now=after_midnight) == datetime(2026, 9, 14, 15, 31, tzinfo=BAKU)
    # A site's clock a little ahead of ours is still today; and later in the day, today is today.
    assert parse_date("Сегодня, 01:50", timezone="Asia/Baku", now=after_midnight) == after_midnight + timedelta(
        minutes=20
    )
    evening = datetime(2026, 9, 15, 16, 0, tzinfo=BAKU)
    assert parse_date(text, timezone="Asia/Baku", now=evening) == datetime(2026, 9, 15, 15, 31, tzinfo=BAKU)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5 декабря, 12:30", datetime(2026, 12, 5, 12, 30, tzinfo=BAKU)),  # half an hour after the fetch: today
        ("5 Dekabr 12:59", datetime(2026, 12, 5, 12, 59, tzinfo=BAKU)),
        # Hours ahead (a post listed before the time it is scheduled for, a site's clock or zone off): this year's,
        # as "5 декабря 2026, 13:30" is; last year's put the article a year back on the downstream site.
        ("5 декабря, 13:30", datetime(2026, 12, 5, 13, 30, tzinfo=BAKU)),
        ("5 декабря, 23:59", datetime(2026, 12, 5, 23, 59, tzinfo=BAKU)),
        ("6 декабря", datetime(2026, 12, 6, tzinfo=BAKU)),  # tomorrow's midnight: 12 hours ahead
        ("6 декабря, 11:59", datetime(2026, 12, 6, 11, 59, tzinfo=BAKU)),
        ("06.12 11:00", datetime(2026, 12, 6, 11, 0, tzinfo=BAKU)),
        # More than a day ahead, which no printed year is allowed either: the latest such date, last year's.
        ("6 декабря, 12:01", datetime(2025, 12, 6, 12, 1, tzinfo=BAKU)),
        ("8 декабря", datetime(2025, 12, 8, tzinfo=BAKU)),
        ("5 декабря", datetime(2026, 12, 5, tzinfo=BAKU)),
    ],
)
def test_a_date_without_a_year_a_little_after_the_fetch_is_this_years(text: str, expected: datetime) -> None:
    # A site's clock or zone a little off, or a post listed before the time it is scheduled for, dated it a year
    # back: the latest such date not after the fetch was last year's. The day's grace a printed year has now.
    noon = datetime(2026, 12, 5, 12, 0, tzinfo=BAKU)
    assert parse_date(text, timezone="Asia/Baku", now=noon) == expected
    # Across New Year's Eve the same day is next year's: "1 января, 00:05" fetched at 23:50 on 31 December.
    eve = datetime(2026, 12, 31, 23, 50, tzinfo=BAKU)
    assert parse_date("1 января, 00:05", timezone="Asia/Baku", now=eve) == datetime(2027, 1, 1, 0, 5, tzinfo=BAKU)
    assert parse_date("1 января, 01:05", timezone="Asia/Baku", now=eve) == datetime(2027, 1, 1, 1, 5, tzinfo=BAKU)
    assert parse_date("2 января, 00:05", timezone="Asia/Baku", now=eve) == datetime(2026, 1, 2, 0, 5, tzinfo=BAKU)
    assert parse_date("31 декабря, 23:55", timezone="Asia/Baku", now=eve) == datetime(2026, 12, 31, 23, 55, tzinfo=BAKU)
    # Early January, a late-December date is the year before's, and so is one in a zone it states.
    january = datetime(2027, 1, 3, 10, 0, tzinfo=BAKU)
    assert parse_date("28 декабря, 14:20", timezone="Asia/Baku", now=january) == datetime(
        2026, 12, 28, 14, 20, tzinfo=BAKU
    )
    assert parse_date("31 Dekabr 23:59 (UTC+04)", timezone="Asia/Baku", now=january) == datetime(
        2026, 12, 31, 23, 59, tzinfo=BAKU
    )
    # Just after midnight in Baku, while it is still the day before in UTC, "10 декабря, 02:15" is that day.
    after_midnight = datetime(2026, 12, 10, 0, 10, tzinfo=BAKU)
    assert parse_date("10 декабря, 02:15", timezone="Asia/Baku", now=after_midnight) == datetime(
        2026, 12, 10, 2, 15, tzinfo=BAKU
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A dotted time after a date or a day word, or before a whole date, is the time of day, not midnight
        ("05.12.2026 14.30", datetime(2026, 12, 5, 14, 30, tzinfo=BAKU)),
        ("5 декабря 2026, 14.30", datetime(2026, 12, 5, 14, 30, tzinfo=BAKU)),
        ("5 dekabr 2026 09.05", datetime(2026, 12, 5, 9, 5, tzinfo=BAKU)),
        ("14.30 05.12.2026", datetime(2026, 12, 5, 14, 30, tzinfo=BAKU)),
        ("14.30, 5 декабря 2026", datetime(2026, 12, 5, 14, 30, tzinfo=BAKU)),
        ("Сегодня в 11.15", datetime(2026, 12, 5, 11, 15, tzinfo=BAKU)),
        ("вчера, 23.59", datetime(2026, 12, 4, 23, 59, tzinfo=BAKU)),
        # A day and month with a time, no year (listing cards): the year as for "5 декабря, 12:30"
        ("05.12 12:30", datetime(2026, 12, 5, 12, 30, tzinfo=BAKU)),  # half an hour after the fetch: today
        ("12:30 05.12", datetime(2026, 12, 5, 12, 30, tzinfo=BAKU)),  # (dateparser had it a year back)
        ("04.12 / 22:10", datetime(2026, 12, 4, 22, 10, tzinfo=BAKU)),
        ("05.12 13:30", datetime(2026, 12, 5, 13, 30, tzinfo=BAKU)),  # hours ahead: this year's still
        ("06.12 13:30", datetime(2025, 12, 6, 13, 30, tzinfo=BAKU)),  # more than a day ahead: last year's
        ("29/02 10:00", datetime(2024, 2, 29, 10, 0, tzinfo=BAKU)),
        # "Только что" on a card: the fetch's minute
        ("Только что", datetime(2026, 12, 5, 12, 0, tzinfo=BAKU)),
        ("Just now", datetime(2026, 12, 5, 12, 0, tzinfo=BAKU)),
        ("İndicə", datetime(2026, 12, 5, 12, 0, tzinfo=BAKU)),
    ],
)
def test_dotted_times_day_and_month_without_a_year_and_just_now(text: str, expected: datetime) -> None:
    noon = datetime(2026, 12, 5, 12, 0, tzinfo=BAKU)
    assert parse_date(text, timezone="Asia/Baku", now=noon) == expected


@pytest.mark.parametrize("text", ["05.12", "31.02 10:00", "05.13 10:00", "1.5 млн", "5.12 12.30", "12.30"])
def test_a_day_and_month_alone_or_impossible_is_no_date(text: str) -> None:
    noon = datetime(2026, 12, 5, 12, 0, tzinfo=BAKU)
    assert parse_date(text, timezone="Asia/Baku", now=noon) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A quarter of an hour after the fetch (a site's clock a little fast): dateparser made it 1926, then no date
        ("6.12.26 10:15", datetime(2026, 12, 6, 10, 15, tzinfo=BAKU)),
        ("06.12.26 10:15", datetime(2026, 12, 6, 10, 15, tzinfo=BAKU)),
        ("06.12.26, 09:40", datetime(2026, 12, 6, 9, 40, tzinfo=BAKU)),
        ("05.12.26 14.30", datetime(2026, 12, 5, 14, 30, tzinfo=BAKU)),
        ("10:15 06.12.26", datetime(2026, 12, 6, 10, 15, tzinfo=BAKU)),
        ("6.12.26", datetime(2026, 12, 6, tzinfo=BAKU)),
        ("06/12/26", datetime(2026, 12, 6, tzinfo=BAKU)),
        ("13.01.25 08:00 (UTC +03:00)", datetime(2025, 1, 13, 8, 0, tzinfo=timezone(timedelta(hours=3)))),
        ("Опубликовано: 04.12.26 в 22:10", datetime(2026, 12, 4, 22, 10, tzinfo=BAKU)),
        ("04.12.26 | 22:10", datetime(2026, 12, 4, 22, 10, tzinfo=BAKU)),
    ],
)
def test_a_two_digit_year_is_read_day_first_in_this_century(
    text: str, expected: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dates_module, "_fallback", lambda *args: pytest.fail(f"{text!r} went to dateparser"))
    assert parse_date(text, timezone="Asia/Baku", now=datetime(2026, 12, 6, 10, 0, tzinfo=BAKU)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Версия 2.10.15",  # a version: no time of day beside it
        "v2.10.15 10:00",
        "1.2.10.15 10:00",
        "2.10.15.3",
        "6-12-26",  # a dash or spaces: a range, a count
        "6 . 12 . 26",
        "10.00-12.00",  # a time range
        "05.12.26-06.12.26",
        "2:1 (1:0)",  # a score
        "31.02.26 10:00",  # no such day
        "06.12.99",  # 2099: years ahead
    ],
)
def test_a_two_digit_year_that_does_not_stand_apart_or_exist_is_no_date(text: str) -> None:
    assert parse_date(text, timezone="Asia/Baku", now=datetime(2026, 12, 6, 10, 0, tzinfo=BAKU)) is None


def test_the_source_zone_is_used() -> None:
    moscow = parse_date("23 Марта 2024 18:14", timezone="Europe/Moscow", now=NOW)
    assert moscow == datetime(2024, 3, 23, 15, 14, tzinfo=UTC)
    with pytest.raises(UnknownTimeZoneError):
        parse_date("23 Марта 2024 18:14", timezone="Mars/Olympus", now=NOW)
    with pytest.raises(ValueError, match="aware"):
        parse_date("23 Марта 2024 18:14", timezone="Asia/Baku", now=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A zone printed after the time is the time's own: 10:00 GMT is 14:00 in Baku, not 10:00 Baku time.
        ("15 September 2026 10:00 GMT", datetime(2026, 9, 15, 10, 0, tzinfo=UTC)),
        ("15 September 2026 10:00 UTC", datetime(2026, 9, 15, 10, 0, tzinfo=UTC)),
        ("2026-09-15 10:00:00 UTC", datetime(2026, 9, 15, 10, 0, tzinfo=UTC)),
        ("2026-09-15 10:00:00 +0000", datetime(2026, 9, 15, 10, 0, tzinfo=UTC)),
        ("Published: 2026-09-15T10:00:00Z", datetime(2026, 9, 15, 10, 0, tzinfo=UTC)),
        ("Updated 2026-09-15T10:00:00.000+00:00", datetime(2026, 9, 15, 10, 0, tzinfo=UTC)),
        ("Опубликовано: 2026-09-15 10:00:00 +0300", datetime(2026, 9, 15, 7, 0, tzinfo=UTC)),
        ("15 сентября 2026 10:00 +03:00", datetime(2026, 9, 15, 7, 0, tzinfo=UTC)),
        ("25.06.2026 15:31 +03", datetime(2026, 6, 25, 12, 31, tzinfo=UTC)),
        ("15 сентября 2026 10:00 МСК", datetime(2026, 9, 15, 7, 0, tzinfo=UTC)),
        ("15 sep 2026 10:00 мск", datetime(2026, 9, 15, 7, 0, tzinfo=UTC)),
        ("Сегодня, 10:00 МСК", datetime(2026, 9, 15, 7, 0, tzinfo=UTC)),
        ("15 января 2012 10:00 МСК", datetime(2012, 1, 15, 6, 0, tzinfo=UTC)),  # Moscow was at +04:00 in 2011-2014
        ("15 Sep 2026 10:00 EST", datetime(2026, 9, 15, 15, 0, tzinfo=UTC)),  # RFC 822 knows EST
        # apa.az's own form keeps working, and so does a time span (no offset glued to minutes)
        ("14 noyabr 2025 16:23 (UTC +04:00)", datetime(2025, 11, 14, 12, 23, tzinfo=UTC)),
        ("04 июня 2021 17:45 (UTC +04:00)", datetime(2021, 6, 4, 13, 45, tzinfo=UTC)),
        ("15 Noyabr 10:31 (UTC+04)", datetime(2025, 11, 15, 6, 31, tzinfo=UTC)),
        ("15 сентября 2026, 10:00-12:00", datetime(2026, 9, 15, 6, 0, tzinfo=UTC)),
    ],
)
def test_a_stated_zone_or_offset_is_honoured(text: str, expected: datetime) -> None:
    assert parse_date(text, timezone="Asia/Baku", now=CORPUS_NOW) == expected


@pytest.mark.parametrize(
    "text", ["15 September 2026 10:00 EST", "15 сентября 2026 10:00 CET", "15 Noyabr 10:31 (UTC +25:00)"]
)
def test_a_zone_that_cannot_be_read_is_no_date(text: str) -> None:
    # Read in Baku's zone it would be hours wrong ("+25:00" raised ValueError from parse_date).
    assert parse_date(text, timezone="Asia/Baku", now=CORPUS_NOW) is None


def test_a_metadata_time_with_a_spaced_utc_offset_is_that_instant() -> None:
    """article:published_time="2026-11-24 06:05:00 +0000" is 06:05Z, not 06:05 in Baku (02:05Z)."""
    dated = DatesPipeline().process_item(
        item(published_meta="2026-11-24 06:05:00 +0000", published_raw="24 Ноября 2026 10:05")
    )
    assert dated.published_at == datetime(2026, 11, 24, 6, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:00+04:00", "0001-01-01 00:00:00", "1 января 0001", "9999-12-31T23:59:59-04:00"]
)
def test_a_date_beyond_the_calendars_ends_is_no_date(text: str) -> None:
    """Moved to UTC or to Baku time, it would fall off the calendar (OverflowError): no date, not an exception."""
    assert parse_date(text, timezone="Asia/Baku", now=NOW) is None


def test_a_cms_placeholder_date_in_the_metadata_gives_way_to_the_printed_one() -> None:
    """article:published_time="0001-01-01T00:00:00+04:00" (a CMS's "no date") raised out of the pipeline: the
    article was refused at stage "error", although the page printed its date."""
    dated = DatesPipeline().process_item(
        item(published_meta="0001-01-01T00:00:00+04:00", published_raw="24 Ноября 2026 10:05")
    )
    assert dated.published_at == datetime(2026, 11, 24, 6, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A year printed before the day and month is that year, not the no-year rule's (which gave 2026).
        ("2024-cü il 5 sentyabr", datetime(2024, 9, 5, tzinfo=BAKU)),
        ("2024-cü il sentyabrın 5-i", datetime(2024, 9, 5, tzinfo=BAKU)),
        ("2024-ci il 5 sentyabr 10:00", datetime(2024, 9, 5, 10, 0, tzinfo=BAKU)),
        ("2024 5 sentyabr", datetime(2024, 9, 5, tzinfo=BAKU)),
        ("2024 г., 5 сентября 10:00", datetime(2024, 9, 5, 10, 0, tzinfo=BAKU)),
        ("2024 года 5 сентября", datetime(2024, 9, 5, tzinfo=BAKU)),
        # A year-like number elsewhere leaves the year in doubt: no date, never the wrong year.
        ("Caliber.az © 2024 5 сентября", None),
        ("5 сентября 10:00 © 2024", None),
        # Short Azerbaijani month names with a case ending
        ("Mayın 1-i, 10:00", datetime(2026, 5, 1, 10, 0, tzinfo=BAKU)),
        ("1 mayda", datetime(2026, 5, 1, tzinfo=BAKU)),
    ],
)
def test_a_year_printed_first_is_the_year(text: str, expected: datetime | None) -> None:
    assert parse_date(text, timezone="Asia/Baku", now=CORPUS_NOW) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Every part of a compound "ago" counts, not the last one alone.
        ("1 день 2 часа назад", datetime(2026, 9, 14, 11, 24, tzinfo=BAKU)),
        ("3 days 5 hours ago", datetime(2026, 9, 12, 8, 24, tzinfo=BAKU)),
        ("3 days, 5 hours ago", datetime(2026, 9, 12, 8, 24, tzinfo=BAKU)),
        ("1 saat 30 dəqiqə əvvəl", datetime(2026, 9, 15, 11, 54, tzinfo=BAKU)),
        ("1 час и 30 минут назад", datetime(2026, 9, 15, 11, 54, tzinfo=BAKU)),
        ("an hour and 30 minutes ago", datetime(2026, 9, 15, 11, 54, tzinfo=BAKU)),
        ("5 dəq. əvvəl", datetime(2026, 9, 15, 13, 19, tzinfo=BAKU)),
        # Months on the local calendar, as dateparser counts them
        ("2 ay əvvəl", datetime(2026, 7, 15, 13, 24, tzinfo=BAKU)),
        ("bir ay əvvəl", datetime(2026, 8, 15, 13, 24, tzinfo=BAKU)),
        ("1 month 2 days ago", datetime(2026, 8, 13, 13, 24, tzinfo=BAKU)),
        # A part this path cannot read (years) is dateparser's, which counts it: not "2 hours ago"
        ("1 год 2 часа назад", datetime(2025, 9, 15, 11, 24, tzinfo=BAKU)),
        # A count no calendar has is no date (it raised OverflowError)
        ("999999999999 days ago", None),
        ("1 день 999999999999 часов назад", None),
    ],
)
def test_a_compound_relative_time_counts_every_part(text: str, expected: datetime | None) -> None:
    assert parse_date(text, timezone="Asia/Baku", now=CORPUS_NOW) == expected


def test_months_ago_end_on_the_months_last_day() -> None:
    end_of_march = datetime(2026, 3, 31, 12, 0, tzinfo=BAKU)
    assert parse_date("1 месяц назад", timezone="Asia/Baku", now=end_of_march) == datetime(2026, 2, 28, 12, tzinfo=BAKU)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # An hour with a.m. / p.m. and no minutes is that hour, not the day's midnight.
        ("15 September 2026, 10 a.m.", datetime(2026, 9, 15, 10, 0, tzinfo=BAKU)),
        ("10 a.m. 15 September 2026", datetime(2026, 9, 15, 10, 0, tzinfo=BAKU)),
        ("15 September 2026 10 am", datetime(2026, 9, 15, 10, 0, tzinfo=BAKU)),
        ("14 September 2026 10 PM", datetime(2026, 9, 14, 22, 0, tzinfo=BAKU)),
        ("14 September 2026, 10 p.m.", datetime(2026, 9, 14, 22, 0, tzinfo=BAKU)),
        ("12 p.m. 14 September 2026", datetime(2026, 9, 14, 12, 0, tzinfo=BAKU)),
    ],
)
def test_an_hour_without_minutes_is_that_hour(text: str, expected: datetime) -> None:
    assert parse_date(text, timezone="Asia/Baku", now=CORPUS_NOW) == expected
    assert dates_module.states_time_of_day(text)


@pytest.mark.parametrize(
    "text",
    [
        "Сегодняшний выпуск",
        "Вчерашние новости",
        "Today's news",
        "Yesterday's news 10:00",
        "Bu günün xəbərləri",
        "Сегодняшний выпуск 10:00",
    ],
)
def test_a_day_word_inside_a_longer_word_is_no_date(text: str) -> None:
    assert parse_date(text, timezone="Asia/Baku", now=CORPUS_NOW) is None


BAD_INPUTS = [
    "",
    "   ",
    "x" * 10_000,
    "15 Сентября 2025 13:24 " * 500,  # a 10 KB string: not a date line
    "\x00\x01\x02\x1b[31m",
    "12\x0034",
    "20250915",
    "1234567890",
    "66",
    "Просмотров:66",
    "Просмотров: 179",
    "Baxışların sayı: 179",
    "АНАЛИТИКА",
    "© 2024 Caliber.az. Все права защищены..",
    "Caliber.az © 2026. .",
    "Любое использование материалов допускается только при наличии гиперссылки на Caliber.az",
    "Copyright 2010-2026 Report Information Agency",
    "01 Января 1985 10:00",  # before 1990
    "30 Декабря 2026 10:00",  # more than a day after now
    "32 Марта 2024 18:14",
    "29.02.2025 10:00",
    "31 Noyabr 2025",
]


@pytest.mark.parametrize("text", BAD_INPUTS, ids=range(len(BAD_INPUTS)))
def test_bad_input_is_none_on_the_fast_path(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """None, never an exception, and decided without dateparser (the fast path is what keeps it sub-millisecond)."""

    def no_fallback(*args: object) -> None:
        raise AssertionError(f"{text[:40]!r} went to dateparser")

    monkeypatch.setattr(dates_module, "_fallback", no_fallback)
    assert parse_date(text, timezone="Asia/Baku", now=NOW) is None


def test_the_long_tail_goes_to_dateparser(monkeypatch: pytest.MonkeyPatch) -> None:
    """A form the fast path does not know ("2 years ago") but which carries a date signal is dateparser's."""
    calls: list[str] = []
    real = dates_module._fallback

    def spy(text: str, *args: object) -> datetime | None:
        calls.append(text)
        return real(text, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(dates_module, "_fallback", spy)
    assert parse_date("2 года назад", timezone="Asia/Baku", now=NOW) == datetime(2024, 11, 25, 10, 0, tzinfo=UTC)
    assert calls == ["2 года назад"]
    assert parse_date("23 Марта 2024 18:14", timezone="Asia/Baku", now=NOW) is not None
    # Months are the fast path's now ("2 ay əvvəl", which dateparser does not read), counted as dateparser counts them
    assert parse_date("2 месяца назад", timezone="Asia/Baku", now=NOW) == datetime(2026, 9, 25, 10, 0, tzinfo=UTC)
    assert calls == ["2 года назад"]  # the forms the sites print never reach it


@pytest.mark.parametrize(
    ("language", "printed"),
    [("ru", "15 Сентября 2025 13:24"), ("az", "15 sentyabr 2025 13:24"), ("en", "15 September 2025 13:24")],
)
def test_format_date(language: str, printed: str) -> None:
    instant = datetime(2025, 9, 15, 9, 24, tzinfo=UTC)
    assert format_date(instant, language=language, timezone="Asia/Baku") == printed


@settings(max_examples=300, deadline=None)
@given(
    instant=st.datetimes(min_value=datetime(1990, 1, 2), max_value=datetime(2026, 11, 24), timezones=st.just(UTC)),
    language=st.sampled_from(["ru", "az", "en"]),
    tz=st.sampled_from(ZONES),
)
def test_format_then_parse_round_trips(instant: datetime, language: str, tz: str) -> None:
    printed = format_date(instant, language=language, timezone=tz)
    parsed = parse_date(printed, timezone=tz, now=NOW)
    assert parsed is not None, printed
    # Same minute; where a local time is repeated (the autumn clock change) either reading is that minute.
    assert abs(parsed - instant.replace(second=0, microsecond=0)) in (timedelta(0), timedelta(hours=1)), printed
    if parsed != instant.replace(second=0, microsecond=0):
        local = instant.astimezone(dates_module.zone(tz))
        assert local.fold == 1 or dates_module.zone(tz).utcoffset(local.replace(fold=0)) != local.utcoffset()


@settings(max_examples=500, deadline=None)
@given(text=st.text(max_size=300))
def test_random_text_never_raises(text: str) -> None:
    result = parse_date(text, timezone="Asia/Baku", now=NOW)
    assert result is None or (
        result.tzinfo is UTC and datetime(1990, 1, 1, tzinfo=UTC) <= result <= NOW + timedelta(days=1)
    )


def item(**fields: object) -> ArticleItem:
    return ArticleItem(**{"source": "caliber", "url": "https://caliber.az/post/x", "fetched_at": NOW, **fields})  # type: ignore[arg-type]


def test_pipeline_prefers_metadata_and_uses_the_fetch_time() -> None:
    pipeline = DatesPipeline()
    both = pipeline.process_item(item(published_raw="23 Марта 2024 18:14", published_meta="2024-03-23T18:14:37+04:00"))
    assert both.published_at == datetime(2024, 3, 23, 14, 14, 37, tzinfo=UTC)
    broken_meta = pipeline.process_item(item(published_raw="23 Марта 2024 18:14", published_meta="soon"))
    assert broken_meta.published_at == datetime(2024, 3, 23, 14, 14, tzinfo=UTC)
    relative = pipeline.process_item(item(published_raw="Вчера, 15:31"))
    assert relative.published_at == datetime(2026, 11, 24, 11, 31, tzinfo=UTC)  # yesterday of the fetch, not of today


@pytest.mark.parametrize(
    ("meta", "printed", "expected"),
    [
        # A day alone in the metadata, the time on the page: the page's instant, not Baku's midnight.
        ("2026-03-23", "23 Марта 2026 18:14", datetime(2026, 3, 23, 14, 14, tzinfo=UTC)),
        ("2026-03-23", "Вчера, 00:40", datetime(2026, 3, 22, 20, 40, tzinfo=UTC)),  # read against the fetch
        # The visible date on another day says something else (an update, another article's date): the metadata's
        # day stands, at its midnight.
        ("2026-03-23", "24 Марта 2026 09:05", datetime(2026, 3, 22, 20, 0, tzinfo=UTC)),
        ("2026-03-23", "Просмотров: 179", datetime(2026, 3, 22, 20, 0, tzinfo=UTC)),  # no date printed at all
        # A time in the metadata, midnight included, is the metadata's own: preferred as before.
        ("2026-03-23T00:00:00+04:00", "23 Марта 2026 18:14", datetime(2026, 3, 22, 20, 0, tzinfo=UTC)),
        ("2026-03-23T18:20:00+04:00", "23 Марта 2026 18:14", datetime(2026, 3, 23, 14, 20, tzinfo=UTC)),
    ],
)
def test_a_day_only_in_the_metadata_takes_the_time_the_page_prints_that_day(
    meta: str, printed: str, expected: datetime
) -> None:
    fetched = datetime(2026, 3, 23, 21, 0, tzinfo=UTC)  # 01:00 of 24 March in Baku: "Вчера" is the 23rd
    dated = DatesPipeline().process_item(item(published_raw=printed, published_meta=meta, fetched_at=fetched))
    assert dated.published_at == expected


class Stats(dict):
    def inc_value(self, key: str, n: int = 1) -> None:
        self[key] = self.get(key, 0) + n

    def get_value(self, key: str) -> object:
        return self.get(key)

    def set_value(self, key: str, value: object) -> None:
        self[key] = value


UNREAD = "aggregator/dates_unread_example"


def test_the_feed_entrys_date_is_the_last_resort_and_counted() -> None:
    """A page that prints no date it can read is dated by the feed entry that led to it; the page's own date, from
    its metadata or its text, comes first."""
    stats = Stats()
    pipeline = DatesPipeline(stats)  # type: ignore[arg-type]
    feed = "Mon, 23 Nov 2026 18:20:00 +04"
    from_feed = datetime(2026, 11, 23, 14, 20, tzinfo=UTC)
    assert pipeline.process_item(item(published_feed=feed)).published_at == from_feed  # the page prints none
    unread = pipeline.process_item(item(published_raw="Просмотров: 179", published_feed=feed))
    assert unread.published_at == from_feed and unread.published_raw == "Просмотров: 179"
    # Dated, but the page's own date went unread: what the health check's "dates could not be read" counts, and
    # quotes.
    assert stats == {"aggregator/dates_from_feed": 2, "aggregator/dates_page_unparsed": 1, UNREAD: "Просмотров: 179"}
    printed = pipeline.process_item(item(published_raw="23 ноября 2026, 18:05", published_feed=feed))
    assert printed.published_at == datetime(2026, 11, 23, 14, 5, tzinfo=UTC)
    meta = pipeline.process_item(item(published_meta="2026-11-23T18:00:00+04:00", published_feed=feed))
    assert meta.published_at == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert stats == {"aggregator/dates_from_feed": 2, "aggregator/dates_page_unparsed": 1, UNREAD: "Просмотров: 179"}
    pipeline.process_item(item(published_feed="скоро"))  # a feed's date that cannot be read either
    assert stats == {
        "aggregator/dates_from_feed": 2,
        "aggregator/dates_page_unparsed": 1,
        "aggregator/dates_unparsed": 1,
        UNREAD: "Просмотров: 179",  # the first one the run could not read
    }


def test_pipeline_keeps_undated_articles_and_counts_them() -> None:
    stats = Stats()
    pipeline = DatesPipeline(stats)  # type: ignore[arg-type]
    kept = pipeline.process_item(item(published_raw="Просмотров: 179"))
    assert kept.published_at is None and kept.published_raw == "Просмотров: 179"
    pipeline.process_item(item())
    assert stats == {"aggregator/dates_unparsed": 1, "aggregator/dates_missing": 1, UNREAD: "Просмотров: 179"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mon, 14 Sep 2026 13:00:00 MSK", datetime(2026, 9, 14, 10, 0, tzinfo=UTC)),  # a feed's Moscow time
        ("Mon, 14 Sep 2026 13:00:00 GMT", datetime(2026, 9, 14, 13, 0, tzinfo=UTC)),
        ("Mon, 14 Sep 2026 13:00:00 XYZ", None),  # a zone no one knows: no date, not Baku time
    ],
)
def test_an_rfc822_zone_name_is_honoured_or_no_date(text: str, expected: datetime | None) -> None:
    """The email module knows few zone names and gave a naive time for the others, read as Baku's."""
    assert parse_date(text, timezone="Asia/Baku", now=NOW) == expected


def test_a_bare_day_in_the_metadata_takes_the_feed_entrys_time_on_that_day() -> None:
    """published_time="2026-11-24" and no printed time: the feed's "Tue, 24 Nov 2026 23:40:00 +0400" was ignored
    and the article stored at Baku's midnight (the day before, in UTC)."""
    pipeline = DatesPipeline()
    feed = "Tue, 24 Nov 2026 23:40:00 +0400"
    same_day = pipeline.process_item(item(published_meta="2026-11-24", published_feed=feed))
    assert same_day.published_at == datetime(2026, 11, 24, 19, 40, tzinfo=UTC)
    # A feed time on another day is another statement: the metadata's day stands.
    other_day = pipeline.process_item(item(published_meta="2026-11-23", published_feed=feed))
    assert other_day.published_at == datetime(2026, 11, 22, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("meta", "printed", "feed", "expected"),
    [
        # A bare day in the metadata written by a server that counts days in UTC: an article of 00:05 in Baku is
        # still the day before there. The page's "Сегодня, 00:05" and the feed's time are that UTC day's: taken,
        # not the metadata's day at Baku's midnight (the wrong day, and a day early).
        ("2026-12-09", "Сегодня, 00:05", None, datetime(2026, 12, 9, 20, 5, tzinfo=UTC)),
        ("2026-12-09", "10 Декабря 2026 00:05", None, datetime(2026, 12, 9, 20, 5, tzinfo=UTC)),
        ("2026-12-09", None, "Wed, 09 Dec 2026 20:05:00 GMT", datetime(2026, 12, 9, 20, 5, tzinfo=UTC)),
        ("2026-12-09", None, "Thu, 10 Dec 2026 00:05:00 +0400", datetime(2026, 12, 9, 20, 5, tzinfo=UTC)),
        # The Baku day itself still counts; a time on neither day is another statement: the metadata's day stands.
        ("2026-12-09", "Вчера, 23:55", None, datetime(2026, 12, 9, 19, 55, tzinfo=UTC)),
        ("2026-12-09", "08 Декабря 2026 23:55", None, datetime(2026, 12, 8, 20, 0, tzinfo=UTC)),
        ("2026-12-08", "Сегодня, 00:05", None, datetime(2026, 12, 7, 20, 0, tzinfo=UTC)),
        ("2026-12-08", None, "Thu, 10 Dec 2026 00:05:00 +0400", datetime(2026, 12, 7, 20, 0, tzinfo=UTC)),
    ],
)
def test_a_bare_day_in_the_metadata_may_be_the_utc_day(
    meta: str, printed: str | None, feed: str | None, expected: datetime
) -> None:
    fetched = datetime(2026, 12, 10, 0, 10, tzinfo=BAKU)  # 20:10 UTC on 9 December
    dated = DatesPipeline().process_item(
        item(published_meta=meta, published_raw=printed, published_feed=feed, fetched_at=fetched)
    )
    assert dated.published_at == expected


def test_a_bare_printed_day_takes_the_feed_entrys_time_on_that_day() -> None:
    """The page prints "05.12.2026" (no time, no metadata), its feed entry 14:25 that day: the article was stored at
    Baku's midnight, as a bare day in the metadata was before it took the feed's time."""
    stats = Stats()
    pipeline = DatesPipeline(stats)  # type: ignore[arg-type]
    feed = "Sat, 05 Dec 2026 14:25:00 +0400"
    later = datetime(2026, 12, 10, 12, 0, tzinfo=BAKU)
    for printed in ("05.12.2026", "5 Декабря 2026", "5 dekabr 2026-ci il"):
        dated = pipeline.process_item(item(fetched_at=later, published_raw=printed, published_feed=feed))
        assert dated.published_at == datetime(2026, 12, 5, 10, 25, tzinfo=UTC), printed
    # A printed time is the page's own, and a feed time on another day another statement: the page's date stands.
    timed = pipeline.process_item(item(fetched_at=later, published_raw="5 Декабря 2026 14:20", published_feed=feed))
    assert timed.published_at == datetime(2026, 12, 5, 10, 20, tzinfo=UTC)
    midnight = pipeline.process_item(item(fetched_at=later, published_raw="5 Декабря 2026 00:00", published_feed=feed))
    assert midnight.published_at == datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
    other_day = pipeline.process_item(item(fetched_at=later, published_raw="04.12.2026", published_feed=feed))
    assert other_day.published_at == datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
    # ... and the printed day is Baku's own: a feed time on the next Baku day (still the 4th in UTC) is not that day.
    late = pipeline.process_item(
        item(fetched_at=later, published_raw="04.12.2026", published_feed="Sat, 05 Dec 2026 01:00:00 +0400")
    )
    assert late.published_at == datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
    assert stats == {}  # the page dated each one: no feed date filled a gap


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "öncə" is Azerbaijani's other "ago" (as in "az öncə", just now): these were no date at all.
        ("2 saat öncə", datetime(2026, 9, 15, 11, 24, tzinfo=BAKU)),
        ("15 dəqiqə öncə", datetime(2026, 9, 15, 13, 9, tzinfo=BAKU)),
        ("bir gün öncə", datetime(2026, 9, 14, 13, 24, tzinfo=BAKU)),
        ("1 saat 30 dəqiqə öncə", datetime(2026, 9, 15, 11, 54, tzinfo=BAKU)),
        ("Az öncə", datetime(2026, 9, 15, 13, 24, tzinfo=BAKU)),
        ("öncəki xəbərlər", None),  # "previous news": no date
    ],
)
def test_the_other_azerbaijani_word_for_ago(
    text: str, expected: datetime | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dates_module, "_fallback", lambda *args: pytest.fail(f"{text!r} went to dateparser"))
    assert parse_date(text, timezone="Asia/Baku", now=CORPUS_NOW) == expected
