"""Cleanup: the source's body HTML -> safe, clean HTML and plain text, ready to re-publish.

Drops the furniture the source's registry entry lists (signatures, view counters, banners) and the paragraphs
every site repeats (copyright and "use only with a hyperlink" notices, "subscribe to our Telegram", "read also",
view counters, share prompts, in Russian, Azerbaijani and English), gives lazy images their real address, makes
links absolute, puts a link to the video where an embedded player (``<iframe>``) was, sanitises to an allow-list
with nh3, and normalises the canonical URL. A body that is empty once the furniture is gone (or holds nothing but
a player's link) is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Self
from urllib.parse import urlsplit

import nh3
from scrapy.crawler import Crawler
from selectolax.lexbor import LexborHTMLParser, LexborNode

from aggregator.html import css, css_first
from aggregator.items import ArticleItem
from aggregator.markup import parse_html
from aggregator.sources import Source, get_source
from aggregator.text import name_key
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
URL_SCHEMES = frozenset({"http", "https"})
LINK_REL = "nofollow noopener"
ALWAYS_DROPPED = ("script", "style", "noscript", "object", "embed", "form", "button", "input", "svg", "math",
                  "template", "ins")  # fmt: skip
EMBEDS = "iframe"
"""Frames: never kept; a known video player's made a link to what it plays (``_link_embed``), any other dropped."""
YOUTUBE_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "youtube-nocookie.com",
                           "www.youtube-nocookie.com"})  # fmt: skip
VIDEO_PLAYERS: dict[str, str] = {
    **dict.fromkeys(YOUTUBE_HOSTS, "/embed/"), "player.vimeo.com": "/video/", "www.dailymotion.com": "/embed/",
    "geo.dailymotion.com": "/player", "rutube.ru": "/play/embed/", "vk.com": "/video_ext.php",
    "vkvideo.ru": "/video_ext.php", "ok.ru": "/videoembed/", "www.facebook.com": "/plugins/video.php",
    "player.twitch.tv": "/",
}  # fmt: skip
"""The video players whose frames are made links: host -> the path their player pages start with. A frame of any
other address (an advertisement, a "like" box, a poll, a subscription form) is furniture: a link to it in the body
would read as part of the article."""
_YOUTUBE_EMBED_PATH = re.compile(r"/embed/([A-Za-z0-9_-]{11})/?")
"""A video's id is 11 of these characters; ``/embed/videoseries`` (also 11) plays a playlist, not a video."""
LAZY_SRC_ATTRIBUTES = ("data-src", "data-lazy-src", "data-original")
BLOCKS = ("p", "h2", "h3", "h4", "li", "blockquote", "figcaption", "td", "th")

# Paragraphs that are the site talking about itself, not the article (matched on short blocks only), each with the
# words every match of it holds: a block holding none of them is no boilerplate, and a few substring tests cost a
# tenth of the regex's scan (an alternation of patterns without a common prefix is tried at every position).
BOILERPLATE_PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # copyright and "use only with a hyperlink" notices
    # "Любое использование материалов ...", "При использовании материалов ... гиперссылка ... обязательна"
    (r"использовани[еи] (наших |любых )?материалов .{0,60}(гиперссылк|ссылк)", ("материалов",)),
    (r"все права защищены", ("все права защищены",)),
    (r"materiallardan istifadə .{0,80}(hiperlink|istinad|keçid)", ("materiallardan istifadə",)),
    (r"bütün hüquqlar qorunur", ("bütün hüquqlar qorunur",)),
    # "Any use of materials ...", "Use of materials is allowed only with a hyperlink ..."
    (r"\buse of (the |our )?materials? .{0,60}hyperlink", ("use of",)),
    (r"all rights reserved", ("all rights reserved",)),
    (r"^(copyright\s*)?©\s*\d{4}", ("©",)),
    # subscribe prompts
    (r"подпис(ывайтесь|аться|ывайся|ывайтесь) на (наш|нас)", ("подпис",)),
    (
        r"(telegram|whatsapp|instagram|youtube|facebook|tiktok)[- ]?(kanalımıza|səhifəmizə|hesabımıza)",
        ("kanalımıza", "səhifəmizə", "hesabımıza"),
    ),
    # "Bizi Telegram kanalımızda izləyin" (follow us on our Telegram channel), "... səhifəmizdə izləyin"
    (r"(kanalımızda|səhifəmizdə|səhifələrimizdə|hesabımızda) izləyin", ("izləyin",)),
    (r"abunə ol(un)?\b", ("abunə ol",)),
    (r"(subscribe to|follow) (us|our)\b", ("subscribe to", "follow")),
    # read also
    (r"^(читайте|смотрите) (также|еще|тоже)\b", ("читайте", "смотрите")),
    (r"^(həmçinin|bunu da) oxuyun\b", ("oxuyun",)),
    (r"^oxu\s*:", ("oxu",)),  # "Oxu: <a>another article</a>", the Azerbaijani "Читайте:"
    (r"^читайте\s*:", ("читайте",)),
    (r"^(read|see) (also|more)\b", ("read", "see")),
    (r"^(ещё|еще) по теме\b", ("по теме",)),
    # a lone advertisement label
    (r"^(реклама|reklam|advertisement)$", ("реклама", "reklam", "advertisement")),
    # view counters
    (r"^(просмотров|просмотры|baxış(ların)? sayı|baxış|views?)\s*:?\s*\d[\d\s]*$", ("просмотр", "baxış", "view")),
    # share prompts
    (
        r"^(поделиться|поделитесь|paylaş|paylaşın|share( this( article)?)?( on .*)?)\s*:?$",
        ("подели", "paylaş", "share"),
    ),
)
BOILERPLATE_PARAGRAPHS = re.compile("|".join(pattern for pattern, _ in BOILERPLATE_PATTERNS))
"""Matched against lower-cased text (a case-insensitive Unicode regex is several times slower)."""
_BOILERPLATE_HINTS = tuple(dict.fromkeys(hint for _, hints in BOILERPLATE_PATTERNS for hint in hints))
MAX_BOILERPLATE_LENGTH = 240
"""Longer blocks are article text even when they mention a copyright or a subscription."""
_COPYRIGHT_MARK = re.compile(r"(?:copyright\s*)?©\s*(?:\d{4}(?:\s*[-–]\s*\d{4})?)?", re.IGNORECASE)
"""A copyright sign and its years: the source's name with one ("Caliber.az © 2026. ") is its notice."""

_TAGS = set(ALLOWED_TAGS)
_ATTRIBUTES = {tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()}
_BLOCK_TAGS = frozenset(BLOCKS)
_PARAGRAPH_BREAKS = frozenset((*BLOCKS, "ul", "ol", "figure", "table", "thead", "tbody", "tfoot", "tr", "caption"))
"""The allowed elements a reader sees as blocks of their own: text before one's start or after its end is another
paragraph of ``text_of_safe_html``."""
_INNER_BREAKS = "ul,ol,figure"
"""The elements of ``_PARAGRAPH_BREAKS`` that are neither blocks nor parts of a table."""
_STABLE_CONTAINERS = frozenset({"blockquote"})
_REPARENTING_TAGS = ("table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "colgroup", "col")
_REPARENTING = ",".join(_REPARENTING_TAGS)
_MEDIA = "img,a[href]"
_BODY_SELECTOR = ",".join((*BLOCKS, "table", _MEDIA, "br", EMBEDS, "div"))
"""Every element ``clean_body`` looks at once the furniture is gone, in one query (each query costs ~2 us before it
matches anything, selectolax parses the selector again, and more the longer the list): no two of its selectors match
one element, so each comes once, in document order. "table" stands for every element of ``_REPARENTING``: a parser
makes the others only inside a table, a template or SVG/MathML (the last three are always dropped)."""
_CLEANER = nh3.Cleaner(tags=_TAGS, attributes=_ATTRIBUTES, url_schemes=set(URL_SCHEMES), link_rel=LINK_REL)
"""Built once: passing the allow-list to ``nh3.clean`` converts it again on every call (~15 us a body)."""


_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))
"""Soft hyphens, zero-width spaces, word joiners and byte-order marks: a "типограф" or a copy and paste leaves them
inside words ("Ген\u00adас\u00adсамблея"), where a reader sees nothing, but search, story matching and the citations
read two words or none. Out of the text (the safe HTML keeps them: a soft hyphen is a hyphenation hint there)."""


def collapse(text: str | None) -> str:
    """Whitespace runs (including no-break spaces) as single spaces, trimmed; the ``_INVISIBLE`` characters gone."""
    if not text:
        return ""
    # Most blocks are already collapsed; proving it costs half the split and join. Every whitespace character but
    # the plain space is unprintable, and so is every ``_INVISIBLE`` one, so printable text without double, leading
    # or trailing spaces has nothing to do.
    if text.isprintable() and "  " not in text and text[0] != " " and text[-1] != " ":
        return text
    return " ".join(text.translate(_INVISIBLE).split())


def _fix_media(root: LexborNode, base_url: str) -> None:
    _fix_media_nodes(css(root, _MEDIA), base_url)


def _fix_media_nodes(nodes: Iterable[LexborNode], base_url: str) -> None:
    """Lazy images get their real ``src`` (or go, without one), links and images absolute addresses."""
    for node in nodes:
        attrs = node.attrs
        if node.tag == "a":
            attrs["href"] = absolute(base_url, attrs.get("href") or "")
            continue
        src = None
        for name in LAZY_SRC_ATTRIBUTES:
            src = attrs.get(name)
            if src:
                break
        src = (src or attrs.get("src") or "").strip()
        if not src or src.startswith("data:"):
            node.remove()
            continue
        attrs["src"] = absolute(base_url, src)


def embed_target(src: str, base_url: str) -> str | None:
    """The address a reader can follow to what an embedded video player (``<iframe src>``) plays: a YouTube video's
    own page, another known player's address (``VIDEO_PLAYERS``) made absolute (a protocol-relative ``//host/...``
    too); None for anything else (another site's frame, ``javascript:``, ``data:``, ``about:blank``, nothing)."""
    try:
        parts = urlsplit(absolute(base_url, src))  # drops tabs and newlines, as a browser does
    except ValueError:  # a broken host ("https://[x/")
        return None
    if parts.scheme not in URL_SCHEMES or not parts.hostname:
        return None
    player_path = VIDEO_PLAYERS.get(parts.hostname)
    if player_path is None or not parts.path.startswith(player_path):
        return None
    if parts.hostname in YOUTUBE_HOSTS:
        video = _YOUTUBE_EMBED_PATH.fullmatch(parts.path)
        if video and video.group(1) != "videoseries":
            return f"https://www.youtube.com/watch?v={video.group(1)}"
    return parts.geturl()


def _link_embed(node: LexborNode, base_url: str) -> str | None:
    """Replace an embedded player with a link to what it plays, and return the link's address: in a paragraph of its
    own, or the link alone inside a block (a paragraph must not hold another one); remove it without an address."""
    attrs = node.attrs
    src = next((value for name in (*LAZY_SRC_ATTRIBUTES, "src") if (value := attrs.get(name))), None)
    url = embed_target(src, base_url) if src else None
    if url is None:
        node.remove()
        return None
    document = node.parser
    link = document.create_node("a")
    link.attrs["href"] = url
    link.insert_child(url)  # as text: escaped
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
    return url


def _sanitize_tree(root: LexborNode, base_url: str, *, dropped: bool = False) -> str:
    """The safe HTML of an already parsed body: unsafe elements out (unless ``dropped`` already), embedded players
    made links, media fixed, nh3's allow-list."""
    if not dropped:
        for node in css(root, _dropped_selector(())):
            node.remove()
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
    lowered = text.lower()
    for hint in _BOILERPLATE_HINTS:
        if hint in lowered:
            return BOILERPLATE_PARAGRAPHS.search(lowered) is not None
    return False


@lru_cache(maxsize=8192)
def _owns(source: Source, url: str) -> bool:
    """``source.owns(url)``, cached like ``canonical_url``: a page declares the same canonical URL at every fetch."""
    return source.owns(url)


@lru_cache(maxsize=64)
def _source_names(source: Source) -> frozenset[str]:
    return frozenset({name_key(source.name), *(name_key(d) for d in source.domains)})


def clean_body(
    html: str, *, base_url: str, boilerplate: Iterable[str] = (), source_names: frozenset[str] = frozenset()
) -> tuple[str, str]:
    """``(safe_html, text)`` of an article body; the text is the safe HTML's, one paragraph a line apart.

    The text is taken from the blocks that survive into the safe HTML while they are judged for boilerplate, not
    by parsing the safe HTML again: the furniture nh3 would strip with its content (scripts, styles) is already
    gone by then, and nh3 keeps the text of any other element it unwraps, so both give the same text (a test holds
    them equal on every sample page and injection vector) and the second parse and walk cost as much as the rest.
    """
    root = parse_html(html, base_url).body  # a feed's body was never parsed as a page: defused here
    if root is None:
        return "", ""
    # One query for all the furniture (each query compiles its selector); remove() unlinks without freeing, so a
    # match inside an already removed match stays safe to touch.
    for node in css(root, _dropped_selector(tuple(boilerplate))):
        node.remove()
    blocks: list[LexborNode] = []
    media: list[LexborNode] = []
    tables = False
    other_blocks: set[str] = set()  # the tags of the blocks other than paragraphs
    embeds: set[str] = set()
    for node in css(root, _BODY_SELECTOR):
        tag = node.tag
        if tag in _BLOCK_TAGS:
            blocks.append(node)
            if tag != "p":
                other_blocks.add(tag)
        elif tag == "table":
            tables = True
        elif tag == "br":
            # A line break is a space in the text: "Баку,<br>улица" read "Баку,улица" (a glued word for search,
            # dedupe and the citations), here and where the text is read back from the safe HTML.
            node.insert_after("\n")
        elif tag == "div":
            # The sanitiser unwraps a <div>, and a browser showed "<div>Баку</div><div>улица</div>" as "Бакуулица":
            # a line break after it keeps the words apart, in the safe HTML as in the text.
            node.insert_after("\n")
        elif tag == EMBEDS:
            if url := _link_embed(node, base_url):
                embeds.add(url)
        else:
            media.append(node)
    texts: list[str] = []
    blocks, outer = _innermost(root, blocks)
    removed = False
    for block in blocks:
        text = collapse(block.text(deep=True, separator=""))
        if (not text and not _has_image(block)) or is_boilerplate(text, source_names):
            block.remove()
            removed = True
        elif text:
            texts.append(text)
    # Media inside a removed block are fixed too: harmless, they are no longer in the tree.
    _fix_media_nodes(media, base_url)
    safe = _CLEANER.clean(root.inner_html or "").strip()
    stable = not outer or (outer <= _STABLE_CONTAINERS and not removed)
    # Removing blocks never adds a table, so without one before there is none now; with one, only a removal can
    # have taken it away.
    if (
        not stable
        or not texts
        or (tables and (not removed or css_first(root, _REPARENTING) is not None))
        or embeds
        or _holds_loose_text(root, outer)
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
        item.title = collapse(item.title)
        declared = item.canonical_url if item.canonical_url and _owns(source, item.canonical_url) else None
        item.canonical_url = canonical_url(declared or item.url)
        if item.cover_image_url:
            item.cover_image_url = absolute(item.url, item.cover_image_url)
        item.category = collapse(item.category) or None
        item.body_html, item.body_text = clean_body(
            item.body_html or "", base_url=item.url, boilerplate=source.boilerplate, source_names=_source_names(source)
        )
        if not item.body_text:
            raise self.reject("no body (empty once boilerplate was removed)")
        return item
