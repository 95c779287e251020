"""Markup that would stall the HTML parsers, found cheaply and flattened before it is parsed.

The HTML parsing algorithm walks the stack of open elements at many tags: a ``<div>`` looks for an open ``<p>`` to
close, an end tag looks for the element it closes. lexbor (our tree) and html5ever (inside nh3, our sanitiser) follow
it faithfully, so a page whose elements nest N deep costs them time in N squared: 20,000 unclosed ``<div>`` (100 KB,
the kind of page a broken CMS template loop prints) took lexbor 0.7 s and nh3 0.8 s here, 100,000 took minutes, and
an article is parsed three or four times on its way to the store. A crawl runs on one thread: one such page stalls
every source in the process.

``defused`` rewrites such markup the way Blink's parser builds such a page (past its limit of 512): no element nests
deeper than ``MAX_DEPTH``; an element that would open deeper becomes a sibling of the deepest one (that one is closed
first), so every element and every word is kept and only the excess nesting goes. The cap is 200: real pages nest a
few dozen deep, and libxml2 leaves out what nests past 256, so lxml (trafilatura's parser) reads the result whole.

Nearly every page is decided by one count (``needs_scan``: no page with fewer than ``SCAN_FROM`` ``<`` can cost a
parser more than about a tenth of a second); only the rare page past it is scanned, in linear time, and rewritten
only if it nests too deep. The scan models the tree construction closely enough to bound the depth (implied end tags
of ``p``, ``li``, ``dd``/``dt``, table cells and rows, ``a``, raw text elements, comments, self-closing tags in SVG
and MathML); where it is unsure it assumes an element stays open, which only flattens sooner.

Left alone: a tag with tens of thousands of attributes is quadratic too (each is checked against the ones before it),
but no template prints one by mistake, and finding one costs a pass over every page's tags.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from functools import cache

from selectolax.lexbor import LexborHTMLParser

logger = logging.getLogger(__name__)

MAX_DEPTH = 200
SCAN_FROM = 8_000
"""Below this many ``<``, a page's worst case is ~3 * 10^7 stack steps: about a tenth of a second a parse."""

# fmt: off
_VOID = frozenset((
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img", "input", "keygen", "link",
    "meta", "param", "source", "track", "wbr",
))
_RAW_TEXT = frozenset(("script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript"))
_FOREIGN = frozenset(("svg", "math"))
_CLOSES_P = frozenset((
    "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div", "dl", "fieldset",
    "figcaption", "figure", "footer", "header", "hgroup", "main", "menu", "nav", "ol", "p", "search", "section",
    "summary", "ul", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "listing", "form", "table", "hr", "xmp",
))
# fmt: on
# A start tag that closes an open element of the same kind (or a sibling kind) inside the nearest container.
_CLOSES_OPEN = {
    "li": (("li",), ("ul", "ol")),
    "dd": (("dd", "dt"), ("dl",)),
    "dt": (("dd", "dt"), ("dl",)),
    "td": (("td", "th"), ("tr", "table")),
    "th": (("td", "th"), ("tr", "table")),
    "tr": (("tr",), ("table", "tbody", "thead", "tfoot")),
    "option": (("option",), ("select", "datalist")),
    "a": (("a",), ()),
}

_TOKEN = re.compile(r"<(?:(/?)([A-Za-z][^\s/>]*)|!--|[!?])")


def needs_scan(markup: str | bytes) -> bool:
    """Whether ``markup`` has enough tags that it may nest deep enough to stall a parser (a tag takes 3 characters at
    least, ``<p>``: a page shorter than three times ``SCAN_FROM`` is not even counted)."""
    if len(markup) < 3 * SCAN_FROM:
        return False
    if isinstance(markup, bytes):
        return markup.count(b"<") >= SCAN_FROM
    return markup.count("<") >= SCAN_FROM


class _Stack:
    """The open elements as the scan models them, with each name's positions, so every step is O(1) amortised."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.at: defaultdict[str, list[int]] = defaultdict(list)

    def push(self, name: str) -> None:
        self.at[name].append(len(self.names))
        self.names.append(name)

    def pop(self) -> str:
        name = self.names.pop()
        self.at[name].pop()
        return name

    def last(self, name: str) -> int:
        positions = self.at.get(name)
        return positions[-1] if positions else -1

    def in_foreign(self) -> bool:
        """Inside an open ``<svg>`` or ``<math>``, where a self-closing tag closes itself."""
        return bool(self.at.get("svg") or self.at.get("math"))

    def pop_to(self, index: int) -> None:
        """Close the element at ``index`` and every element opened after it."""
        while len(self.names) > index:
            self.pop()


def _innermost_closed(closed_early: list[tuple[str, int]], name: str, depth: int) -> int:
    """The index in ``closed_early`` of the element an end tag for ``name`` closes when the stack is ``depth`` deep:
    the innermost of those closed at this depth with that name (the ones inside it are closed with it, as a parser
    closes what is open inside the element an end tag names); -1 for none."""
    for index in range(len(closed_early) - 1, -1, -1):
        closed_name, closed_depth = closed_early[index]
        if closed_depth != depth:
            return -1
        if closed_name == name:
            return index
    return -1


def defused(markup: str, url: str | None = None) -> str:
    """``markup`` with no element deeper than ``MAX_DEPTH``: ``markup`` itself (the same object) when none is, which
    is nearly always."""
    if not needs_scan(markup):
        return markup
    stack = _Stack()
    # The elements closed at the cap whose end tags are still to come, outermost first, each with the depth it had:
    # in the page, each holds the ones after it and the element open at that depth now. How much deeper than the
    # stack the page asked to nest is how many there are.
    closed_early: list[tuple[str, int]] = []
    asked = 0  # the deepest the page asked for
    pieces: list[str] = []
    copied = 0  # markup[:copied] is in pieces (when anything was rewritten)
    flattened = 0
    pos = 0
    while (match := _TOKEN.search(markup, pos)) is not None:
        slash, raw_name = match.group(1), match.group(2)
        if raw_name is None:  # a comment, doctype or processing instruction
            terminator = "-->" if match.group(0) == "<!--" else ">"
            close = markup.find(terminator, match.end())
            if close < 0:
                break  # it runs to the end
            pos = close + len(terminator)
            continue
        tag_end = markup.find(">", match.end())
        if tag_end < 0:
            break
        pos = tag_end + 1
        name = raw_name.lower()
        if slash:
            depth = len(stack.names)
            while closed_early and closed_early[-1][1] > depth:
                closed_early.pop()  # an element around them was closed: in the page they were closed with it
            if (early := _innermost_closed(closed_early, name, depth)) >= 0:
                # The end tag of an element closed at the cap already (the innermost the page has open now: every
                # element opened since is closed): dropped. Taken for an open element's of the same name, it closed
                # that one instead, and the article's text after it fell outside the article's element.
                del closed_early[early:]
                pieces.append(markup[copied : match.start()])
                copied = pos
            elif (at := stack.last(name)) >= 0:
                stack.pop_to(at)
            continue
        self_closing = markup[tag_end - 1] == "/"
        if not (name in _VOID or (self_closing and (name in _FOREIGN or stack.in_foreign()))):
            if name in _CLOSES_P and (at := stack.last("p")) >= 0:
                stack.pop_to(at)
            if (closes := _CLOSES_OPEN.get(name)) is not None:
                same_kind, containers = closes
                at = max(stack.last(kind) for kind in same_kind)
                if at >= 0 and at > max((stack.last(c) for c in containers), default=-1):
                    stack.pop_to(at)
            if len(stack.names) >= MAX_DEPTH:
                # As Blink does: the new element becomes a sibling of the deepest open one, closed here first.
                deepest = stack.pop()
                closed_early.append((deepest, len(stack.names)))
                pieces.append(markup[copied : match.start()])
                pieces.append(f"</{deepest}>")
                copied = match.start()
                flattened += 1
            stack.push(name)
            asked = max(asked, len(stack.names) + len(closed_early))
            if name in _RAW_TEXT:  # its text is not markup: on to its end tag
                close_tag = _raw_text_end(name).search(markup, pos)
                if close_tag is None:
                    pos = len(markup)
                else:
                    stack.pop()
                    pos = close_tag.end()
    if not flattened:
        return markup
    pieces.append(markup[copied:])
    logger.warning(
        "%s: markup nested %d elements deep: rewritten so that none nests deeper than %d (%d made siblings of the "
        "deepest), or the HTML parsers would take time in the square of the depth",
        url or "a page", asked, MAX_DEPTH, flattened,
    )  # fmt: skip
    return "".join(pieces)


@cache
def _raw_text_end(name: str) -> re.Pattern[str]:
    return re.compile(rf"</{re.escape(name)}[\s/>]", re.IGNORECASE)


def parse_html(markup: str, url: str | None = None) -> LexborHTMLParser:
    """The lexbor tree of ``markup``, defused first when it nests deep enough to stall the parser."""
    return LexborHTMLParser(defused(markup, url))
