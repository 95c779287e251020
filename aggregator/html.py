"""CSS queries on lexbor trees through one selector engine per thread, and the parse of a fetched page.

selectolax builds a CSS parser and matcher for every document on its first query, which costs about as much as
parsing a short article body (~40 us). The engine holds no document state between queries, so one per thread
serves every page: extractors and the cleanup pipeline query through ``css``/``css_first`` here instead of
``node.css``. One per thread, because a query keeps its matches on the engine while it runs.

Each query still parses its selector (~2 us, more than matching it on an article), so extractors make few of
them: one selector list for several things, sorted out afterwards, where the sorting is exact.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from scrapy.http import Headers, TextResponse
from selectolax.lexbor import LexborCSSSelector, LexborHTMLParser, LexborNode
from w3lib.encoding import http_content_type_encoding, read_bom

from aggregator.markup import defused, needs_scan
from aggregator.urls import absolute

_local = threading.local()


def _engine() -> Any:
    try:
        return _local.engine
    except AttributeError:
        engine = _local.engine = LexborCSSSelector()  # type: ignore[no-untyped-call]
        return engine


def css(scope: LexborNode | LexborHTMLParser, query: str) -> list[LexborNode]:
    """Every element under ``scope`` that ``query`` matches, in document order (as ``scope.css(query)``)."""
    node = scope.root if isinstance(scope, LexborHTMLParser) else scope
    if node is None:  # an empty document
        return []
    found: list[LexborNode] = _engine().find(query, node)
    return found


def css_first(scope: LexborNode | LexborHTMLParser, query: str) -> LexborNode | None:
    """The first element under ``scope`` that ``query`` matches, or None (as ``scope.css_first(query)``)."""
    node = scope.root if isinstance(scope, LexborHTMLParser) else scope
    if node is None:
        return None
    found: list[LexborNode] = _engine().find_first(query, node)
    return found[0] if found else None


def collapse_whitespace(text: str) -> str:
    """``" ".join(text.split())``: runs of whitespace as one space, none at either end.

    Most text needs nothing done, and saying so is cheaper than splitting it into words: a printable string holds
    no whitespace but the ASCII space (every other character ``str.split`` splits on is a control or separator
    character, which ``isprintable`` refuses), so with no two spaces in a row and none at an end it is its own
    answer.
    """
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


LAZY_SRC_ATTRIBUTES = ("data-src", "data-lazy-src", "data-original", "data-lazy")
"""Where lazy-loading scripts keep an image's (or a frame's) real address, while ``src`` holds a placeholder (a
``data:`` pixel or a ``placeholder.gif`` of the site's own): tried before ``src``."""
IMAGE_SRC_ATTRIBUTES = (*LAZY_SRC_ATTRIBUTES, "src")
"""An image's address attributes in the order tried (the cleanup, the extractors' covers, the generic spider's)."""


LAZY_SRCSET_ATTRIBUTE = "data-srcset"
"""A lazy image whose real addresses are a candidate list ("a.webp 800w, b.webp 1600w"), as ``srcset`` has them."""
SRCSET_ATTRIBUTES = ("srcset", LAZY_SRCSET_ATTRIBUTE)
URL_ATTRIBUTES = ("href", *IMAGE_SRC_ATTRIBUTES)
"""The attributes of a body's elements whose one address the cleanup reads (links, images, players' frames)."""
_URL_BEARING = ",".join(f"[{name}]" for name in (*URL_ATTRIBUTES, *SRCSET_ATTRIBUTES))


def http_url(base_url: str, href: str | None) -> str | None:
    """``href`` made absolute against ``base_url`` if that gives an http(s) address; None for anything else (nothing,
    a ``data:`` placeholder, ``javascript:``, ``mailto:``). An image or a cover is shown from its address: only a web
    address can be one, and a ``javascript:`` one must never reach a page. One no URL can be made of (a broken host,
    "//[x/") is none either: raised, it cost the article its place in the archive."""
    if not href or not (href := href.strip()):
        return None
    try:
        url = absolute(base_url, href)
        parts = urlsplit(url)  # raises on a host no URL can have ("https://[broken/"), which ``absolute`` leaves
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


BASE = "base[href]"
"""The element that names a document's base URL (the first one with an ``href``)."""


def base_url(page_url: str, href: str | None) -> str:
    """The address a page's relative URLs resolve against: its ``<base href>`` (``href``; None without one) made
    absolute against the page's own URL, or the page's URL itself.

    As a browser, and Scrapy's ``response.urljoin``, read a page: a site that serves its articles deep in the tree
    with ``<base href="/">``, or from a CDN path, writes its links and images relative to that. Resolved against the
    page's URL instead, every such link led to a page that does not exist and every such image showed nothing.
    A base that is no web address (``javascript:``, ``data:``, a blank or broken one) is ignored, as browsers ignore
    ``data:`` and ``javascript:`` bases: a relative link must never turn into a script.
    """
    return http_url(page_url, href) or page_url


def document_base(tree: LexborHTMLParser, page_url: str) -> str:
    """``base_url`` of a parsed page: the first ``<base href>`` of its ``<head>`` counts. Only the head's: a
    ``<base>`` left in a body (an embed's markup pasted into an article) must not move every link of the page."""
    head = tree.head
    node = css_first(head, BASE) if head is not None else None
    return base_url(page_url, node.attrs.get("href") if node is not None else None)


def srcset_candidates(srcset: str | None) -> list[tuple[str, str]]:
    """The candidates of a ``srcset`` as ``(address, descriptors)``, in order: "a.webp 800w, b.webp 1600w" ->
    ``[("a.webp", "800w"), ("b.webp", "1600w")]``.

    As the HTML standard splits it: an address is a run of characters other than whitespace, commas included
    ("img/w_400,h_300/a.jpg" is one address), less any commas it ends with; its descriptors run to the next comma
    outside parentheses. Split at each comma, an address with commas in it was cut in pieces."""
    if not srcset:
        return []
    found: list[tuple[str, str]] = []
    position, end = 0, len(srcset)
    while True:
        while position < end and (srcset[position] in " \t\n\r\f,"):
            position += 1
        if position >= end:
            return found
        start = position
        while position < end and srcset[position] not in " \t\n\r\f":
            position += 1
        url = srcset[start:position]
        if url.endswith(","):
            found.append((url.rstrip(","), ""))
            continue
        start, depth = position, 0
        while position < end:
            char = srcset[position]
            if char == "(":
                depth += 1
            elif char == ")" and depth:
                depth -= 1
            elif char == "," and not depth:
                break
            position += 1
        found.append((url, srcset[start:position].strip(" \t\n\r\f")))
        position += 1


_FIRST_CANDIDATE = re.compile(r"[ \t\n\r\f,]*([^ \t\n\r\f]+)")


def first_candidate(srcset: str | None) -> str | None:
    """The address of a ``srcset``'s first candidate ("a.webp 800w, b.webp 1600w" -> "a.webp"), as
    ``srcset_candidates`` reads it, without reading the others (the cleanup asks it of every such image)."""
    found = _FIRST_CANDIDATE.match(srcset) if srcset else None
    return (found[1].rstrip(",") or None) if found else None


def resolved_attribute(name: str, value: str, base: str) -> str:
    """An address attribute's value with its address (each of a ``srcset``'s) made absolute against ``base``;
    blank values, and addresses that are no URL a parser can read, as they were."""
    if not value.strip():
        return value
    try:
        if name in SRCSET_ATTRIBUTES:
            return ", ".join(
                f"{absolute(base, url)} {descriptors}".rstrip() for url, descriptors in srcset_candidates(value)
            )
        return absolute(base, value)
    except ValueError:  # a broken host ("//[x/"): left for the cleanup to judge, as without a base
        return value


def resolve_urls(scope: LexborNode, base: str) -> None:
    """Make the addresses in ``scope`` (links, images and their lazy and ``srcset`` forms, frames) absolute against
    ``base``, the page's ``<base href>``.

    An extractor hands the cleanup a body's markup without its page, and the cleanup resolves what is still relative
    against the article's URL: a body taken from a page with a base of its own is resolved here, while the page is
    at hand, so that the cleanup finds its addresses absolute already."""
    for node in css(scope, _URL_BEARING):
        attrs = node.attrs
        for name, value in node.attributes.items():
            if value is not None and (name in URL_ATTRIBUTES or name in SRCSET_ATTRIBUTES):
                resolved = resolved_attribute(name, value, base)
                if resolved != value:
                    attrs[name] = resolved


def node_text(node: LexborNode | None) -> str | None:
    """The node's text with whitespace collapsed; None for a missing node or an empty one."""
    if node is None:
        return None
    return collapse_whitespace(node.text(deep=True, separator=" ")) or None


GLUED_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "s", "strike", "del", "ins", "mark", "q", "sup", "sub", "small", "big", "abbr",
        "cite", "dfn", "code", "kbd", "samp", "var", "tt", "bdi", "bdo", "nobr", "wbr", "font", "time", "data",
    }
)  # fmt: skip
"""Inline formatting: a browser shows the text on either side of one's start or end side by side, as the page's own
whitespace (or its absence) has it: "«<em>Али и Нино</em>»" is "«Али и Нино»", "м<sup>2</sup>" is "м2"."""
INLINE_TAGS = frozenset({*GLUED_TAGS, "span", "a", "label", "img", "picture", "source"})
"""Other inline elements: side by side too in a browser, but a site may style one as a line of its own (a subtitle in
a ``<span>``), so words glued across one's edge are taken apart; any other element (a block, a ``<br>``) parts the
text on either side, as ``node_text`` does."""
_OPENING = frozenset("«“„‘([—–")
_CLOSING = frozenset("»”’)].,;:!?…—–")


def inline_text(node: LexborNode | None) -> str | None:
    """The node's text as a reader sees it, whitespace collapsed; None for a missing node or an empty one.

    For titles: ``node_text`` puts a space at every element's edge, which printed "« Али и Нино »" and "млн м 2".
    Here the edges of formatting elements (``GLUED_TAGS``) add nothing; the edges of other inline elements add a
    space only between what would otherwise read as one word ("Title<span>Subtitle</span>", "Title<span>«Sub»"),
    and the edges of anything else a space always ("Title<br>Subtitle", "<div>Title</div><div>Subtitle</div>")."""
    if node is None:
        return None
    current: LexborNode | None = node.child
    if current is not None and current.next is None and current.tag == "-text":  # the usual title: text alone
        return collapse_whitespace(current.text_content or "") or None
    pieces: list[str] = []
    edge = 0  # the widest element edge since the last text: 0 none or glued, 1 inline, 2 a block's
    while current is not None:
        tag = current.tag or ""
        if tag == "-text":
            text = current.text_content or ""
            if text:
                if edge and pieces:
                    before, after = pieces[-1][-1:], text[:1]
                    if edge == 2 or (
                        (before.isalnum() or before in _CLOSING) and (after.isalnum() or after in _OPENING)
                    ):
                        pieces.append(" ")
                pieces.append(text)
                edge = 0
        else:
            edge = max(edge, _edge(tag))
            if current.child is not None:
                current = current.child
                continue
        # Leave the node, and each ancestor it is the last descendant of, up to the next node in document order.
        while current is not None:
            if current.mem_id == node.mem_id:
                current = None
                break
            if current.tag != "-text":
                edge = max(edge, _edge(current.tag or ""))
            if current.next is not None:
                current = current.next
                break
            current = current.parent
    return collapse_whitespace("".join(pieces)) or None


def _edge(tag: str) -> int:
    return 0 if tag in GLUED_TAGS or tag == "-comment" else 1 if tag in INLINE_TAGS else 2


_COMPOUND = r"(?:[a-z][a-z0-9]*(?:[.#]-?[A-Za-z_][\w-]*)*|(?:[.#]-?[A-Za-z_][\w-]*)+)"
# compounds of a type and/or classes and ids, joined by descendant or child combinators; the last one's type
_TYPED_SELECTOR = re.compile(rf"(?:{_COMPOUND}\s*(?:>\s*|\s))*([a-z][a-z0-9]*)(?:[.#]-?[A-Za-z_][\w-]*)*", re.ASCII)


def subject_tag(selector: str) -> str | None:
    """The element type a selector's matches all have (``h1`` of ``h1.title``, ``img`` of ``.cover img``), for
    selectors of the plain form this module sorts by it; None for any other selector."""
    match = _TYPED_SELECTOR.fullmatch(selector.strip())
    return match.group(1) if match else None


class TagGroup:
    """Selectors whose matches are of different element types, answered by one query.

    A query parses its selector afresh (lexbor keeps no compiled form), and that parse and its memory pool cost
    more than the matching on an article page (~2 us a query). Selectors whose subjects have distinct types
    (``h1.title``, ``span.date``, ``.cover img``) can share one: every element the selector list matches was
    matched by the one selector of its type, since a type selector matches no element of another type. ``select``
    gives each selector's matches in document order, as ``css(scope, selector)`` would; selectors of no plain type,
    or of a type another one has too, are not in the group (``selectors``) and keep their own queries.
    """

    __slots__ = ("_by_tag", "query", "selectors")

    def __init__(self, selectors: Iterable[str]) -> None:
        by_tag: dict[str, str] = {}
        shared: set[str] = set()
        for selector in dict.fromkeys(selectors):
            tag = subject_tag(selector)
            if tag is None:
                continue
            if tag in by_tag:
                shared.add(tag)
            by_tag[tag] = selector
        self._by_tag = {tag: selector for tag, selector in by_tag.items() if tag not in shared}
        self.selectors = tuple(self._by_tag.values())
        self.query = ",".join(self.selectors)

    def select(self, scope: LexborNode | None) -> dict[str, list[LexborNode]] | None:
        """Each selector's matches under ``scope``; None if a match's type is not one of the group's (an element
        of another namespace, whose name lexbor may compare differently): the caller then queries each selector."""
        found: dict[str, list[LexborNode]] = {selector: [] for selector in self.selectors}
        if scope is None or not self.selectors:
            return found
        by_tag = self._by_tag
        for node in css(scope, self.query):
            tag = node.tag or ""
            selector = by_tag.get(tag)
            if selector is None:
                return None
            found[selector].append(node)
        return found


def is_inside(node: LexborNode, scope: LexborNode) -> bool:
    """Whether ``node`` is ``scope`` or one of its descendants."""
    target = scope.mem_id
    current: LexborNode | None = node
    while current is not None:
        if current.mem_id == target:
            return True
        current = current.parent
    return False


def parse_page(response: TextResponse, encoding: str | None = None) -> LexborHTMLParser:
    """The lexbor tree of ``response.text``.

    A page that is valid UTF-8 without a byte-order mark is handed to lexbor as its bytes: ``response.text`` would
    be exactly those bytes decoded, and lexbor would encode them back to UTF-8, so the tree is the same, without the
    decode (w3lib's, ~10 us on a 5 KiB page) and the encode. Any other page goes through ``response.text``.
    ``encoding`` is ``response.encoding`` when the caller has it already.

    A page with enough tags to nest deep enough to stall the parser is defused first (``aggregator.markup``).
    """
    body = response.body
    if needs_scan(body):
        return LexborHTMLParser(defused(response.text, response.url))
    if (encoding or response.encoding) == "utf-8" and read_bom(body)[0] is None:
        if body.isascii():
            return LexborHTMLParser(body)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return LexborHTMLParser(body)
    return LexborHTMLParser(response.text)


def link_urls(response: TextResponse, query: str) -> list[str]:
    """The ``href`` of every element ``query`` matches, stripped, each once, in page order (the empty ones left out),
    made absolute against the page's base (``document_base``); an ``href`` no URL can be made of (a broken host,
    "//[x/") is left out rather than ending the listing's links there.

    The page's tree lives only in here. A listing's requests take a while to be scheduled, and the response they
    come from is held until then: ``response.css`` would keep its tree cached on it for all that time, ~10 MiB for a
    1 MiB listing, and a run's listings arrive together. Scrapy's ``response.urljoin`` honours a ``<base href>`` only
    in the page's first 4 KiB and takes a ``javascript:`` base as readily as a web one."""
    tree = parse_page(response)
    base = document_base(tree, response.url)
    found = (node.attributes.get("href") for node in css(tree, query))
    urls: list[str] = []
    for href in dict.fromkeys(href.strip() for href in found if href and href.strip()):
        try:
            urls.append(absolute(base, href))
        except ValueError:
            continue
    return urls


_STANDARD_ENCODING: dict[type[TextResponse], bool] = {}


def _standard_encoding(cls: type[TextResponse]) -> bool:
    """Whether ``cls`` decides its encoding as Scrapy's ``TextResponse`` does (no subclass changed how)."""
    known = _STANDARD_ENCODING.get(cls)
    if known is None:
        known = _STANDARD_ENCODING[cls] = (
            "_encoding" in TextResponse.__slots__
            and cls.encoding is TextResponse.encoding  # type: ignore[comparison-overlap]
            and cls._declared_encoding is TextResponse._declared_encoding
            and cls._headers_encoding is TextResponse._headers_encoding
        )
    return known


@lru_cache(maxsize=256)
def _content_type_encoding(content_type: bytes) -> str | None:
    return http_content_type_encoding(content_type.decode("latin-1"))


def raw_header(headers: Any, name: bytes) -> bytes | None:
    """``headers.get(name)``: the last value of a header, None when absent.

    On Scrapy's ``Headers``, without its generic key and default normalisation (as much as the rest of a short
    page's Python work on headers): it keeps each header's values in a list under ``name.title()``.
    """
    if type(headers) is Headers:
        values = dict.get(headers, name.title())
        return values[-1] if values else None
    value: bytes | None = headers.get(name)
    return value


def page_encoding(response: TextResponse) -> str:
    """``response.encoding``, the same answer with less work on the usual page.

    Scrapy tries, in order: an encoding given to the response, the body's byte-order mark, the Content-Type
    header's charset, the body's ``<meta charset>``, then inference. The header's answer depends on the header's
    value only, so it is kept per value here instead of being worked out again (a regex and a codec lookup, ~8 us)
    for every page; anything else is left to ``response.encoding``.
    """
    if (
        _standard_encoding(type(response))
        and response._encoding is None
        and read_bom(response.body)[0] is None
        and (found := _content_type_encoding(raw_header(response.headers, b"Content-Type") or b""))
    ):
        return found
    return response.encoding
