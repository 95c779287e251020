"""Attribution: the re-publisher's line naming the source, and the outlets the source itself cites.

The line comes from per-language templates in settings (``AGGREGATOR_ATTRIBUTION_TEMPLATES``), the site's name
from ``AGGREGATOR_SITE_NAME`` and the source's name from the registry: never from page text, so a misspelt
"Calibe.az" cannot reach a page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple, Self

from scrapy.crawler import Crawler

from aggregator.environment import attribution_template_problem
from aggregator.items import ArticleItem
from aggregator.sources import Source, get_source
from aggregator.text import fold_lookalikes, name_key
from pipelines.base import Pipeline
from pipelines.citations import body_language, canonical_outlets, find_citations

DEFAULT_TEMPLATES: Mapping[str, str] = {
    "ru": "{site}, ссылаясь на сайт {source}, отмечает.",
    "az": "{source} portalından əldə olunan məlumata əsasən, {site} xəbər verir.",
    "en": "{site} reports, citing {source}.",
}


class AttributionTemplateError(ValueError):
    pass


def attribution_line(*, site: str, source: str, language: str, templates: Mapping[str, str] = DEFAULT_TEMPLATES) -> str:
    """The line a re-published article opens with, in its language ("Icma.az, ссылаясь на сайт Caliber.az, ...")."""
    template = templates.get(language)
    if template is None:
        known = ", ".join(sorted(templates))
        raise AttributionTemplateError(f"no attribution template for language {language!r} (have: {known})")
    return template.format(site=site, source=source)


def check_templates(templates: Mapping[str, str]) -> None:
    """Refuse templates that would not name both the site and the source (said at start-up, not per item)."""
    for language, template in templates.items():
        problem = attribution_template_problem(template)
        if problem:
            raise AttributionTemplateError(f"attribution template for {language!r}: {problem}")


class AttributionPipeline(Pipeline):
    stage = "attribution"

    def __init__(self, site: str = "Icma.az", templates: Mapping[str, str] = DEFAULT_TEMPLATES, stats: Any = None):
        super().__init__(stats)
        check_templates(templates)
        self.site = site
        self.templates = dict(templates)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        templates = {**DEFAULT_TEMPLATES, **settings.getdict("AGGREGATOR_ATTRIBUTION_TEMPLATES")}
        return cls(settings.get("AGGREGATOR_SITE_NAME", "Icma.az"), templates, crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        source = get_source(item.source)
        language = item.language if item.language in self.templates else source.languages[0]
        item.attribution_line = attribution_line(
            site=self.site, source=source.name, language=language, templates=self.templates
        )
        # An agency names itself in its own copy ("..., передает Report", "..., передает АПА", "Trend News Agency
        # reports"), in another script too ("Как сообщает Тренд", "Калибр"): that is no citation of another outlet.
        # Nor is the re-publisher's own name (a body that carries its line, "Icma.az, ссылаясь на сайт Caliber.az,
        # отмечает.", or names it), which its page would print as a source of its own article.
        own = _own_names(source, self.site)
        # The phrases of the language the body is written in, which its page's edition may not be (a Russian body
        # under /en/): read with the edition's phrases, its citations were all missed.
        body = item.body_text or ""
        written = body_language(body) or item.language
        found = [o for o in find_citations(body, written) if not _is_own(o, own)]
        # Each outlet under one name, whatever the text wrote ("АПА", "APA": Apa.az), for a page that lists the
        # articles citing it; a host of the source's own ("en.trend.az") is known as its own once named so.
        item.cited_outlets = [o for o in canonical_outlets(found) if not _is_own(o, own)]
        if item.cited_outlets:
            self.count("articles_citing")
        return item


def _name_stem(name: str) -> str:
    """An outlet's name without its domain ending and the words that say what it is, for comparison: "Report.az",
    "report", "REPORT", "Report News Agency", "İcma.az" -> "report", "icma". The Azerbaijani "İ" is an "I" ("İcma.az"
    is how Azerbaijani copy writes the re-publisher; ``casefold`` alone makes it an "i" and a combining dot)."""
    return _without_kind(name_key(name.replace("İ", "I")))


def _without_kind(key: str) -> str:
    key = key.rsplit(".", 1)[0] if "." in key else key
    words = key.split()
    while len(words) > 1 and words[-1] in _KIND_WORDS:
        words.pop()  # "trend news agency", "report informasiya agentliyi"
    return " ".join(words)


_KIND_WORDS = frozenset({"news", "agency", "tv", "online", "media", "informasiya", "agentliyi"})
"""Words after an outlet's name that say what it is ("Trend News Agency", "Report İnformasiya Agentliyi"): the
source's English and Azerbaijani copy names itself so, and the citations keep them as part of the name. (Russian
puts such a word before the name, "агентство Report", and the citations leave it out.)"""


class _Spelling(NamedTuple):
    """A name as sounds, for comparing its spellings in two scripts (``_spelling``)."""

    cyrillic: bool
    sounds: str
    consonants: str


_CYRILLIC_SOUNDS = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "j", "з": "z", "и": "i",
        "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
        "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "", "ы": "i", "ь": "",
        "э": "e", "ю": "yu", "я": "ya", "ә": "e", "ғ": "g", "ҝ": "g", "ј": "y", "ү": "u", "ө": "o", "һ": "h",
    }
)  # fmt: skip
_LATIN_SOUNDS = str.maketrans(
    {"ə": "e", "ı": "i", "ö": "o", "ü": "u", "ş": "sh", "ç": "ch", "ğ": "g", "w": "v", "x": "h", "q": "k",
     "g": "k", "c": "k"}
)  # fmt: skip
_VOWELS = str.maketrans("", "", "aeiouy")
MIN_CONSONANTS = 4
"""Consonants a name's skeleton needs to be compared without its vowels ("Caliber" and "Калибр", "klbr"): fewer, and
a short name would match another's ("APA" and "EPA" are both "p")."""


@lru_cache(maxsize=1024)
def _spelling(name: str) -> _Spelling:
    """How ``name`` sounds, written in plain Latin letters, and its consonants (of its stem, as ``_name_stem``'s).

    A Cyrillic spelling is transliterated ("Тренд" -> "trend", "Азертадж" -> "azertak"), and both scripts' letters
    that stand for one sound in the other are folded together: the Azerbaijani "q" and "x" are the Russian "г"/"к"
    and "х" ("Haqqin", "Хаггин"), its "c" the Russian "дж" ("Azertac"), and the English "c" a "к" ("Caliber");
    double letters are one. The consonants alone are for a spelling that drops a vowel ("Калибр")."""
    # not ``name_key``: its look-alike folding would make half of a Cyrillic name Latin ("Репорт" -> "Peпopт")
    name = _without_kind(" ".join(name.replace("İ", "I").casefold().split()))
    cyrillic = sum(1 for c in name if "\u0400" <= c <= "\u04ff") > sum(1 for c in name if c.isascii() and c.isalpha())
    # a Latin name may be typed with a Cyrillic look-alike letter ("Caliber.Аz")
    name = name.replace("дж", "c") if cyrillic else fold_lookalikes(name)
    sounds = name.translate(_CYRILLIC_SOUNDS).translate(_LATIN_SOUNDS)
    sounds = "".join(c for c in sounds if c.isascii() and c.isalpha())
    sounds = re.sub(r"(.)\1+", r"\1", sounds)
    return _Spelling(cyrillic, sounds, sounds.translate(_VOWELS))


def _is_own(outlet: str, own: tuple[frozenset[str], tuple[_Spelling, ...]]) -> bool:
    """Whether a cited outlet is the source (or the re-publisher) under one of its names, or its name spelt in the
    other script ("Репорт", "Тренд", "Хаггин.аз", "Калибр" for Report, Trend, Haqqin.az, Caliber.az).

    Only across scripts is a spelling compared by its sounds: in one script a name is written one way, and another
    outlet's name that sounds alike is another outlet's."""
    names, spellings = own
    stem = _name_stem(outlet)
    if stem in names:
        return True
    cited = _spelling(outlet)
    for spelling in spellings:
        if spelling.cyrillic == cited.cyrillic or not cited.sounds:
            continue
        if cited.sounds == spelling.sounds:
            return True
        if len(cited.consonants) >= MIN_CONSONANTS and cited.consonants == spelling.consonants:
            return True
    return False


@lru_cache(maxsize=64)
def _own_names(source: Source, site: str) -> tuple[frozenset[str], tuple[_Spelling, ...]]:
    """What the source's copy may call the source itself: its name, its domains and the names the registry gives it
    in another script (Apa.az's Russian copy says "передает АПА"), each as a stem (``_name_stem``) and as it sounds
    (``_spelling``), for its name spelt in the other script, which no registry lists in full ("Тренд", "Хаггин",
    "Калибр": other outlets' copy and the source's own translated pieces write it so). And the re-publisher's name
    (``site``), which is no source its own page would name.

    The spellings stay out of the citation finder's known outlets (the registry's ``other_names`` are in them): there
    "Калибр" would be an outlet wherever it stands, the missile too."""
    names = (source.name, *source.domains, *source.other_names, site)
    stems = frozenset(_name_stem(n) for n in names)
    return stems, tuple(dict.fromkeys(_spelling(n) for n in names))
