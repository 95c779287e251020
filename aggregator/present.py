"""How the re-publisher shows an article: its page's labels in the article's language, and its times in Baku."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aggregator.timezones import format_date, zone

SITE_TIMEZONE = "Asia/Baku"
"""The re-publisher's zone: archive times are printed in it, whatever the source's zone."""


@dataclass(frozen=True, slots=True)
class Labels:
    views: str
    source: str
    archived: str
    """Followed by the archive time: "Эта новость заархивирована с источника 15 Сентября 2025 13:24"."""
    archived_on: str
    """Before the archive time a list prints for an article the page gave no date for ("Заархивирована: 15 Сентября
    2025 13:24"): that time is when the archive took it, never to be read as when it was published."""
    most_read: str
    latest: str
    stories: str
    not_found: str
    next_page: str
    withdrawn: str
    unavailable: str
    bad_link: str
    method_not_allowed: str
    """A page's 405 (a form or a script that posted to a page: the pages answer GET and HEAD only)."""
    all_editions: str
    """The header's link to the front page of every edition (``/``), before the editions' own links."""
    search: str
    """The search box's button and the search page's heading."""
    found: str
    """Before the number of articles a search found: "Найдено: 12"."""
    more_than: str
    """That number when more match than a search counts ("Найдено: более 2000"), ``{count}`` the count it stops at
    (``search.SEARCH_WINDOW``, 2,000: Azerbaijani's "-dən" is the ending "min", a thousand, takes)."""
    nothing_found: str


LABELS: dict[str, Labels] = {
    "ru": Labels(
        views="Просмотров",
        source="Источник",
        archived="Эта новость заархивирована с источника",
        archived_on="Заархивирована",
        most_read="Самые читаемые",
        latest="Последние новости",
        stories="Эта же новость в других источниках",
        not_found="Новость не найдена",
        next_page="Дальше",
        withdrawn="Новость снята с публикации",
        unavailable="Сайт временно недоступен, попробуйте зайти через минуту",
        bad_link="Неверная ссылка на страницу",
        method_not_allowed="Эта страница не принимает такой запрос",
        all_editions="Все",
        search="Поиск",
        found="Найдено",
        more_than="более {count}",
        nothing_found="Ничего не найдено",
    ),
    "az": Labels(
        views="Baxış sayı",
        source="Mənbə",
        archived="Bu xəbər mənbədən arxivləşdirilib",
        archived_on="Arxivləşdirilib",
        most_read="Ən çox oxunanlar",
        latest="Son xəbərlər",
        stories="Bu xəbər digər mənbələrdə",
        not_found="Xəbər tapılmadı",
        next_page="Növbəti",
        withdrawn="Xəbər yayımdan çıxarılıb",
        unavailable="Sayt müvəqqəti olaraq əlçatan deyil, bir dəqiqədən sonra yenidən cəhd edin",
        bad_link="Səhifənin keçidi yanlışdır",
        method_not_allowed="Bu səhifə belə sorğunu qəbul etmir",
        all_editions="Hamısı",
        search="Axtarış",
        found="Tapıldı",
        more_than="{count}-dən çox",
        nothing_found="Heç nə tapılmadı",
    ),
    "en": Labels(
        views="Views",
        source="Source",
        archived="This news item was archived from the source on",
        archived_on="Archived",
        most_read="Most read",
        latest="Latest news",
        stories="The same news from other sources",
        not_found="News item not found",
        next_page="Next",
        withdrawn="This news item has been withdrawn",
        unavailable="The site is briefly unavailable; please try again in a minute",
        bad_link="This page link is not valid",
        method_not_allowed="This page does not take this kind of request",
        all_editions="All",
        search="Search",
        found="Found",
        more_than="more than {count}",
        nothing_found="Nothing found",
    ),
}


def labels(language: str | None) -> Labels:
    """The page's labels in ``language``; Russian (the site's main edition) for any other."""
    return LABELS.get(language or "", LABELS["ru"])


def page_language(language: str | None) -> str:
    return language if language in LABELS else "ru"


DESCRIPTION_CHARS = 160
"""How much of an article's text a page's description (a search result's snippet, a shared link's preview) holds."""
OG_LOCALES = {"ru": "ru_RU", "az": "az_AZ", "en": "en_US"}


def description(text: str | None, limit: int = DESCRIPTION_CHARS) -> str:
    """The first words of ``text`` in at most ``limit`` characters, cut between words with an ellipsis."""
    words = " ".join((text or "").split())
    if len(words) <= limit:
        return words
    cut = words[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:  # a word longer than half the limit is cut inside, not dropped
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


def printed_time(instant: datetime | None, language: str | None) -> str:
    """An instant as the re-publisher prints it, in Baku time: "15 Сентября 2025 13:24"."""
    if instant is None:
        return ""
    return format_date(instant, language=page_language(language), timezone=SITE_TIMEZONE)


def utc_iso(instant: datetime | None) -> str | None:
    """ISO 8601 in UTC with a "Z": one spelling for every instant the read API, ``export`` and every ``--json`` of
    the ``aggregator`` command give, so that a script comparing them (jq from cron) compares like with like."""
    if instant is None:
        return None
    if instant.tzinfo is not UTC:  # the store's instants are UTC already
        instant = instant.astimezone(UTC)
    return instant.isoformat()[:-6] + "Z"


def utc_iso_text(text: str | None) -> str | None:
    """An instant written already (an item's ``fetched_at`` as a quarantine row keeps it, ``2026-11-24T06:05:00+00:00``)
    spelt as ``utc_iso`` spells it. Text that is no ISO 8601 time with a zone (a page's own date text, a naive time)
    is not an instant of known UTC, and is left as it is."""
    if not text:
        return text
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        return text
    return utc_iso(instant) if instant.tzinfo is not None else text


def local_iso(instant: datetime | None) -> str | None:
    if instant is None:
        return None
    return instant.astimezone(zone(SITE_TIMEZONE)).isoformat()


EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def parse_instant(text: str, *, end_of_day: bool = False) -> datetime:
    """An operator's ``--since``/``--until``: an ISO date or date and time, UTC when it names no zone.

    A bare date as an upper bound means the end of that day, so ``--until 2026-11-24`` includes the 24th. A time
    that is not an instant of Python's calendar in UTC (``0001-01-01T00:00+01:00``; the end of ``9999-12-31``) is
    its first or last instant: a query bound never overflows.
    """
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        if end_of_day and len(text.strip()) == 10:
            value = value + timedelta(days=1)
        return value.astimezone(UTC)
    except OverflowError:
        # The first or last day Python's dates hold, pushed past it by a zone or by "the end of that day": an
        # instant before or after every article, which the bound of the calendar stands for.
        return EARLIEST if value.year == 1 else LATEST
