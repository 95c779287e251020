"""Dates: the text a source prints -> the exact UTC instant it means, and back.

A fast path of exact forms handles what the source sites print: month names in Russian, Azerbaijani and English in
any case and abbreviation, numeric day-first dates (a day and month without the year when a time is beside them:
"05.12 12:30"; a two-digit year, "06.12.26", as 20xx), a year printed first ("2024-cü il 5 sentyabr",
"2024 г., 5 сентября"), times written with a colon or, after a date, a dot ("14.30"), an hour with "a.m." / "p.m."
alone ("10 a.m."), today / yesterday / just now, "N hours ago" and its compounds ("1 день 2 часа назад"), RFC 822
(with the non-standard "+04"), ISO 8601 and a stated zone after a time: "(UTC +04:00)", "GMT", "UTC", "+0000",
"+03:00", "Z", "МСК". Only text that carries a date signal the fast path could not resolve goes to one configured
dateparser parser, the fallback for the long tail. Local times are converted with the time-zone database (Baku kept
summer time until 2016), never a fixed offset; a result more than a day after ``now`` or before 1990 is refused, and
so is text whose year or zone is in doubt: a wrong date is worse than none.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from datetime import timezone as fixed_offset
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Self

from aggregator.health_checks import UNREAD_DATE, unread_example
from aggregator.items import ArticleItem
from aggregator.sources import get_source
from aggregator.timezones import zone
from pipelines.base import Pipeline

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
MAX_LENGTH = 200
"""Longer text is not a date line (a paragraph, a footer): refused before any matching."""

# Month names as printed, lower-case: Russian nominative / genitive / abbreviations, Azerbaijani, English.
_MONTH_FORMS: dict[int, tuple[str, ...]] = {
    1: ("январь", "января", "янв", "yanvar", "yan", "january", "jan"),
    2: ("февраль", "февраля", "фев", "февр", "fevral", "fev", "february", "feb"),
    3: ("март", "марта", "мар", "mart", "mar", "march"),
    4: ("апрель", "апреля", "апр", "aprel", "apr", "april"),
    5: ("май", "мая", "may"),
    6: ("июнь", "июня", "июн", "iyun", "iyn", "june", "jun"),
    7: ("июль", "июля", "июл", "iyul", "iyl", "july", "jul"),
    8: ("август", "августа", "авг", "avqust", "avq", "august", "aug"),
    9: ("сентябрь", "сентября", "сен", "сент", "sentyabr", "sen", "september", "sep", "sept"),
    10: ("октябрь", "октября", "окт", "oktyabr", "okt", "october", "oct"),
    11: ("ноябрь", "ноября", "ноя", "нояб", "noyabr", "noy", "november", "nov"),
    12: ("декабрь", "декабря", "дек", "dekabr", "dek", "december", "dec"),
}
MONTHS: dict[str, int] = {form: month for month, forms in _MONTH_FORMS.items() for form in forms}
_AZ_MONTHS: dict[str, int] = {form: MONTHS[form] for form in (
    "yanvar", "fevral", "mart", "aprel", "may", "iyun", "iyul", "avqust", "sentyabr", "oktyabr", "noyabr", "dekabr",
)}  # fmt: skip
"""The whole Azerbaijani names, the only ones a case ending is taken after ("mayın", "1 mayda", "iyunun"): on an
abbreviation it makes other words ("yanda" is "beside", "senin" Turkish "your")."""
_WEEKDAYS = frozenset({
    "понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье",
    "пн", "вт", "ср", "чт", "пт", "сб", "вс",
    "bazar ertəsi", "çərşənbə axşamı", "çərşənbə", "cümə axşamı", "cümə", "şənbə", "bazar",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun",
})  # fmt: skip
"""What may follow a date as its weekday ("21 сентября 2021г., вторник"). Any other word there is not skipped by the
exact forms: it may be a zone ("10:00 GMT", "10:00 EST") or a 12-hour time's "PM", which change the instant."""

_DAY_OFFSETS: dict[str, int] = {
    "позавчера": -2, "srağagün": -2, "day before yesterday": -2,
    "вчера": -1, "dünən": -1, "yesterday": -1,
    "сегодня": 0, "bu gün": 0, "bugün": 0, "today": 0,
}  # fmt: skip
_UNITS: tuple[tuple[str, str], ...] = (  # (stem, timedelta keyword or "months"); first matching stem wins
    ("сек", "seconds"), ("saniyə", "seconds"), ("second", "seconds"), ("sec", "seconds"),
    ("мин", "minutes"), ("dəqiqə", "minutes"), ("dəq", "minutes"), ("minute", "minutes"), ("min", "minutes"),
    ("час", "hours"), ("saat", "hours"), ("hour", "hours"),
    ("дн", "days"), ("ден", "days"), ("день", "days"), ("gün", "days"), ("day", "days"),
    ("недел", "weeks"), ("həftə", "weeks"), ("week", "weeks"),
    ("месяц", "months"), ("ay", "months"), ("month", "months"),
)  # fmt: skip
_MONTHS_UNIT = "months"
"""No timedelta unit: "2 месяца назад" is the same day of the month two months back, on the local wall clock (as
dateparser counts it)."""
_AGO_DIGITS = 6
"""A longer count before "ago" is no date ("999999999999 days ago" would overflow the calendar)."""
_AND = frozenset({"и", "and", "və"})
"""A word that may join the parts of a compound "1 hour and 30 minutes ago"."""
_JUST_NOW = frozenset({"только что", "just now", "indicə", "az öncə"})
"""A listing card's "Только что": the fetch's own minute."""
_DAY_WORD_RE = re.compile(rf"(?<!\w)(?:{'|'.join(_DAY_OFFSETS)})(?![\w'’])")
"""A day word, longest first ("позавчера" before "вчера"), and a whole word only: "Сегодняшний выпуск", "Вчерашние
новости", "Today's news", "Bu günün xəbərləri" name no day."""
MIDNIGHT = time()
_DATE_WORDS = frozenset(
    {"ago", "назад", "əvvəl", "öncə", "позавчера", "вчера", "сегодня", "yesterday", "today", "dünən"}
)
_ONE = {"a", "an", "one", "один", "одна", "одну", "bir"}

_WORD = r"[^\W\d_]+"
_TOKEN_RE = re.compile(rf"{_WORD}(?:['’]{_WORD})*")
"""A word with its apostrophe suffix: "today's" is one word, not "today"."""
_TIME_RE = re.compile(r"(?<![\d:.])([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?(?:\s*([ap])\.?m\.?\b)?(?![\d])")
_HOUR_RE = re.compile(r"(?<![\d:.])(1[0-2]|0?[1-9]) ?([ap])\.? ?m\.?(?![^\W\d_])")
"""An hour with no minutes, which only "a.m." / "p.m." makes one: "15 September 2026, 10 a.m." is 10:00, not the
day's midnight."""
_NAMED_RE = re.compile(
    rf"(?<!\d)(\d{{1,2}})(?:-?(?:го|ci|cı|cu|cü|th|st|nd|rd))?\s*(?:of\s+)?[-/.]?\s*({_WORD})\.?,?\s*(\d{{4}})?(?!\d)"
)
_MONTH_FIRST_RE = re.compile(rf"\b({_WORD})\.?\s+(\d{{1,2}})(?:st|nd|rd|th|-?[iıuü])?,?(?:\s+(\d{{4}}))?(?!\d)")
_AZ_CASE_ENDINGS = ("ının", "inin", "ın", "in", "un", "ün", "da", "də")
_NUMERIC_RE = re.compile(r"(?<![\d.])(\d{1,2})\s*([./-])\s*(\d{1,2})\s*\2\s*(\d{4})(?!\d)")
_SHORT_YEAR_RE = re.compile(r"(?<![\w.,/:+-])(\d{1,2})([./])(\d{1,2})\2(\d{2})(?![\w/+-]|[.,:]\w)")
"""``_SHORT_YEAR`` inside a longer text, read only beside a time of day, and standing apart: "1.2.10.15", "v2.10.15",
"2.10.15b" are no dates."""
_ISO_DATE_RE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[t ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:z|[+-]\d{2}(?::?\d{2})?)?$")
_RFC822_RE = re.compile(r"^(?:[a-z]{3},\s*)?\d{1,2}\s+[a-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}")
_AGO_WORD_RE = re.compile(r"(?<!\w)(?:назад|əvvəl|öncə|ago)(?!\w)")
_YEAR_BEFORE_RE = re.compile(r"(?<![\d.,:/-])((?:19|20)\d{2})(-?(?:ci|cı|cu|cü)? il|\s?г(?:\.|ода?)?)?,?\s*$")
"""A year printed before the day and month: "2024-cü il 5 sentyabr", "2024 г., 5 сентября"; a bare "2024 5 sentyabr"
only at the start of the text (elsewhere a number before a date may be anything: a view count)."""
_YEAR_RE = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")

# Zones a printed time may state. A name (UTC, GMT, МСК) anywhere; a bare numeric offset ("+0000", "+03:00") or "Z"
# only right after a time of day, spaced ("10:00 +0300") or glued after the seconds ("10:00:00+04:00", as in ISO
# 8601), never glued to minutes: "10:00-12:00" is a span of time, not 10:00 at UTC-12.
_ZONE_NAMES: dict[str, str] = {"utc": "UTC", "gmt": "UTC", "z": "UTC", "мск": "Europe/Moscow", "msk": "Europe/Moscow"}
"""MSK is Moscow's zone from the database, not a fixed +03:00: Moscow was at +04:00 from 2011 to 2014."""
MAX_OFFSET = timedelta(hours=14)
_UTC_OFFSET = r"(?:utc|gmt) ?[+-] ?\d{1,2}(?::?\d{2})?(?!\d)"
_OFFSET_DIGITS = r"\d{2}(?::?\d{2})?(?![\d.:/-])"
_CLOCK_OFFSET = rf"[+-]{_OFFSET_DIGITS}"
_NAMED_ZONE_RE = re.compile(rf"\(?\s*\b(?P<zone>{_UTC_OFFSET}|(?:utc|gmt|мск|msk)\b)\s*\)?")
_CLOCK_ZONE_RE = re.compile(
    rf"(?:(?<=\d:[0-5]\d:[0-5]\d)(?:\.\d+)? ?|(?<=\d:[0-5]\d) )\(?(?P<zone>{_CLOCK_OFFSET})\)?"
    rf"|(?<=\d:[0-5]\d)(?:\.\d+)?(?P<z>z)\b"
)
_OFFSET_PARTS_RE = re.compile(r"(?:utc|gmt)?([+-])(\d{1,2})(?::?(\d{2}))?")
_UNREAD_ZONE_RE = re.compile(r"(?<=\d:[0-5]\d) \(?(?:[ecmp][sd]t|cet|cest|eet|eest|bst|msd|trt)\b")
"""A zone after a time that the fast path does not know: no date rather than the time read in the source's zone."""


def _time_of_day(separator: str) -> str:
    """A time of day whose hours and minutes ``separator`` (a regex) divides; seconds, if any, after a colon."""
    return rf"(?P<h>[01]?\d|2[0-3]){separator}(?P<mi>[0-5]\d)(?::(?P<s>[0-5]\d))?"


# Whole-string forms the sites print, each read by one anchored match; the general scan below is the slower
# path for variants. Group names: d, mon (a month word) or m (a month number), y, h, mi, s; rel (today/yesterday
# word), n + unit ("ago"); zone (a stated zone: "utc +04:00", "gmt", "+0300", "мск"); wd (a weekday after the
# date); z (an RFC 822 zone).
_TIME = _time_of_day(":")
_TIME_DOTTED = _time_of_day(r"\.")
_CLOCK = _time_of_day("[:.]")
"""A time of day after a date or a day word, also dotted ("5 декабря 2026, 14.30", "Сегодня в 14.30"): there it
cannot be part of the date. Before a date only a dotted time ending in a space is one (``_TIME_DOTTED``)."""
_NAMED = (
    rf"(?P<d>\d{{1,2}})(?:-?(?:го|ci|cı|cu|cü|th|st|nd|rd))?(?: of)? (?P<mon>{_WORD})\.?,?"
    rf"(?: (?P<y>\d{{4}})(?:г\.?|-ci il)?)?"
)
_NUMERIC = r"(?P<d>\d{1,2}) ?(?P<sep>[./-]) ?(?P<m>\d{1,2}) ?(?P=sep) ?(?P<y>\d{4})"
_SHORT_YEAR = r"(?P<d>\d{1,2})(?P<sep>[./])(?P<m>\d{1,2})(?P=sep)(?P<y>\d{2})"
"""A day-first date with a two-digit year ("06.12.26", "6/12/26"), as Azerbaijani and Russian sites print it: the
year is 20xx (a "99" is then a date years ahead, refused). Only written tight, with a dot or a slash: "6-12-26" and
"6 . 12 . 26" are too like a range or a count to be taken for one. As the whole text, or with a time of day beside
it (``_SHORT_YEAR_RE`` in the scan): "Версия 2.10.15" is a version, not 2 October 2015."""
_NUMERIC_DAY = r"(?P<d>\d{1,2})(?P<sep>[./])(?P<m>\d{1,2})(?P<y>(?!))?"
"""A day and month without the year ("05.12 12:30" on a listing card), only ever read with a time of day beside it
(which a lone "05.12" lacks: it may be any number). Its ``y`` group never matches: the year is the latest one that
puts the date not after the fetch, as for "5 декабря"."""
_BETWEEN = r",?(?: (?:в|-|•|/|saat))? "
_OFFSET = (
    r"(?: ?\(?(?P<zone>(?:utc|gmt)(?: ?[+-] ?\d{1,2}(?::?\d{2})?(?!\d))?|мск|msk|z(?<=\d:[0-5]\dz)"
    rf"|[+-](?:(?<=\d:[0-5]\d:[0-5]\d.)|(?<=\d:[0-5]\d .)){_OFFSET_DIGITS})\)?)?"
)
"""A stated zone, as ``_NAMED_ZONE_RE`` and ``_CLOCK_ZONE_RE`` read it in the general scan (each alternative tests its
first letter before any look-behind: most dates state no zone, and this is tried at the end of every one)."""
_RFC_ZONE = r"(?P<z>[+-]\d{2}(?:\d{2})?|gmt|ut|utc|z)"
_Forms = tuple[tuple[str, re.Pattern[str]], ...]
_EXACT_DATE_FIRST: _Forms = (
    # RFC 822 without the weekday first, with its own zones ("ut", "+04" with no minutes, as feeds print it).
    ("rfc", re.compile(rf"(?P<d>\d{{1,2}}) (?P<mon>[a-z]{{3}}) (?P<y>\d{{4}}) {_TIME} {_RFC_ZONE}")),
    # A weekday may follow ("21 сентября 2021г., вторник"), but only a weekday (``_WEEKDAYS``): "am" / "pm" makes a
    # 12-hour time the scan's to read ("10 january 2026 8:07 pm" is 20:07, not 08:07), and "EST" is a zone.
    ("named", re.compile(rf"{_NAMED}(?:{_BETWEEN}{_CLOCK})?{_OFFSET}(?:,? (?P<wd>{_WORD}(?: {_WORD})?))?")),
    ("numeric", re.compile(rf"{_NUMERIC}(?:{_BETWEEN}{_CLOCK})?{_OFFSET}")),
    ("numeric", re.compile(rf"{_SHORT_YEAR}(?:{_BETWEEN}{_CLOCK})?{_OFFSET}")),
    ("numeric", re.compile(rf"{_NUMERIC_DAY}{_BETWEEN}{_TIME}{_OFFSET}")),
    ("named", re.compile(rf"{_TIME_DOTTED},? (?:- )?{_NAMED}{_OFFSET}")),
    ("numeric", re.compile(rf"{_TIME_DOTTED},? (?:- )?{_NUMERIC}{_OFFSET}")),
)
_EXACT_TIME_FIRST: _Forms = (
    ("named", re.compile(rf"{_TIME},? (?:- )?{_NAMED}{_OFFSET}")),
    ("numeric", re.compile(rf"{_TIME},? (?:- )?{_NUMERIC}{_OFFSET}")),
    ("numeric", re.compile(rf"{_TIME},? (?:- )?{_SHORT_YEAR}{_OFFSET}")),
    ("numeric", re.compile(rf"{_TIME},? (?:- )?{_NUMERIC_DAY}{_OFFSET}")),
)
_EXACT_AGO: _Forms = (("ago", re.compile(rf"(?P<n>\d+) (?P<unit>{_WORD}) (?:назад|əvvəl|öncə|ago)")),)
_EXACT_BY_LETTER: _Forms = (
    ("rel", re.compile(rf"(?P<rel>{'|'.join(_DAY_OFFSETS)})(?:,| /| в)? {_CLOCK}")),
    ("rfc", re.compile(rf"[a-z]{{3}}, (?P<d>\d{{1,2}}) (?P<mon>[a-z]{{3}}) (?P<y>\d{{4}}) {_TIME} {_RFC_ZONE}")),
    ("named", re.compile(rf"(?:{_WORD} ){{1,3}}{_NAMED}(?:{_BETWEEN}{_TIME})?{_OFFSET}")),  # a category label first
)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_LETTERS_RE = re.compile(_WORD)


def _normalise(text: str) -> str:
    if not text.isprintable():  # control characters, no-break spaces (cheap test first: most text is clean)
        text = _CONTROL_RE.sub(" ", text)
    if "İ" in text:
        text = text.replace("İ", "i")  # str.lower() would make it "i" + a combining dot
    text = text.lower()
    if "ё" in text:
        text = text.replace("ё", "е")
    if "  " in text or text[:1] == " " or text[-1:] == " ":
        text = " ".join(text.split())
    return text


def _localize(day: date, at: time, tz: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, at.hour, at.minute, at.second, tzinfo=tz).astimezone(UTC)


CLOCK_SKEW = timedelta(hours=1)
"""How far ahead of the fetch a site's "today, 15:31" may be and still mean today (its clock a little fast): more is
a page cached since the evening before."""


def _day_from_today(offset: int, at: time, tz: tzinfo, now: datetime) -> datetime:
    """``at`` on the day ``offset`` days from the fetch's local day. A "today" hours ahead of the fetch was printed
    before midnight (a page or listing cached across it): "Сегодня, 15:31" fetched at 01:30 is yesterday's 15:31,
    not an instant 14 hours in the future."""
    clock = _fetch_clock(now, tz)
    day = clock.today + _DAYS[offset] if offset else clock.today
    instant = _localize(day, at, tz)
    if offset == 0 and instant > clock.latest_today:
        return _localize(day + _DAYS[-1], at, tz)
    return instant


_DAYS = {offset: timedelta(days=offset) for offset in set(_DAY_OFFSETS.values()) | {-1}}


class _FetchClock(NamedTuple):
    """What the dates of a page fetched at one ``now`` are measured against, in one zone (``_fetch_clock``)."""

    today: date
    """The fetch's local day."""
    latest_today: datetime
    """In UTC, the latest instant a "today" may be (``CLOCK_SKEW`` after the fetch)."""
    latest: datetime
    """In UTC, the latest instant any date may mean (``FUTURE_SLACK`` after the fetch: a day's slack for a site's
    clock)."""
    latest_year: int
    latest_local: tuple[int, int, time]
    """The year, and the (month, day, time of day), of ``latest`` on the local wall clock: what a date printed without
    its year is compared with."""


@lru_cache(maxsize=16)
def _fetch_clock(now: datetime, tz: tzinfo) -> _FetchClock:
    """``_FetchClock`` of ``now`` in ``tz``. One ``now`` serves a whole page (and a crawl's pages share a few): worked
    out once, not for every date string (a third of a relative date's cost was this time-zone arithmetic)."""
    utc = now.astimezone(UTC)
    latest = utc + FUTURE_SLACK
    limit = latest.astimezone(tz)
    return _FetchClock(
        now.astimezone(tz).date(), utc + CLOCK_SKEW, latest, limit.year, (limit.month, limit.day, limit.time())
    )


@lru_cache(maxsize=64)
def _stated_zone(printed: str) -> tzinfo | None:
    """The zone a printed "utc +04:00", "gmt+3", "+0300", "-05", "z", "мск" names; None for an offset no zone has
    ("utc +25:00"), which makes the date's instant unknown."""
    printed = printed.replace(" ", "")
    name = _ZONE_NAMES.get(printed)
    if name is not None:
        return UTC if name == "UTC" else zone(name)
    match = _OFFSET_PARTS_RE.fullmatch(printed)
    if match is None:
        return None
    offset = timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))
    if offset > MAX_OFFSET or int(match.group(3) or 0) >= 60:
        return None
    return fixed_offset(-offset if match.group(1) == "-" else offset)


def _explicit_offset(text: str) -> tuple[str, tzinfo | Literal[False] | None]:
    """``text`` without the zone it states, and that zone: None when it states none, False when it states one that
    cannot be read (an impossible offset, "EST"), so the instant is unknown."""
    match = None
    if "utc" in text or "gmt" in text or "мск" in text or "msk" in text:
        match = _NAMED_ZONE_RE.search(text)
    if match is None and ":" in text:
        match = _CLOCK_ZONE_RE.search(text)
        if match is None:
            return text, (False if _UNREAD_ZONE_RE.search(text) else None)
    if match is None:
        return text, None
    stated = _stated_zone(match.group("zone") or match.group("z"))
    if stated is None:
        return text, False
    return text[: match.start()] + " " + text[match.end() :], stated


def _iso(text: str, tz: tzinfo) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.upper())
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=tz).astimezone(UTC)


def _rfc822(text: str, tz: tzinfo) -> datetime | None:
    fixed = re.sub(r"([+-]\d{2})$", r"\g<1>00", text)  # "+04" is not RFC 822, but feeds print it
    try:
        parsed = parsedate_to_datetime(fixed)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        # A zone the email module does not know ("MSK") gave a naive time, read as the source's: 13:00 MSK was
        # 13:00 in Baku. A name of ours is that zone; any other name is no date (-0000, "zone unknown", is ours).
        last = fixed.rsplit(None, 1)[-1]
        if last.isalpha():
            stated = _stated_zone(last.casefold())
            return parsed.replace(tzinfo=stated).astimezone(UTC) if stated is not None else None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=tz).astimezone(UTC)


def _ago(amounts: dict[str, int], tz: tzinfo, now: datetime) -> datetime | None:
    """``now`` less ``amounts`` (timedelta keywords, and "months" counted on the local calendar: the same day of the
    month, or its last day; taken out of ``amounts``); None when that is no date (a count too large for the
    calendar)."""
    try:
        months = amounts.pop(_MONTHS_UNIT, 0)
        if months:
            local = now.astimezone(tz)
            year, month = divmod(local.year * 12 + local.month - 1 - months, 12)
            now = local.replace(year=year, month=month + 1, day=min(local.day, monthrange(year, month + 1)[1]))
        return (now - timedelta(**amounts)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _relative(text: str, tz: tzinfo, now: datetime) -> datetime | bool | None:
    """The instant "N units ago" means, every part of a compound one counted ("1 день 2 часа назад", "1 hour and 30
    minutes ago"): None when ``text`` is no such form; False when it is one with a part this path cannot read ("1 год
    2 часа назад": not two hours ago), or a count no calendar has."""
    if "назад" not in text and "əvvəl" not in text and "ago" not in text and "öncə" not in text:
        return None
    match = _AGO_WORD_RE.search(text)
    if not match:
        return None
    words = text[: match.start()].replace(",", " ").split()
    amounts: dict[str, int] = {}
    while len(words) >= 2:
        count, unit = words[-2], _unit(words[-1].rstrip("."))
        number = int(count) if count.isdecimal() and len(count) <= _AGO_DIGITS else 1 if count in _ONE else None
        if number is None or unit is None:
            if unit is not None or count.isdecimal() or count in _ONE:
                return False  # a count or a unit this path does not read is part of it
            break
        if unit in amounts:
            return False  # "2 часа 3 часа назад": not this path's to guess
        amounts[unit] = number
        del words[-2:]
        if words and words[-1] in _AND:
            words.pop()
    if not amounts:
        return None
    return _ago(amounts, tz, now) or False


def _clock(text: str) -> tuple[time | None, str]:
    """The time of day in ``text`` and the text without it (so its digits are not taken for a day)."""
    match = _TIME_RE.search(text) if ":" in text else None
    if match is not None:
        hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
        meridiem = match.group(4)
    else:
        match = _HOUR_RE.search(text) if "m" in text else None
        if match is None:
            return None, text
        hour, minute, second = int(match.group(1)), 0, 0
        meridiem = match.group(2)
    if meridiem == "p" and hour < 12:
        hour += 12
    elif meridiem == "a" and hour == 12:
        hour = 0
    return time(hour, minute, second), text[: match.start()] + " " + text[match.end() :]


def month_number(word: str) -> int | None:
    """The month a (lower-case) word names, also a whole Azerbaijani name with a case ending ("sentyabrın",
    "mayın", "1 mayda")."""
    month = MONTHS.get(word)
    if month is None and len(word) > 4:
        for ending in _AZ_CASE_ENDINGS:
            if word.endswith(ending) and word[: -len(ending)] in _AZ_MONTHS:
                return _AZ_MONTHS[word[: -len(ending)]]
    return month


def _printed_year(rest: str, match: re.Match[str]) -> str | Literal[False] | None:
    """The year of a day and month ``match`` found in ``rest``: printed after them (the match's group 3) or before
    them ("2024-cü il 5 sentyabr", "2024 г., 5 сентября"); None when no year is printed; False when a year-like
    number elsewhere leaves it in doubt (the no-year rule would give a year the text may contradict)."""
    if match.group(3):
        return match.group(3)
    before = _YEAR_BEFORE_RE.search(rest, 0, match.start())
    if before is not None and (before.group(2) or before.start() == 0):
        return before.group(1)
    return False if _YEAR_RE.search(rest) else None


def _day_of_month(dom: int, month: int, year: str | None, at: time, tz: tzinfo, now: datetime) -> date | None:
    """The date; without a year, the latest such date (at that time) not more than ``FUTURE_SLACK`` after ``now``,
    the day's grace a date with its year printed has: "5 декабря, 15:30" or "6 декабря" fetched at 12:00 on 5
    December is this year's (a post shown before the time it is scheduled for, a site's clock or zone a little off),
    not a year before, as it was (an article a year back on the downstream site)."""
    try:
        if year:
            return date(int(year), month, dom)
        # The latest local time it may be (compared on the local wall clock): within the day after New Year's Eve,
        # next year's; 29 February may be years back.
        clock = _fetch_clock(now, tz)
        for back in range(9):
            try:
                day = date(clock.latest_year - back, month, dom)
            except ValueError:
                continue
            if back or (month, dom, at) <= clock.latest_local:
                return day
    except ValueError:
        return None
    return None


def _calendar_day(rest: str, at: time, tz: tzinfo, now: datetime) -> date | bool | None:
    """The day ``rest`` names; None when it names none, False when it names an impossible one."""
    numeric = _NUMERIC_RE.search(rest) if ("." in rest or "/" in rest or "-" in rest) else None
    if numeric:
        try:
            return date(int(numeric.group(4)), int(numeric.group(3)), int(numeric.group(1)))
        except ValueError:
            return False
    iso = _ISO_DATE_RE.search(rest) if "-" in rest else None
    if iso:
        try:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            return False
    for match in _NAMED_RE.finditer(rest):
        month = month_number(match.group(2))
        if month is not None:
            year = _printed_year(rest, match)
            if year is False:
                return False  # the year is in doubt: no date rather than the no-year rule's
            return _day_of_month(int(match.group(1)), month, year, at, tz, now) or False
    for match in _MONTH_FIRST_RE.finditer(rest):
        month = month_number(match.group(1))
        if month is not None:
            year = _printed_year(rest, match)
            if year is False:
                return False  # the year is in doubt: no date rather than the no-year rule's
            return _day_of_month(int(match.group(2)), month, year, at, tz, now) or False
    return None


def _exact(text: str, tz: tzinfo, now: datetime) -> datetime | bool | None:
    """The instant of a whole-string known form; None when none matches, False for an impossible date."""
    if not text[:1].isdigit():
        if text in _JUST_NOW:
            return now.astimezone(UTC)
        patterns = _EXACT_BY_LETTER
    elif text.endswith(("назад", "əvvəl", "ago", "öncə")):
        patterns = _EXACT_AGO
    elif ":" in text[1:3]:
        patterns = _EXACT_TIME_FIRST
    else:
        patterns = _EXACT_DATE_FIRST
    for kind, pattern in patterns:
        match = pattern.fullmatch(text)
        if match is not None:
            result = _from_match(kind, match, tz, now)
            if result is not None:
                return result
    return None


@lru_cache(maxsize=256)
def _unit(word: str) -> str | None:
    """The timedelta keyword for a unit word ("часов" -> "hours"), or None."""
    return next((unit for stem, unit in _UNITS if word.startswith(stem)), None)


@lru_cache(maxsize=64)
def _offset_zone(sign: str, hours: int, minutes: int) -> tzinfo:
    offset = timedelta(hours=hours, minutes=minutes)
    return fixed_offset(-offset if sign == "-" else offset)


def _from_match(kind: str, m: re.Match[str], tz: tzinfo, now: datetime) -> datetime | bool | None:
    """The instant an exact form's match means; None when the match is not that form after all."""
    if kind == "ago":
        unit, n = _unit(m.group("unit")), m.group("n")
        return (_ago({unit: int(n)}, tz, now) or False) if unit and len(n) <= _AGO_DIGITS else None
    if kind == "rel":
        h, mi, s = m.group("h", "mi", "s")
        at = time(int(h), int(mi), int(s) if s else 0)
        return _day_from_today(_DAY_OFFSETS[m.group("rel")], at, tz, now)
    if kind == "rfc":
        d, word, y, h, mi, s, z = m.group("d", "mon", "y", "h", "mi", "s", "z")
        tz = _offset_zone(z[0], int(z[1:3]), int(z[3:5] or 0)) if z[0] in "+-" else UTC
        month = MONTHS.get(word)
    else:
        d, y, h, mi, s, stated = m.group("d", "y", "h", "mi", "s", "zone")
        if stated:
            stated_zone = _stated_zone(stated)
            if stated_zone is None:
                return False  # an offset no zone has: the instant is unknown
            tz = stated_zone
        if m.lastgroup == "wd" and m.group("wd") not in _WEEKDAYS:  # (the pattern's last group: matched)
            return None  # not a weekday after the date: a zone ("EST") or "PM", the scan's to read
        if kind == "numeric":
            month = int(m.group("m"))
        else:
            word = m.group("mon")
            month = MONTHS.get(word) or month_number(word)
    if not month:
        return None  # a word that is not a month: not this form
    hour = int(h) if h else 0  # the pattern admits 00-23 only
    minute = int(mi) if mi else 0
    second = int(s) if s else 0
    if y is None:
        at = time(hour, minute, second)
        day = _day_of_month(int(d), month, None, at, tz, now)
        return _localize(day, at, tz) if day else False
    try:
        year = int(y) if len(y) == 4 else 2000 + int(y)  # a two-digit year (``_SHORT_YEAR``) is 20xx
        return datetime(year, month, int(d), hour, minute, second, tzinfo=tz).astimezone(UTC)
    except ValueError:
        return False


def _short_year_day(rest: str) -> date | bool | None:
    """The day a two-digit-year date in ``rest`` names ("Опубликовано: 06.12.26 в 10:15", its time taken out); None
    when there is none, False when it names an impossible one."""
    match = _SHORT_YEAR_RE.search(rest) if ("." in rest or "/" in rest) else None
    if match is None:
        return None
    try:
        return date(2000 + int(match.group(4)), int(match.group(3)), int(match.group(1)))
    except ValueError:
        return False


def _scan(text: str, tz: tzinfo, now: datetime) -> datetime | bool | None:
    """The general path, for text that is no exact form: find a time, a day and an offset anywhere in it.

    The instant; None when ``text`` is no date (no date signal, or an impossible date of a known form); False when
    it has a date signal this path cannot read (the fallback's turn)."""
    if text[:4].isdigit() and _ISO_RE.match(text):
        return _iso(text, tz)  # a well-formed but impossible ISO date is no date
    if _RFC822_RE.match(text):
        return _rfc822(text, tz) or False

    text, offset = _explicit_offset(text)
    if offset is False:
        return None  # a zone is stated but cannot be read: not the instant in the source's zone
    if offset is not None:
        tz = offset
    ago = _relative(text, tz, now)
    if ago is not None:
        return ago

    at, rest = _clock(text)
    clock = at or MIDNIGHT
    relative_day = _DAY_WORD_RE.search(rest)
    if relative_day:
        return _day_from_today(_DAY_OFFSETS[relative_day.group()], clock, tz, now)

    day = _calendar_day(rest, clock, tz, now)
    if day is None and at is not None:
        day = _short_year_day(rest)  # beside a time of day only: alone, "2.10.15" may be a version
    if day is False:
        return None  # a date of a known form that does not exist ("32 марта", "29.02.2025")
    if day is None:
        if at is not None and not any(ch.isdigit() for ch in rest) and not _LETTERS_RE.search(rest):
            return _day_from_today(0, at, tz, now)  # a bare "15:31" on a listing means today
        return False if at is not None or _has_date_word(rest) else None
    assert isinstance(day, date)
    return _localize(day, clock, tz)


def _has_date_word(text: str) -> bool:
    """Whether text names something date-like the fast path did not resolve (worth asking dateparser)."""
    return any(month_number(word) or word in _DATE_WORDS for word in _TOKEN_RE.findall(text))


@lru_cache(maxsize=16)
def _dateparser(languages: tuple[str, ...], relative_base: datetime) -> Any:
    """One configured dateparser parser per (languages, now): the fallback for the long tail."""
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=list(languages),
        settings={
            "DATE_ORDER": "DMY",
            "PREFER_DATES_FROM": "past",
            "RELATIVE_BASE": relative_base,
            "RETURN_AS_TIMEZONE_AWARE": False,
            "REQUIRE_PARTS": ["day", "month"],
        },
    )


def fallback_parser(languages: Sequence[str], now: datetime, tz: tzinfo) -> Any:
    """The dateparser parser the fallback uses for ``now`` seen in zone ``tz`` (also used by the benchmark)."""
    return _dateparser(tuple(languages), now.astimezone(tz).replace(tzinfo=None))


def _fallback(text: str, tz: tzinfo, now: datetime, languages: Sequence[str]) -> datetime | None:
    try:
        data = fallback_parser(languages, now, tz).get_date_data(text)
    except (ValueError, TypeError, OverflowError):
        return None
    parsed: datetime | None = data.date_obj if data else None
    if parsed is None:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=tz).astimezone(UTC)


def parse_date(
    text: str, *, timezone: str, now: datetime, languages: Sequence[str] = ("ru", "az", "en")
) -> datetime | None:
    """The instant ``text`` means, as an aware UTC datetime, or None when it is not a plausible date."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    tz = zone(timezone)
    if not text or len(text) > MAX_LENGTH:
        return None
    normalised = _normalise(text)
    if not normalised:
        return None
    try:
        result = _exact(normalised, tz, now)
        if result is None:
            result = _scan(normalised, tz, now)
            if result is False:
                result = _fallback(normalised, tz, now, languages)
    except (OverflowError, ValueError):
        # A date the calendar cannot hold once moved to UTC or to the zone: "0001-01-01T00:00:00+04:00" (a CMS's
        # "no date", which raised out of the pipeline and lost the article), "9999-12-31T23:59:59-04:00".
        return None
    if not isinstance(result, datetime) or result < EARLIEST:
        return None
    if result.year >= now.year - 1 and result > _fetch_clock(now, tz).latest:  # (only recent years can be)
        return None
    return result


def states_time_of_day(text: str) -> bool:
    """Whether date text gives a time of day: "2026-03-23T00:00:00+04:00" does (midnight, said so), "2026-03-23"
    does not."""
    normalised = _normalise(text)
    return _TIME_RE.search(normalised) is not None or _HOUR_RE.search(normalised) is not None


def day_only(text: str, instant: datetime, tz: tzinfo) -> bool:
    """Whether ``instant``, read from ``text``, is a bare calendar day: no time of day printed, so local midnight
    stands for "some time that day" (a relative "3 hours ago" prints no clock either, but is no midnight)."""
    return not states_time_of_day(text) and instant.astimezone(tz).time() == MIDNIGHT


def on_day(instant: datetime, day: datetime, tz: tzinfo, *, or_utc: bool = False) -> bool:
    """Whether ``instant`` falls on the local day of ``day`` (a bare day, read as its local midnight); ``or_utc``:
    or on that date in UTC, which a server counting days in UTC writes into a page's metadata ("2026-12-09" for an
    article of 00:05 on 10 December in Baku, 20:05 on the 9th in UTC)."""
    local_day = day.astimezone(tz).date()
    return instant.astimezone(tz).date() == local_day or (or_utc and instant.astimezone(UTC).date() == local_day)


def page_instant(meta: datetime | None, meta_is_day: bool, printed: datetime | None, tz: tzinfo) -> datetime | None:
    """The page's publication instant from its metadata's (``meta``) and its visible text's (``printed``).

    The metadata wins, as the page's deliberate statement, except when it names a day only (``meta_is_day``) and
    the visible text gives an instant on that same day (the local day, or that date in UTC: see ``on_day``): then
    the visible one is the same statement made more precise ("2026-03-23" and "23 Марта 2026 18:14" are 18:14, not
    midnight). A visible date on another day is not taken: it is a different statement, not a more precise one (the
    page may print when it was last updated, or the extractor may have read another article's date in a sidebar),
    and the metadata names the publication day on purpose, so its day stands and the visible text's time of day,
    which belongs to some other moment, is not used.
    """
    if meta is None:
        return printed
    if meta_is_day and printed is not None and on_day(printed, meta, tz, or_utc=True):
        return printed
    return meta


class DatesPipeline(Pipeline):
    """Fills ``published_at``: structured metadata first, then the visible text, in the source's zone; for a page
    that gives neither, the date of the feed entry that led to it (``published_feed``), counted as
    ``dates_from_feed``.

    ``now`` is the fetch time, so re-extracting a stored snapshot later gives the same instant.

    Counted: ``dates_missing`` when neither the page nor a feed gives any date text, ``dates_unparsed`` when what
    they give cannot be read: the article is archived undated either way (unless the archive has a date for it
    already: the store counts what it holds undated, ``aggregator/articles_undated``); ``dates_page_unparsed`` when
    the page's date text cannot be read but the feed's dates it. The first text not read is kept in the stats
    (``UNREAD_DATE``), for the health check's "could not be read" to quote.
    """

    stage = "dates"

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem) or item.published_at is not None:
            return item
        if not (item.published_raw or item.published_meta or item.published_feed):
            self.count("dates_missing")
            return item
        source = get_source(item.source)
        now = item.fetched_at or datetime.now(UTC)
        tz = zone(source.timezone)

        def read(text: str | None) -> datetime | None:
            return parse_date(text, timezone=source.timezone, now=now, languages=source.languages) if text else None

        meta = read(item.published_meta)
        meta_is_day = meta is not None and day_only(item.published_meta or "", meta, tz)
        # The visible text is read only when the metadata leaves something to it (none, or a day without a time).
        printed = read(item.published_raw) if meta is None or meta_is_day else None
        item.published_at = page_instant(meta, meta_is_day, printed, tz)
        bare_day = False
        if item.published_feed and item.published_at is not None:
            if meta is None:  # printed with no clock ("05.12.2026"; checked last: most print one)
                bare_day = day_only(item.published_raw or "", item.published_at, tz)
            else:
                bare_day = meta_is_day and item.published_at == meta
        if bare_day:
            # A bare day (published_time="2026-11-24", or printed), no time of day on it: the feed entry's time on
            # that same day makes it precise, as a printed one does (it was stored at Baku's midnight). The
            # metadata's day may be the UTC one (``on_day``); a printed one is the site's own, local.
            announced = read(item.published_feed)
            day = item.published_at
            if announced is not None and day is not None and on_day(announced, day, tz, or_utc=meta is not None):
                item.published_at = announced
                return item
        if item.published_at is None and item.published_feed:
            # Last: the feed says when the site announced the article, the page when it was published; they agree
            # on the sites we know, but the page is the article's own word, so the feed's only fills a gap.
            item.published_at = read(item.published_feed)
            if item.published_at is not None:
                self.count("dates_from_feed")
                if item.published_raw or item.published_meta:
                    # The page printed a date we could not read: dated all the same, but a new date format on the
                    # site is what the health check's "dates could not be read" is there to catch.
                    self.count("dates_page_unparsed")
                    self.unread(item.published_raw or item.published_meta or "")
                return item
        if item.published_at is None:
            self.count("dates_unparsed")
            self.unread(item.published_raw or item.published_meta or item.published_feed or "")
        return item

    def unread(self, text: str) -> None:
        """Keep ``text``, a date text not read, as the run's example of one, unless it has one already: the page's
        printed text before its metadata's (what the site shows is what a new format changed)."""
        if self.stats is not None and text.strip() and self.stats.get_value(UNREAD_DATE) is None:
            self.stats.set_value(UNREAD_DATE, unread_example(text))
