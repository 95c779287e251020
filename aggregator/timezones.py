"""Time zones by IANA name, and the re-publisher's way of printing an instant: what showing a date needs.

Light on purpose: the commands and pages that only show dates import this, not the date parser of
``pipelines.dates`` (which brings Scrapy with its pipeline, about a second of a command's start on a slow machine).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# How the re-publisher prints a month (format_date).
_PRINTED_MONTHS: dict[str, tuple[str, ...]] = {
    "ru": ("Января", "Февраля", "Марта", "Апреля", "Мая", "Июня", "Июля", "Августа", "Сентября", "Октября",
           "Ноября", "Декабря"),
    "az": ("yanvar", "fevral", "mart", "aprel", "may", "iyun", "iyul", "avqust", "sentyabr", "oktyabr", "noyabr",
           "dekabr"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}  # fmt: skip


class UnknownTimeZoneError(ValueError):
    pass


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` from the time-zone database (tzdata is a dependency: no system files needed)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimeZoneError(f"unknown time zone {name!r}") from exc


def format_date(instant: datetime, *, language: str, timezone: str) -> str:
    """The re-publisher's style: "15 Сентября 2025 13:24", "15 sentyabr 2025 13:24", "15 September 2025 13:24"."""
    if instant.tzinfo is None:
        raise ValueError("instant must be an aware datetime")
    local = instant.astimezone(zone(timezone))
    months = _PRINTED_MONTHS.get(language, _PRINTED_MONTHS["en"])
    return f"{local.day:02d} {months[local.month - 1]} {local.year} {local.hour:02d}:{local.minute:02d}"
