"""Dates: the text a source prints -> the exact UTC instant it means.

A fast path of exact forms (month names in Russian, Azerbaijani and English in any case, numeric day-first
dates, today/yesterday, "N hours ago", ISO 8601, RFC 822) handles what the source sites print; one configured
dateparser call is the fallback for the long tail. Local times are converted with the time-zone database (Baku
kept summer time until 2016), and a result more than a day after ``now`` or before 1990 is refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, Self
from zoneinfo import ZoneInfo

from scrapy.crawler import Crawler

from aggregator.items import ArticleItem
from aggregator.sources import get_source
from pipelines.base import Pipeline

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)

_MONTH_FORMS: dict[int, tuple[str, ...]] = {
    1: ("январь", "января", "янв", "yanvar", "yan", "january", "jan"),
    2: ("февраль", "февраля", "фев", "февр", "fevral", "fev", "february", "feb"),
    3: ("март", "марта", "мар", "mart", "mar", "march"),
    4: ("апрель", "апреля", "апр", "aprel", "apr", "april"),
    5: ("май", "мая", "may", "mayıs"),
    6: ("июнь", "июня", "июн", "iyun", "iyn", "june", "jun"),
    7: ("июль", "июля", "июл", "iyul", "iyl", "july", "jul"),
    8: ("август", "августа", "авг", "avqust", "avq", "august", "aug"),
    9: ("сентябрь", "сентября", "сен", "сент", "sentyabr", "sen", "september", "sep", "sept"),
    10: ("октябрь", "октября", "окт", "oktyabr", "okt", "october", "oct"),
    11: ("ноябрь", "ноября", "ноя", "нояб", "noyabr", "noy", "november", "nov"),
    12: ("декабрь", "декабря", "дек", "dekabr", "dek", "december", "dec"),
}
MONTHS: dict[str, int] = {form: month for month, forms in _MONTH_FORMS.items() for form in forms}

TODAY_WORDS = ("сегодня", "bu gün", "bugün", "today")
YESTERDAY_WORDS = ("вчера", "dünən", "yesterday")
_UNITS: dict[str, str] = {
    **dict.fromkeys(("секунд", "saniyə", "second"), "seconds"),
    **dict.fromkeys(("минут", "мин", "dəqiqə", "minute", "min"), "minutes"),
    **dict.fromkeys(("час", "saat", "hour"), "hours"),
    **dict.fromkeys(("день", "дня", "дней", "gün", "day"), "days"),
    **dict.fromkeys(("недел", "həftə", "week"), "weeks"),
}

_WORD = r"[^\W\d_]+"
_TIME_RE = re.compile(r"(?<!\d)([01]?\d|2[0-3])[:.]([0-5]\d)(?::([0-5]\d))?(?!\d)")
_NAMED_RE = re.compile(rf"(?<!\d)(\d{{1,2}})\s*[-/.]?\s*({_WORD})\.?,?\s*(\d{{4}})?(?!\d)")
_NAMED_MONTH_FIRST_RE = re.compile(rf"\b({_WORD})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})(?!\d)")
_NUMERIC_RE = re.compile(r"(?<!\d)(\d{1,2})\s*([./-])\s*(\d{1,2})\s*\2\s*(\d{4})(?!\d)")
_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$")
_RFC822_RE = re.compile(r"^(?:[a-z]{3},\s*)?\d{1,2}\s+[a-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}")
_OFFSET_RE = re.compile(r"\(?\s*(?:utc|gmt)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\s*\)?")
_AGO_RE = re.compile(rf"(\d+)\s*({_WORD})\s+(?:назад|əvvəl|ago)")


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _normalise(text: str) -> str:
    text = text.replace("\xa0", " ").replace("İ", "i")
    return " ".join(text.lower().split())


def _localize(day: date, at: time, zone: tzinfo) -> datetime:
    return datetime.combine(day, at).replace(tzinfo=zone).astimezone(UTC)


def _explicit_offset(text: str) -> tuple[str, tzinfo | None]:
    match = _OFFSET_RE.search(text)
    if not match:
        return text, None
    sign = -1 if match.group(1) == "-" else 1
    offset = timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))
    return text[: match.start()] + text[match.end() :], timezone(sign * offset)


def _fast(text: str, zone: tzinfo, now: datetime) -> datetime | None:
    if _ISO_RE.match(text):
        iso = datetime.fromisoformat(text.upper().replace(" ", "T"))
        return iso.astimezone(UTC) if iso.tzinfo else iso.replace(tzinfo=zone).astimezone(UTC)
    if _RFC822_RE.match(text):
        fixed = re.sub(r"([+-]\d{2})$", r"\g<1>00", text)
        try:
            parsed = parsedate_to_datetime(fixed)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None:
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=zone).astimezone(UTC)

    text, offset = _explicit_offset(text)
    if offset is not None:
        zone = offset
    local_now = now.astimezone(zone)

    ago = _AGO_RE.search(text)
    if ago:
        unit = next((u for stem, u in _UNITS.items() if ago.group(2).startswith(stem)), None)
        if unit:
            return (now - timedelta(**{unit: int(ago.group(1))})).astimezone(UTC)

    tmatch = _TIME_RE.search(text)
    at = time(int(tmatch.group(1)), int(tmatch.group(2)), int(tmatch.group(3) or 0)) if tmatch else time()
    # Remove the time so that its digits are not taken for a day.
    rest = text[: tmatch.start()] + " " + text[tmatch.end() :] if tmatch else text

    if any(word in rest for word in YESTERDAY_WORDS):
        return _localize(local_now.date() - timedelta(days=1), at, zone)
    if any(word in rest for word in TODAY_WORDS):
        return _localize(local_now.date(), at, zone)

    day: date | None = None
    numeric = _NUMERIC_RE.search(rest)
    if numeric:
        try:
            day = date(int(numeric.group(4)), int(numeric.group(3)), int(numeric.group(1)))
        except ValueError:
            return None
    else:
        for match in _NAMED_RE.finditer(rest):
            month = MONTHS.get(match.group(2))
            if month is None:
                continue
            day = _named_day(int(match.group(1)), month, match.group(3), local_now.date(), at, zone, now)
            break
        else:
            alt = _NAMED_MONTH_FIRST_RE.search(rest)
            if alt and alt.group(1) in MONTHS:
                day = _named_day(int(alt.group(2)), MONTHS[alt.group(1)], alt.group(3), local_now.date(), at, zone, now)
    if day is None:
        if tmatch and not re.search(r"\d", rest):
            return _localize(local_now.date(), at, zone)  # a bare "15:31" on a listing means today
        return None
    return _localize(day, at, zone)


def _named_day(
    dom: int, month: int, year: str | None, today: date, at: time, zone: tzinfo, now: datetime
) -> date | None:
    try:
        if year:
            return date(int(year), month, dom)
        candidate = date(today.year, month, dom)
        if _localize(candidate, at, zone) > now:
            candidate = date(today.year - 1, month, dom)
        return candidate
    except ValueError:
        return None


def _fallback(text: str, zone_name: str, now: datetime, languages: Sequence[str]) -> datetime | None:
    import dateparser

    parsed = dateparser.parse(
        text,
        languages=list(languages),
        settings={
            "TIMEZONE": zone_name,
            "RETURN_AS_TIMEZONE_AWARE": True,
            "DATE_ORDER": "DMY",
            "PREFER_DATES_FROM": "past",
            "RELATIVE_BASE": now.astimezone(_zone(zone_name)).replace(tzinfo=None),
        },
    )
    return parsed.astimezone(UTC) if parsed else None


def parse_date(
    text: str, *, timezone: str, now: datetime, languages: Sequence[str] = ("ru", "az", "en")
) -> datetime | None:
    """The instant ``text`` means, as an aware UTC datetime, or None when it is not a plausible date."""
    if not text or not text.strip():
        return None
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    normalised = _normalise(text)
    result = _fast(normalised, _zone(timezone), now)
    if result is None:
        result = _fallback(text, timezone, now, languages)
    if result is None or result < EARLIEST or result > now + FUTURE_SLACK:
        return None
    return result


class DatesPipeline(Pipeline):
    stage = "dates"

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem) or item.published_at is not None or not item.published_raw:
            return item
        source = get_source(item.source)
        now = item.fetched_at or datetime.now(UTC)
        item.published_at = parse_date(
            item.published_raw, timezone=source.timezone, now=now, languages=source.languages
        )
        if item.published_at is None:
            self.count("dates_unparsed")
        return item
