"""Dates: ``pipelines.dates.parse_date`` against dateparser on 10,000 generated date strings, in one run.

Run from the repo root: ``python bench/dates.py``. Prints figures, asserts nothing.

Every string is printed from a known instant, so its truth does not come from any parser: a random aware instant
between 1995 and NOW is converted to Asia/Baku local time with zoneinfo (Baku kept summer time, UTC+05:00, until
2016) and written in one of the forms the source sites print (/work/shared/sources.md, corpus/dates.tsv). A form
that prints minutes makes the instant a whole minute; a form without a time of day makes it local midnight; a
form without a year uses an instant of the last 364 days (its truth is the latest such date not after NOW); the
relative forms are NOW minus the amount, or today / yesterday at the printed local time. Local times that the
clock shows twice (the hour summer time ended) are drawn again when the form prints no offset.

Both sides read every string: ``parse_date(text, timezone="Asia/Baku", now=NOW)``, and ONE reused dateparser
parser configured exactly as parse_date's fallback (``pipelines.dates.fallback_parser``), its ``date_obj``
converted as ``pipelines.dates._fallback`` does (naive -> Baku local -> UTC, aware -> UTC). A result is right when
it is the true instant to the second.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pipelines.dates as dates_module  # noqa: E402
from pipelines.dates import fallback_parser, parse_date  # noqa: E402

SEED = 20260915
N = 10_000
ROUNDS = 7  # parse_date passes over the whole set; the best is kept
TARGET_RATIO = 200.0
DATEPARSER_BUDGET = 90.0  # seconds: above this estimate dateparser is timed on a subset
SUBSET = 2_000
TZ_NAME = "Asia/Baku"
BAKU = ZoneInfo(TZ_NAME)
NOW = datetime(2026, 9, 15, 13, 24, tzinfo=BAKU)
START = datetime(1995, 1, 1, tzinfo=BAKU)
LANGUAGES = ("ru", "az", "en")

# Month and day names written out here, independently of pipelines/dates.py.
RU_GENITIVE = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
               "ноября", "декабря")  # fmt: skip
RU_NOMINATIVE = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь",
                 "ноябрь", "декабрь")  # fmt: skip
RU_ABBREVIATED = (
    ("янв.", "фев.", "мар.", "апр.", "мая", "июн.", "июл.", "авг.", "сен.", "окт.", "ноя.", "дек."),
    ("янв.", "февр.", "мар.", "апр.", "мая", "июня", "июля", "авг.", "сент.", "окт.", "нояб.", "дек."),  # CLDR
)
RU_WEEKDAYS = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")
AZ_MONTHS = ("yanvar", "fevral", "mart", "aprel", "may", "iyun", "iyul", "avqust", "sentyabr", "oktyabr", "noyabr",
             "dekabr")  # fmt: skip
EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")  # fmt: skip
EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CATEGORIES = ("KARABAKH", "POLITICS", "WORLD", "ECONOMY", "ANALYTICS", "SOCIETY", "INTERVIEWS", "REGION")


def az_capital(word: str) -> str:
    return ("İ" + word[1:]) if word.startswith("i") else word.capitalize()


def ru_plural(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def offset_text(local: datetime, *, colon: bool) -> str:
    offset = local.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}" if colon else f"{sign}{hours:02d}{minutes:02d}"


def ambiguous(local: datetime) -> bool:
    """Whether the wall time ``local`` shows is shown twice (or never) in Baku: its text would not name one instant."""
    wall = local.replace(tzinfo=None)
    return wall.replace(tzinfo=BAKU, fold=0).utcoffset() != wall.replace(tzinfo=BAKU, fold=1).utcoffset()


def instant(
    rng: random.Random, precision: str, *, start: datetime = START, end: datetime = NOW, offset_printed: bool = False
) -> datetime:
    """A random instant in [start, end], as an aware Baku-local datetime cut to ``precision`` (second/minute/day)."""
    first, last = int(start.timestamp()), int(end.timestamp())
    while True:
        local = datetime.fromtimestamp(rng.randint(first, last), UTC).astimezone(BAKU)
        if precision == "minute":
            local = local.replace(second=0)
        elif precision == "day":
            local = datetime(local.year, local.month, local.day, tzinfo=BAKU)  # local midnight, via zoneinfo
        if start <= local <= end and (offset_printed or not ambiguous(local)):
            return local


def hm(t: datetime) -> str:
    return f"{t.hour:02d}:{t.minute:02d}"


# Each form: (rng) -> (text, true instant). The instant is aware; it is compared as an instant.
Gen = Callable[[random.Random], tuple[str, datetime]]


def ru_genitive_cap(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "minute")
    return f"{t.day:02d} {RU_GENITIVE[t.month - 1].capitalize()} {t.year} {hm(t)}", t


def ru_genitive_comma(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "minute")
    return f"{t.day} {RU_GENITIVE[t.month - 1]} {t.year}, {hm(t)}", t


def ru_abbreviated(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "day")
    return f"{t.day} {rng.choice(RU_ABBREVIATED)[t.month - 1]} {t.year}", t


def ru_nominative(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "minute")
    return f"{t.day} {RU_NOMINATIVE[t.month - 1]} {t.year} {hm(t)}", t


def ru_weekday(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "day")
    return f"{t.day} {RU_GENITIVE[t.month - 1]} {t.year}г., {RU_WEEKDAYS[t.weekday()]}", t


def ru_time_first(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "minute")
    return f"{hm(t)}, {t.day} {RU_GENITIVE[t.month - 1]} {t.year}", t


def ru_v(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "minute")
    return f"{t.day} {RU_GENITIVE[t.month - 1]} {t.year} в {hm(t)}", t


def az_comma(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "minute")
    return f"{t.day} {AZ_MONTHS[t.month - 1]}, {t.year} {hm(t)}", t


def az_utc(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "minute", offset_printed=True)
    return f"{t.day:02d} {AZ_MONTHS[t.month - 1]} {t.year} {hm(t)} (UTC {offset_text(t, colon=True)})", t


def az_no_year(rng: random.Random) -> tuple[str, datetime]:
    # Within the last 364 days, so the same day and time a year later is after NOW: the truth is this instant.
    t = instant(rng, "minute", start=NOW - timedelta(days=364))
    return f"{t.day} {az_capital(AZ_MONTHS[t.month - 1])} {hm(t)}", t


def az_capitalised(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "minute")
    return f"{t.day:02d} {az_capital(AZ_MONTHS[t.month - 1])} {t.year} {hm(t)}", t


def en_long(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "minute")
    return f"{t.day:02d} {EN_MONTHS[t.month - 1]} {t.year} {hm(t)}", t


def en_category(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "minute")
    return f"{rng.choice(CATEGORIES)}  {t.day:02d} {EN_MONTHS[t.month - 1]} {t.year} - {hm(t)}", t


def en_abbreviated(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "day")
    return f"{t.day} {EN_MONTHS[t.month - 1][:3]} {t.year}", t


def dmy(t: datetime, sep: str) -> str:
    return f"{t.day:02d}{sep}{t.month:02d}{sep}{t.year}"


def num_dots(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "minute")
    return f"{dmy(t, '.')} {hm(t)}", t


def num_time_first(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "minute")
    return f"{hm(t)} - {dmy(t, '.')}", t


def num_dashes(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "minute")
    return f"{dmy(t, '-')} {hm(t)}", t


def num_spaced_slashes(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "minute")
    return f"{hm(t)} - {dmy(t, ' / ')}", t


def num_slash_time(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "minute")
    return f"{dmy(t, '.')} / {hm(t)}", t


def ru_bullet(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "minute")
    return f"{t.day} {RU_GENITIVE[t.month - 1]}, {t.year} • {hm(t)}", t


TODAY = datetime(NOW.year, NOW.month, NOW.day, tzinfo=BAKU)
YESTERDAY = TODAY - timedelta(days=1)


def today(template: str) -> Gen:
    def gen(rng: random.Random) -> tuple[str, datetime]:
        t = instant(rng, "minute", start=TODAY, end=NOW)
        return template.format(hm(t)), t

    return gen


def yesterday(template: str) -> Gen:
    def gen(rng: random.Random) -> tuple[str, datetime]:
        t = instant(rng, "minute", start=YESTERDAY, end=TODAY - timedelta(minutes=1))
        return template.format(hm(t)), t

    return gen


AGO_RANGES = {"minutes": (1, 59), "hours": (1, 23), "days": (1, 30)}


def ago(words: Callable[[int, str], str]) -> Gen:
    def gen(rng: random.Random) -> tuple[str, datetime]:
        unit = rng.choice(tuple(AGO_RANGES))
        n = rng.randint(*AGO_RANGES[unit])
        return words(n, unit), NOW - timedelta(**{unit: n})

    return gen


def ru_ago(n: int, unit: str) -> str:
    forms = {
        "minutes": ("минута", "минуты", "минут"),
        "hours": ("час", "часа", "часов"),
        "days": ("день", "дня", "дней"),
    }
    return f"{n} {ru_plural(n, *forms[unit])} назад"


def az_ago(n: int, unit: str) -> str:
    return f"{n} {({'minutes': 'dəqiqə', 'hours': 'saat', 'days': 'gün'})[unit]} əvvəl"


def en_ago(n: int, unit: str) -> str:
    return f"{n} {unit[:-1] if n == 1 else unit} ago"


def rfc822(t: datetime, offset: str) -> str:
    return (
        f"{EN_WEEKDAYS[t.weekday()]}, {t.day:02d} {EN_MONTHS[t.month - 1][:3]} {t.year} "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} {offset}"
    )


def feed_rfc822(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "second", offset_printed=True)
    return rfc822(t, offset_text(t, colon=False)), t


def feed_rfc822_short(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "second", offset_printed=True)
    return rfc822(t, offset_text(t, colon=False)[:3]), t  # "+04": Baku's offsets are whole hours


def feed_iso(rng: random.Random) -> tuple[str, datetime]:
    t = instant(rng, "second", offset_printed=True)
    return f"{t:%Y-%m-%dT%H:%M:%S}{offset_text(t, colon=True)}", t


FAMILIES: dict[str, dict[str, Gen]] = {
    "russian month names": {
        "15 Сентября 2025 13:24": ru_genitive_cap,
        "13 сентября 2025, 17:27": ru_genitive_comma,
        "15 сен. 2025": ru_abbreviated,
        "15 сентябрь 2025 13:24": ru_nominative,
        "21 сентября 2021г., вторник": ru_weekday,
        "15:31, 25 июня 2026": ru_time_first,
        "25 июня 2026 в 15:31": ru_v,
    },
    "azerbaijani": {
        "16 noyabr, 2025 14:00": az_comma,
        "14 noyabr 2025 16:23 (UTC +04:00)": az_utc,
        "15 Noyabr 10:31 (no year)": az_no_year,
        "16 İyun 2025 09:00": az_capitalised,
    },
    "english": {
        "10 January 2026 20:07": en_long,
        "KARABAKH  02 February 2023 - 13:15": en_category,
        "15 Sep 2025": en_abbreviated,
    },
    "numeric day-first": {
        "25.06.2026 15:31": num_dots,
        "15:31 - 25.06.2026": num_time_first,
        "10-05-2019 13:10": num_dashes,
        "19:12 - 17 / 06 / 2026": num_spaced_slashes,
        "25.06.2026 / 12:40": num_slash_time,
        "12 марта, 2026 • 10:13": ru_bullet,
    },
    "relative": {
        "Сегодня, 10:15": today("Сегодня, {}"),
        "вчера в 17:27": yesterday("вчера в {}"),
        "Bu gün / 12:02": today("Bu gün / {}"),
        "Dünən / 22:10": yesterday("Dünən / {}"),
        "Today, 10:15": today("Today, {}"),
        "Yesterday, 09:05": yesterday("Yesterday, {}"),
        "N минут/часов/дней назад": ago(ru_ago),
        "N dəqiqə/saat/gün əvvəl": ago(az_ago),
        "N minutes/hours/days ago": ago(en_ago),
    },
    "feeds": {
        "Tue, 15 Sep 2026 01:52:20 +0400": feed_rfc822,
        "Tue, 15 Sep 2026 01:52:20 +04": feed_rfc822_short,
        "2025-09-15T13:24:00+04:00": feed_iso,
    },
}


@dataclass(frozen=True)
class Case:
    family: str
    form: str
    text: str
    truth: datetime


def generate(n: int, seed: int) -> list[Case]:
    """``n`` strings, the forms in turn (equal shares), then shuffled; all from one random.Random(seed)."""
    rng = random.Random(seed)
    forms = [(family, form, gen) for family, gens in FAMILIES.items() for form, gen in gens.items()]
    cases = []
    for i in range(n):
        family, form, gen = forms[i % len(forms)]
        text, truth = gen(rng)
        cases.append(Case(family, form, text, truth.astimezone(UTC)))
    rng.shuffle(cases)
    return cases


def dateparser_result(parser: Any, text: str) -> datetime | None:
    """What ``pipelines.dates._fallback`` makes of dateparser's answer (no plausibility window: parse_date's)."""
    try:
        data = parser.get_date_data(text)
    except (ValueError, TypeError, OverflowError):
        return None
    parsed: datetime | None = data.date_obj if data else None
    if parsed is None:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=BAKU).astimezone(UTC)


def dateparser_version() -> str:
    from importlib.metadata import version

    return version("dateparser")


def spread(indices: list[int], cases: list[Case], k: int) -> list[int]:
    """Up to ``k`` of ``indices``, taking the forms in turn, so each failing form shows."""
    by_form: dict[str, list[int]] = {}
    for i in indices:
        by_form.setdefault(cases[i].form, []).append(i)
    picked: list[int] = []
    for depth in range(k):
        picked += [group[depth] for group in by_form.values() if depth < len(group)]
    return picked[:k]


def show(value: datetime | None) -> str:
    return "None" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def main() -> None:
    # --help prints what the run does (it took no arguments, and ran the whole benchmark on --help)
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    started = time.perf_counter()
    cases = generate(N, SEED)
    texts = [c.text for c in cases]
    n_forms = sum(len(g) for g in FAMILIES.values())
    print(
        f"dates: {len(cases):,} generated date strings (random.Random({SEED})), {n_forms} forms in {len(FAMILIES)} "
        f"families, now = {NOW.isoformat()} ({TZ_NAME}), truth printed from known instants via zoneinfo"
    )
    per_family = Counter(c.family for c in cases)
    for family, gens in FAMILIES.items():
        print(f"  {family:22} {len(gens):2d} forms {per_family[family]:6,} strings")

    # parse_date, once with its fallback counted (untimed), then ROUNDS timed passes with nothing wrapped.
    fallback_calls: list[int] = []  # indices of the strings that reached the fallback
    real_fallback = dates_module._fallback
    current = 0

    def counting_fallback(text: str, *args: Any) -> datetime | None:
        fallback_calls.append(current)
        return real_fallback(text, *args)

    ours: list[datetime | None] = []
    dates_module._fallback = counting_fallback
    try:
        for current, text in enumerate(texts):  # noqa: B007 (read by counting_fallback)
            ours.append(parse_date(text, timezone=TZ_NAME, now=NOW))
    finally:
        dates_module._fallback = real_fallback

    rounds = []
    for _ in range(ROUNDS):
        gc.collect()
        start = time.perf_counter()
        for text in texts:
            parse_date(text, timezone=TZ_NAME, now=NOW)
        rounds.append((time.perf_counter() - start) / len(texts))
    ours_us = min(rounds) * 1e6

    # dateparser: one reused parser configured as the fallback, warmed up on one string of each form.
    parser = fallback_parser(LANGUAGES, NOW, BAKU)
    seen: dict[str, str] = {}
    for c in cases:
        seen.setdefault(c.form, c.text)
    warm = time.perf_counter()
    for text in seen.values():
        dateparser_result(parser, text)
    estimate = (time.perf_counter() - warm) / len(seen) * len(texts)
    if estimate <= DATEPARSER_BUDGET:
        timed_idx = list(range(len(texts)))
        timed_note = f"one pass over all {len(texts):,} strings"
    else:
        timed_idx = sorted(random.Random(SEED + 1).sample(range(len(texts)), SUBSET))
        timed_note = f"one pass over a fixed random subset of {SUBSET:,} strings (a full pass was estimated too long)"
    theirs: list[datetime | None] = [None] * len(texts)
    gc.collect()
    start = time.perf_counter()
    for i in timed_idx:
        theirs[i] = dateparser_result(parser, texts[i])
    theirs_us = (time.perf_counter() - start) / len(timed_idx) * 1e6
    compared = timed_idx  # the strings both sides read

    print(
        f"  parse_date:  {ours_us:9.1f} us/string  (best of {ROUNDS} passes over {len(texts):,} strings; "
        f"median {statistics.median(rounds) * 1e6:.1f})"
    )
    print(
        f"  dateparser:  {theirs_us:9.1f} us/string  (dateparser {dateparser_version()}, {timed_note}; one reused "
        f"parser as configured by "
        f"pipelines.dates.fallback_parser, after a warm-up on one string of each form)"
    )
    ratio = theirs_us / ours_us
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"  ratio dateparser / parse_date: {ratio:.0f}x   target >= {TARGET_RATIO:.0f}x: {verdict}")

    ours_ok = [ours[i] == cases[i].truth for i in range(len(cases))]
    theirs_ok = {i: theirs[i] == cases[i].truth for i in compared}
    print(f"  right (equal to the true instant to the second), out of {len(compared):,}:")
    print(f"    parse_date  {sum(ours_ok[i] for i in compared):6,}")
    print(f"    dateparser  {sum(theirs_ok.values()):6,}")
    if len(compared) != len(cases):
        print(f"    (parse_date on all {len(cases):,}: {sum(ours_ok):,})")
    print(f"  {'form':38} {'strings':>7} {'parse_date':>10} {'dateparser':>10}")
    for gens in FAMILIES.values():
        for form in gens:
            idx = [i for i in compared if cases[i].form == form]
            print(f"  {form:38} {len(idx):7,} {sum(ours_ok[i] for i in idx):10,} {sum(theirs_ok[i] for i in idx):10,}")

    regressions = [i for i in compared if theirs_ok[i] and not ours_ok[i]]
    verdict = "met" if not regressions else "NOT met"
    print(f"  dateparser right and parse_date wrong: {len(regressions)}   target 0: {verdict}")
    for i in regressions[:10]:
        c = cases[i]
        print(f"    {c.text!r}  truth {show(c.truth)}  parse_date {show(ours[i])}  dateparser {show(theirs[i])}")
    wrong = [i for i in range(len(cases)) if not ours_ok[i]]
    print(f"  parse_date wrong (whatever dateparser says): {len(wrong)}")
    for i in wrong[:10]:
        c = cases[i]
        print(f"    {c.text!r}  truth {show(c.truth)}  parse_date {show(ours[i])}")

    wins = [i for i in compared if ours_ok[i] and not theirs_ok[i]]
    print(f"  parse_date right and dateparser wrong: {len(wins):,} (for information: where dateparser fails)")
    for family in FAMILIES:
        fam = [i for i in wins if cases[i].family == family]
        print(f"    {family}: {len(fam):,}")
        for i in spread(fam, cases, 5):
            c = cases[i]
            print(f"      {c.text!r}  truth {show(c.truth)}  dateparser {show(theirs[i])}")

    sent = Counter(cases[i].form for i in fallback_calls)
    print(f"  strings parse_date sent to dateparser (its fallback): {len(fallback_calls)}   ideally 0")
    for form, count in sent.most_common(10):
        print(f"    {form}: {count}  e.g. {next(cases[i].text for i in fallback_calls if cases[i].form == form)!r}")
    bad_input_timing()
    print(f"  total {time.perf_counter() - started:.0f}s")


BAD_INPUTS = (
    "",
    "x" * 10_000,
    "15 Сентября 2025 13:24 " * 450,
    "\x00\x01\x02\x1b[31m",
    "20250915",
    "Просмотров:66",
    "АНАЛИТИКА",
    "© 2024 Caliber.az. Все права защищены..",
    "Любое использование материалов допускается только при наличии гиперссылки на Caliber.az",
    "32 Марта 2024 18:14",
)


def bad_input_timing() -> None:
    """Text that is no date must be refused fast too: the slowest of these, per string (target < 1 ms)."""
    worst = 0.0
    dated = [text[:30] for text in BAD_INPUTS if parse_date(text, timezone=TZ_NAME, now=NOW) is not None]
    for text in BAD_INPUTS:
        started = time.perf_counter()
        for _ in range(200):
            parse_date(text, timezone=TZ_NAME, now=NOW)
        worst = max(worst, (time.perf_counter() - started) / 200)
    verdict = "met" if worst < 1e-3 else "NOT met"
    print(f"  bad input ({len(BAD_INPUTS)} kinds: empty, 10 KB, control characters, digits, counters, footers):")
    print(f"    slowest {worst * 1e6:.1f} us/string   target < 1 ms each: {verdict}")
    print(f"    taken for a date: {len(dated)}   target 0{'' if not dated else ': ' + repr(dated)}")


if __name__ == "__main__":
    main()
