"""Citations: the outlets an article's own text names as reporting the news, or as its origin.

``find_citations("Milli.Az APA-ya istinadən xəbər verir. Как сообщает Report, ...")`` is
``["Milli.Az", "APA", "Report"]``: in order of appearance, each outlet once (compared case-insensitively and with
Cyrillic look-alike letters folded, so "Caliber.Аz" is "Caliber.Az"), as written but without quotes or case endings.
What an article stores is each outlet under one name (``canonical_outlets``): "АПА", "APA" and "apa.az" are Apa.az,
the registry's name for a source we crawl, and "Азертадж", "AZƏRTAC" are AZERTAC (``OUTLET_NAMES``), so a page of
the articles citing an outlet finds them all whatever script their text is in.

A citation is an *anchor* phrase ("как сообщает", "xəbər verir", "according to") with the outlet's name on one side
of it. Each anchor says which side, and how much evidence the words there need before they count as an outlet:
right after "Как сообщает" (or "Как ранее сообщал") a capitalised word is enough; after "according to" or "как
отмечает", or before "reports", only a name that looks like an outlet is (a domain, a known outlet, an all-caps
agency, a quoted name, a Latin name in a Russian phrase, a name beside "агентство" / "portalı" / "newspaper").
Names of people (two capitalised words, surname endings), vague sources and institutions (a small stop-list per
language) are refused: precision before recall.

Outlets listed together are each cited ("Как сообщают Reuters, AFP и Bloomberg", "Report və APA-nın məlumatına
görə"), each by its own evidence: the name beside the anchor by the anchor's rule, one after "и" / "and" / "və" only
if it looks like an outlet (so "Как сообщает Report и министр Иванов" cites Report alone), one after a comma only if
it is a sure outlet and a conjunction closes the list ("Как сообщает Report, ADB и AIIB выделят кредит" goes on with
a clause of its own).

State bodies are refused by name. A ministry or an agency like ANAMA puts out press releases the news quotes in the
same phrases as an outlet's reports ("ANAMA-nın məlumatına görə", "Как сообщает Минобороны"), and its short name is
shaped like an agency's (an all-caps acronym, a capitalised word): nothing in the sentence tells them apart, and
counting only names known as media would lose the many outlets no list holds ("Как сообщает Казинформ"). So the
state bodies the sources quote are listed (``STATE_BODIES``, ``STATE_BODY_STEMS``), with a government's domain
("mod.gov.az"), and everything else keeps the evidence rules above.

Between a Russian reporting verb and the outlet may stand where or how it reports ("Как сообщает из Анкары
корреспондент Report", "Как передает с места событий Baku TV"): the phrase is passed over, and the name after it
needs the evidence "как отмечает" asks for, as a person stands there too ("Как сообщает в Анкаре Эрдоган"). A
correspondent's or bureau's place stands between the outlet and the noun in Azerbaijani and English ("Report-un
Ankara müxbiri", "APA-nın Qərb bürosu", "Report's Ankara correspondent"): the outlet is the name in the genitive.
A capital or a city alone is no outlet ("Как сообщает Анкара" speaks for a government; ``PLACES``). Unlike
"агентство", a correspondent's noun does not make the name beside it an outlet: "Smith's correspondent" is a
person's, "корреспонденту Смиту" the correspondent's own name (``CORRESPONDENT_NOUNS``); but a Russian name in the
genitive after one in another case is its owner's ("сообщил корреспондент Казинформа": Казинформ).

An outlet named inside a quotation is cited like any other ("«Как сообщил ТАСС, переговоры сорваны», — написал
он", a quoted post that says "по данным Bloomberg"). It is the speaker's source rather than the article's, but the
claim it made is in the article all the same, as is the outlet in a chain of citing ("Minval, ссылаясь на агентство
Туран, ..." cites both); and a quotation cannot be told apart for sure: Russian closes a quotation of several
paragraphs only after the last, and the quotes that open and close one are the quotes of an outlet's name
(«Коммерсант», “Report”), written as often the other way round („...“) or all alike ("..."). Leaving quotations out
would lose the real citations that mis-paired quotes put inside one, and a credit too many costs the site less than
one missed. Whether a text quotes or says it in its own words is not looked at.

Only short windows beside each anchor are read (and a list no further than ``MAX_LISTED`` names), and every
repetition in the patterns is bounded, so the cost is linear in the text's length whatever it holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum
from functools import lru_cache
from typing import NamedTuple

from aggregator.sources import Source, all_sources
from aggregator.text import fold_lookalikes, name_key, written_language

LANGUAGES = ("ru", "az", "en")

WINDOW = 160
"""Characters read on the outlet's side of an anchor."""
MAX_NAME_WORDS = 4
_LEAD, _TAIL = 24, 48
"""How far an anchor's pattern may reach before its trigger stem ("как ранее уже " before "сообщал"; see
``Anchor.lead``), and after it."""


class Side(Enum):
    BEFORE = "before"
    AFTER = "after"


class Evidence(IntEnum):
    """How sure the words beside an anchor are an outlet's name."""

    NONE = 0
    PLAIN = 1
    """A capitalised word, not sentence-initial, not shaped like a surname or an adjective."""
    LIKELY = 2
    """Quoted, all-caps, a Latin name in a Russian phrase, a Latin name with a hyphenated case ending, "Baku TV"."""
    SURE = 3
    """A domain or URL, a known outlet, a name beside an outlet noun ("агентство", "portalı", "newspaper")."""


@dataclass(frozen=True, slots=True)
class Anchor:
    language: str
    pattern: re.Pattern[str]
    side: Side
    needs: Evidence
    quoted_ok: bool = True
    """Whether a quoted name alone is LIKELY here ("по данным «Газпрома»" names a company, not an outlet)."""
    animate_accusative: bool = False
    """After "ссылаясь на": a plain Russian name in -а/-я there is a person's accusative ("на Пескова")."""
    verb: bool = False
    """A reporting verb: after "X, ссылаясь на Y," what follows it is its object, not an outlet."""
    dative: bool = False
    """Azerbaijani "X-a istinadən": the name before takes the dative, and one with it glued on ("Ukraynaya",
    "Ermənistana") is a native noun, as one with a glued genitive is (``_AZ_GLUED_GENITIVE``)."""
    triggers: tuple[str, ...] = ()
    """Lower-case stems one of which the text must hold for the pattern to be worth running (a case-insensitive
    Unicode regex scan costs far more than a substring test)."""
    lead: int = _LEAD
    """How far the pattern reaches before its trigger stem; 0 for one that begins with it ("сообщает X"), which is
    tried at the stem alone instead of searched for around it."""
    told: bool = False
    """Azerbaijani "X-a Y-dən bildirilib" (X was told by Y): the pattern holds Y, the teller, and the outlet is the
    name in the dative before it, past the other words of Y's name (``_told_items``)."""


class Item(NamedTuple):
    """One word, quoted name or URL of the text, with where it starts (a named tuple: made by the hundred per
    body, and a frozen dataclass costs several times as much to create)."""

    kind: str  # "word", "quoted" or "url"
    text: str
    start: int


# --- anchors ------------------------------------------------------------------------------------------------------

_S = r"[ \t\u00a0]{1,3}"
_FLAGS = re.IGNORECASE | re.MULTILINE
# The Russian reporting verbs in the present ("сообщает", "сообщают") and in the past, of every gender and the
# plural ("сообщал", "сообщала", "сообщало", "сообщали"): an article cites what an outlet reported earlier as often
# as what it reports. Of the perfectives only "сообщил" is read ("Об этом сообщил Report"): "отметил", "передал",
# "написал" are left out, as they name a person far more often than an outlet ("Как отметил Эрдоган").
_RU_TELLS = r"(?:сообща(?:ет|ют|л[аио]?))"
_RU_HANDS = r"(?:переда(?:[её]т|ют|вал[аио]?)|информиру(?:ет|ют)|информировал[аио]?)"
"""The verbs that also hand something to someone, or tell someone ("ФРГ передает Украине системы ПВО", "Azercell
информирует абонентов"): see ``_RU_HANDS_NOTHING``."""
_RU_SAYS = rf"(?:{_RU_TELLS}|{_RU_HANDS})"
_RU_SAYS_STEMS = ("сообща", "переда", "информир")
_RU_HANDS_NOTHING = rf"(?=[ \t\u00a0]{{0,3}}(?:[,.:;!?…—–\-)]|$)|{_S}(?:со{_S}ссылкой|ссылаясь)\b)"
"""After "передает" or "информирует", what says the name before the verb reports: the clause's end ("Trend
передает, что ...", "АПА передает: ...") or its source ("Report передает со ссылкой на ..."). A word there is whom
the name hands something or tells ("ФРГ передает Украине", "МАГАТЭ передает Ирану отчет", "Equinor передает SOCAR
долю": a Latin name shows no dative, so the word's case cannot tell), which a reporting outlet does not; after the
verb, the same dative is refused by ``_RU_DATIVE``."""
_RU_WRITES = r"(?:пиш(?:ет|ут)|писал[аио]?)"
_RU_NOTES = r"(?:отмеча(?:ет|ют|л[аио]?))"
_RU_EARLIER = rf"(?:{_S}(?:ранее|раньше|уже)){{0,2}}"
"""The adverbs "Как ранее сообщал X" may hold between "как" and the verb."""
_TOLD_WORD = 40
"""The longest teller's word (in the ablative, "Nazirliyindən") the told-by anchor holds before its verb."""


def _anchor(
    language: str,
    pattern: str,
    side: Side,
    needs: Evidence,
    triggers: tuple[str, ...],
    lead: int = _LEAD,
    **options: bool,
) -> Anchor:
    return Anchor(language, re.compile(pattern, _FLAGS), side, needs, triggers=triggers, lead=lead, **options)


ANCHORS: tuple[Anchor, ...] = (
    # Russian: "Как сообщает X", "Как ранее сообщал X", "..., передает X.", "информирует X" (a plain name will do in
    # this frame) ...
    _anchor(
        "ru",
        rf"(?:\bкак{_RU_EARLIER}{_S}|,[ \t\u00a0]{{0,3}}){_RU_SAYS}\b",
        Side.AFTER,
        Evidence.PLAIN,
        _RU_SAYS_STEMS,
        verb=True,
    ),
    # ... and elsewhere, "Об этом сообщил X", "пишет X", "Как отмечает X", only a name that looks like an outlet
    # ("сообщил Report"): "как отмечает" and "как писал" introduce people as often as outlets ("как отмечает
    # Эрдоган").
    _anchor(
        "ru",
        rf"\b(?:{_RU_SAYS}|сообщил[аио]?|{_RU_WRITES}|{_RU_NOTES})\b",
        Side.AFTER,
        Evidence.LIKELY,
        (*_RU_SAYS_STEMS, "сообщил", "пиш", "писал", "отмеча"),
        lead=0,
        verb=True,
    ),
    _anchor(
        "ru",
        rf"\b(?:{_RU_TELLS}|сообщил[аио]?|{_RU_WRITES}|{_RU_NOTES})\b",
        Side.BEFORE,
        Evidence.LIKELY,
        ("сообща", "сообщил", "пиш", "писал", "отмеча"),
        lead=0,
    ),
    # "Trend передает, что ...": before "передает" or "информирует" only when nothing follows the verb but the
    # clause's end or its source (``_RU_HANDS_NOTHING``): "ФРГ передает Украине" hands over, it does not report.
    _anchor(
        "ru",
        rf"\b{_RU_HANDS}\b{_RU_HANDS_NOTHING}",
        Side.BEFORE,
        Evidence.LIKELY,
        ("переда", "информир"),
        lead=0,
    ),
    # "Как отмечали в Haqqin.az", "как пишут в «Коммерсанте»", "сообщили в агентстве Bloomberg": after an impersonal
    # plural and "в" stands a place or an institution as often as an outlet ("сообщили в Баку", "отмечают в Google"),
    # so only a sure outlet counts (a domain, a known outlet, a name beside "издании" / "агентстве").
    _anchor(
        "ru",
        rf"\b(?:сообща(?:ют|ли)|сообщили|пишут|писали|отмеча(?:ют|ли)){_S}во?\b",
        Side.AFTER,
        Evidence.SURE,
        ("сообща", "сообщил", "пиш", "писал", "отмеча"),
        lead=0,
        verb=True,
    ),
    # The outlet someone spoke to, the news's origin: "в интервью Report", "в интервью агентству Trend", "Как стало
    # известно Report"; and the one a reprinted piece comes from: "Caliber.Az перепечатывает статью The National
    # Interest", "публикует статью Politico". A person stands there as well ("в интервью Такеру Карлсону", "публикует
    # статью Гаджиева"): only a name that looks like an outlet counts. Each trigger stem costs a search of every
    # Russian text: "заявил", "сказал", which a person's name follows in nearly every article, and the rarer "в беседе
    # с", "в эфире" are left out, and the reprint is looked for from "статью" ("пере..." begins too many words).
    _anchor(
        "ru",
        rf"\b(?:интервью|стало{_S}известно"
        rf"|(?:перепечатывает|перепечатал[аио]?|публикует|опубликовал[аио]?){_S}статью)\b",
        Side.AFTER,
        Evidence.LIKELY,
        ("интервью", "стало", "статью"),
    ),
    # The outlet whose correspondent someone spoke to, as "Nazir Report-un müxbirinə bildirib": "рассказал он
    # корреспонденту Казинформа", "заявил корреспонденту Report", "в беседе с корреспондентом АПА". The pattern stops
    # before the noun (it matches no character), which ``_candidate_after`` passes over as after "Как сообщает": the
    # name after it needs ``Evidence.LIKELY`` ("корреспонденту Смиту" is the correspondent's own name). Only the
    # dative, and the instrumental after "с": in another case the noun is mostly a job ("работал корреспондентом
    # ТАСС"), or the genitive's apposition ("со слов корреспондента Смита"). "Собкору" and "спецкору" are left out: a
    # trigger stem costs a search of every Russian text (some 1.5% of ``find_citations``' time each).
    _anchor(
        "ru",
        r"\b(?=корреспонденту\b)|(?<=\bс[ \t\u00a0])(?=корреспондентом\b)",
        Side.AFTER,
        Evidence.LIKELY,
        ("корреспондент",),
        lead=0,
    ),
    _anchor("ru", rf"\bсо{_S}ссылкой{_S}на\b", Side.AFTER, Evidence.PLAIN, ("ссылкой",), animate_accusative=True),
    _anchor("ru", rf"\bссылаясь{_S}на\b", Side.AFTER, Evidence.PLAIN, ("ссылаясь",), lead=0, animate_accusative=True),
    _anchor(
        "ru", r",[ \t\u00a0]{0,3}ссылаясь\b", Side.BEFORE, Evidence.LIKELY, ("ссылаясь",)
    ),  # "X, ссылаясь на Y, отмечает"
    _anchor("ru", r"\bисточник[ \t\u00a0]{0,3}:", Side.AFTER, Evidence.PLAIN, ("источник",), lead=0),
    _anchor(
        "ru",
        rf"\bпо{_S}(?:данным|информации|сведениям|сообщению|сообщениям)\b",
        Side.AFTER,
        Evidence.LIKELY,
        ("данным", "информации", "сведениям", "сообщени"),
        quoted_ok=False,
    ),
    # Azerbaijani: "X xəbər verir", "X-a istinadən", "X-ın məlumatına görə", "X portalından əldə olunan məlumata
    # əsasən", "X-ın müxbirinin verdiyi məlumata görə", "X-ın əldə etdiyi məlumata görə", "X yazır", "“X”in
    # məqaləsində".
    _anchor("az", rf"\bxəbər{_S}ver(?:ir|ib|irlər|iblər|di)\b", Side.BEFORE, Evidence.PLAIN, ("xəbər",), lead=0),
    _anchor("az", r"\bistinad(?:ən|la)\b", Side.BEFORE, Evidence.PLAIN, ("istinad",), lead=0, dative=True),
    _anchor(
        "az",
        rf"\b(?:məlumatına|xəbərinə|(?:yaydığı|verdiyi|əldə{_S}etdiyi){_S}məlumata){_S}(?:görə|əsasən)\b",
        Side.BEFORE,
        Evidence.PLAIN,
        ("məlumat", "xəbərinə"),
    ),
    # "Reuters-in yazdığına görə", "“Yeni Müsavat” qəzetinin yazdığına görə": what a person posts is quoted so as
    # often ("Trump-ın yazdığına görə", a foreign name with its ending hyphenated as an outlet's is), so only a sure
    # outlet (a known one, a domain, a name beside "qəzeti" / "saytı").
    _anchor("az", rf"\byazdığına{_S}(?:görə|əsasən)\b", Side.BEFORE, Evidence.SURE, ("yazdığına",), lead=0),
    _anchor("az", rf"\bəldə{_S}olunan{_S}məlumat", Side.BEFORE, Evidence.PLAIN, ("əldə",), lead=0),
    _anchor("az", r"\bmüxbirinə\b", Side.BEFORE, Evidence.PLAIN, ("müxbirinə",), lead=0),
    _anchor("az", r"\b(?:yazır|yazıb)\b", Side.BEFORE, Evidence.LIKELY, ("yazı",), lead=0),
    _anchor("az", r"\bməqaləsin(?:də|i)\b", Side.BEFORE, Evidence.LIKELY, ("məqaləsin",), lead=0),
    # The outlet someone spoke to: "Nazir Report-a açıqlamasında bildirib", "APA-ya müsahibə verən deputat",
    # "Oxu.az-a danışan ekspert". The name takes the dative, as before "istinadən".
    _anchor(
        "az",
        rf"\b(?:açıqlamasında|müsahibəsində|(?:açıqlama|müsahibə){_S}ver(?:ən|ib|ərkən|di)|danışan|danışarkən)\b",
        Side.BEFORE,
        Evidence.LIKELY,
        ("açıqlama", "müsahibə", "danışa"),
        lead=0,
        dative=True,
    ),
    _anchor("az", r"\bmənbə[ \t\u00a0]{0,3}:", Side.AFTER, Evidence.PLAIN, ("mənbə",), lead=0),
    # "TASS agentliyi məlumat yayıb": a ministry, a company, a country put out information as often ("Nazirlik
    # məlumat yayıb", "Ukrayna məlumat yayıb"), so only a name that looks like an outlet's.
    _anchor("az", rf"\bməlumat{_S}yay(?:ıb|dı|ır)\b", Side.BEFORE, Evidence.LIKELY, ("məlumat",), lead=0),
    # "Bu barədə Report-a DİN-dən bildirilib": an outlet told something by a body, its exclusive. The teller, in the
    # ablative, is in the pattern (a word of its own: "bildirilib" alone follows any clause); the outlet is the name
    # in the dative before it. A person is told so as well ("Trump-a Ağ Evdən bildirilib"), and "Nazirliyə" is a
    # ministry: a sure outlet (a known one, a domain) counts, and a name shaped like an outlet's ("Publika-ya") only
    # when a public body, an institution or a source tells it (``_told_by_body``).
    _anchor(
        "az",
        rf"(?<![\w\-'’])[^\W_][\w.\-'’]{{0,{_TOLD_WORD}}}?(?:dan|dən){_S}"
        rf"(?:bildiril(?:ib|di)|məlumat{_S}veril(?:ib|di))\b",
        Side.BEFORE,
        Evidence.SURE,
        ("bildiril", "məlumat"),
        lead=_TOLD_WORD + 8,
        dative=True,
        told=True,
    ),
    # English: "X reports", "X reported", "as X noted", "..., reports X", "according to X", "citing X",
    # "X, citing Y", "X reprints the article", "as reported by X", "Source: X".
    _anchor(
        "en",
        r"\b(?:reports|reported|writes|wrote|informs|notes|noted)\b",
        Side.BEFORE,
        Evidence.LIKELY,
        ("report", "writes", "wrote", "informs", "note"),
        lead=0,
    ),
    _anchor("en", r"\breprint(?:s|ed)\b", Side.BEFORE, Evidence.PLAIN, ("reprint",), lead=0),
    _anchor(
        "en",
        r",[ \t\u00a0]{0,3}(?:reports|reported|writes|informs)\b",
        Side.AFTER,
        Evidence.LIKELY,
        ("report", "writes", "informs"),
        verb=True,
    ),
    _anchor("en", rf"\baccording{_S}to\b", Side.AFTER, Evidence.LIKELY, ("according",), lead=0, quoted_ok=False),
    _anchor("en", rf"\breported{_S}by\b", Side.AFTER, Evidence.LIKELY, ("reported",), lead=0),
    _anchor("en", r"\bciting\b", Side.AFTER, Evidence.LIKELY, ("citing",), lead=0),
    _anchor("en", r",[ \t\u00a0]{0,3}citing\b", Side.BEFORE, Evidence.LIKELY, ("citing",)),
    _anchor("en", r"\bsource[ \t\u00a0]{0,3}:", Side.AFTER, Evidence.PLAIN, ("source",), lead=0),
    # The outlet someone spoke to: "an official told AFP", "speaking to Reuters", "in an interview with CNN"; and the
    # one a reprinted piece comes from: "Caliber.Az reprints the article by Politico", "originally published in
    # Foreign Policy", "The National Interest has published an article ...".
    _anchor(
        "en",
        rf"\b(?:told|speaking{_S}to|interview{_S}(?:with|to)|(?:originally|first){_S}published{_S}(?:by|in|on)"
        rf"|reprint(?:s|ed)?{_S}(?:the|this|an?){_S}(?:article|piece|op-ed|column|interview|analysis)"
        rf"{_S}(?:by|from|of))\b",
        Side.AFTER,
        Evidence.LIKELY,
        ("told", "speaking", "interview", "published", "reprint"),
    ),
    _anchor(
        "en",
        rf"\b(?:(?:has|have){_S})?published{_S}(?:an?|the){_S}(?:article|piece|op-ed|column|analysis|interview)\b",
        Side.BEFORE,
        Evidence.LIKELY,
        ("published",),
    ),
)

# "X, ссылаясь на Y, передает Z": the verb's subject is X, so what follows it (Z) is its object, not an outlet.
_CITING_CLAUSE_BEFORE = re.compile(
    rf",[ \t\u00a0]{{0,3}}(?:ссылаясь{_S}на|citing)[ \t\u00a0][^,;:!?\n]{{1,80}}(?:,[ \t\u00a0]{{0,3}})?$", _FLAGS
)

# --- the words beside an anchor -------------------------------------------------------------------------------------

_QUOTED_NAME = r"[«“„\"'‘](?P<body>[^«»“”„\"'‘’\n]{1,60})[»”“\"'’]"
_QUOTED = _QUOTED_NAME.replace("?P<body>", "") + r"(?:[-'’]?[^\W\d_]{1,4}\b)?"  # “Caliber”in, «Report»-a
_QUOTED_BODY = re.compile(_QUOTED_NAME)
_URL = r"https?://[^\s,;()<>«»\"“”]{1,200}"
_WORD = r"[^\W_][\w&]{0,39}(?:[.\-'’&][^\W_][\w&]{0,39}){0,5}(?:(?<=[sS])['’](?![\w&]))?(?![\w&])"
"""A word, with the apostrophe of an English possessive after an "s" ("Reuters' Moscow correspondent"): cut there,
the name was parted from the noun after it by the apostrophe's own token."""
# A word too long to be a name is one "other" token, not a name cut short.
_TOKEN = re.compile(rf"(?P<url>{_URL})|(?P<quoted>{_QUOTED})|(?P<word>{_WORD})|(?P<other>[\w&]{{1,200}}|\S)")
_INLINE_SPACE = re.compile(r"[ \t\u00a0]{1,20}")
_SENTENCE_END = frozenset(".!?…\n")

_CASE_SEPARATORS = "-'’"
_POSSESSIVE_APOSTROPHES = ("'", "’")
# Case endings written after a hyphen or apostrophe (APA-ya, Oxu.Az-ın, Report-у) or glued to a known name.
_CASE_ENDINGS_AZ = (
    "nın", "nin", "nun", "nün", "dan", "dən", "nda", "ndə", "ya", "yə", "ın", "in", "un", "ün", "yı", "yi", "yu", "yü",
    "da", "də", "la", "lə", "na", "nə", "a", "ə", "ı", "i", "u", "ü",
)  # fmt: skip
_CASE_ENDINGS_RU = ("ом", "ем", "ой", "ей", "а", "я", "у", "ю", "е", "ы")
_CASE_ENDINGS = frozenset(_CASE_ENDINGS_AZ + _CASE_ENDINGS_RU)
_GLUED_ENDINGS = tuple(sorted(_CASE_ENDINGS, key=len, reverse=True))

_DOMAIN = re.compile(
    r"[a-zа-я0-9][a-zа-я0-9\-]{0,62}(?:\.[a-zа-я0-9\-]{1,63}){0,3}"
    r"\.(?:az|ru|com|net|org|info|tv|news|media|ge|ua|kz|uz|by|tr|am|ir|uk|us|eu|io|ws|co|me|biz|press|online|site|ру|рф)",
    re.IGNORECASE,
)
_SURNAME = re.compile(
    r"(?:ов|ев|ёв|ин|ын|ова|ева|ёва|ина|ына|ский|цкий|ская|цкая|ян|янц|енко|швили|дзе|ук|юк)(?:а|у|ым|ом|ой|е|ы)?$"
    r"|(?:ov|ev|yev|ova|eva|yeva|zade|zadə|li|lı|lu|lü|yan|enko|sky|ski|shvili|dze)"
    r"(?:a|ə|ya|yə|ın|in|un|ün|nın|nin|nun|nün|ı|i|u|ü)?$",
)
_RU_DATIVE = re.compile(r"(?:[уюе]|ии)$")
"""The Russian dative endings of names ("Вашингтону", "Китаю", "Москве", "Армении"): after a reporting verb such a
name is whom the news is told or handed to (", сообщает Вашингтону", "передает Армении"), while an outlet that
reports stands in the nominative, and hardly any outlet's nominative ends so. The plural "-ам" is left out: it ends
nominatives too ("Акшам"). A known outlet or a domain in the dative is still cited ("Как сообщил Интерфаксу
источник": the outlet was told, and reports it), as those are judged before this."""
_AZ_DATIVE_ENDINGS = frozenset({"a", "ə", "ya", "yə"})


def _case_ending(word: str) -> str:
    """The case ending written after a name's hyphen or apostrophe ("APA-ya" -> "ya"), lower-cased."""
    for sep in _CASE_SEPARATORS:
        head, found, tail = word.rpartition(sep)
        if found and head:
            return tail.lower()
    return ""


_AZ_GLUED_GENITIVE = re.compile(r"(?:ın|in|un|ün)$")
"""The Azerbaijani genitive glued to a name ("Ukraynanın", "Ermənistanın", "Putinin", "Pentaqonun"). Azerbaijani
spelling glues case endings to its own words and to the names it has made its own, and puts a hyphen before those
of abbreviations and foreign names ("APA-nın", "Oxu.Az-ın", "Tesla-nın"); a known outlet with its ending glued on
("Trendin", "Reportun", "Sputnik Azərbaycanın") or a domain ("Publika.azın", ``_domain_base``) is judged before this,
by its name without the ending. So a name the ending is still glued to is a country's, a city's or a person's, not an
outlet's that anyone knows: an unknown outlet so written ("Publikanın") is missed, which costs less than citing every
country whose statement the news quotes. Before a correspondent's noun too: "Publikanın müxbiri" is written as
"Trampın müxbiri" and "Ukraynanın müxbiri" are."""
_ADJECTIVE = re.compile(r"(?:ск|цк|н)(?:ий|ая|ое|ие|ого|ой|им|ым|ый|ые)$|(?:ый|ий|ая|ое|ые|ого|его)$")

# --- vocabulary -----------------------------------------------------------------------------------------------------

OUTLET_NOUNS = (
    # Stems of the nouns that say the next (Russian, English) or previous (Azerbaijani) name is an outlet.
    "агентств", "информагентств", "сайт", "портал", "газет", "издани", "телеканал", "журнал", "радиостанци",
    "telegram-канал", "телеграм-канал", "корреспондент", "собкор", "спецкор", "ресурс",
    "portal", "sayt", "agentli", "qəzet", "telekanal", "jurnal", "nəşr", "müxbir", "informasiya", "xəbər",
    "agency", "news", "newspaper", "paper", "website", "site", "outlet", "channel", "broadcaster", "magazine", "daily",
    "tabloid", "correspondent",
)  # fmt: skip
PEOPLE_NOUNS = ("журналист", "jurnalist", "journalist", "корреспондентам", "müxbirlərə")
"""Words an outlet noun's stem begins, which name people: the journalists told something, the correspondents in
the plural dative ("сообщил журналистам Эрдоган", "Nazir jurnalistlərə açıqlamasında"). The name beside them is
the speaker's, not an outlet's."""
CAPITALISED_OUTLET_NOUNS = ("telegram-", "телеграм-", "youtube-", "tiktok-")
"""Compound outlet nouns that may start with a capital ("Telegram-канал Baku TV")."""
CAPITALISED_AZ_OUTLET_NOUNS = ("agentli", "informasiya", "qəzet", "telekanal", "jurnal", "sayt")
"""Azerbaijani outlet nouns capitalised after a name as part of an outlet's full name ("Anadolu Agentliyi", "Report
İnformasiya Agentliyi"): after the name only, where Azerbaijani puts the noun (``_is_outlet_noun``'s
``latin_only``). English nouns are left out: a capitalised "News" or "Daily" after a name is a part of it ("Sky
News"), which ``NAME_TAILS`` keeps."""
OFFICE_NOUNS = ("müxbir", "büro", "correspondent", "reporter", "bureau")
"""The nouns of an outlet's correspondent or bureau in a place, which stands between the two: "Report-un Ankara
müxbiri", "APA-nın Qərb bürosu", "Report's Ankara correspondent" (see ``_office_owner``)."""
CORRESPONDENT_NOUNS = ("корреспондент", "собкор", "спецкор", "müxbir", "correspondent", "reporter")
"""The nouns of an outlet's people. Beside one stands its outlet ("корреспондент Report", "Report-un müxbiri",
"Reuters' correspondent") as often as a person: the correspondent's own name ("корреспонденту Смиту"), or one whose
possessive reads like an outlet's ("Smith's correspondent", "Əliyevin müxbiri"). So, unlike the other outlet nouns,
such a noun makes no name beside it a sure outlet: the name needs ``Evidence.LIKELY`` of its own, as after "бюро"
(a known outlet, a domain, an all-caps agency, a Latin name in a Russian phrase or with a hyphenated case ending).
So "Smith-in müxbirinə" and "корреспонденту Smith" are still cited: Azerbaijani writes a foreign person's genitive
as it writes an outlet's, and Russian copy a person's name in Cyrillic far more often than in Latin. Russian case
tells one more: a name in the genitive after the noun in another case ("корреспондент Казинформа") is whose
correspondent it is, not the correspondent (``_owns_the_correspondent``)."""
_CORRESPONDENT_INITIALS = frozenset(stem[0] for stem in CORRESPONDENT_NOUNS)
"""The first letters of ``CORRESPONDENT_NOUNS``: a word that begins with none is no such noun."""
INDEFINITE_ARTICLES = frozenset({"a", "an"})
"""Passed over before a correspondent noun ("told a correspondent of Report") or the name before one ("told a
Reuters correspondent") only: elsewhere they begin a common noun's phrase ("according to a source")."""
CORRESPONDENT_PREPOSITIONS = frozenset({"of", "for", "with", "at", "from"})
"""The English words between a correspondent noun and its outlet ("a correspondent of Report", "a reporter for
Reuters", "the correspondent at the BBC")."""
NAME_TAILS = frozenset(
    {"news", "tv", "times", "post", "press", "today", "daily", "journal", "herald", "agency", "online", "media",
     "info", "haber", "тв", "news.az", "медиа", "пресс", "инфо", "новости"}
)  # fmt: skip
NON_OUTLET_NOUNS = (
    # A name beside one of these is a club, a company, a place ... ("клуб «Карабах»", "“Qarabağ” klubu").
    "клуб", "фк", "команд", "компани", "завод", "парти", "банк", "холдинг", "фонд", "движени", "фильм", "операци",
    "проект", "программ", "турнир", "стадион", "отел", "корабл", "фестивал", "университет", "театр", "город", "сел",
    "район", "регион", "улиц",
    "klub", "şirkət", "partiya", "bank", "holdinq", "fond", "hərəkat", "film", "əməliyyat", "layihə", "proqram",
    "turnir", "stadion", "otel", "festival", "universitet", "teatr", "kənd", "rayon", "şəhər", "qəsəbə", "küçə",
    "club", "fc", "company", "party", "fund", "movement", "operation", "project", "programme", "program",
    "tournament", "stadium", "hotel", "university", "theatre", "village", "district", "city", "region",
)  # fmt: skip
PREPOSITIONS = frozenset(
    {"в", "во", "на", "из", "у", "к", "с", "со", "о", "об", "по", "для", "от", "при", "за", "над", "под",
     "in", "at", "on", "from", "to", "of", "for", "by", "with"}
)  # fmt: skip
ARTICLES = frozenset({"the"})
STOP_WORDS = frozenset(
    # Sentence starters, pronouns, institutions and platforms that stand where an outlet could: never an outlet.
    {"как", "об", "это", "он", "она", "они", "оно", "также", "так", "по", "в", "на", "при", "кроме", "сми",
     "кремль", "мид", "мвд", "мчс", "мо", "фсб", "ск", "цб", "оон", "нато", "ес", "сша", "рф", "ар", "фбр",
     "цру", "воз", "мвф", "обсе", "снг", "одкб", "еаэс", "юнеско", "уефа", "фифа", "пентагон", "росстат", "госдума",
     "генпрокуратура",
     # ... and the Russian names of the bodies listed in Latin below ("По данным ОПЕК", "Как сообщает ГНКАР")
     "опек", "гнкар", "сокар", "азал", "ажд", "наса", "магатэ", "ебрр", "цахал",
     "bu", "o", "onlar", "onun", "onların", "həmçinin", "qeyd", "kiv", "bmt", "atət", "abş", "ab", "ady", "azal",
     "socar", "rf", "mdb", "mərkəz", "pentaqon", "kreml", "maqate", "ayib",
     "asc", "qsc", "mmc", "ask", "ооо", "оао", "зао", "пао", "llc", "inc", "ltd", "jsc", "cjsc", "мы", "вы", "я",
     "the", "this", "it", "he", "she", "they", "we", "officials", "sources", "ministry", "government", "president",
     "police", "experts", "analysts", "authorities", "media", "un", "nato", "eu", "us", "usa", "uk", "who", "imf",
     "osce", "uefa", "fifa", "fbi", "cia", "mfa", "mod", "opec", "nasa", "kremlin", "pentagon", "bp", "iaea", "ebrd",
     "idf",
     "twitter", "x", "facebook", "telegram", "instagram", "youtube", "tiktok", "whatsapp", "вконтакте", "threads"}
)  # fmt: skip
PLACES = frozenset(
    # Capitals and the cities the news is datelined from, each a single word, in Russian, Azerbaijani and English:
    # "Как сообщает Анкара" speaks for a government, not an outlet, and a plain capitalised name is enough after
    # "Как сообщает". Only a name of this one word is refused: "Baku TV", "Шуша ТВ", "The Moscow Times" are outlets.
    {"москва", "вашингтон", "анкара", "тегеран", "ереван", "киев", "тбилиси", "брюссель", "пекин", "лондон",
     "париж", "берлин", "минск", "астана", "ташкент", "бишкек", "душанбе", "ашхабад", "стамбул", "баку", "гянджа",
     "сумгайыт", "шуша", "ханкенди", "нахчыван", "лачин", "агдам", "физули", "кельбаджар", "тель-авив", "иерусалим",
     "дамаск", "багдад", "кабул", "исламабад", "дели", "токио", "рим", "варшава", "вильнюс", "рига", "кишинев",
     "женева", "страсбург", "вена", "прага", "будапешт", "бухарест", "софия", "афины", "белград", "каир", "доха",
     "дубай", "эр-рияд",
     "moskva", "vaşinqton", "ankara", "tehran", "təbriz", "irəvan", "yerevan", "kiyev", "brüssel", "pekin",
     "london", "paris", "berlin", "daşkənd", "istanbul", "bakı", "gəncə", "sumqayıt", "şuşa", "xankəndi",
     "naxçıvan", "laçın", "ağdam", "füzuli", "kəlbəcər", "təl-əviv", "qüds", "varşava", "cenevrə", "vyana",
     "moscow", "washington", "kyiv", "kiev", "brussels", "beijing", "tashkent", "baku", "ganja", "sumgait",
     "shusha", "khankendi", "nakhchivan", "jerusalem", "tel-aviv", "damascus", "baghdad", "islamabad", "tokyo",
     "rome", "warsaw", "geneva", "vienna", "cairo", "doha", "riyadh"}
)  # fmt: skip
STOP_STEMS = (
    # Vague sources, officials and institutions in any case form ("источники", "Nazirliyin", "Officials").
    "источник", "чиновник", "эксперт", "аналитик", "министерств", "ведомств", "правительств", "пресс-служб",
    "прокуратур", "посольств", "администраци", "кремл", "пресс-секретар", "представител", "департамент",
    "управлени", "служб", "комитет", "президент", "премьер", "агентств", "журналист", "очевид",
    "mənbə", "nazirli", "agentli", "xidmət", "hökumət", "komitə", "idarə", "polis", "prokurorlu", "səfirli",
    "prezident", "ekspert", "məmur", "şirkət", "jurnalist", "mətbuat",
    "source", "official", "ministr", "spokes", "government", "authorit", "expert", "analyst", "embassy", "agency",
    "service", "committee", "department", "journalist", "witness",
)  # fmt: skip
STATE_BODIES = frozenset(
    # Azerbaijan's ministries, agencies, services, funds and committees by the short names their press releases go
    # out under, in Azerbaijani and in Russian. The news quotes them in the very phrases it quotes agencies in
    # ("ANAMA-nın məlumatına görə", "Как сообщает ГТК", "ANAMA reported"), and their names are shaped like an
    # agency's (an all-caps acronym, a capitalised word), so they are named here: a source of the news, not an outlet.
    {"xin", "din", "mn", "fhn", "dtx", "dsx", "dgk", "dvx", "dmx", "dyp", "etsn", "anama", "aqta", "təbib", "tabib",
     "itsda", "bna", "dim", "dsmf", "dsk", "msk", "amb", "ardnf", "kobia",
     "анама", "апба", "табиб", "сгб", "гпс", "гтк", "гнс", "гмс", "гэц", "цик", "цба", "гнфар", "госкомстат",
     # ... its academy, seismology centre, road agency, statistics, the Baku executive and the state utilities
     "amea", "rsxm", "ayna", "bşih", "azstat", "azərişıq", "azərenerji", "azərsu", "cbar",
     "амеа", "рцсс", "гкс", "азстат",
     # The international bodies, foreign state bodies and armed forces and groups the news quotes as it quotes
     # agencies ("ÜST-ün məlumatına görə", "По данным ЮНИСЕФ", "According to the OECD", "Как сообщает КСИР"), by
     # the names of their Azerbaijani, Russian and English copy.
     "üst", "bvf", "aşpa", "ai", "iəit", "ütt", "həmas", "hizbullah", "sepah", "taliban",
     "юнисеф", "фао", "оэср", "пасе", "еспч", "мус", "вто", "мок", "ксир", "всу", "сбу", "фас", "фнс", "фсин", "фсо",
     "гбр", "набу", "ецб", "фрс", "ввс", "вмс", "свр", "гур",
     "irgc", "pace", "cec", "hamas", "hezbollah", "unicef", "fao", "oecd", "adb", "aiib", "unhcr", "icrc", "icc",
     "echr", "icj", "wto", "ioc", "undp", "wfp", "ilo", "iom", "ocha", "ifrc", "opcw", "fatf", "ecb", "unesco",
     "sbu"}
)  # fmt: skip
STATE_BODY_STEMS = (
    # The Russian short names of ministries, in any case form ("Минобороны", "Минфина", "Минэнерго").
    "минобороны", "минздрав", "минфин", "минэконом", "минэнерго", "минюст", "минтруд", "минсельхоз", "минкульт",
    "минобр", "минпрос", "минтранс", "минцифр", "минэколог", "минприрод", "минспорт", "минстро", "минпромторг",
    "минвостокразвит",
    # ... and of other state bodies, foreign ones included, and the state companies quoted as they are
    # ("Как сообщает Роспотребнадзор", "сообщает Госдеп", "По данным Центробанка", "Как сообщает Еврокомиссия").
    "госдеп", "генштаб", "центробанк", "нацбанк", "нацгварди", "росгварди", "роспотребнадзор", "роскомнадзор",
    "ространснадзор", "росприроднадзор", "ростехнадзор", "росавиаци", "роскосмос", "росатом", "ростуризм",
    "роснедр", "росреестр", "росрыболовств", "совбез", "пентагон", "еврокомисси", "евросоюз", "европарламент",
    "евростат", "интерпол", "европол", "хамас", "хезболл", "талибан", "газпром", "лукойл", "нафтогаз", "укрэнерго",
    "азеришыг", "азерэнержи", "азерсу", "азеристат", "азеравтойол", "бакметрополитен", "гидромет", "следком",
    "сенат", "конгресс", "бундестаг", "кнессет", "совфед", "меджлис",
    "senat", "konqres", "bundestaq", "knesset", "ombudsman", "hizbullah", "hezbollah", "qazprom", "gazprom", "lukoyl",
    "lukoil", "rosatom", "roskosmos", "roscosmos", "naftogaz", "interpol", "europol", "eurostat",
)  # fmt: skip
_STATE_DOMAIN = re.compile(r"\.(?:gov|mil)(?:\.[a-z]{2,3})?$", re.IGNORECASE)
"""A government's site ("mod.gov.az", "anama.gov.az"): a state body's, not an outlet's, however shaped like one."""
KNOWN_OUTLETS = (
    # Outlets often cited by the sources; the registry's own sources are added to these (see _known_outlets).
    "Report", "Trend", "APA", "АПА", "Azertac", "Azərtac", "AZƏRTAC", "Азертадж", "Азертаж", "Turan", "Туран",
    "Qafqazinfo", "Minval", "Haqqin", "Icma", "Metbuat", "Oxu", "Axar", "Day.Az", "Sputnik", "Спутник",
    "Sputnik Azerbaijan", "Sputnik Azərbaycan", "Sputnik Азербайджан", "Interfax", "Интерфакс",
    "Interfax-Azerbaijan", "Интерфакс-Азербайджан", "ТАСС", "TASS", "РИА Новости", "RIA Novosti", "РБК", "RBC",
    "Коммерсант", "Коммерсантъ", "Kommersant", "Известия", "Izvestia", "Ведомости", "Vedomosti", "Российская газета",
    "Новая газета", "Reuters", "Рейтер", "Associated Press", "AP", "AFP", "Франс Пресс", "Agence France-Presse",
    "Bloomberg", "Bloomberq", "Блумберг", "CNN", "BBC", "BBC News", "Би-би-си", "Al Jazeera", "Аль-Джазира", "Anadolu",
    "Anadolu Agency", "Анадолу", "The New York Times", "New York Times", "The Washington Post", "Washington Post",
    "The Wall Street Journal", "Wall Street Journal", "Financial Times", "The Guardian", "The Times", "Politico",
    "Axios", "NDTV", "Fox News", "Sky News", "Euronews", "DW", "Deutsche Welle", "Le Monde", "Der Spiegel",
    "Spiegel", "Yeni Şafak", "Hürriyet", "Milliyet", "Daily Sabah", "TRT", "TRT Haber", "İctimai", "AzTV",
    "Xinhua", "Синьхуа", "IRNA", "ИРНА", "Tasnim", "Mehr", "Armenpress", "Арменпресс", "News.am", "Newsweek",
    "Forbes", "The Economist", "CNBC", "Haaretz", "The Times of Israel", "Meduza", "Медуза",
    # ... and those whose names of two words read as a person's ("Foreign Policy"), or hold a lower-case word
    "The National Interest", "National Interest", "Foreign Policy", "Foreign Affairs", "The Diplomat", "Eurasianet",
    "Middle East Eye", "Asia Times", "The Jerusalem Post", "Jerusalem Post", "Tehran Times", "Al Arabiya",
    "Аль-Арабия", "Ukrainska Pravda", "Украинская правда", "Независимая газета", "Комсомольская правда",
    "Московский комсомолец", "Аргументы и факты", "Радио Свобода", "Radio Liberty", "Radio Free Europe",
    "Voice of America", "Голос Америки", "Daily Mail", "The Telegraph", "The Independent", "The Atlantic", "The Hill",
    "Le Figaro", "Süddeutsche Zeitung", "Corriere della Sera", "La Repubblica", "El País", "Yeni Müsavat",
    "Xalq qəzeti", "Azernews", "Caspian News", "Ukrinform", "Укринформ", "UNIAN", "УНИАН", "Regnum", "Регнум",
    "EADaily", "Interpressnews", "Azatutyun", "Азатутюн", "CivilNet", "Habertürk", "CNN Türk", "TRT World", "Yonhap",
    "Kyodo", "CGTN", "China Daily", "Times of India", "ABC News", "NBC News", "CBS News", "USA Today", "Semafor",
    "Russia Today", "ISNA", "Press TV", "Rudaw", "The Kyiv Independent", "Kyiv Independent", "Kyiv Post",
)  # fmt: skip


@lru_cache(maxsize=1)
def _cyrillic_spellings() -> frozenset[str]:
    """The registry's sources as other outlets' Russian copy spells them (``Source.spellings``: "Как ранее сообщал
    Хаггин", "как писал Калибр"). Shaped like a surname ("Хаггин", as "Путин") or a plain word, such a name was
    refused, or not enough after "как писал"; it is ``Evidence.LIKELY`` (in any case form: "по данным Хаггина"), not a
    known outlet: "Калибр" is a missile as well, which a sure outlet's rules (one after a comma in a list, after
    "сообщили в") would cite."""
    return frozenset(_known_key(n) for source in all_sources() for n in source.spellings)


@lru_cache(maxsize=4096)
def _cyrillic_spelling(name: str) -> str | None:
    """``name`` as one of the sources' ``spellings``, without a Russian case ending glued to it ("Калибра")."""
    spellings = _cyrillic_spellings()
    if _known_key(name) in spellings:
        return name
    for ending in _CASE_ENDINGS_RU:
        if name.endswith(ending) and _known_key(name[: -len(ending)]) in spellings:
            return name[: -len(ending)]
    return None


@lru_cache(maxsize=1)
def _known_outlets() -> frozenset[str]:
    names = list(KNOWN_OUTLETS)
    for source in all_sources():
        names.append(source.name)
        names.extend(source.domains)
        names.extend(source.other_names)
    return frozenset(_known_key(n) for n in names)


_LATIN_LETTER = re.compile(r"[A-Za-z]")


@lru_cache(maxsize=8192)
def _known_key(name: str) -> str:
    """The form under which a name is looked up among the known outlets and compared with the others found:
    ``name_key``'s (case and Cyrillic look-alike letters folded, so "Caliber.Аz" is "Caliber.Az"), with the
    Azerbaijani "İ" as "I" ("RİA Novosti" is "RIA Novosti"; ``casefold`` makes it "i" and a combining dot). A name
    with no Latin letter is a Cyrillic word and keeps its letters: the Ukrainian air force, "ВВС", is not the BBC,
    though every letter of it looks like one of "BBC"."""
    if _LATIN_LETTER.search(name) is None and "İ" not in name:
        return " ".join(name.casefold().split())
    return name_key(name.replace("İ", "I"))


# --- one name per outlet ------------------------------------------------------------------------------------------

OUTLET_NAMES: Mapping[str, tuple[str, ...]] = {
    # The name each outlet outside the registry is stored under, and the other names ``KNOWN_OUTLETS`` knows it by:
    # its Latin name, the one the outlet goes by abroad, whatever script the citing text is in; a Russian outlet the
    # module knows by its Russian name alone keeps that one. An edition with a name of its own ("Sputnik Azerbaijan",
    # "Interfax-Azerbaijan", "TRT Haber") is an outlet of its own. The Azerbaijani sites go by their domain, written
    # as the registry writes its sources' ("Oxu.az"; Qafqazinfo by its name, as the re-publisher's own line for it
    # reads). The registry's sources are not here: they go by the registry's names (``_registry_names``).
    "AZERTAC": ("Azertac", "Azərtac", "AZƏRTAC", "Азертадж", "Азертаж"),
    "Turan": ("Туран",),
    "Qafqazinfo": ("Qafqazinfo.az",),
    "Icma.az": ("Icma",),
    "Metbuat.az": ("Metbuat",),
    "Oxu.az": ("Oxu",),
    "Axar.az": ("Axar",),
    "Day.az": (),
    "Sputnik": ("Спутник",),
    "Sputnik Azerbaijan": ("Sputnik Azərbaycan", "Sputnik Азербайджан"),
    "Interfax": ("Интерфакс",),
    "Interfax-Azerbaijan": ("Интерфакс-Азербайджан",),
    "TASS": ("ТАСС",),
    "RIA Novosti": ("РИА Новости",),
    "RBC": ("РБК",),
    "Kommersant": ("Коммерсант", "Коммерсантъ"),
    "Izvestia": ("Известия",),
    "Vedomosti": ("Ведомости",),
    "Reuters": ("Рейтер",),
    "Associated Press": ("AP",),
    "AFP": ("Agence France-Presse", "Франс Пресс"),
    "Bloomberg": ("Bloomberq", "Блумберг"),
    "BBC": ("BBC News", "Би-би-си"),
    "Al Jazeera": ("Аль-Джазира",),
    "Anadolu Agency": ("Anadolu", "Анадолу"),
    "The New York Times": ("New York Times",),
    "The Washington Post": ("Washington Post",),
    "The Wall Street Journal": ("Wall Street Journal",),
    "Deutsche Welle": ("DW",),
    "Der Spiegel": ("Spiegel",),
    "Xinhua": ("Синьхуа",),
    "IRNA": ("ИРНА",),
    "Armenpress": ("Арменпресс",),
    "Meduza": ("Медуза",),
    "The National Interest": ("National Interest",),
    "The Jerusalem Post": ("Jerusalem Post",),
    "Al Arabiya": ("Аль-Арабия",),
    "Ukrainska Pravda": ("Украинская правда",),
    "Radio Liberty": ("Radio Free Europe", "Радио Свобода"),
    "Voice of America": ("Голос Америки",),
    "Ukrinform": ("Укринформ",),
    "UNIAN": ("УНИАН",),
    "Regnum": ("Регнум",),
    "Azatutyun": ("Азатутюн",),
    "The Kyiv Independent": ("Kyiv Independent",),
}
_AGENCY_WORDS = re.compile(r"(?: (?:news|information|informasiya))? (?:agency|agentliyi)$")
"""The words an agency's own copy puts after its name ("Trend News Agency reports", "Report İnformasiya Agentliyi"),
looked past when the whole name is none the module knows."""


@lru_cache(maxsize=1)
def _fixed_names() -> dict[str, str]:
    """Each ``KNOWN_OUTLETS`` name's key -> the name its outlet is stored under (``OUTLET_NAMES``; a name in no
    group, the spelling listed)."""
    names: dict[str, str] = {}
    for name in KNOWN_OUTLETS:
        names.setdefault(_known_key(name), name)
    for canonical, others in OUTLET_NAMES.items():
        for name in (canonical, *others):
            names[_known_key(name)] = canonical
    return names


@lru_cache(maxsize=4)
def _registry_names(sources: tuple[Source, ...]) -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    """Every name a registry source goes by, as a key -> its display name (``Source.name``, what the attribution line
    prints for it): its name, domains, ``other_names`` and ``spellings``, and its domain's or domain-shaped name's
    first part ("APA", "Report"), which its own copy and other outlets' name it by; with (domain, display name) for
    the hosts under its domains ("en.trend.az"). Over ``_fixed_names``: the registry says what a source is called.
    Built for the registry in force, not once: ``registered`` adds a source for a while (``aggregator extract`` on
    the page of a site the registry has not)."""
    names = dict(_fixed_names())
    domains: list[tuple[str, str]] = []
    for source in sources:
        for name in (source.name, *source.domains, *source.other_names, *source.spellings):
            key = _known_key(name)
            names[key] = source.name
            if key.count(".") == 1 and _is_domain(key):
                names[key.split(".", 1)[0]] = source.name  # "apa.az": "APA"
        domains.extend((_known_key(d), source.name) for d in source.domains)
    return names, tuple(domains)


def canonical_outlet(name: str) -> str:
    """The one name an outlet ``find_citations`` found is stored under, whatever script, spelling or case the text
    wrote it in: a registry source's display name ("APA", "АПА", "apa.az" -> "Apa.az"), a known outlet's name of
    ``OUTLET_NAMES`` ("Азертадж", "AZƏRTAC" -> "AZERTAC"; "Guardian", read after "the", -> "The Guardian"); any
    other name as found."""
    return _canonical(name, *_registry_names(all_sources()))


def canonical_outlets(names: Iterable[str]) -> list[str]:
    """``names`` under their canonical names (``canonical_outlet``), in order, each once: a text citing "АПА" and
    "APA" cites Apa.az once."""
    outlets: dict[str, str] = {}
    tables: tuple[dict[str, str], tuple[tuple[str, str], ...]] | None = None
    for name in names:
        tables = tables or _registry_names(all_sources())  # once a text, not a name (hashing the registry: ~1.5 us)
        canonical = _canonical(name, *tables)
        outlets.setdefault(_known_key(canonical), canonical)
    return list(outlets.values())


def _canonical(name: str, names: dict[str, str], domains: tuple[tuple[str, str], ...]) -> str:
    key = _known_key(name)
    found = names.get(key) or names.get(f"the {key}") or names.get(_AGENCY_WORDS.sub("", key))
    if found is None and "." in key:
        found = next((shown for domain, shown in domains if key.endswith("." + domain)), None)
    return found or name


# --- tokens -------------------------------------------------------------------------------------------------------


def _tokens(text: str, start: int, end: int) -> Iterator[tuple[Item | None, int, int]]:
    """(item, start, end) for each token of ``text[start:end]``; item is None for punctuation."""
    for m in _TOKEN.finditer(text, start, end):
        kind = m.lastgroup or "other"
        item = None if kind == "other" else Item(kind, m.group(), m.start())
        yield item, m.start(), m.end()


def _items_after(text: str, pos: int) -> list[Item]:
    """The words right after ``pos`` that follow each other with nothing but spaces between them."""
    items: list[Item] = []
    previous_end = pos
    for item, start, end in _tokens(text, pos, min(len(text), pos + WINDOW)):
        gap = text[previous_end:start]
        if item is None or (items and not _INLINE_SPACE.fullmatch(gap)) or "\n" in gap:
            break
        items.append(item)
        previous_end = end
        if len(items) > MAX_NAME_WORDS + 3:  # room for "the", two adjectives and a noun before a name
            break
    return items


def _items_before(text: str, pos: int) -> list[Item]:
    """The words right before ``pos`` that follow each other with nothing but spaces between them.

    What tokenising the window before ``pos`` gives, only cheaper: each token ends with a non-space character and
    every non-space character is in a token, so the window's last token ends at its last non-space character, and a
    character that only punctuation ends (",", or "." with no URL in the window) answers at once. Else the tail of
    the window is tokenised first, from a space no quoted name can span (only a quoted name holds a space): tokens
    from there are the window's last ones, so when the run ends inside them the answer is the same."""
    start = max(0, pos - WINDOW)
    end = pos
    while end > start and text[end - 1].isspace():
        end -= 1
    if end == start:
        return []  # nothing but spaces: no token
    gap = text[end:pos]
    if gap and not _INLINE_SPACE.fullmatch(gap):
        return []  # the name and the anchor are on different lines
    last = text[end - 1]
    punctuation = not (last == "&" or last == "_" or last.isalnum() or last in _CLOSING_QUOTES)
    if punctuation and (last in _NOT_IN_URLS or text.find("://", start, pos) == -1):
        return []  # punctuation right before the anchor: it ends no word, quoted name or URL
    sync = text.rfind(" ", start, end - _TAIL_WINDOW) if end - _TAIL_WINDOW > start else -1
    if sync != -1 and _no_quoted_name_across(text, start, sync, pos):
        run = _last_run(text, list(_TOKEN.finditer(text, sync, pos)))
        if run is not None:
            return run
    return _last_run(text, list(_TOKEN.finditer(text, start, pos)), whole=True) or []


def _no_quoted_name_across(text: str, start: int, at: int, end: int) -> bool:
    """Whether no quoted-name token of ``text[start:end]`` holds position ``at``. Such a token holds no quote
    between its opening quote and ``at``, so the last quote before ``at`` would open it: none within a quoted name's
    reach, a closing-only quote, and a "«" whose token ends before ``at`` (a "«" starts a token wherever it stands:
    no other kind of token holds one) all answer yes; other quotes answer no (the caller tokenises all)."""
    quotes = list(_QUOTE_CHARS.finditer(text, max(start, at - _QUOTED_SPAN), at))
    if not quotes:
        return True
    last = quotes[-1]
    if last.group() in "»”":
        return True
    if last.group() == "«":
        quoted = _QUOTED_TOKEN.match(text, last.start(), end)
        return quoted is None or quoted.end() <= at
    return False


_TAIL_WINDOW = 48
"""How far before the anchor ``_items_before`` first tokenises (a run of up to six names fits, as a rule)."""
_QUOTED_SPAN = 64
"""More than the longest quoted name (an opening quote, 60 characters, a closing one)."""
_QUOTE_CHARS = re.compile(r"[«»“”„\"'‘’]")
_QUOTED_TOKEN = re.compile(_QUOTED)
_CLOSING_QUOTES = frozenset("»”“\"'’")
_NOT_IN_URLS = frozenset(',;()<>«»"“”')


def _last_run(text: str, tokens: list[re.Match[str]], *, whole: bool = False) -> list[Item] | None:
    """The items of the last run of ``tokens`` (``_items_before``); None when the run takes up all of them and
    ``tokens`` are not the ``whole`` window (an earlier token may belong to it)."""
    if not tokens:
        return []
    last = tokens[-1]
    if last.lastgroup == "other":
        return []  # punctuation right before the anchor
    run: list[re.Match[str]] = []
    for m in reversed(tokens):
        if m.lastgroup == "other" or (run and not _INLINE_SPACE.fullmatch(text[m.end() : run[-1].start()])):
            break
        run.append(m)
        if len(run) == MAX_NAME_WORDS + 2:
            break
    else:
        if not whole:
            return None
    return [Item(m.lastgroup or "other", m.group(), m.start()) for m in reversed(run)]


def _sentence_initial(text: str, pos: int) -> bool:
    before = text[max(0, pos - 40) : pos].rstrip(" \t\u00a0«“„\"'")
    return not before or before[-1] in _SENTENCE_END


# --- names --------------------------------------------------------------------------------------------------------


def _bare(item: Item) -> tuple[str, bool]:
    """The name an item writes, without quotes or case endings, and whether a hyphenated ending was cut."""
    return _bare_text(item.kind, item.text)


@lru_cache(maxsize=8192)
def _bare_text(kind: str, text: str) -> tuple[str, bool]:
    if kind == "url":
        host = re.sub(r"^https?://", "", text).split("/", 1)[0]
        return host.removeprefix("www."), False
    if kind == "quoted":
        quoted = _QUOTED_BODY.match(text)
        return _known_base(" ".join(quoted.group("body").split()) if quoted else text), False
    word = text
    for possessive in ("'s", "’s"):
        if word.endswith(possessive):
            return word[: -len(possessive)], False
    if word.endswith(_POSSESSIVE_APOSTROPHES):
        return word[:-1], False  # "Reuters'"
    for sep in _CASE_SEPARATORS:
        head, found, tail = word.rpartition(sep)
        if found and head and (tail in _CASE_ENDINGS or (tail.startswith(("lar", "lər")) and len(tail) <= 8)):
            return head, True  # "APA-ya", "Oxu.Az-ın", "Report-у", "KİV-lərinə"
    base = _known_base(word)
    if base == word and "." in word:
        base = _domain_base(word)
    return base, False


_GLUED_AZ_ENDINGS = tuple(sorted(_CASE_ENDINGS_AZ, key=len, reverse=True))


def _domain_base(word: str) -> str:
    """A domain without the Azerbaijani case ending glued to it ("Publika.azın", "Oxu.aza"), as a known outlet's is
    cut (``_known_base``): a domain is a sure outlet however it is declined, and one spelt with a hyphen or apostrophe
    before its ending ("Publika.az-ın") is cut with the other names."""
    if not _is_domain(word):
        for ending in _GLUED_AZ_ENDINGS:
            if word.endswith(ending) and _is_domain(word[: -len(ending)]):
                return word[: -len(ending)]
    return word


@lru_cache(maxsize=4096)
def _known_base(name: str) -> str:
    """A known outlet's name without the case ending glued to it ("Интерфакса" -> "Интерфакс", "Azərtaca")."""
    known = _known_outlets()
    if _known_key(name) not in known:
        for ending in _GLUED_ENDINGS:
            if name.endswith(ending) and _known_key(name[: -len(ending)]) in known:
                return name[: -len(ending)]
    return name


def _lower(word: str) -> str:
    """``word`` casefolded for looking up vocabulary, with the Azerbaijani/Turkish "İ" as a plain "i"."""
    return word.replace("İ", "i").casefold()


@lru_cache(maxsize=4096)
def _is_domain(name: str) -> bool:
    """ "Life.ru", "1news.az", "Caliber.Аz" (a Cyrillic А), "Лента.ру"."""
    return bool(_DOMAIN.fullmatch(name) or _DOMAIN.fullmatch(fold_lookalikes(name)))


def _lower_word(item: Item) -> str | None:
    """The casefolded word if the item is a plain word in lowercase (a common noun, a verb), else None."""
    if item.kind != "word" or not item.text[:1].islower() or _is_domain(item.text):
        return None
    return _lower(item.text)


def _has_stem(word: str, stems: tuple[str, ...]) -> bool:
    return word.startswith(stems)


def _is_outlet_noun(item: Item | None, *, latin_only: bool = False) -> bool:
    """A common noun saying its neighbour is an outlet ("агентство", "portalından", "newspaper", "Telegram-канал").

    ``latin_only`` for a noun after the name: Azerbaijani and English put it there ("Qafqazinfo portalından",
    "the Report news agency"), Russian never does ("со ссылкой на Пескова агентство сообщило"). There an
    Azerbaijani noun may be capitalised, as part of the outlet's full name ("Anadolu Agentliyi").
    """
    if item is None or item.kind != "word" or (latin_only and not _is_latin(item.text)):
        return False
    word = _lower(item.text)
    if word.startswith(CAPITALISED_OUTLET_NOUNS):
        return True
    if word.startswith(PEOPLE_NOUNS):
        return False  # "jurnalistlərə" begins as "jurnal" does
    if latin_only and item.text[:1].isupper() and word.startswith(CAPITALISED_AZ_OUTLET_NOUNS):
        return True
    return _lower_word(item) is not None and _has_stem(word, OUTLET_NOUNS)


def _is_non_outlet_noun(item: Item | None) -> bool:
    """A noun saying its neighbour is a club, a company, a place ... ("клуб «Карабах»", "“Qarabağ” klubu"): in
    lower case or capitalised, as at a sentence's start ("Клуб «Карабах» сообщает", "Банк Respublika информирует",
    "Klub “Qarabağ” xəbər verir"), where it is as sure a sign; an abbreviation only whole ("ФК «Карабах»", "FC"),
    as an all-caps word that merely begins like one of the stems is a name of its own."""
    if item is None or item.kind != "word" or _is_domain(item.text) or _is_outlet_noun(item):
        return False
    text = item.text
    word = _lower(text)
    if text[:1].islower() or text[1:].islower():
        return _has_stem(word, NON_OUTLET_NOUNS)
    return word in NON_OUTLET_NOUNS


def _is_tail(item: Item) -> bool:
    return item.kind == "word" and item.text[:1].isupper() and _lower(item.text) in NAME_TAILS


def _is_capitalised_word(item: Item) -> bool:
    text = item.text
    return item.kind == "word" and text[:1].isupper() and any(c.islower() for c in text) and "." not in text


def _looks_like_person(first: Item, second: Item) -> bool:
    """Two capitalised words of one script ("Заур Мамедов", "John Smith") that are not a known outlet."""
    if not (_is_capitalised_word(first) and _is_capitalised_word(second)) or _is_tail(second):
        return False
    if _known_key(f"{_bare(first)[0]} {_bare(second)[0]}") in _known_outlets():
        return False
    return _is_latin(first.text) == _is_latin(second.text)


@lru_cache(maxsize=8192)
def _is_latin(text: str) -> bool:
    letters = [c for c in fold_lookalikes(text) if c.isalpha()]
    return bool(letters) and all(c.isascii() or c in "əƏğĞıİöÖüÜşŞçÇ" for c in letters)


def _looks_like_title(name: str) -> bool:
    """A quoted name, not a quoted phrase: «Report», «Российская газета», “Yeni Müsavat”; not «Мы победим»."""
    words = name.split()
    if not 1 <= len(words) <= 4 or re.search(r"[,;:!?]", name):
        return False
    return all(w[:1].isupper() or w[:1].isdigit() or _has_stem(_lower(w), OUTLET_NOUNS) for w in words[1:])


@lru_cache(maxsize=8192)
def _is_stopped(name: str) -> bool:
    """A vague source, an institution or a state body ("источники", "Nazirliyin", "NATO", "ANAMA"), judged word by
    word past the tails."""
    words = [_lower(w) for w in name.split() if _lower(w) not in NAME_TAILS]
    return any(
        w in STOP_WORDS or w in STATE_BODIES or w.startswith(STATE_BODY_STEMS) or any(stem in w for stem in STOP_STEMS)
        for w in words
    )


def _known_prefix(items: Sequence[Item], *, from_end: bool) -> int:
    """How many leading (or trailing) items spell a known multi-word outlet ("BBC News", "The New York Times")."""
    for n in range(min(MAX_NAME_WORDS, len(items)), 1, -1):
        part = items[-n:] if from_end else items[:n]
        if all(i.kind == "word" for i in part) and _is_known(tuple(_bare(i)[0] for i in part)):
            return n
    return 0


@lru_cache(maxsize=8192)
def _is_known(words: tuple[str, ...]) -> bool:
    """Whether ``words`` spell a known outlet's name, with a case ending glued to the last or not ("Sputnik
    Azərbaycanın", "Sputnik Азербайджана")."""
    name = " ".join(words)
    return _known_key(name) in _known_outlets() or _known_base(name) != name


class _Candidate(NamedTuple):
    items: tuple[Item, ...]
    """The words of the name (one, or a few: "BBC News", "Baku TV")."""
    before: Item | None
    """The word just before the name (a preposition, "клуб", "агентство", a first name ...)."""
    after: Item | None
    """The word just after the name ("qəzeti", "klubu", "председатель", a surname ...)."""
    outlet_noun: bool
    """Whether an outlet noun stands beside the name ("сайт Caliber.az", "Qafqazinfo portalından"), not counting a
    correspondent's (``CORRESPONDENT_NOUNS``)."""
    loose: bool = False
    """Whether words that say less than an outlet noun were passed over to reach the name or stand beside it:
    adjectives alone ("британская The Times"), a bureau ("бюро Report"), a correspondent ("корреспондент Report",
    "Reuters' correspondent"). Such a name needs ``Evidence.LIKELY`` whatever the anchor."""


def _candidate_after(items: list[Item]) -> _Candidate | None:
    """The name at the start of ``items``, past an article or outlet noun ("the", "сайт", "агентство"), a bureau
    ("Западное бюро АПА"), and the adjectives before such a noun ("американское издание The Wall Street Journal",
    "Азербайджанское государственное информационное агентство АЗЕРТАДЖ") or before the name itself ("британская The
    Times"), and a correspondent ("корреспондент Report", "a correspondent of Report", "a Reuters correspondent")."""
    i = 0
    loose = False
    while i < len(items):
        item = items[i]
        if item.text in ARTICLES or _is_outlet_noun(item):
            loose = loose or _is_correspondent_noun(item)
            i += 1
        elif _is_bureau(item) or _is_correspondent_noun(item):  # "reporter" is no outlet noun
            i += 1
            loose = True
        elif (item.text in INDEFINITE_ARTICLES and _correspondent_follows(items, i + 1)) or (
            item.text in CORRESPONDENT_PREPOSITIONS and i and _is_correspondent_noun(items[i - 1])
        ):
            i += 1  # "a Reuters correspondent", "a correspondent of Report"
        elif (adjectives := _adjectives_before_outlet_noun(items, i)) is not None:
            i, bare = adjectives
            loose = loose or bare
        else:
            break
    rest = items[i:]
    if not rest or _lower_word(rest[0]) is not None:
        return None
    n = _known_prefix(rest, from_end=False)
    if not n:
        n = 1
        while n < len(rest) and _is_tail(rest[n]):
            n += 1
    before = items[i - 1] if i else None
    after = rest[n] if n < len(rest) else None
    noun = _vouches(before) or _vouches(after, latin_only=True)
    return _Candidate(tuple(rest[:n]), before, after, noun, loose or _is_correspondent_noun(after, latin_only=True))


def _is_correspondent_noun(item: Item | None, *, latin_only: bool = False) -> bool:
    """A noun of an outlet's people in lower case ("корреспонденту", "müxbiri", "correspondent", "reporter"), not
    one of the plurals ``PEOPLE_NOUNS`` holds (see ``CORRESPONDENT_NOUNS``); ``latin_only`` as ``_is_outlet_noun``'s.
    Asked of the words beside every name an anchor reads: most answer no by their first letter."""
    if item is None or item.text[:1] not in _CORRESPONDENT_INITIALS or item.kind != "word":
        return False
    if latin_only and not _is_latin(item.text):
        return False
    word = _lower(item.text)
    return word.startswith(CORRESPONDENT_NOUNS) and not word.startswith(PEOPLE_NOUNS)


def _vouches(item: Item | None, *, latin_only: bool = False) -> bool:
    """An outlet noun that makes the name beside it a sure outlet ("агентство", "portalından"): any but a
    correspondent's."""
    return _is_outlet_noun(item, latin_only=latin_only) and not _is_correspondent_noun(item)


def _correspondent_follows(items: list[Item], start: int) -> bool:
    """Whether a correspondent noun follows ``start``, right there or past a name ("correspondent of Report",
    "Reuters correspondent", "Baku TV reporter"): the words an indefinite article may be passed over to."""
    for item in items[start : start + MAX_NAME_WORDS + 1]:
        if _is_correspondent_noun(item):
            return True
        if _lower_word(item) is not None:
            return False
    return False


MAX_ADJECTIVES = 3
"""Adjectives read before an outlet noun ("Азербайджанское государственное информационное агентство")."""


def _adjectives_before_outlet_noun(items: list[Item], start: int) -> tuple[int, bool] | None:
    """Where the outlet noun (or bureau) is when ``items[start:]`` begins with up to ``MAX_ADJECTIVES`` adjectives
    before it ("американское издание", "влиятельная британская газета", "Западное бюро"), and False; where the name
    is when lower-case adjectives stand right before a name, an outlet's or not ("британская The Times", "турецкий
    министр" is not so: the noun is no outlet's), and True; None when neither.

    The first adjective may be capitalised, as the first word of an agency's full name ("Азербайджанское
    государственное информационное агентство АЗЕРТАДЖ"), but only before a noun: a capitalised adjective before a
    name is a part of it, as in a known name ("Новая газета", "Российская газета"), which is never passed over."""
    i = start
    while i < len(items) and i - start < MAX_ADJECTIVES:
        item = items[i]
        capitalised = i == start and item.kind == "word" and item.text[1:].islower() and item.text[:1].isupper()
        word = _lower(item.text) if capitalised and not _is_latin(item.text) else _lower_word(item)
        if word is None or not _ADJECTIVE.search(word) or _is_outlet_noun(item) or _is_bureau(item):
            break  # ("издание" ends as an adjective does)
        if capitalised and _known_prefix(items[i:], from_end=False):
            return None  # "Новая газета": a name
        i += 1
    if i == start or i >= len(items):
        return None
    if _is_outlet_noun(items[i]) or _is_bureau(items[i]):
        return i, False
    first = items[start]
    if first.text[:1].islower() and _lower_word(items[i]) is None:
        return i, True
    return None


def _is_bureau(item: Item) -> bool:
    """The Russian "бюро" ("Западное бюро АПА", "корреспондент бюро Report в Гяндже"), in any case (the noun does not
    decline). Not an outlet noun: a public body has a bureau too ("Бюро по туризму", "бюро ООН"), so the name after it
    needs ``Evidence.LIKELY``, and one with words between ("Бюро по ...") is none."""
    return item.kind == "word" and _lower(item.text) == "бюро"


def _candidate_before(items: list[Item]) -> _Candidate | None:
    """The name at the end of ``items``, before an outlet noun ("“Azərbaycan” qəzeti", "Oxu.Az-ın müxbirinin")."""
    j = len(items)
    if j >= 3 and _lower(items[-1].text) in {"istinadən", "istinadla"}:
        j -= 2  # "Milli.Az APA-ya istinadən xəbər verir": the subject stands before the outlet it cites
    while j > 0 and (
        _is_outlet_noun(items[j - 1], latin_only=True) or _is_correspondent_noun(items[j - 1], latin_only=True)
    ):
        j -= 1
    # the correspondent's noun is an outlet noun, and was passed over ("müxbiri"); a bureau's is not ("bürosu")
    office = j if j < len(items) and _is_office_noun(items[j]) else j - 1
    owner = _office_owner(items, office) if office > 0 and _is_office_noun(items[office]) else None
    if owner is not None:
        # "Report-un Ankara müxbiri": the outlet is the owner, the place between is no part of its name
        rest = items[:owner]
        n = _known_prefix(rest, from_end=True) or 1  # "The Times' Paris bureau"
        before = rest[-n - 1] if len(rest) > n else None
        correspondent = _is_correspondent_noun(items[office])  # "Smith's Ankara correspondent": no sure outlet
        return _Candidate(tuple(rest[-n:]), before, items[office], not correspondent, correspondent)
    rest = items[:j]
    if not rest or _lower_word(rest[-1]) is not None:
        return None
    n = _known_prefix(rest, from_end=True)
    if not n:
        n = 1
        while n < min(len(rest), MAX_NAME_WORDS) and _is_tail(rest[-n]):
            n += 1
    before = rest[-n - 1] if len(rest) > n else None
    after = items[j] if j < len(items) else None
    noun = _vouches(before) or _vouches(after, latin_only=True)
    loose = _is_correspondent_noun(before) or _is_correspondent_noun(after, latin_only=True)
    return _Candidate(tuple(rest[-n:]), before, after, noun, loose)


def _is_office_noun(item: Item) -> bool:
    return item.kind == "word" and item.text[:1].islower() and _has_stem(_lower(item.text), OFFICE_NOUNS)


_GENITIVE_ENDINGS = frozenset({"ın", "in", "un", "ün", "nın", "nin", "nun", "nün"})
MAX_PLACE_WORDS = 2
"""Capitalised words read as the place of a correspondent or bureau ("Şimal-Qərb", "Nyu York")."""


def _office_owner(items: Sequence[Item], office: int) -> int | None:
    """Where the outlet's name ends when ``items[office]``, a correspondent's or a bureau's noun, has a place before
    it and the outlet's name before that in the genitive: "Report-un Ankara müxbiri xəbər verir", "APA-nın Tbilisi
    müxbirinin verdiyi məlumata görə", "APA-nın Qərb bürosu", "Report's Ankara correspondent reports". Read as a
    name of its own, the place was taken for the outlet, or (two capitalised words) the two for a person's name,
    and the outlet was missed. None when the words are not so (no genitive before the place: "Bakı müxbiri")."""
    for places in range(1, MAX_PLACE_WORDS + 1):
        start = office - places
        if start < 1:
            return None
        place = items[start]
        if place.kind != "word" or not place.text[:1].isupper() or _bare(place)[1] or _is_genitive(place):
            return None
        if _is_genitive(items[start - 1]):
            return start
    return None


def _is_genitive(item: Item) -> bool:
    """A name in the genitive written so: Azerbaijani's after a hyphen or apostrophe ("APA-nın", "Report'un") or
    glued to a known outlet's name ("Reportun"), English "'s"."""
    text = item.text
    if item.kind != "word":
        return False
    if text.endswith(("'s", "’s", *_POSSESSIVE_APOSTROPHES)) or (
        _bare(item)[1] and _case_ending(text) in _GENITIVE_ENDINGS
    ):
        return True
    base = _bare(item)[0]
    return base != text and text[len(base) :] in _GENITIVE_ENDINGS


def _evidence(text: str, candidate: _Candidate, anchor: Anchor) -> tuple[str, Evidence]:
    """The name the candidate writes, and how sure it is an outlet's."""
    items = candidate.items
    first = items[0]
    parts = [_bare(i) for i in items]
    name = " ".join(p[0] for p in parts).strip()
    if len(parts) > 1:
        name = _known_base(name)  # "Sputnik Azərbaycanın müxbiri": "Sputnik Azərbaycan"
    letters = [c for c in name if c.isalpha()]
    if len(letters) < 2:
        return name, Evidence.NONE
    if anchor.dative and parts[-1][1] and _case_ending(items[-1].text) not in _AZ_DATIVE_ENDINGS:
        return name, Evidence.NONE  # "COP29-da danışan": where one spoke, not to whom
    if _STATE_DOMAIN.search(fold_lookalikes(name)):
        return name, Evidence.NONE  # "Источник: https://mod.gov.az/...": a ministry's own site
    if first.kind == "url" or _is_domain(name) or _known_key(name) in _known_outlets():
        return name, Evidence.SURE
    before = candidate.before
    if before is not None and _lower(before.text) in ARTICLES and _known_key(f"the {name}") in _known_outlets():
        return name, Evidence.SURE  # "according to the Guardian": "The Guardian"
    if _is_stopped(name) or not (name[:1].isupper() or name[:1].isdigit()):
        return name, Evidence.NONE
    if len(items) == 1 and _lower(name) in PLACES:
        return name, Evidence.NONE  # "Как сообщает Анкара": a government, not an outlet
    after = candidate.after
    # A sure outlet, judged above, may stand after "в" ("В Haqqin.az отмечали": at Haqqin.az they noted), as after
    # the anchor "отмечали в"; another name there is a place or an institution.
    if anchor.side is Side.BEFORE and before is not None and _lower(before.text) in PREPOSITIONS:
        return name, Evidence.NONE  # "В «Карабахе» сообщили": a place, not who reports
    if _is_non_outlet_noun(before) or _is_non_outlet_noun(after):
        return name, Evidence.NONE  # "клуб «Карабах» сообщает", "“Qarabağ” klubu xəbər verir"
    if len(items) == 1 and any(
        a is not None and b is not None and _looks_like_person(a, b) for a, b in ((before, first), (first, after))
    ):
        return name, Evidence.NONE  # "Об этом сообщил Заур Мамедов"
    if candidate.outlet_noun:
        return name, Evidence.SURE
    if len(items) == 1 and first.kind == "word" and (spelt := _cyrillic_spelling(name)) is not None:
        return spelt, Evidence.LIKELY  # "Как ранее сообщал Хаггин": no surname
    if first.kind == "quoted":
        return name, Evidence.LIKELY if anchor.quoted_ok and _looks_like_title(name) else Evidence.NONE
    if len(items) > 1 or all(c.isupper() for c in letters):
        return name, Evidence.LIKELY  # "Baku TV", "APA", "АПА"
    word = _lower(name)
    if _SURNAME.search(word) or _ADJECTIVE.search(word):
        return name, Evidence.NONE  # "сообщил Hajiyev", "передает Казахстанский отчет"
    if _owns_the_correspondent(candidate.before, word):
        return name[:-1], Evidence.LIKELY  # "сообщил корреспондент Казинформа": "Казинформ"
    if (
        anchor.language == "az"
        and not parts[-1][1]
        and (_AZ_GLUED_GENITIVE.search(word) or (anchor.dative and word[-1] in "aə"))
    ):
        return name, Evidence.NONE  # "Ukraynanın məlumatına görə", "Ermənistana istinadən": a country, a person
    latin = _is_latin(name)
    if latin and (parts[-1][1] or anchor.language == "ru"):
        return name, Evidence.LIKELY  # "Trend-ə istinadən", "сообщил Report"
    if _sentence_initial(text, first.start):
        return name, Evidence.NONE  # "Nazirlik xəbər verir": any word is capitalised there
    if anchor.animate_accusative and not latin and word[-1] in "ая":
        return name, Evidence.NONE  # "со ссылкой на Эрдогана": an outlet would stand in the nominative
    if anchor.verb and anchor.language == "ru" and not latin and _RU_DATIVE.search(word):
        return name, Evidence.NONE  # ", передает Армении карты": whom the verb addresses, not who reports
    return name, Evidence.PLAIN


_RU_CORRESPONDENT_NOT_GENITIVE = re.compile(r"(?:корреспондент|собкор|спецкор)(?:у|ом|е|ы)?")
"""A Russian correspondent's noun in a case other than the genitive: the nominative, dative, instrumental and
prepositional of one, the nominative of several."""
_RU_MASCULINE_GENITIVE = re.compile(r"[а-яё]{3,}а")


def _owns_the_correspondent(noun: Item | None, word: str) -> bool:
    """Whether ``word`` (a casefolded Cyrillic name with no surname's or adjective's ending) is the genitive of the
    outlet that owns the correspondent ``noun`` before it: "сообщил корреспондент Казинформа", "рассказал он
    корреспонденту Казинформа". A name in apposition to the noun, the correspondent's own, agrees with it in case
    ("корреспондент Смит", "корреспонденту Смиту"): after any case of the noun but the genitive, a name in the
    masculine genitive "-а" (whose nominative is the name without it) is whose correspondent it is, and that is an
    outlet's: a person's correspondent reads "корреспондент Иванова", which ``_SURNAME`` refuses, and a city's is
    refused by name (``PLACES``; a country's is not, which Russian copy hardly writes so). The "-я" and feminine
    "-ы" / "-и" genitives are left out: the nominative they come from cannot be told ("-ь", "-й" or "-я"; "-а" or a
    stem's change)."""
    return (
        noun is not None
        and noun.kind == "word"
        and _RU_CORRESPONDENT_NOT_GENITIVE.fullmatch(noun.text) is not None
        and _RU_MASCULINE_GENITIVE.fullmatch(word) is not None
        and word[:-1] not in PLACES
    )


_INLINE = " \t\u00a0"
_WORD_END = frozenset(',;!?»)"')
"""Characters that end a word token for sure (a "." or ":" may continue it as a domain or a URL)."""


_LONGEST_WORD = 40
_LETTER_RUN = re.compile(rf"[^\W\d_]{{1,{_LONGEST_WORD + 1}}}")
"""Letters and the few other characters that are word characters but neither digits nor "_" ("²", "½")."""


def _letters(text: str, at: int = 0) -> int:
    """How many letters (``str.isalpha``) follow each other from ``at``, counted up to one more than
    ``_LONGEST_WORD``: a regex for the run, and a walk only when it holds a non-letter like "²"."""
    run = _LETTER_RUN.match(text, at)
    if run is None:
        return 0
    if run.group().isalpha():
        return run.end() - at
    end = at
    while end < run.end() and text[end].isalpha():
        end += 1
    return end - at


def _common_word_beside(text: str, pos: int, side: Side) -> bool:
    """Whether the token beside an anchor is a plain lower-case word of a non-Latin script that is no outlet noun
    ("аналитики сообщили, что"): no outlet can be named there, and most anchors stand there, so the window need not
    be tokenised. Exact: it answers yes only for a letters-only word the tokeniser takes whole as the same token
    (whitespace before it, a space or a sure word end after it), on which the candidate rules give None.
    """
    size = len(text)
    if side is Side.BEFORE:
        end = pos
        while end > 0 and text[end - 1] in _INLINE:
            end -= 1
        if not 1 <= pos - end <= 20:
            return False
        start = end - _letters(text[max(0, end - _LONGEST_WORD - 1) : end][::-1])
        if start > 0 and not text[start - 1].isspace():
            return False
    else:
        start = pos
        while start < size and text[start] in _INLINE:
            start += 1
        end = start + _letters(text, start)
        if end < size and not (text[end].isspace() or text[end] in _WORD_END):
            return False
    word = text[start:end]
    if not word or len(word) > _LONGEST_WORD or not word[0].islower() or _is_latin(word):
        return False
    return not (
        side is Side.AFTER
        and (
            word in ARTICLES
            or word in ADVERBIAL_PREPOSITIONS
            or _is_outlet_noun(Item("word", word, start))
            or _is_bureau(Item("word", word, start))
            or _ADJECTIVE.search(word) is not None
        )
    )  # an adjective may stand before an outlet noun ("сообщает турецкое агентство Anadolu") or a name ("британская
    # The Times"), a bureau before the outlet ("бюро Report"), a place ("Как сообщает из Анкары корреспондент Report")


def _from_anchor(text: str, anchor: Anchor, match: re.Match[str], *, shortcut: bool = True) -> list[tuple[int, str]]:
    """Where each outlet named beside one anchor starts, and its name: one, or those of a list ("Report и Trend");
    none if no outlet is named there.

    ``shortcut=False`` skips the common-word shortcut (the tests hold both ways equal)."""
    at = match.end() if anchor.side is Side.AFTER else match.start()
    if shortcut and _common_word_beside(text, at, anchor.side):
        return []
    needs = anchor.needs
    tellers: Sequence[Item] = ()
    if anchor.side is Side.AFTER:
        if anchor.verb and _CITING_CLAUSE_BEFORE.search(text, max(0, match.start() - 120), match.start()):
            return []
        items = _items_after(text, match.end())
        candidate = _candidate_after(items)
        if candidate is None and anchor.verb and anchor.language == "ru":
            candidate = _candidate_past_adverbial(text, anchor, items)
            needs = max(needs, Evidence.LIKELY)
    else:
        before = _items_before(text, match.start())
        if anchor.told:
            told = _told_items(before)
            before, tellers = told, before[len(told) :]
        candidate = _candidate_before(before)
    if candidate is None:
        return []
    if candidate.loose:
        needs = max(needs, Evidence.LIKELY)
    name, evidence = _evidence(text, candidate, anchor)
    if evidence < needs and not (anchor.told and evidence >= Evidence.LIKELY and _told_by_body(tellers, match)):
        return []
    if anchor.side is Side.AFTER:
        listed = _listed_after(text, anchor, candidate, shortcut=shortcut)
    else:
        listed = _listed_before(text, anchor, candidate)
    return [(candidate.items[0].start, name), *listed]


MAX_TELLER_WORDS = 4
"""Words of a teller's name before its last, in the ablative ("Daxili İşlər Nazirliyinin mətbuat xidmətindən")."""


def _told_items(items: list[Item]) -> list[Item]:
    """The words before a teller's name ("Bu barədə Report-a Daxili İşlər Nazirliyindən bildirilib") up to the name
    it told, in the dative: the nearest one written with a dative ending after a hyphen or apostrophe ("Report-a"),
    or glued to a known outlet's name ("Azərtaca"), past up to ``MAX_TELLER_WORDS`` Latin words of the teller's name;
    none when there is no such name (a native noun glues its dative: "Nazirliyə DİN-dən bildirilib")."""
    for k in range(len(items) - 1, max(-1, len(items) - 2 - MAX_TELLER_WORDS), -1):
        item = items[k]
        if item.kind != "word":
            break
        base, cut = _bare(item)
        ending = _case_ending(item.text) if cut else item.text[len(base) :] if base != item.text else ""
        if ending in _AZ_DATIVE_ENDINGS:
            return items[: k + 1]
        if not _is_latin(item.text):
            break
    return []


TELLER_BODY_STEMS = ("hakimiyyət", "administrasiya", "aparat", "komissiya", "şöbə", "mərkəz", "məhkəmə", "qərargah",
                     "departament", "bələdiyyə", "təşkilat", "palata", "şura")  # fmt: skip
"""Stems of the Azerbaijani nouns of public bodies that ``STOP_STEMS`` leaves out ("nazirli", "xidmət", "komitə",
"idarə" are there): "Bakı Şəhər İcra Hakimiyyətindən", "Mərkəzi Seçki Komissiyasından", "Prezident Aparatından"."""


def _told_by_body(tellers: Sequence[Item], match: re.Match[str]) -> bool:
    """Whether the teller of "X-a Y-dən bildirilib" is a public body, an institution or a source: one of its words
    (``tellers``, and its last, in the ablative, that begins ``match``) is stopped as such ("Nazirlikdən",
    "DİN-dən", "mətbuat xidmətindən", "mənbədən") or a body's noun (``TELLER_BODY_STEMS``).

    The news an outlet was told so is its own, from the bodies that brief the press: there a name in the dative
    shaped like an outlet's ("Publika-ya", "Azpolitika-ya", with its ending after a hyphen or apostrophe) is the
    outlet, known or not. A person told something is told by anyone ("Trump-a Ağ Evdən bildirilib"), and the
    name's shape cannot tell the two apart: with another teller, only a sure outlet counts."""
    last = match.group().split(None, 1)[0]
    words = [*(_bare(item)[0] for item in tellers), _bare_text("word", last)[0]]
    return any(_is_stopped(word) or _lower(word).startswith(TELLER_BODY_STEMS) for word in words)


ADVERBIAL_PREPOSITIONS = frozenset({"из", "в", "во", "с", "со", "на"})
ADVERBIAL_WORDS = frozenset(
    {"своем", "своём", "своей", "своих", "собственном", "официальном", "последнем", "новом", "новой", "места",
     "месте", "событий", "эфире", "статье", "материале", "публикации", "репортаже", "сюжете", "заметке", "колонке",
     "понедельник", "вторник", "среду", "четверг", "пятницу", "субботу", "воскресенье"}
)  # fmt: skip
"""The lower-case words of a phrase between a Russian reporting verb and the outlet ("Как сообщает с места событий
Baku TV", "Как пишет в своей статье The Economist", "Как сообщает в пятницу Reuters"): beside them, only
capitalised words (a place) and outlet nouns. Not any word: "..., передает в собственность компании Azersun" hands
something over."""
MAX_ADVERBIAL_WORDS = 3


def _candidate_past_adverbial(text: str, anchor: Anchor, items: list[Item]) -> _Candidate | None:
    """The name after a phrase of place or means between a Russian reporting verb and the outlet: "Как сообщает из
    Анкары корреспондент Report", "Как передает из Шуши Baku TV", "Как сообщает с места событий Baku TV". The words
    of the phrase are a preposition and up to ``MAX_ADVERBIAL_WORDS`` capitalised words (a place), outlet nouns or
    ``ADVERBIAL_WORDS``; the name after it is the first one there that looks like an outlet's (``Evidence.LIKELY``,
    however plain a name the anchor takes): with the phrase passed over, the outlet is no longer beside the verb, and
    a person stands there as well ("Как сообщает в Анкаре Эрдоган"), or the second word of a place ("из Нью Йорка
    собкор ТАСС")."""
    if not items or items[0].kind != "word" or items[0].text not in ADVERBIAL_PREPOSITIONS:
        return None
    for k in range(1, min(len(items) - 1, MAX_ADVERBIAL_WORDS + 1)):
        word = items[k]
        if word.kind != "word" or not (
            word.text[:1].isupper() or _lower(word.text) in ADVERBIAL_WORDS or _is_outlet_noun(word)
        ):
            return None
        candidate = _candidate_after(items[k + 1 :])
        if candidate is not None and _evidence(text, candidate, anchor)[1] >= max(anchor.needs, Evidence.LIKELY):
            return candidate
    return None


# A list of outlets: "Report и Trend", "Reuters, AFP и Bloomberg", "Reuters, AFP, and Bloomberg", "Report və APA".
# A conjunction or a comma, each between spaces (a comma with none before it): "и" in "из" or "Report,Trend" is none.
_LIST_NEXT = re.compile(r",?[ \t\u00a0]{1,3}(?P<conj>и|and|və)[ \t\u00a0]{1,3}|(?P<comma>,)[ \t\u00a0]{1,3}")
_LIST_PREVIOUS = re.compile(r"(?:,?[ \t\u00a0]{1,3}(?P<conj>и|and|və)|(?P<comma>,))[ \t\u00a0]{1,3}\Z")
_LIST_GAP = 12
"""More than the longest separator the patterns above allow (", and" between up to three spaces each side)."""
_LIST_ENDS = frozenset(",иdə")
"""The last characters of the separators: a comma, "и", "and", "və"."""
MAX_LISTED = 4
"""Outlets read in a list after the one beside the anchor ("Reuters, AFP, Bloomberg и ТАСС")."""


def _list_needs(anchor: Anchor, conjunction: bool) -> Evidence:
    """The evidence a name further along a list needs: after a conjunction, at least a name that looks like an
    outlet ("Как сообщает Report и министр Иванов" names a person next, however plain a name the anchor takes);
    after a comma, a sure outlet, as a comma ends a clause as often as it lists names ("Как сообщает Report, ADB и
    AIIB выделят кредит": the banks are the next clause's subject)."""
    return max(anchor.needs, Evidence.LIKELY) if conjunction else Evidence.SURE


def _item_end(item: Item) -> int:
    return item.start + len(item.text)


def _listed_after(text: str, anchor: Anchor, first: _Candidate, *, shortcut: bool = True) -> list[tuple[int, str]]:
    """The outlets listed after the first one an anchor names ("Как сообщают Reuters, AFP и Bloomberg"): names
    after commas count only once a conjunction closes the list ("Reuters, AFP" alone is no list), and the list ends
    at the name after the conjunction or at the first name that is not an outlet's. The comma after "Как сообщает
    Report" is mostly the clause's: a common word after it is passed over untokenised, as beside an anchor."""
    listed: list[tuple[int, str]] = []
    pending: list[tuple[int, str]] = []
    end = _item_end(first.items[-1])
    for _ in range(MAX_LISTED):
        separator = _LIST_NEXT.match(text, end, min(len(text), end + _LIST_GAP))
        if separator is None:
            break
        conjunction = separator.group("conj") is not None
        if conjunction:
            listed += pending  # "Reuters, AFP и ...": a list after all
            pending = []
        if shortcut and _common_word_beside(text, separator.end(), Side.AFTER):
            break
        candidate = _candidate_after(_items_after(text, separator.end()))
        if candidate is None:
            break
        name, evidence = _evidence(text, candidate, anchor)
        if evidence < _list_needs(anchor, conjunction):
            break
        (listed if conjunction else pending).append((candidate.items[0].start, name))
        if conjunction:
            break
        end = _item_end(candidate.items[-1])
    return listed


def _listed_before(text: str, anchor: Anchor, last: _Candidate) -> list[tuple[int, str]]:
    """The outlets listed before the one beside an anchor ("Reuters, AFP и Bloomberg сообщают"), read backwards:
    a conjunction first (nearest the anchor), then only commas; the list ends at the first name that is not an
    outlet's. Only a space after a comma or a conjunction's last letter starts a search for a separator."""
    listed: list[tuple[int, str]] = []
    start = _list_member_start(last)
    for i in range(MAX_LISTED):
        space = start
        while space > 0 and start - space < 3 and text[space - 1] in _INLINE:
            space -= 1
        if space == start or space == 0 or text[space - 1] not in _LIST_ENDS:
            break
        separator = _LIST_PREVIOUS.search(text, max(0, start - _LIST_GAP), start)
        if separator is None:
            break
        conjunction = separator.group("conj") is not None
        if conjunction != (i == 0):
            break  # "Reuters, AFP сообщают" is no list; nor is "Report и Trend и APA"
        candidate = _candidate_before(_items_before(text, separator.start()))
        if candidate is None:
            break
        name, evidence = _evidence(text, candidate, anchor)
        if evidence < _list_needs(anchor, conjunction):
            break
        listed.append((candidate.items[0].start, name))
        start = _list_member_start(candidate)
    return listed


def _list_member_start(candidate: _Candidate) -> int:
    """Where a name in a list starts with its article ("Reuters, AFP and the BBC reported")."""
    before = candidate.before
    if before is not None and _lower(before.text) in ARTICLES:
        return before.start
    return candidate.items[0].start


_SHARED_PREFIX = 4
"""Stems that begin alike ("сообща", "сообщил", "сообщени") are looked for through their common beginning, once."""


@lru_cache(maxsize=16)
def _stem_groups(stems: frozenset[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``stems`` as (common beginning, the stems that begin with it), each stem in one group: a group's beginning
    is at least ``_SHARED_PREFIX`` letters long, or a lone stem."""
    groups: list[tuple[str, list[str]]] = []
    for stem in sorted(stems):
        if groups:
            prefix, members = groups[-1]
            common = next((i for i, (a, b) in enumerate(zip(prefix, stem, strict=False)) if a != b), len(prefix))
            if common >= _SHARED_PREFIX:
                groups[-1] = (prefix[:common], [*members, stem])
                continue
        groups.append((stem, [stem]))
    return tuple((prefix, tuple(members)) for prefix, members in groups)


def _stem_positions(lowered: str, stems: frozenset[str]) -> dict[str, list[int]]:
    """Where each stem starts in ``lowered`` (every occurrence, overlapping ones too), by stem."""
    positions: dict[str, list[int]] = {}
    find, startswith = lowered.find, lowered.startswith
    for prefix, members in _stem_groups(stems):
        at = find(prefix)
        if len(members) == 1:
            found = positions[prefix] = []
            while at != -1:
                found.append(at)
                at = find(prefix, at + 1)
            continue
        for stem in members:
            positions[stem] = []
        while at != -1:
            for stem in members:
                if startswith(stem, at):
                    positions[stem].append(at)
            at = find(prefix, at + 1)
    return positions


def _anchor_matches(anchor: Anchor, text: str, positions: dict[str, list[int]]) -> list[re.Match[str]]:
    """The anchor's matches, looked for only around its trigger stems (``positions``, from ``_stem_positions``): a
    scan of the whole text with a Unicode regex that starts with a word boundary costs ~100 us per pattern on a
    3 KB body; ``str.find`` a fraction.

    A stem inside a word ("писал" in "подписал") is passed over: every trigger stem begins a word in its pattern (a
    word boundary before it, where the regex module finds a letter, digit or "_" on one side only), so no match
    holds it there. A pattern that begins with its stem (``lead`` 0) is tried at the stem alone; another is searched
    for from ``lead`` characters before it. The tests hold every match of every pattern found these ways."""
    found: dict[int, re.Match[str]] = {}
    size = len(text)
    search, match_at, lead = anchor.pattern.search, anchor.pattern.match, anchor.lead
    for stem in anchor.triggers:
        reach = len(stem) + _TAIL
        for at in positions[stem]:
            if at and (text[at - 1].isalnum() or text[at - 1] == "_"):
                continue  # inside a word
            end = min(size, at + reach)
            if not lead:
                match = match_at(text, at, end)
            else:
                match = search(text, at - lead if at > lead else 0, end)
                while match is not None and match.end() <= at:
                    match = search(text, match.end(), end)  # an earlier stem's match: look on for this stem's
            if match is not None:
                found.setdefault(match.start(), match)
    return [found[start] for start in sorted(found)] if len(found) > 1 else list(found.values())


_CYRILLIC_LOWER = bytes(b + 0x20 if 0x10 <= b < 0x30 else b for b in range(256))
"""On UTF-16-LE bytes: "А".."Я" (U+0410..U+042F) to "а".."я" (U+0430..U+044F), and other characters to ones that
are none of "а".."я"."""


@lru_cache(maxsize=8)
def _cyrillic_only(stems: frozenset[str]) -> bool:
    return all("\u0430" <= c <= "\u044f" for stem in stems for c in stem)


def _folded_cyrillic(text: str) -> str | None:
    """A string as long as ``text`` that holds a stem of letters "а".."я" exactly where ``text.lower()`` (with "İ"
    as "i") holds it; None for a text it cannot fold (a combining dot above, characters beyond the BMP).

    For the stems of Russian phrases, and cheaper than ``str.lower``, which looks up every character's case. Exact:
    of all characters only "А".."Я" lower to "а".."я", and only "İ" lowers to more than one character (the tests scan
    every code point for both), so without a combining dot ``text.lower()`` keeps every position; and on UTF-16-LE
    bytes the translation gives a high byte 0x04 only to characters that had it, and a low byte 0x30..0x4F to those
    with 0x10..0x4F: a character comes out as "а".."я" if and only if it was that letter or its capital.
    """
    if "\u0307" in text:
        return None
    encoded = text.encode("utf-16-le", "surrogatepass")
    if len(encoded) != 2 * len(text):
        return None
    folded = encoded.translate(_CYRILLIC_LOWER).decode("utf-16-le", "surrogatepass")
    return folded if len(folded) == len(text) else None


@lru_cache(maxsize=8)
def _triggers(language: str) -> frozenset[str]:
    """The trigger stems of the anchors ``find_citations`` tries for ``language`` (all of them for another one)."""
    return frozenset(
        stem for a in ANCHORS if language not in LANGUAGES or a.language == language for stem in a.triggers
    )


LANGUAGE_SAMPLE = 400
"""Characters at the start of a body that ``body_language`` reads: some 300 letters of prose, as many as say its
script for sure, in a microsecond or two whatever the body's length."""
LANGUAGE_LETTERS = 200
"""Letters below which a body says nothing of its language (as ``GenericArticle.MIN_LANGUAGE_LETTERS``): a short
body in another script than its page's may be a quotation."""


def body_language(text: str) -> str | None:
    """The language of ``LANGUAGES`` the beginning of a body is written in, by its letters: ``ru`` for Cyrillic,
    ``az`` for Latin with Azerbaijani letters (ə, ı, ğ), ``en`` for Latin without; None for a body too short or of
    no clear script (four fifths of its letters in one, the generic spider's rule).

    A page's edition (its URL, its ``lang``) is not always the language its body is written in: a Russian body under
    /en/, an English statement on an Azerbaijani page. ``find_citations`` reads only the phrases of the language it
    is given, so it is given this one (``aggregator.text.written_language`` of its first ``LANGUAGE_SAMPLE``
    characters)."""
    return written_language(text[:LANGUAGE_SAMPLE], LANGUAGE_LETTERS)


TEXT_LIMIT = 50_000
"""Characters of an article's text searched for citations: a news item names its sources in its first paragraphs
(and its last), far inside this. A page of a megabyte of "Как сообщает Report, " held a crawl up for seconds a page
(7 s of CPU a megabyte), and a listing of such pages for its whole time limit; 50,000 characters cost 0.16 s at worst
(measured on that page), and no real article comes near them."""


def find_citations(text: str, language: str | None = None) -> list[str]:
    """The outlets ``text`` names as reporting or as the origin of the news, in order of appearance, each once.

    ``language`` ("ru", "az", "en") narrows the phrases tried to that language's; None (or a language this module
    has no phrases for) tries all of them. Only the first ``TEXT_LIMIT`` characters are read.
    """
    if not text:
        return []
    text = text[:TEXT_LIMIT]
    lang = (language or "").split("-", 1)[0].casefold()
    anchors = [a for a in ANCHORS if a.language == lang] if lang in LANGUAGES else ANCHORS
    found: list[tuple[int, str]] = []
    stems = _triggers(lang)
    lowered = _folded_cyrillic(text) if _cyrillic_only(stems) else None
    if lowered is None:
        lowered = text.lower().replace("i\u0307", "i")  # "İ".lower() is "i" + a combining dot
    aligned = len(lowered) == len(text)
    positions = _stem_positions(lowered, stems) if aligned else {}
    for anchor in anchors:
        matches = _anchor_matches(anchor, text, positions) if aligned else anchor.pattern.finditer(text)
        for match in matches:
            found += _from_anchor(text, anchor, match)
    outlets: list[str] = []
    seen: set[str] = set()
    for _, name in sorted(found, key=lambda hit: hit[0]):
        key = _known_key(name)
        if key not in seen:
            seen.add(key)
            outlets.append(name)
    return outlets
