"""Cleanup: the source's body HTML -> safe, clean HTML and plain text, ready to re-publish.

Drops the furniture the source's registry entry lists (signatures, view counters, banners), keeps a subheading a
heading whatever its level (an ``<h1>`` as ``<h2>``, an ``<h5>`` or ``<h6>`` as ``<h4>``: ``HEADING_LEVELS``), makes
paragraphs of the text outside any (a body typed as text and ``<br>``, or as ``<div>``s), drops the paragraphs and
lines every site repeats (copyright and "use only with a hyperlink" notices, "subscribe to our Telegram", "read
also", view counters, share prompts, in Russian, Azerbaijani and English; the source's bare signature; a
related-news or read-also heading with the list of links under it; the title pasted above the text, the lead printed
twice), gives lazy images their real address, makes links absolute, puts a link to the video where an embedded
player (``<iframe>``) was, and to the post where a Telegram, Instagram, X, Facebook or TikTok post was embedded
(keeping the words the post says as a quote, not the network's own), sanitises to an allow-list with nh3 (links may
be http(s), ``mailto:`` or ``tel:``), makes runs of no-break spaces one space, keeps only an http(s) cover, and
normalises the canonical URL. A body that is empty once the furniture is gone (or holds nothing but a player's or a
post's link) is refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, Self
from urllib.parse import SplitResult, parse_qs, urlsplit

import nh3
from scrapy.crawler import Crawler
from selectolax.lexbor import LexborHTMLParser, LexborNode

from aggregator.html import (
    IMAGE_SRC_ATTRIBUTES,
    LAZY_SRC_ATTRIBUTES,
    LAZY_SRCSET_ATTRIBUTE,
    css,
    css_first,
    first_candidate,
    http_url,
)
from aggregator.items import ArticleItem
from aggregator.markup import parse_html
from aggregator.sources import Source, get_source
from aggregator.text import name_key, without_controls
from aggregator.urls import absolute, canonical_url
from pipelines.base import Pipeline

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "h2", "h3", "h4", "strong", "em", "b", "i", "u", "blockquote", "ul", "ol", "li", "a", "img",
        "figure", "figcaption", "table", "thead", "tbody", "tr", "th", "td", "caption", "sup", "sub",
    }
)  # fmt: skip
"""``sup`` and ``sub`` carry meaning ("м<sup>2</sup>" is not "м2", "CO<sub>2</sub>"), and keep no attribute."""
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {"a": frozenset({"href"}), "img": frozenset({"src", "alt"})}
"""No attribute on any other element: not even the ``lang`` and ``title`` the sanitiser's own defaults allow on every
element (``"*"`` is given empty for that)."""
_COUNTS = frozenset(str(number) for number in range(1001))
ALLOWED_ATTRIBUTE_VALUES: dict[str, dict[str, frozenset[str]]] = {
    "td": {"colspan": _COUNTS, "rowspan": _COUNTS},
    "th": {"colspan": _COUNTS, "rowspan": _COUNTS},
    "ol": {"start": _COUNTS},
}
"""Attributes kept only with these values (plain numbers): a cell's spans, without which every cell after a merged
one is shown under the wrong column (a header over two columns, a row label over three rows), and an ordered list's
first number (a list continued after a paragraph counts on from 4, not again from 1)."""
URL_SCHEMES = frozenset({"http", "https"})
LINK_SCHEMES = frozenset({*URL_SCHEMES, "mailto", "tel"})
"""The schemes a link may keep (an image, a cover and a player's address stay http(s): ``URL_SCHEMES``). A body's
"пишите нам на <a href="mailto:...">наш адрес</a>", "звоните по <a href="tel:...">горячей линии</a>" names the
contact only in its link: with the address stripped the words still promise one and the reader has none. An e-mail
or a telephone link runs nothing in a browser (it opens the reader's own mail or phone application, and only on a
click), the address is as public as the source's page that printed it, and the sanitiser's own defaults allow both;
a ``javascript:`` or ``data:`` one is still stripped."""
LINK_REL = "nofollow noopener"
ALWAYS_DROPPED = ("script", "style", "noscript", "object", "embed", "form", "button", "input", "svg", "math",
                  "template", *(f"ins[{marker}]" for marker in ("class", "id", "style", "data-ad-client",
                                                               "data-ad-slot", "data-revive-zoneid")))  # fmt: skip
"""With their content. An ``<ins>`` marked as an advertisement's slot (AdSense's ``<ins class="adsbygoogle">``,
Revive's ``<ins data-revive-zoneid>``) goes with what it holds; any other is an editor's insertion ("<ins>Обновлено:
...</ins>"), text of the article, which the sanitiser unwraps (dropped with its text, the words left a gap)."""
EMBEDS = "iframe"
"""Frames: never kept; a known video player's made a link to what it plays, a social network's post's a link to the
post (``_link_embed``), any other dropped."""
YOUTUBE_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "youtube-nocookie.com",
                           "www.youtube-nocookie.com"})  # fmt: skip
VIDEO_PLAYERS: dict[str, str] = {
    **dict.fromkeys(YOUTUBE_HOSTS, "/embed/"), "player.vimeo.com": "/video/", "www.dailymotion.com": "/embed/",
    "geo.dailymotion.com": "/player", "rutube.ru": "/play/embed/", "vk.com": "/video_ext.php",
    "vkvideo.ru": "/video_ext.php", "ok.ru": "/videoembed/", "player.twitch.tv": "/",
}  # fmt: skip
"""The video players whose frames are made links: host -> the path their player pages start with. A frame of any
other address (an advertisement, a "like" box, a poll, a subscription form) is furniture: a link to it in the body
would read as part of the article. The social networks' frames (a post, a reel, a Facebook video) are
``_social_frame``'s: their link is the post's own address, not the frame's."""
_INSTAGRAM_HOSTS = frozenset({"instagram.com", "www.instagram.com"})
_INSTAGRAM_POST = re.compile(r"(?:/[A-Za-z0-9_.]{1,30})?/(p|reel|tv)/([A-Za-z0-9_-]{5,64})(/.*)?")
"""An Instagram post's address (``/p/<code>/``, a reel's ``/reel/<code>/``, an old video's ``/tv/<code>/``; a
newer permalink names its account first), and what follows the code (``_INSTAGRAM_TAIL``)."""
_INSTAGRAM_TAIL = re.compile(r"(?:/embed(?:/captioned)?)?/?")
"""What may follow a post's code: nothing, a slash, or a frame's ``/embed/`` or ``/embed/captioned/``."""
_X_HOSTS = frozenset({"twitter.com", "www.twitter.com", "mobile.twitter.com", "x.com", "www.x.com", "mobile.x.com"})
_X_POST = re.compile(r"/(i/web|[A-Za-z0-9_]{1,15})/status(?:es)?/([0-9]{1,20})(?:/.*)?")
"""A post's address on X (Twitter): the account's name (1 to 15 letters, digits and underscores; ``i/web`` for no
account) and the post's number; a photo's ``/photo/1`` may follow."""
_X_FRAME_HOSTS = frozenset({"platform.twitter.com", "platform.x.com"})
_POST_NUMBER = re.compile(r"[0-9]{1,20}")
"""A post's number as X and TikTok give it alone (a frame's ``id``, an embed's ``data-video-id``)."""
_FACEBOOK_FRAMES = frozenset({"/plugins/post.php", "/plugins/video.php"})
"""The frames of a Facebook post and of a Facebook video; the others (``page.php``, a page's "like" box; the
comments, the "like" button) are furniture."""
_TIKTOK_HOSTS = frozenset({"tiktok.com", "www.tiktok.com", "m.tiktok.com"})
_TIKTOK_POST = re.compile(r"/@([A-Za-z0-9_.]{1,64})/(video|photo)/([0-9]{1,20})/?")
_TIKTOK_FRAME = re.compile(r"/(?:embed/v2|embed|player/v1)/([0-9]{1,20})/?")
SOCIAL_EMBEDS = ".instagram-media,.twitter-tweet,.twitter-video,.tiktok-embed,.fb-post,.fb-video"
"""The embed codes the networks give as markup, a script after each to render it (``_link_social_posts``): a
``<blockquote>`` of these classes (Facebook's a ``<div>``). Queried on every body, by class alone (the element is
told in Python): 2.4 us on a 4 KB body, 4.7 us on a 24 KB one, about 1% of the cleanup's time and less than looking
for the five class names in the markup first (5 us and 31 us: each substring scan of a Cyrillic body costs ~1 us
per 4 KB, the query grows with the elements, not the characters)."""
_SOCIAL_TAGS = {
    "instagram-media": "blockquote", "twitter-tweet": "blockquote", "twitter-video": "blockquote",
    "tiktok-embed": "blockquote", "fb-post": "div", "fb-video": "div",
}  # fmt: skip
"""Each embed's class and the element the network gives it as. Another element of the class is no embed code: X's
script leaves a ``<div class="twitter-tweet">`` around the frame it renders (the frame is ``_link_embed``'s)."""
TELEGRAM_POST = "script[data-telegram-post]"
"""A Telegram post's widget, as Telegram gives its embed code: a script naming the post (``channel/123``)."""
_TELEGRAM_POST = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}/[0-9]{1,12}")
"""A public channel's name (5 to 32 letters, digits and underscores, a letter first; 4 for a few old ones) and the
post's number: nothing else is put in the link's address."""
_YOUTUBE_EMBED_PATH = re.compile(r"/embed/([A-Za-z0-9_-]{11})/?")
"""A video's id is 11 of these characters; ``/embed/videoseries`` (also 11) plays a playlist, not a video."""
BLOCKS = ("p", "h2", "h3", "h4", "li", "blockquote", "figcaption", "td", "th")
HEADING_LEVELS = {"h1": "h2", "h5": "h4", "h6": "h4"}
"""The headings of a body the copy shows at another level (``_rename_headings``, before anything is judged): the
sanitiser unwrapped them, and a subheading typed as one was a paragraph like any other. An ``<h1>`` is one level
down: the page showing the copy has its own ``<h1>``, the article's title (a body's ``<h1>`` that repeats it is
taken out as an ``<h2>`` is: ``_repeated_top``). An ``<h5>`` or ``<h6>`` is the deepest heading kept, ``<h4>``,
rather than allowed as it is: a browser shows either smaller than the text (0.83 and 0.67 of it; the read site's
style sizes no heading), so the subheading read as a footnote; an editor picks "Heading 5" in a CMS's menu for its
look, not as the fifth level of an outline; and the allow-list, and all the cleanup does with a heading (a pasted
headline, a heading over related links, a no-break space at a block's edge), stays that of ``<h2>`` to ``<h4>``."""
CELLS = frozenset({"td", "th"})
"""Never removed, whatever they hold: an empty cell or one reading "Share" is a cell of the table, and removing it
would shift the row's other cells under the wrong column. What is inside one is cleaned like the rest."""
CONTAINERS = frozenset(
    {
        "div", "section", "article", "main", "header", "footer", "aside", "nav", "center", "address", "details",
        "summary", "dialog", "fieldset", "legend", "hgroup", "menu", "dir", "search", "pre", "listing", "dl",
        "dt", "dd",
    }
)  # fmt: skip
"""Elements shown as blocks that the sanitiser unwraps: the text in one, outside any block of its own, is a
paragraph (``_wrap_loose_text``); a body of ``<div>``s, or of text and ``<br>`` alone, has no ``<p>`` at all."""

# Paragraphs that are the site talking about itself, not the article (matched on short blocks only), each with the
# words every match of it holds: a block holding none of them is no boilerplate, and a few substring tests cost a
# tenth of the regex's scan (an alternation of patterns without a common prefix is tried at every position).
# Each is anchored where the site's own notice is: at the start of the block (or line: ``_without_boilerplate_lines``),
# at its end, or after the sign and year of a copyright line. The same words inside an article's sentence or quote
# ("«Теперь все права защищены законом», — заявил депутат", "призвали подписаться на нашу петицию", "\"We will follow
# our own path,\" the minister said") are the article, and losing article text is worse than keeping a notice.
_PROMPT_START = r"^[^\w«\"“„'‘]*"
"""What may come before a prompt at the start of a block: an arrow, an emoji, a bullet, but no word and no opening
quote (a quoted prompt is someone's words)."""
_NETWORK_NAMES = (
    r"telegram|телеграм|whatsapp|instagram|youtube|facebook|tiktok|twitter|x|vk|вконтакте|threads|дзен[еу]?|dzen"
    r"|соцсет(?:ях|и)|социальных сетях"
)
_READ_ALSO_END = r"[:\-–—>»→]|$"
"""What ends a read-also prompt's words: a colon, a dash or an arrow before its link, or nothing."""
_NOTICE_START = r"(?:^|[.|©\d]\s*)"
"""A rights notice opens the block or follows the name, sign or year before it ("Caliber.az © 2024. Все права ...")."""
_NOTICE_END = r"(?:\.|[\s!]*$)"
"""A rights notice ends its sentence: "Все права защищены." or "Все права защищены" and nothing more."""
_SEVERAL_WORDS = r"^(?:\S+\s+){0,2}"
"""A notice's first words ("Любое ", "При ", "Any "), before the words it is known by."""
_RELATED_HEADINGS = (
    r"(?:новости|материалы|статьи|публикации) по теме|(?:похожие|связанные) (?:новости|материалы|статьи|публикации)"
    r"|другие (?:новости|материалы|статьи)(?: (?:раздела|рубрики|по теме|дня))?"
    r"|(?:digər|oxşar|əlaqəli) xəbərlər|mövzu ilə bağlı(?: (?:digər )?xəbərlər)?"
    r"|related (?:news|articles|stories|posts)|more (?:news|stories) on (?:this|the) (?:topic|subject)"
)
"""What a block of links to other articles is headed by on the sites: in Russian, Azerbaijani and English."""
_RELATED_HINTS = ("по теме", "похожие", "связанные", "другие", "xəbərlər", "mövzu", "related", "more")  # no ı
BOILERPLATE_PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # copyright and "use only with a hyperlink" notices
    # "Любое использование материалов ...", "При использовании материалов ... гиперссылка ... обязательна"
    (
        _SEVERAL_WORDS + r"использовани[еи] (?:наших |любых |всех )?материалов .{0,60}(?:гиперссылк|ссылк)",
        ("материалов",),
    ),
    (_NOTICE_START + r"все права защищены" + _NOTICE_END, ("все права защищены",)),
    (_SEVERAL_WORDS + r"materiallardan istifadə .{0,80}(?:hiperlink|istinad|keçid)", ("materiallardan istifadə",)),
    (_NOTICE_START + r"bütün hüquqlar qorunur" + _NOTICE_END, ("bütün hüquqlar qorunur",)),
    # "Any use of materials ...", "Use of materials is allowed only with a hyperlink ..."
    (_SEVERAL_WORDS + r"use of (?:the |our )?materials? .{0,60}hyperlink", ("use of",)),
    (_NOTICE_START + r"all rights reserved" + _NOTICE_END, ("all rights reserved",)),
    (r"^(?:copyright\s*)?©\s*\d{4}", ("©",)),
    # subscribe prompts: "Подписывайтесь на наш Telegram-канал", "Подпишитесь на нас", "Присоединяйтесь к нашему
    # Telegram-каналу", "Подписывайтесь на <the source> в Telegram" (whatever the name: the registry's, or a new one),
    # "Следите за новостями в нашем Telegram-канале"; not "подписаться на нашу общую петицию"
    (
        _PROMPT_START + r"(?:подпи(?:сывайтесь|сывайся|шитесь|саться)|присоединяйтесь"
        r"|следите за (?:нами|(?:нашими |главными |последними )?новостями))\s+"
        rf"(?:(?:на|к)\s+(?:наш(?:ему|ем|им|и)?|нас)\b|.{{0,60}}?\bв\s+(?:нашем\s+)?(?:{_NETWORK_NAMES})\b)",
        ("подпи", "присоедин", "следите"),
    ),
    # "Читайте нас в Telegram", "Смотрите нас на YouTube", "Читайте Minval.az в Дзене" (us, or a site's name: not
    # "Смотрите видео на YouTube:", which introduces the article's video)
    (
        _PROMPT_START + rf"(?:читайте|смотрите|слушайте)\s+(?:нас|\S+\.\S+)\s+(?:в|на)\s+(?:{_NETWORK_NAMES})\b",
        ("читайте", "смотрите", "слушайте"),
    ),
    # "Больше новостей — в нашем Telegram-канале", "Все новости в Telegram", "Самые важные новости — в нашем
    # Telegram": nothing between the news and where they are (not "Все новости о выборах публикуются в Telegram")
    (
        _PROMPT_START + r"(?:больше|все|главные|самые\s+\w+)\s+новост(?:и|ей)\s*[—–-]?\s*(?:в|на)\s+"
        rf"(?:нашем\s+)?(?:{_NETWORK_NAMES})\b",
        ("новост",),
    ),
    # "Telegram kanalımıza abunə olun", "... səhifəmizə qoşulun": the verb ends the prompt
    (
        r"(?:kanalımıza|səhifəmizə|səhifələrimizə|hesabımıza)\s+(?:abunə\s+ol(?:un)?|qoşulun|daxil\s+olun)\W*$",
        ("kanalımıza", "səhifəmizə", "səhifələrimizə", "hesabımıza"),
    ),
    # "Bizi Telegram kanalımızda izləyin" (follow us on our Telegram channel), "Xəbərləri ... səhifəmizdə izləyin",
    # "Bizi Telegram-da izləyin"
    (r"(?:kanalımızda|səhifəmizdə|səhifələrimizdə|hesabımızda)\s+izləyin\W*$", ("izləyin",)),
    (_PROMPT_START + r"bizi\s.{0,60}?izləyin\W*$", ("izləyin",)),
    (r"abunə ol(?:un)?\W*$", ("abunə ol",)),
    # a subscribe button's word alone: "Подписаться", "Subscribe ›"
    (_PROMPT_START + r"(?:подписаться|подпишитесь|подписывайтесь|subscribe)\W*$", ("подпи", "subscribe")),
    # "Subscribe to our Telegram channel", "Join our Telegram channel", "Follow us on X", "Subscribe to <the source>
    # on Telegram"; not "\"We will follow our own path,\" the minister said"
    (
        _PROMPT_START + r"(?:subscribe to|follow|join)\s+"
        rf"(?:us\b|our\s+(?:{_NETWORK_NAMES}|channel|page|newsletter)\b|.{{1,60}}?\bon\s+(?:{_NETWORK_NAMES})\b)",
        ("subscribe to", "follow", "join"),
    ),
    (_PROMPT_START + rf"(?:read|watch)\s+us\s+on\s+(?:{_NETWORK_NAMES})\b", ("us on",)),
    # read also: "Читайте также:", "Также читайте:", "Читайте также >>", a lone "Читайте также"; not "Смотрите
    # также на таблицу ниже"
    (
        (
            r"^(?:(?:читайте|смотрите)\s+(?:также|еще|ещё|тоже)|также\s+(?:читайте|смотрите))\s*"
            rf"(?:{_READ_ALSO_END})"
        ),
        ("читайте", "смотрите"),
    ),
    (r"^(?:həmçinin|bunu da) oxu(?:yun)?\b", ("oxu",)),
    (r"^oxu\s*:", ("oxu",)),  # "Oxu: <a>another article</a>", the Azerbaijani "Читайте:"
    (r"^читайте\s*:", ("читайте",)),
    (rf"^(?:(?:read|see)\s+(?:also|more)|also\s+read)\s*(?:{_READ_ALSO_END})", ("read", "see")),
    (r"^(?:ещё|еще) по теме\b", ("по теме",)),
    (r"^по теме\s*:?$", ("по теме",)),  # a lone heading over links to other articles
    # a related-news heading alone in its block or line ("Новости по теме", "Похожие новости", "Digər xəbərlər:",
    # "Oxşar xəbərlər", "Mövzu ilə bağlı"); its list of links goes with it (``_links_after``). Alone only: "Другие
    # новости пришли из Гянджи" and "Mövzu ilə bağlı nazirlik açıqlama yayıb" are the article's sentences.
    (rf"{_PROMPT_START}(?:{_RELATED_HEADINGS})\W*$", _RELATED_HINTS),
    # a lone advertisement label
    (r"^(?:реклама|reklam|advertisement)$", ("реклама", "reklam", "advertisement")),
    # view counters
    (r"^(?:просмотров|просмотры|baxış(?:ların)? sayı|baxış|views?)\s*:?\s*\d[\d\s]*$", ("просмотр", "baxış", "view")),
    # share prompts, alone or followed by the networks' names ("Поделиться: Facebook Telegram WhatsApp"); one
    # separator run before each name, so a long line that fails to match is not tried in every way of splitting it
    (
        (
            r"^(?:поделиться|поделитесь|paylaş|paylaşın|share(?: this(?: article| post)?)?(?: on)?)(?:\s*:)?"
            rf"(?:[\s,|/·•]+(?:{_NETWORK_NAMES}|ok|одноклассники|linkedin|viber|messenger|email|e-mail|reddit))*"
            r"[\s.:]*$"
        ),
        ("подели", "paylaş", "share"),
    ),
)


def _folded(pattern: str) -> str:
    """A pattern or a hint as it matches ``_lowered`` text: with the dotless ı as i."""
    return pattern.replace("ı", "i")


def _lowered(text: str) -> str:
    """``text`` lower-cased for the patterns, Azerbaijani's dotted and dotless i both as i.

    ``str.lower`` makes the capital İ an i and a combining dot above ("DİGƏR" -> "di̇gər"), and the capital I of
    the dotless ı an i ("KANALIMIZA" -> "kanalimiza"): a notice typed in capitals, or with a capital İ
    ("Materiallardan İstifadə ..."), matched no pattern, and stayed. Folded on both sides, every spelling does."""
    lowered = text.lower()
    if "\u0307" in lowered or "ı" in lowered:
        lowered = lowered.replace("\u0307", "").replace("ı", "i")
    return lowered


BOILERPLATE_PARAGRAPHS = re.compile(_folded("|".join(pattern for pattern, _ in BOILERPLATE_PATTERNS)))
"""Matched against ``_lowered`` text (a case-insensitive Unicode regex is several times slower)."""
_BOILERPLATE_HINTS = tuple(dict.fromkeys(_folded(hint) for _, hints in BOILERPLATE_PATTERNS for hint in hints))
MAX_BOILERPLATE_LENGTH = 240
"""Longer blocks are article text even when they mention a copyright or a subscription."""
_LINKS_HEADING = re.compile(
    _folded(
        rf"{_PROMPT_START}(?:{_RELATED_HEADINGS}|(?:читайте|смотрите)\s+(?:также|еще|ещё|тоже)"
        r"|также\s+(?:читайте|смотрите)|(?:ещё |еще )?по теме|(?:həmçinin|bunu da) oxu(?:yun)?|oxu|читайте"
        r"|(?:read|see)\s+(?:also|more)|also\s+read)\W*$"
    )
)
"""A heading over links to other articles ("Новости по теме", "Читайте также:", "Digər xəbərlər:") alone in its
block or line (lower-cased): the links that follow it are the block, not the article (``_links_after``)."""
_RELATED_LEAD = re.compile(_folded(rf"{_PROMPT_START}(?:{_RELATED_HEADINGS})\s*[:\-–—]"))
"""A related-news heading opening a block of its own links ("Похожие новости: <a>...</a>, <a>...</a>")."""
MAX_LINK_ITEM_TEXT = 40
"""Characters an item of a list of links may show outside its links: a date ("20 noyabr 2026, 11:00"), a
separator. An item with more is a sentence of the article that links something."""
MAX_LINK_ITEM_WORDS = 6
"""Letters of words (``_sentence_letters``) an item of a list of links may show outside its links: a marker ("ВИДЕО",
"FOTO"). An item with more is a sentence of the article that links something."""
_COPYRIGHT_MARK = re.compile(r"(?:copyright\s*)?©\s*(?:\d{4}(?:\s*[-–]\s*\d{4})?)?", re.IGNORECASE)
"""A copyright sign and its years: the source's name with one ("Caliber.az © 2026. ") is its notice."""

_TAGS = set(ALLOWED_TAGS)
_ATTRIBUTES = {"*": set(), **{tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()}}
_ATTRIBUTE_VALUES = {
    tag: {name: set(values) for name, values in names.items()} for tag, names in ALLOWED_ATTRIBUTE_VALUES.items()
}
_BLOCK_TAGS = frozenset(BLOCKS)
_PARAGRAPH_BREAKS = frozenset((*BLOCKS, "ul", "ol", "figure", "table", "thead", "tbody", "tfoot", "tr", "caption"))
"""The allowed elements a reader sees as blocks of their own: text before one's start or after its end is another
paragraph of ``text_of_safe_html``."""
_INNER_BREAKS = "ul,ol,figure"
"""The elements of ``_PARAGRAPH_BREAKS`` that are neither blocks nor parts of a table."""
_STABLE_CONTAINERS = frozenset({"blockquote"})
_REPARENTING_TAGS = ("table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "colgroup", "col")
_REPARENTING = ",".join(_REPARENTING_TAGS)
_RAW_TEXT = ("xmp", "plaintext", "noembed", "noframes", "textarea", "title")
_RUN_BREAKS = frozenset((*_PARAGRAPH_BREAKS, *HEADING_LEVELS, "colgroup", "col", "hr", EMBEDS, *_RAW_TEXT))
"""The elements a run of loose text ends at, and that are left as they are: blocks, lists, figures, tables (their
cells' text is theirs), headings (``clean_body`` renames those of ``HEADING_LEVELS`` first; ``spiders.page_layout``
meets them as they are), rules, frames (``_link_embed`` makes a frame a paragraph) and the elements whose text is not
markup (serialised as it is, their text would be parsed again inside a paragraph; an ``<xmp>`` would close it)."""
_MEDIA = "img,a[href]"
_BODY_SELECTOR = ",".join((*BLOCKS, "table", _MEDIA, "br", EMBEDS, "div", *HEADING_LEVELS))
"""Every element ``clean_body`` looks at once the furniture is gone, in one query (each query costs ~2 us before it
matches anything, selectolax parses the selector again, and more the longer the list): no two of its selectors match
one element, so each comes once, in document order. "table" stands for every element of ``_REPARENTING``: a parser
makes the others only inside a table, a template or SVG/MathML (the last three are always dropped)."""
_HEADINGS_RENAMED = ",".join(HEADING_LEVELS)
_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    attributes=_ATTRIBUTES,
    tag_attribute_values=_ATTRIBUTE_VALUES,
    url_schemes=set(LINK_SCHEMES),
    link_rel=LINK_REL,
)
"""Built once: passing the allow-list to ``nh3.clean`` converts it again on every call (~15 us a body)."""

_NO_BREAK_SPACES = re.compile(r"&nbsp;(?:[ \t\r\n]|&nbsp;)*")
"""A no-break space, as the sanitiser writes U+00A0, and the spaces and no-break spaces after it. (It starts with its
literal: a pattern that starts with the spaces before it was tried at every space, 30 times slower.)"""
_SPACE = frozenset(" \t\r\n")
_LINE_EDGE = frozenset(" \t\r\n>")
"""What may stand before a no-break space that is not between two characters of text: a space, a tag's end."""
_EDGE_BEFORE = re.compile(r'<(?:p|li|h[2-4]|blockquote|figcaption|caption|t[dh](?: [a-z]+="[0-9]+")*|br)>')
"""The tags a no-break space after which opens a line: a block's start, a line break."""
_EDGE_AFTER = (
    "</p>", "</li>", "</h2>", "</h3>", "</h4>", "</blockquote>", "</figcaption>", "</caption>", "</td>", "</th>",
    "<br>", "<p>", "<ul>", "<ol>", "<table>", "<figure>", "<blockquote>", "<h2>", "<h3>", "<h4>",
)  # fmt: skip
"""What a no-break space before which ends a line: a block's end, a line break, the next block's start."""
MAX_TAG_BEFORE = 40
"""Characters of the tag before a run looked at: the longest edge tag, a cell with both spans, is 37."""


def _tidy_spaces(safe: str) -> str:
    """``safe`` without the runs of no-break spaces an editor's copy and paste leaves (``<p>&nbsp; &nbsp;
    Текст&nbsp;&nbsp;&nbsp;продолжается.&nbsp;</p>``): a browser collapses no run of them, so the copy showed an
    indent and wide gaps the source's text never meant. A run of two spaces or more holding one is one space, and
    one at a line's start or end (a block's, a line break's) none; a lone one between two words stays (``5&nbsp;млн``
    keeps the number with its unit). The text is the same: ``collapse`` reads every such run as one space.

    A run inside a tag (an image's ``alt``, which nh3 writes quoted, its no-break spaces as ``&nbsp;``) is left as
    it is: a ``<`` after the last ``>`` before it says it is in one (nh3 escapes both in text; an attribute's own
    ``>`` could only make an ``alt`` lose a gap)."""
    parts: list[str] = []
    done = 0  # where the part of ``safe`` not yet copied to ``parts`` starts
    for match in _NO_BREAK_SPACES.finditer(safe):
        start, end = match.start(), match.end()
        if (
            end - start == 6
            and start > 0
            and end < len(safe)
            and safe[start - 1] not in _LINE_EDGE
            and safe[end] != "<"
        ):
            continue  # a lone one between two characters of text (or of an attribute): "5&nbsp;млн" stays
        if safe.rfind("<", 0, start) > safe.rfind(">", 0, start):
            continue
        while start > done and safe[start - 1] in _SPACE:  # the plain spaces before it are the run's too
            start -= 1
        run = safe[start:end]
        opening = safe.rfind("<", max(0, start - MAX_TAG_BEFORE), start)
        if (
            start == 0
            or end == len(safe)
            or safe.startswith(_EDGE_AFTER, end)
            or (safe[start - 1] == ">" and opening >= 0 and _EDGE_BEFORE.fullmatch(safe, opening, start) is not None)
        ):
            tidy = "\n" if "\n" in run else ""
        else:
            tidy = run if run == "&nbsp;" else " "
        parts.append(safe[done:start])
        parts.append(tidy)
        done = end
    if not parts:
        return safe
    parts.append(safe[done:])
    return "".join(parts)


_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))
"""Soft hyphens, zero-width spaces, word joiners and byte-order marks: a "типограф" or a copy and paste leaves them
inside words ("Ген\u00adас\u00adсамблея"), where a reader sees nothing, but search, story matching and the citations
read two words or none. Out of the text (the safe HTML keeps them: a soft hyphen is a hyphenation hint there)."""
_UNSEEN = _INVISIBLE | {code: None for code in (*range(0x20), *range(0x7F, 0xA0)) if not chr(code).isspace()}
"""``_INVISIBLE``, and the control characters that are no whitespace (ESC, BEL, CSI...): out of the text, and out
of the safe HTML too (``without_controls``), as a page's ``&#27;`` gives them. The whitespace ones are spaces."""


def collapse(text: str | None) -> str:
    """Whitespace runs (including no-break spaces) as single spaces, trimmed; the ``_UNSEEN`` characters gone."""
    if not text:
        return ""
    # Most blocks are already collapsed; proving it costs half the split and join. Every whitespace character but
    # the plain space is unprintable, and so is every ``_UNSEEN`` one, so printable text without double, leading
    # or trailing spaces has nothing to do.
    if text.isprintable() and "  " not in text and text[0] != " " and text[-1] != " ":
        return text
    return " ".join(text.translate(_UNSEEN).split())


def _fix_media(root: LexborNode, base_url: str) -> None:
    _fix_media_nodes(css(root, _MEDIA), base_url)


def _fix_media_nodes(nodes: Iterable[LexborNode], base_url: str) -> None:
    """Lazy images get their real ``src`` (or go, without one), links and images absolute addresses."""
    for node in nodes:
        attrs = node.attrs
        if node.tag == "a":
            try:
                attrs["href"] = absolute(base_url, attrs.get("href") or "")
            except ValueError:  # no address at all ("//[x/"): the words stay, unlinked; raised, the article went
                del attrs["href"]
            continue
        src = _image_source(node.attributes, base_url)  # a dict, built once: each ``attrs.get`` costs ~0.5 us
        if src is None:
            node.remove()
            continue
        attrs["src"] = src


def _image_source(attrs: dict[str, str | None], base_url: str) -> str | None:
    """An image's real address, absolute and http(s): a lazy attribute's, else the first candidate of a lazy
    ``data-srcset``, else ``src``, else ``srcset``'s first; a placeholder (``data:``) or a ``javascript:`` address is
    passed over for the next (it would leave an image without ``src`` once sanitised, or a blank pixel)."""
    for name in LAZY_SRC_ATTRIBUTES:
        if src := http_url(base_url, attrs.get(name)):
            return src
    if src := http_url(base_url, first_candidate(attrs.get(LAZY_SRCSET_ATTRIBUTE))):
        return src
    if src := http_url(base_url, attrs.get("src")):
        return src
    return http_url(base_url, first_candidate(attrs.get("srcset")))


def embed_target(src: str, base_url: str) -> str | None:
    """The address a reader can follow to what an embedded video player (``<iframe src>``) plays: a YouTube video's
    own page, another known player's address (``VIDEO_PLAYERS``) made absolute (a protocol-relative ``//host/...``
    too), a social network's post's own address (``_social_frame``); None for anything else (another site's frame,
    ``javascript:``, ``data:``, ``about:blank``, nothing)."""
    try:
        parts = urlsplit(absolute(base_url, src))  # drops tabs and newlines, as a browser does
    except ValueError:  # a broken host ("https://[x/")
        return None
    if parts.scheme not in URL_SCHEMES or not parts.hostname:
        return None
    if (post := _social_frame(parts, base_url)) is not None:
        return post
    player_path = VIDEO_PLAYERS.get(parts.hostname)
    if player_path is None or not parts.path.startswith(player_path):
        return None
    if parts.hostname in YOUTUBE_HOSTS:
        video = _YOUTUBE_EMBED_PATH.fullmatch(parts.path)
        if video and video.group(1) != "videoseries":
            return f"https://www.youtube.com/watch?v={video.group(1)}"
    return parts.geturl()


def _web_address(href: str | None, base_url: str) -> SplitResult | None:
    """``href`` made absolute and split, if it is an http(s) address with a host; None for anything else."""
    if not href or not (href := href.strip()):
        return None
    try:
        parts = urlsplit(absolute(base_url, href))
        host = parts.hostname
    except ValueError:  # a broken host ("https://[x/")
        return None
    return parts if parts.scheme in URL_SCHEMES and host else None


def instagram_post(href: str | None, base_url: str) -> str | None:
    """An Instagram post's (or reel's) address as a reader opens it, ``https://www.instagram.com/p/<code>/``, from
    any address of it: the permalink with the embed's tracking query, the embed frame's ``/p/<code>/embed/``; None
    for any other address (a profile, a profile's widget)."""
    parts = _web_address(href, base_url)
    return _instagram_post(parts) if parts is not None else None


def _instagram_post(parts: SplitResult) -> str | None:
    if parts.hostname not in _INSTAGRAM_HOSTS:
        return None
    post = _INSTAGRAM_POST.fullmatch(parts.path)
    if post is None or not _INSTAGRAM_TAIL.fullmatch(post[3] or ""):
        return None
    return f"https://www.instagram.com/{post[1]}/{post[2]}/"


def x_post(href: str | None, base_url: str) -> str | None:
    """A post's address on X (Twitter), ``https://twitter.com/<account>/status/<number>`` (``x.com`` for an
    ``x.com`` one), without the embed's tracking query (``?ref_src=twsrc%5Etfw``); None for any other address."""
    parts = _web_address(href, base_url)
    if parts is None or parts.hostname not in _X_HOSTS:
        return None
    post = _X_POST.fullmatch(parts.path)
    if post is None:
        return None
    host = "twitter.com" if "twitter" in (parts.hostname or "") else "x.com"
    return f"https://{host}/{post[1]}/status/{post[2]}"


def tiktok_post(href: str | None, base_url: str) -> str | None:
    """A TikTok video's (or photo post's) address, ``https://www.tiktok.com/@<account>/video/<number>``, without a
    query; None for any other address (an account's, a tag's, a sound's)."""
    parts = _web_address(href, base_url)
    if parts is None or parts.hostname not in _TIKTOK_HOSTS:
        return None
    post = _TIKTOK_POST.fullmatch(parts.path)
    return f"https://www.tiktok.com/@{post[1]}/{post[2]}/{post[3]}" if post is not None else None


def facebook_post(href: str | None, base_url: str) -> str | None:
    """A Facebook post's (or video's) address as the embed names it, without a fragment: any http(s) address on
    facebook.com but its home page (a post's address takes many forms: ``/<page>/posts/<id>``,
    ``/permalink.php?story_fbid=...``, ``/watch/?v=...``, ``/<page>/videos/<id>/``); None for anything else."""
    parts = _web_address(href, base_url)
    if parts is None or not _is_facebook(parts.hostname or "") or parts.path.strip("/") == "":
        return None
    return parts._replace(fragment="").geturl()


def _is_facebook(host: str) -> bool:
    return host == "facebook.com" or host.endswith(".facebook.com")


def _social_frame(parts: SplitResult, base_url: str) -> str | None:
    """The post a social network's frame shows (``parts``: the frame's address, split), as a reader opens it; None
    for a frame of no known network, and for a network's frame that shows no post (a page's "like" box, a comments
    widget, an id that is no number).

    Instagram's ``/p/<code>/embed/`` is the post ``/p/<code>/``; X's ``platform.twitter.com/embed/Tweet.html?id=<n>``
    the post ``x.com/i/status/<n>`` (the account is not in the frame's address, and X opens a post under ``i``);
    Facebook's ``plugins/post.php`` and ``plugins/video.php`` the post their ``href`` names, if it is on facebook.com
    (the frame's own page is a bare player); TikTok's ``embed/v2/<n>`` the video ``/@_/video/<n>`` (TikTok shows a
    video at its number under any account name, and the frame's address names none)."""
    host = parts.hostname or ""
    if host in _INSTAGRAM_HOSTS:
        return _instagram_post(parts)
    if host in _X_FRAME_HOSTS:
        post_id = parse_qs(parts.query).get("id", [""])[0] if parts.path == "/embed/Tweet.html" else ""
        return f"https://x.com/i/status/{post_id}" if _POST_NUMBER.fullmatch(post_id) else None
    if _is_facebook(host):
        href = parse_qs(parts.query).get("href", [""])[0] if parts.path in _FACEBOOK_FRAMES else ""
        return facebook_post(href, base_url) if href else None
    if host in _TIKTOK_HOSTS:
        video = _TIKTOK_FRAME.fullmatch(parts.path)
        return f"https://www.tiktok.com/@_/video/{video[1]}" if video is not None else None
    return None


def _link_embed(node: LexborNode, base_url: str) -> str | None:
    """Replace an embedded player with a link to what it plays, and return the link's address: in a paragraph of its
    own, or the link alone inside a block (a paragraph must not hold another one); remove it without an address."""
    attrs = node.attrs
    src = next((value for name in IMAGE_SRC_ATTRIBUTES if (value := attrs.get(name))), None)
    url = embed_target(src, base_url) if src else None
    if url is None:
        node.remove()
        return None
    _put_link(node, url)
    return url


def _link_telegram_posts(root: LexborNode) -> set[str]:
    """Replace each Telegram post's widget (``<script data-telegram-post="channel/123">``) with a link to the post,
    as ``_link_embed`` does a player, and return the links' addresses.

    The widget is a script and nothing else: dropped with the scripts, the post an article quotes ("Министерство
    сообщило в Telegram:") left no trace. A widget naming no public post (a login or comments widget, a malformed
    name) is dropped with the scripts, as before."""
    found: set[str] = set()
    for node in css(root, TELEGRAM_POST):
        post = _TELEGRAM_POST.fullmatch((node.attrs.get("data-telegram-post") or "").strip())
        if post is not None:
            url = f"https://t.me/{post[0]}"
            _put_link(node, url)
            found.add(url)
    return found


def _link_social_posts(root: LexborNode, base_url: str) -> set[str]:
    """Make each social network's embed code (``SOCIAL_EMBEDS``) what a reader of the copy needs: the words the
    embed quotes, as a quote, and a link to the post; return the links' addresses.

    Without its script (dropped, as every script is) an embed is the markup the network gives for a browser that
    runs none. X's and Facebook's are a quote already (the post's text, then "— Name (@account) <a>date</a>" with the
    date linking the post): kept, the link's address without the embed's tracking query. Instagram's is the
    network's card, not the post: "View this post on Instagram" and "A post shared by ..." (in the language the
    editor's Instagram spoke), kept until now as if the article said them; only the old captioned form carries the
    post's words (its paragraphs before the "shared by ... on <time>" one). TikTok's holds the account, the caption
    and the sound's name ("♬ original sound - ..."), the sound furniture, and links no video at all (the video's
    address is the quote's ``cite``, which the sanitiser drops). Facebook's ``<div class="fb-post">`` is often
    empty (the script fills it): it left nothing. So each keeps the words the post says, loses the network's own,
    and gets a paragraph linking the post where nothing in it links the post; one with no words left is the link
    alone, put as a player's is (``_put_link``). One naming no post of its network (a missing or malformed address)
    keeps its words, or goes if it has none, as before."""
    found: set[str] = set()
    for node in css(root, SOCIAL_EMBEDS):
        tag = node.tag
        kind = next((name for name in (node.attrs.get("class") or "").split() if _SOCIAL_TAGS.get(name) == tag), "")
        if kind == "instagram-media":
            kept, url = _instagram_embed(node, base_url)
        elif kind == "tiktok-embed":
            kept, url = node, _tiktok_embed(node, base_url)
        elif kind.startswith("twitter-"):
            kept, url = node, _linked_post(node, base_url, x_post, None)
        elif kind:  # fb-post, fb-video
            kept, url = node, _linked_post(node, base_url, facebook_post, node.attrs.get("data-href"))
        else:
            continue
        if not collapse(kept.text(deep=True, separator="")):
            if url is None:
                kept.remove()
                continue
            _put_link(kept, url)
        elif url is None:
            continue
        elif not any(link.attrs.get("href") == url for link in css(kept, "a[href]")):
            paragraph = kept.parser.create_node("p")
            paragraph.insert_child(_new_link(kept, url))
            kept.insert_after(paragraph)
        found.add(url)
    return found


def _instagram_embed(node: LexborNode, base_url: str) -> tuple[LexborNode, str | None]:
    """An Instagram embed's post, and the embed reduced to the post's own words: the old captioned form's caption
    (its paragraphs before the one holding the "shared by" line's ``<time>``), unlinked (it linked the post, as the
    whole card does), in a quote of its own; nothing of any other form (the card's furniture)."""
    url = instagram_post(node.attrs.get("data-instgrm-permalink"), base_url)
    if url is None:  # an old form names it only in its links
        links = css(node, "a[href]")
        url = next((post for link in links if (post := instagram_post(link.attrs.get("href"), base_url))), None)
    caption: list[LexborNode] = []
    shared = css_first(node, "time")
    while shared is not None and shared.tag != "p" and shared.mem_id != node.mem_id:
        shared = shared.parent
    if shared is not None and shared.tag == "p":
        for paragraph in css(node, "p"):
            if paragraph.mem_id == shared.mem_id:
                break
            caption.append(paragraph)
    if not caption:
        for child in list(node.iter(include_text=True)):
            child.remove()
        return node, url
    quote = node.parser.create_node("blockquote")
    for paragraph in caption:
        quote.insert_child(paragraph)  # a copy (taken before the embed goes: a removed node is copied empty)
    node.insert_before(quote)  # a copy again
    kept = node.prev
    node.remove()
    if kept is None:  # (never: the copy was just put there)
        return node, url
    for link in css(kept, "a[href]"):
        if instagram_post(link.attrs.get("href"), base_url) is not None:
            link.unwrap()
    return kept, url


def _tiktok_embed(node: LexborNode, base_url: str) -> str | None:
    """A TikTok embed's video (its ``cite``, else its ``data-video-id``), once its sound's link ("♬ original sound
    - ...", a link to the sound's page) is gone; the account's link and the caption's words and tags stay."""
    url = tiktok_post(node.attrs.get("cite"), base_url)
    if url is None and _POST_NUMBER.fullmatch(video := (node.attrs.get("data-video-id") or "").strip()):
        url = f"https://www.tiktok.com/@_/video/{video}"
    for link in css(node, "a[href]"):
        parts = _web_address(link.attrs.get("href"), base_url)
        if parts is not None and parts.hostname in _TIKTOK_HOSTS and parts.path.startswith("/music/"):
            link.remove()
    return url


def _linked_post(
    node: LexborNode, base_url: str, post_of: Callable[[str | None, str], str | None], named: str | None
) -> str | None:
    """The post an embed quoting it links (X's, Facebook's): the one its ``named`` attribute names, else the last it
    links (the "— Name (@account) <a>date</a>" line ends the quote); each link to it given the post's plain address
    (the embed's tracking query gone)."""
    url = post_of(named, base_url) if named else None
    links = [(link, post) for link in css(node, "a[href]") if (post := post_of(link.attrs.get("href"), base_url))]
    if url is None:
        if not links:
            return None
        url = links[-1][1]
    for link, post in links:
        if post.rstrip("/") == url.rstrip("/"):
            link.attrs["href"] = url
    return url


def _new_link(node: LexborNode, url: str) -> LexborNode:
    """A link to ``url`` showing it, in ``node``'s document (not yet in its tree)."""
    link = node.parser.create_node("a")
    link.attrs["href"] = url
    link.insert_child(url)  # as text: escaped
    return link


def _put_link(node: LexborNode, url: str) -> None:
    """Put a link to ``url``, showing it, in the place of ``node``: in a paragraph of its own, or the link alone inside
    a block (a paragraph must not hold another one)."""
    document = node.parser
    link = _new_link(node, url)
    parent = node.parent
    while parent is not None and parent.tag not in _BLOCK_TAGS and parent.tag != "body":
        parent = parent.parent
    if parent is not None and parent.tag in _BLOCK_TAGS:
        node.insert_before(" ")  # apart from the words around it: "Видео:<iframe>" is not "Видео:https://..."
        node.insert_after(" ")
        node.replace_with(link)
    else:
        paragraph = document.create_node("p")
        paragraph.insert_child(link)
        node.replace_with(paragraph)


def _sanitize_tree(root: LexborNode, base_url: str, *, dropped: bool = False) -> str:
    """The safe HTML of an already parsed body: unsafe elements out (unless ``dropped`` already), embedded players
    made links, media fixed, nh3's allow-list."""
    if not dropped:
        for node in css(root, _dropped_selector(())):
            node.remove()
    _rename_headings(css(root, _HEADINGS_RENAMED))
    for node in css(root, EMBEDS):
        _link_embed(node, base_url)
    _fix_media(root, base_url)
    return _CLEANER.clean(root.inner_html or "").strip()


def sanitize_html(html: str, *, base_url: str) -> str:
    """HTML safe to put on a page: only the allow-listed elements and attributes, absolute http(s) URLs only,
    lazy images with a real ``src``, links with ``rel="nofollow noopener"``."""
    root = parse_html(html, base_url).body
    return _sanitize_tree(root, base_url) if root is not None else ""


@lru_cache(maxsize=64)
def _dropped_selector(boilerplate: tuple[str, ...]) -> str:
    return ",".join((*ALWAYS_DROPPED, *boilerplate))


def _rename_headings(headings: list[LexborNode]) -> None:
    """Put in the place of each heading of ``HEADING_LEVELS`` (``headings``, in document order) the heading the copy
    shows instead, holding what it held; one without words (a picture alone, spaces) is unwrapped, as the sanitiser
    did: it heads nothing, and its picture stays where it was. The innermost first: a heading's copy takes the
    headings inside it (through a ``<div>``) as they are by then, renamed."""
    for heading in reversed(headings):
        if not collapse(heading.text(deep=True, separator="")):
            heading.unwrap()
            continue
        heading.insert_before(heading.parser.create_node(HEADING_LEVELS[heading.tag or ""]))  # a copy
        renamed = heading.prev
        if renamed is None:  # (never: the copy was just put there)
            continue
        for child in list(heading.iter(include_text=True)):
            renamed.insert_child(child)  # a copy
        heading.remove()


def _innermost(root: LexborNode, blocks: list[LexborNode]) -> tuple[list[LexborNode], set[str]]:
    """Of the block elements found under ``root`` (in document order), those that hold no other block, in order (a
    quote's paragraphs count once, not twice), and the tags of the blocks that hold others."""
    if all(node.tag == "p" for node in blocks):
        return blocks, set()  # only paragraphs, which do not nest: the common case, no walk needed
    block_ids = {node.mem_id for node in blocks}
    outer: dict[int, str] = {}
    for node in blocks:
        parent = node.parent
        while parent is not None and parent.mem_id != root.mem_id:
            if parent.mem_id in block_ids:
                outer[parent.mem_id] = parent.tag or ""
            parent = parent.parent
    return [node for node in blocks if node.mem_id not in outer], set(outer.values())


def _holds_loose_text(root: LexborNode, outer: set[str]) -> bool:
    """Whether ``root`` holds text outside its innermost blocks: a sentence in a bare ``<div>`` or ``<span>``
    between paragraphs, loose in the body next to them, in a quote beside its paragraphs. The sanitiser keeps such
    text (it unwraps the container), so the blocks' texts alone would miss it. Only what lies between the blocks is
    walked: for a body of paragraphs, its top-level nodes."""
    pending = [root]
    while pending:
        node = pending.pop()
        own = node.text(deep=False, separator="")  # its text nodes, not its elements'
        if own and not own.isspace():
            return True
        for child in node.iter():  # elements and comments
            tag = child.tag
            # An innermost block's text is in the texts already; a comment is not shown.
            if (tag not in _BLOCK_TAGS or tag in outer) and tag != "-comment":
                pending.append(child)
    return False


def _breaks_a_block(root: LexborNode) -> bool:
    """Whether a list or a figure sits inside a block (a cell, a list item, a heading, a quote), where it cuts the
    block's text in paragraphs of its own. Never inside a paragraph: a parser closes the paragraph first; and inside
    a block of a kind that holds others, ``_holds_loose_text`` walks it already."""
    for node in css(root, _INNER_BREAKS):
        parent = node.parent
        while parent is not None and parent.mem_id != root.mem_id:
            if parent.tag in _BLOCK_TAGS:
                return True
            parent = parent.parent
    return False


def _has_image(node: LexborNode) -> bool:
    """Whether an image is inside ``node`` (only asked of blocks without text, which hold next to nothing)."""
    return any(child.tag == "img" for child in node.traverse())


def _holds_blocks(node: LexborNode) -> bool:
    """Whether an inline element (a ``<span>``, an ``<a>``) holds a block or a container: then it is a container."""
    return any(child.tag in _RUN_BREAKS or child.tag in CONTAINERS for child in node.traverse())


def wrap_loose_text_of(root: LexborNode) -> None:
    """Make a paragraph of each run of text that lies outside any block: in the body itself or in a container
    (``CONTAINERS``). A run ends at a block or a container, and at two or more line breaks in a row (a body typed
    as "text<br><br>text"); one line break stays inside its paragraph. The line breaks between runs go, and so do
    those at a run's ends. Blocks are left as they are (a quote's or a cell's text is theirs).

    Without it a body without ``<p>`` (text and ``<br>`` in the body, paragraphs as ``<div>``s) came out as one
    unwrapped run: one paragraph in the text, furniture glued to the article ("... газа. Читайте также: ...
    Поделиться: Facebook"), and no block to judge as boilerplate."""
    pending = [root]
    while pending:
        container = pending.pop()
        run: list[LexborNode] = []
        node = container.child
        while node is not None:
            following = node.next  # read first: wrapping the run moves nodes, never this one
            tag = node.tag
            if tag in _RUN_BREAKS:
                _wrap_run(run)
                run = []
            elif tag in CONTAINERS or (tag not in ("-text", "-comment", "br", "img") and _holds_blocks(node)):
                _wrap_run(run)
                run = []
                pending.append(node)
            else:
                run.append(node)
            node = following
        _wrap_run(run)


def _wrap_run(run: list[LexborNode]) -> None:
    """Wrap each part of ``run`` (sibling nodes) between two or more line breaks in a ``<p>``, if it holds text."""
    if not run:
        return
    parts: list[list[LexborNode]] = [[]]
    breaks: list[LexborNode] = []  # the line breaks since the last node shown, and the blank text between them
    for node in run:
        tag = node.tag
        if tag == "br":
            breaks.append(node)
            continue
        if (tag == "-text" and (node.text_content or "").isspace()) or tag == "-comment":
            if breaks:
                breaks.append(node)
            else:
                parts[-1].append(node)
            continue
        if breaks:
            if sum(b.tag == "br" for b in breaks) >= 2:
                parts.append([])
                _remove_breaks(breaks)
            elif parts[-1]:
                parts[-1].extend(breaks)
            else:
                _remove_breaks(breaks)  # a break before any text
            breaks = []
        parts[-1].append(node)
    _remove_breaks(breaks)  # after the last text
    document = run[0].parser
    for part in parts:
        # Only text makes a paragraph (an image alone between blocks is shown as it was); the blank text at either
        # end stays outside.
        if not any(_shows_text(node) for node in part):
            continue
        kept = [index for index, node in enumerate(part) if node.tag != "-comment" and not _blank(node)]
        part = part[kept[0] : kept[-1] + 1]
        paragraph = document.create_node("p")
        for node in part:
            paragraph.insert_child(node)  # a copy: selectolax inserts copies of nodes
        part[0].insert_before(paragraph)  # a copy again, of the whole paragraph
        for node in part:
            node.remove()


def _unwrap_layout_tables(root: LexborNode) -> bool:
    """Put what a table of one cell holds in the table's place, innermost table first; whether there was one.

    A table of one cell is an old template's frame around the article (or a box around a part of it), not data:
    left a table, its cell's text was never judged (a cell is never removed) nor made paragraphs (a cell's text is
    its own), so the "Читайте также" line and the signature in it stayed, glued with the article's paragraphs into
    one ("... событиях. Читайте также: ... Caliber.Az"), and the ``<div>`` paragraphs in it ran together once
    unwrapped. A table of two cells or more is data (or a layout nothing tells from it), and stays."""
    found = False
    for table in reversed(css(root, "table")):  # a table inside another's cell comes after it
        cells = [cell for cell in css(table, "td,th") if _table_of(cell) == table.mem_id]
        if len(cells) != 1:
            continue
        for part in (*css(table, "caption"), cells[0]):
            # Each in a <div> of its own, which the sanitiser unwraps: a block still, for the text around it.
            block = table.parser.create_node("div")
            for child in part.iter(include_text=True):
                block.insert_child(child)  # a copy
            table.insert_before(block)  # a copy again
        table.remove()
        found = True
    return found


def _table_of(cell: LexborNode) -> int | None:
    """The ``mem_id`` of the table a cell is a cell of (the nearest one around it)."""
    parent = cell.parent
    while parent is not None and parent.tag != "table":
        parent = parent.parent
    return parent.mem_id if parent is not None else None


def _split_at_blank_lines(breaks: list[LexborNode]) -> bool:
    """Cut each paragraph that holds two line breaks or more in a row (``breaks`` are a body's ``<br>``) into one
    paragraph for each part between them, as ``wrap_loose_text_of`` cuts text outside any paragraph; whether any was.

    A site that types an item in one ``<p>`` ("Первый абзац.<br><br>Второй абзац.") shows its paragraphs a blank
    line apart: read as one, the text glued them ("Первый абзац. Второй абзац."), and each was judged for
    boilerplate only as a line of the whole. Only the paragraph's own line breaks cut it (one inside a ``<b>`` of it
    is the ``<b>``'s)."""
    paragraphs: dict[int, LexborNode] = {}
    for node in breaks:
        parent = node.parent
        if parent is not None and parent.tag == "p" and parent.mem_id not in paragraphs:
            following = _shown_next(node)
            if following is not None and following.tag == "br":
                paragraphs[parent.mem_id] = parent
    for paragraph in paragraphs.values():
        _wrap_run(list(paragraph.iter(include_text=True)))  # paragraphs inside the paragraph, for a moment
        paragraph.unwrap()
    return bool(paragraphs)


def _remove_breaks(nodes: list[LexborNode]) -> None:
    for node in nodes:
        if node.tag == "br":
            node.remove()


def _shows_text(node: LexborNode) -> bool:
    if node.tag == "-comment":
        return False
    text = _node_text(node)
    return bool(text) and not text.isspace()


def _blank(node: LexborNode) -> bool:
    """Whether ``node`` is text with nothing but whitespace in it."""
    return node.tag == "-text" and not (node.text_content or "").strip()


def _without_boilerplate_lines(block: LexborNode, text: str, source_names: frozenset[str]) -> str | None:
    """The text of ``block`` (whose text is ``text``) once the lines of it that are boilerplate are removed (its
    content between its own ``<br>``, each with the line break before it, and the breaks left at its ends); None if
    the block is boilerplate as a whole: its first line is, and so is its whole text ("Читайте также:<br><a>...</a>"),
    or every line of it is.

    A short item is often typed as one paragraph whose last lines are the signature and a prompt ("...в секунду.
    <br><br>Caliber.Az<br>Подписывайтесь на наш Telegram-канал: t.me/caliberaz"): judged whole, the paragraph was
    the prompt, and the article went with it; judged line by line, only the furniture goes."""
    lines: list[list[LexborNode]] = [[]]
    breaks: list[LexborNode] = []
    for child in block.iter(include_text=True):
        if child.tag == "br":
            breaks.append(child)
            lines.append([])
        elif child.tag != "-comment":
            lines[-1].append(child)
    texts = [collapse("".join(_node_text(node) for node in line)) for line in lines]
    furniture = [bool(line) and is_boilerplate(line, source_names) for line in texts]
    shown = [index for index, line in enumerate(texts) if line]
    for index in shown:  # a heading over links ("Похожие новости:<br><a>...</a><br><a>...</a>"): its link lines too
        if furniture[index] and _heads_links(texts[index]):
            for following in shown[shown.index(index) + 1 :]:
                if furniture[following] or not _links_only(lines[following]):
                    break
                furniture[following] = True
    if not any(furniture):
        return text
    if all(furniture[index] for index in shown) or (furniture[shown[0]] and is_boilerplate(text, source_names)):
        return None
    for index, line in enumerate(lines):
        if furniture[index]:
            for node in line:
                node.remove()
            if index:
                breaks[index - 1].remove()
    # The line breaks left at either end ("text<br><br>" once the lines after it went).
    for edge, step in ((block.last_child, "prev"), (block.first_child, "next")):
        while edge is not None and (edge.tag == "br" or (edge.tag == "-text" and _node_text(edge).isspace())):
            beyond = getattr(edge, step)
            if edge.tag == "br":
                edge.remove()
            edge = beyond
    return collapse(block.text(deep=True, separator=""))


def _links_only(nodes: Iterable[LexborNode]) -> bool:
    """Whether ``nodes`` (a line of a block between two ``<br>``, or one block: a paragraph, a list item, a
    container) show links and next to nothing beside them: a few characters, and of words (``_sentence_letters``)
    a marker's at most, fewer than half their links'.

    The words tell an item from a short sentence that links a word or two ("Подробности — <a>на сайте МИД</a>.",
    "Ətraflı məlumat <a>nazirliyin saytında</a>.", "Birinci <a>bənd</a>"), which a read-also heading's links took
    with them when the characters alone counted: an item's words are its link (its title), beside a date
    ("<a>Курс маната</a> 20 noyabr 2026, 11:00") or a marker ("<a>...</a> ВИДЕО") at most."""
    linked, other, words, linked_words = _text_beside_links(nodes)
    return linked and other <= MAX_LINK_ITEM_TEXT and words <= MAX_LINK_ITEM_WORDS and 2 * words <= linked_words


def _node_text(node: LexborNode) -> str:
    return (node.text_content or "") if node.tag == "-text" else node.text(deep=True, separator="")


def is_boilerplate(text: str, source_names: frozenset[str] = frozenset()) -> bool:
    """Whether a block's text is the site's furniture: a known notice or prompt, or the source's bare name."""
    if not text or len(text) > MAX_BOILERPLATE_LENGTH:
        return False
    if source_names and len(text) <= 80:
        # A signature: "Caliber.Az", also typed with a Cyrillic "Аz"; or the source's name with a copyright sign
        # and nothing else, as caliber.az's English edition prints its notice ("Caliber.az © 2026. .").
        name = _COPYRIGHT_MARK.sub(" ", text) if "©" in text else text
        if name_key(name.strip(" .")) in source_names:
            return True
    lowered = _lowered(text)
    for hint in _BOILERPLATE_HINTS:
        if hint in lowered:
            return BOILERPLATE_PARAGRAPHS.search(lowered) is not None
    return False


def _text_beside_links(nodes: Iterable[LexborNode]) -> tuple[bool, int, int, int]:
    """Whether ``nodes`` hold a link, how many characters of text they show outside their links, how many letters of
    words outside them (``_sentence_letters``), and how many letters inside them."""
    linked = False
    other = letters = 0
    outside: list[str] = []
    pending = [(node, False) for node in reversed(list(nodes))]
    while pending:
        node, in_link = pending.pop()
        tag = node.tag
        if tag == "-text":
            text = node.text_content or ""
            if in_link:
                letters += sum(character.isalpha() for character in text)
            else:
                other += len(collapse(text))
                outside.append(text)
            continue
        if tag == "a" and node.attrs.get("href"):
            linked = in_link = True
        child = node.last_child
        while child is not None:
            pending.append((child, in_link))
            child = child.prev
    return linked, other, (_sentence_letters(" ".join(outside)) if outside else 0), letters


_WORDS_AND_NUMBERS = re.compile(r"[^\W\d_]+|\d+")


def _sentence_letters(text: str) -> int:
    """The letters of the words of ``text`` that stand beside no number: a date's month ("20 noyabr 2026, 11:00")
    or day ("Вчера, 11:00") is an item's date, not words of a sentence."""
    tokens = _WORDS_AND_NUMBERS.findall(text)
    return sum(
        len(token)
        for index, token in enumerate(tokens)
        if not token[0].isdigit()
        and not (index and tokens[index - 1][0].isdigit())
        and not (index + 1 < len(tokens) and tokens[index + 1][0].isdigit())
    )


def _is_links(node: LexborNode) -> bool:
    """Whether an element is links to other articles: a list whose every item is a link item, a container whose
    every element is links (a "related" block of teaser ``<div>``s), or a link item itself."""
    tag = node.tag
    if tag in ("ul", "ol"):
        items = [child for child in node.iter() if child.tag == "li"]
        return bool(items) and all(_links_only((item,)) for item in items)
    if tag in CONTAINERS and tag not in ("pre", "dt", "dd"):
        children = [child for child in node.iter() if child.tag != "-comment"]
        if len(children) > 1:
            return all(_is_links(child) for child in children)
    return _links_only((node,))


def _shown_next(node: LexborNode) -> LexborNode | None:
    """The node after ``node`` among its siblings, past blank text and comments (an element or a text); None at its
    parent's end."""
    sibling = node.next
    while sibling is not None and (sibling.tag == "-comment" or _blank(sibling)):
        sibling = sibling.next
    return sibling


def _links_after(heading: LexborNode, root: LexborNode) -> list[LexborNode]:
    """The elements after a heading over links (``_LINKS_HEADING``) that are its links: its next siblings while they
    are links (a ``<ul>`` of links, paragraphs of one link each, a block of teasers), up to the first that is not (a
    text outside any element is a sentence: not). A heading that ends its container ("<div class=head><p>Oxşar
    xəbərlər</p></div><div class=item>...") is looked past from there."""
    node = heading
    sibling = _shown_next(node)
    while sibling is None:
        parent = node.parent
        if parent is None or parent.mem_id == root.mem_id or parent.tag not in CONTAINERS:
            break
        node = parent
        sibling = _shown_next(node)
    found: list[LexborNode] = []
    while sibling is not None and sibling.tag != "-text" and _is_links(sibling):
        found.append(sibling)
        sibling = _shown_next(sibling)
    return found


def _heads_links(text: str) -> bool:
    """Whether a block or line of boilerplate is a heading over the links after it: a read-also or related-news
    heading (``_LINKS_HEADING``), or any prompt that ends in a colon ("Подписывайтесь на нас:", "Поделиться:"), which
    announces what follows it: the networks' links a line below ("Telegram | Facebook") are the prompt's."""
    return text.endswith(":") or _LINKS_HEADING.match(_lowered(text)) is not None


def _drop_links_after(heading: LexborNode, text: str, root: LexborNode) -> set[int]:
    """Remove the links a heading over links (judged boilerplate, about to go) is followed by, and return the
    ``mem_id`` of every node removed with them (their blocks are then not read into the text); nothing for any other
    boilerplate."""
    if not _heads_links(text):
        return set()
    gone: set[int] = set()
    for node in _links_after(heading, root):
        gone.update(each.mem_id for each in node.traverse())
        node.remove()
    return gone


def _is_related_block(block: LexborNode, text: str) -> bool:
    """Whether a block is a related-news heading and its links in one ("Похожие новости: <a>...</a>, <a>...</a>"):
    the heading opens it, and beside its links it shows next to nothing else."""
    if len(text) > MAX_BOILERPLATE_LENGTH:
        return False
    lowered = _lowered(text)
    if not any(hint in lowered for hint in _RELATED_HINTS):
        return False
    lead = _RELATED_LEAD.match(lowered)
    if lead is None:
        return False
    linked, other, _, _ = _text_beside_links((block,))
    return linked and other - lead.end() <= MAX_LINK_ITEM_TEXT


@lru_cache(maxsize=8192)
def _owns(source: Source, url: str) -> bool:
    """``source.owns(url)``, cached like ``canonical_url``: a page declares the same canonical URL at every fetch."""
    return source.owns(url)


def _composed(text: str | None) -> str | None:
    """``text`` in Unicode's composed form (NFC)."""
    if not text or unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=64)
def _source_names(source: Source) -> frozenset[str]:
    """The forms of the source's name a bare signature line takes: its registry name and domains ("Caliber.az"), and
    the same without the domain's ending, as agencies sign their copy ("APA", "Report"); and its names in another
    script (``other_names``: "АПА")."""
    names = {name_key(source.name), *(name_key(d) for d in source.domains), *map(name_key, source.other_names)}
    return frozenset({*names, *(name.rsplit(".", 1)[0] for name in names if "." in name)})


class _BodyParts:
    """What ``clean_body`` looks at in a body, from one query (``_BODY_SELECTOR``), in document order."""

    __slots__ = ("blocks", "breaks", "divs", "frames", "headings", "media", "other_blocks", "tables")

    def __init__(self, root: LexborNode) -> None:
        # Local lists, assigned at the end: an attribute look-up per node costs as much as the rest of the loop.
        blocks: list[LexborNode] = []
        breaks: list[LexborNode] = []
        divs: list[LexborNode] = []
        frames: list[LexborNode] = []
        headings: list[LexborNode] = []  # those ``clean_body`` renames first (``HEADING_LEVELS``)
        media: list[LexborNode] = []
        other_blocks: set[str] = set()  # the tags of the blocks other than paragraphs
        tables = False
        for node in css(root, _BODY_SELECTOR):
            tag = node.tag
            if tag in _BLOCK_TAGS:
                blocks.append(node)
                if tag != "p":
                    other_blocks.add(tag)
            elif tag == "table":
                tables = True
            elif tag == "br":
                breaks.append(node)
            elif tag == "div":
                divs.append(node)
            elif tag == EMBEDS:
                frames.append(node)
            elif tag in HEADING_LEVELS:
                headings.append(node)
            else:
                media.append(node)
        self.blocks, self.breaks, self.divs, self.frames, self.media = blocks, breaks, divs, frames, media
        self.headings = headings
        self.other_blocks, self.tables = other_blocks, tables


TOP_BLOCKS = 3
"""Blocks of text at the body's top looked at for a repeated title and lead: the title, the lead, its twin."""
_LEAD_TAGS = frozenset({"p", "h2", "h3", "h4"})
_HEADLINE_END = " .!?:;…"


def _headline_key(text: str) -> str:
    return text.casefold().rstrip(_HEADLINE_END)


def _repeated_top(texts: list[str], tops: dict[int, LexborNode], title: str | None) -> list[int]:
    """The indexes in ``texts`` (a body's blocks of text, in order; ``tops``: those of its first ``TOP_BLOCKS`` that
    are a paragraph or a heading, by index) of the blocks at the body's top that repeat what the page shows already:
    a first paragraph or heading that is the article's ``title`` (an editor pasted the headline above the text,
    in bold, as a heading: the copy showed it twice, under the title), and a paragraph just like the one before it
    (the lead, printed as the lead and again as the text's first paragraph). Never every block: at least one stays.
    Only whole blocks equal to them: a first paragraph that begins with the title's words is the article's."""
    repeats: list[int] = []
    first = 0
    if title and 0 in tops and _headline_key(texts[0]) == _headline_key(title):
        repeats.append(0)
        first = 1
    second = first + 1
    if first in tops and second in tops and _headline_key(texts[first]) == _headline_key(texts[second]):
        repeats.append(second)
    return repeats


def clean_body(
    html: str,
    *,
    base_url: str,
    boilerplate: Iterable[str] = (),
    source_names: frozenset[str] = frozenset(),
    title: str | None = None,
) -> tuple[str, str]:
    """``(safe_html, text)`` of an article body; the text is the safe HTML's, one paragraph a line apart. The
    article's ``title`` repeated as the body's first paragraph, and its lead printed twice, go (``_repeated_top``).

    The text is taken from the blocks that survive into the safe HTML while they are judged for boilerplate, not
    by parsing the safe HTML again: the furniture nh3 would strip with its content (scripts, styles) is already
    gone by then, and nh3 keeps the text of any other element it unwraps, so both give the same text (a test holds
    them equal on every sample page and injection vector) and the second parse and walk cost as much as the rest.
    """
    root = parse_html(html, base_url).body  # a feed's body was never parsed as a page: defused here
    if root is None:
        return "", ""
    # Before the scripts go: a Telegram post's widget is one.
    posts = _link_telegram_posts(root) if "data-telegram-post" in html else set()
    posts |= _link_social_posts(root, base_url)
    # One query for all the furniture (each query compiles its selector); remove() unlinks without freeing, so a
    # match inside an already removed match stays safe to touch.
    for node in css(root, _dropped_selector(tuple(boilerplate))):
        node.remove()
    parts = _BodyParts(root)
    if parts.headings:  # before anything is judged: a subheading is judged, and read, as a heading
        _rename_headings(parts.headings)
        parts = _BodyParts(root)
    # An old template's table of one cell around the body (or a part of it) is no table: its text is judged, and
    # made paragraphs, as the body's; and a paragraph typed as lines with blank lines between is several.
    unwrapped = parts.tables and _unwrap_layout_tables(root)
    if (parts.breaks and _split_at_blank_lines(parts.breaks)) or unwrapped:
        parts = _BodyParts(root)
    blocks, outer = _innermost(root, parts.blocks)
    # Text outside the blocks (all of it in a body without paragraphs) is made paragraphs first, so that it is
    # judged, and read, as paragraphs. Found by the walk the text needs anyway: a body of paragraphs pays nothing.
    loose = _holds_loose_text(root, outer)
    if loose:
        wrap_loose_text_of(root)
        parts = _BodyParts(root)
        blocks, outer = _innermost(root, parts.blocks)
    broken: set[int] = set()  # the elements with line breaks of their own
    for node in parts.breaks:
        # A line break is a space in the text: "Баку,<br>улица" read "Баку,улица" (a glued word for search,
        # dedupe and the citations), here and where the text is read back from the safe HTML.
        node.insert_after("\n")
        if (parent := node.parent) is not None:
            broken.add(parent.mem_id)
    for node in parts.divs:
        # The sanitiser unwraps a <div>, and a browser showed "<div>Баку</div><div>улица</div>" as "Бакуулица":
        # a line break after it keeps the words apart, in the safe HTML as in the text.
        node.insert_after("\n")
    embeds = {url for node in parts.frames if (url := _link_embed(node, base_url))} if parts.frames else set()
    embeds |= posts
    media = parts.media
    tables, other_blocks = parts.tables, parts.other_blocks
    # Before the blocks are judged: a block whose only image was a placeholder holds nothing.
    _fix_media_nodes(media, base_url)
    texts: list[str] = []
    tops: dict[int, LexborNode] = {}  # the paragraphs and headings among the first ``texts``, by index
    removed = False
    gone: set[int] = set()  # the nodes of the link lists removed with their heading
    for block in blocks:
        if gone and block.mem_id in gone:
            continue
        text = collapse(block.text(deep=True, separator=""))
        if tables and block.tag in CELLS:  # (a cell is only ever in a table)
            if text:
                texts.append(text)
        elif not text:
            if not _has_image(block):
                block.remove()
                removed = True
        elif broken and block.mem_id in broken:
            if (kept := _without_boilerplate_lines(block, text, source_names)) is None:
                gone |= _drop_links_after(block, text, root)
                block.remove()
                removed = True
            else:
                texts.append(kept)
        elif is_boilerplate(text, source_names):
            gone |= _drop_links_after(block, text, root)
            block.remove()
            removed = True
        elif _is_related_block(block, text):
            block.remove()
            removed = True
        else:
            if len(texts) < TOP_BLOCKS and block.tag in _LEAD_TAGS:
                tops[len(texts)] = block
            texts.append(text)
    if len(texts) > 1 and (repeats := _repeated_top(texts, tops, title)):
        for index in reversed(repeats):
            tops[index].remove()
            del texts[index]
        removed = True
    # Without control characters, as the text is (``collapse``): the sanitiser keeps a page's raw ESC and its
    # ``&#27;``, which reached a terminal from every reader of the HTML.
    safe = without_controls(_CLEANER.clean(root.inner_html or "").strip())
    if "&nbsp;" in safe:
        safe = _tidy_spaces(safe)
    stable = not outer or (outer <= _STABLE_CONTAINERS and not removed)
    # Removing blocks never adds a table, so without one before there is none now; with one, only a removal can
    # have taken it away.
    if (
        not stable
        or not texts
        or (tables and (not removed or css_first(root, _REPARENTING) is not None))
        or embeds
        or (loose and _holds_loose_text(root, outer))  # none before, none now: removals and links add none
        or (not other_blocks <= outer and _breaks_a_block(root))
    ):
        # Blocks inside blocks other than a quote's paragraphs (a heading in a heading through an unwrapped
        # <div>), a quote that lost a paragraph (now a paragraph itself) and tables (whose misplaced content a
        # parser moves out) can come out of the sanitiser in a shape a parser nests differently; text outside the
        # blocks (all of it in a body without paragraphs) is paragraphs of its own between them, and a list or a
        # figure inside a block cuts it in several; a player's link is put where the player was, which a parser
        # may nest differently too (it is rare): read those back from the safe HTML.
        text = text_of_safe_html(safe)
        if embeds and set(text.split("\n\n")) <= embeds:
            return "", ""  # a player with nothing to read beside it is no article: refused, as it was without the link
        return safe, text
    return safe, "\n\n".join(texts)


def text_of_safe_html(safe: str) -> str:
    """The text a reader sees in safe HTML, a paragraph for each run of text that no block element starts or ends
    in (a paragraph, a list item, a cell, or the loose text between them): what ``clean_body``'s text must equal."""
    cleaned = LexborHTMLParser(safe).body
    return "\n\n".join(_paragraphs(cleaned)) if cleaned is not None else ""


def _paragraphs(root: LexborNode) -> list[str]:
    """The text under ``root`` in document order, cut at each start and end of a block element; a line break is a
    space. Walked without recursion: the safe HTML can nest up to ``MAX_DEPTH`` deep."""
    paragraphs: list[str] = []
    run: list[str] = []

    def end_run() -> None:
        if text := collapse("".join(run)):
            paragraphs.append(text)
        run.clear()

    node: LexborNode | None = root.child
    while node is not None:
        tag = node.tag
        if tag == "-text":
            run.append(node.text_content or "")
        elif tag == "br":
            run.append(" ")
        elif tag in _PARAGRAPH_BREAKS:
            end_run()
        if node.child is not None:
            node = node.child
            continue
        # Leave the node, and each ancestor it is the last descendant of, up to the next node in document order.
        while node is not None:
            if node.tag in _PARAGRAPH_BREAKS:
                end_run()
            if node.next is not None:
                node = node.next
                break
            node = node.parent
            if node is None or node.mem_id == root.mem_id:
                node = None
    end_run()
    return paragraphs


class CleanupPipeline(Pipeline):
    stage = "cleanup"

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        source = get_source(item.source)
        # Composed (NFC), as typed on a keyboard and as searches are: a page written decomposed ("й" as "и" and a
        # breve) was stored so, and its words were found by no search of them (nor matched by the boilerplate
        # patterns, nor the citation finder's). A no-op on composed text, which nearly every page is.
        item.title = collapse(_composed(item.title))
        item.body_html = _composed(item.body_html)
        item.category = _composed(item.category)
        declared = item.canonical_url if item.canonical_url and _owns(source, item.canonical_url) else None
        item.canonical_url = canonical_url(declared or item.url)
        # Only a web address is a picture a page can show; a javascript: one must never reach a page.
        item.cover_image_url = http_url(item.url, item.cover_image_url)
        item.cover_feed = http_url(item.url, item.cover_feed)  # the feed entry's picture: checked as the page's is
        item.category = collapse(item.category) or None
        item.body_html, item.body_text = clean_body(
            item.body_html or "",
            base_url=item.url,
            boilerplate=source.boilerplate,
            source_names=_source_names(source),
            title=item.title,
        )
        if not item.body_text:
            raise self.reject("no body (empty once boilerplate was removed)")
        return item
