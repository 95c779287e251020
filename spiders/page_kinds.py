"""Whether a page a feed or a sitemap led the generic spider to is a listing (a section front, a tag page, an
archive page) rather than an article.

Sitemaps list section fronts beside the articles, and a site that declares nothing about its pages (no JSON-LD, no
OpenGraph type, no ``article:published_time``: many Bitrix and hand-made sites) gives the generic extractor no way to
tell: trafilatura finds the teasers' text, the page passes every pipeline, and a section front is archived as an
article whose body is three other articles' summaries, with the health check green.

A listing is judged by its shape, and only where the page claims nothing: every teaser of it is a small block
holding one link to another article of the site and a date of its own ("04.12.2026 14:20", "25 noyabr, 11:00",
``<time>``), and the teasers are what the page has to say: outside them, their links and the site's furniture
(header, footer, navigation, sidebars marked as such) there is little text and no date after the page's headline. An
article has its own text and, after its headline, its own date line; its "other news" blocks and sidebars are
teasers too, but never all of it. The judgement errs on the article's side: a page with article metadata, with
running text of its own or with a date line of its own is never called a listing, since an article skipped is lost
for good while a section front archived is one row an operator can withdraw.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from aggregator.html import css, css_first, is_inside
from aggregator.urls import absolute
from pipelines.dates import month_number

if TYPE_CHECKING:
    from aggregator.sources import Source
    from spiders.generic import GenericArticle

MIN_TEASERS = 3
"""Dated teasers a listing shows at least ("several"): an article's "other news" block of two is not a listing."""
MAX_RUNNING_TEXT = 300
"""Characters of a listing's own text at most (outside its teasers, links, headline and furniture): a section's name
and a line of introduction. A page with more is taken for an article; a brief with less is kept by its date line."""
MAX_TEASER_TEXT = 300
"""A teaser's text outside its link at most: a date and a summary of a sentence or two. A block with more and one
link in it is a part of the page (an article's text linking another article once), not a teaser."""
MAX_DATE_TEXT = 40
"""A date stands alone: a text this short at most, as a teaser's date line prints it ("04.12.2026 14:20",
"Вчера, 15:31", "25 noyabr 2026, 11:00"); a date inside a sentence of the article's text is no date line."""
FURNITURE = frozenset({"header", "footer", "nav", "aside", "form", "script", "style", "noscript", "template", "svg"})
"""The site's own parts of every page (and what shows no text): neither teasers nor running text."""

_NUMERIC_DATE = re.compile(r"(?<![\d.])(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2})(?![\d.])")
_CLOCK = re.compile(r"(?<![\d:.])(?:[01]?\d|2[0-3]):[0-5]\d(?![\d:])")
_DAY_AND_MONTH = re.compile(r"(?<!\d)\d{1,2}\s*([^\W\d_]+)|([^\W\d_]+)\.?\s+\d{1,2}(?!\d)")
_DAY_WORDS = re.compile(r"(?<!\w)(?:вчера|сегодня|назад|dünən|bu gün|əvvəl|yesterday|today|ago)(?!\w)")
_ARTICLE_PATH = re.compile(r"\d{3,}|/\d{4}/\d{1,2}/|[^\W\d_]+(?:-[^\W_]+){2,}|\.s?html?$|\.php$")
"""An address that looks like an article's, when the registry gives no ``article_urls``: a number (an id, a date in
the path), a slug of three words or more, a page file. A section's or a tag's ("/news/ekonomika/", "/tag/port/") has
none of them."""


def is_date_line(text: str) -> bool:
    """Whether a short text is a date as listings print one: a numeric or ISO date, a time of day, a day and a month
    named in Russian, Azerbaijani or English, or "yesterday" / "N hours ago" in either."""
    text = " ".join(text.split()).lower()
    if not text or len(text) > MAX_DATE_TEXT:
        return False
    if _DAY_WORDS.search(text):
        return True
    if not any(c.isdigit() for c in text):
        return False
    if _NUMERIC_DATE.search(text) or _CLOCK.search(text):
        return True
    return any(month_number((m.group(1) or m.group(2)).rstrip(".")) for m in _DAY_AND_MONTH.finditer(text))


@dataclass(frozen=True, slots=True)
class ListingShape:
    """What the judgement measured on a page (for the log and the tests)."""

    teasers: int
    """Dated teasers: blocks holding one link to another article of the site and a date line."""
    running_text: int
    """Characters of text outside the teasers, the links, the headline and the furniture."""
    own_date: bool
    """A date line outside the teasers after the page's headline (an article's own date)."""

    @property
    def is_listing(self) -> bool:
        return self.teasers >= MIN_TEASERS and self.running_text <= MAX_RUNNING_TEXT and not self.own_date

    def describe(self) -> str:
        return f"{self.teasers} dated teaser(s), {self.running_text} character(s) of its own text, no date line"


def listing_shape(page: GenericArticle) -> ListingShape:
    """The page's teasers, its own text and whether it prints a date line of its own (see the module's docstring)."""
    body = page.tree.body
    if body is None:
        return ListingShape(0, 0, own_date=False)
    targets: dict[int, set[str]] = {}  # element -> the article addresses linked inside it
    chains: list[list[LexborNode]] = []  # each article link and its ancestors up to the body, innermost first
    for target, chain, _ in _article_links(body, page.base, page.response.url, page.source):
        chains.append(chain)
        for node in chain:
            targets.setdefault(node.mem_id, set()).add(target)
    headline = css_first(body, "h1")
    teasers: dict[int, LexborNode] = {}
    for chain in chains:
        container = _teaser_of(chain, targets)
        if container.mem_id not in teasers and _is_teaser(container, headline):
            teasers[container.mem_id] = container
    running, own_date = _own_text(body, set(teasers), headline)
    return ListingShape(len(teasers), running, own_date)


@dataclass(slots=True)
class ListedLinks:
    """The links an HTML page read as a listing gives (``listed_articles``)."""

    articles: list[str]
    """Addresses of articles of the site, each once, in page order."""
    off_domain: list[str]
    """Addresses shaped like an article's on other sites (a partner's teasers), each once: not followed, counted."""
    dates: dict[str, str]
    """An article's address -> the date its teaser prints ("05.12.2026 09:40", a ``<time datetime>``): the last
    resort of a page that prints none, as a feed entry's date is."""


def listed_articles(tree: LexborHTMLParser, base: str, url: str, source: Source) -> ListedLinks:
    """The articles a page links to, outside the site's furniture (header, footer, navigation, sidebars marked as
    such): links whose address is the source's and looks like an article's (the entry's ``article_urls``, else
    ``_ARTICLE_PATH``), the page's own address left out; with the date each one's teaser prints. The generic
    spider's way into a site that has no feed or sitemap: its home page or a section front, given as an entry URL."""
    articles: dict[str, None] = {}
    off_domain: dict[str, None] = {}
    chains: list[tuple[str, list[LexborNode]]] = []
    targets: dict[int, set[str]] = {}  # element -> the article addresses linked inside it
    if tree.body is not None:
        for target, chain, owned in _article_links(tree.body, base, url, source, off_domain=True):
            if not owned:
                off_domain[target] = None
                continue
            articles[target] = None
            chains.append((target, chain))
            for node in chain:
                targets.setdefault(node.mem_id, set()).add(target)
    dates: dict[str, str] = {}
    for target, chain in chains:
        if target not in dates and (date := _teaser_date(_teaser_of(chain, targets))) is not None:
            dates[target] = date
    return ListedLinks(list(articles), list(off_domain), dates)


def _teaser_of(chain: list[LexborNode], targets: dict[int, set[str]]) -> LexborNode:
    """The largest block around a link (``chain``: the link, then its ancestors) that links no other article: its
    teaser, when the page is a listing."""
    container = chain[0]
    for node in chain[1:]:
        if len(targets[node.mem_id]) > 1:
            break
        container = node
    return container


def _teaser_date(container: LexborNode) -> str | None:
    """The date a teaser prints: its ``<time>`` (the stamp it gives, else its text), else its first date line."""
    pending = [container]
    while pending:  # depth first, in document order
        node = pending.pop()
        if node.tag == "time":
            stamp = (node.attrs.get("datetime") or "").strip() or " ".join((node.text_content or "").split())
            if stamp:
                return stamp
        elif node.tag == "-text":
            text = " ".join((node.text_content or "").split())
            if is_date_line(text):
                return text
            continue
        pending.extend(reversed(_children(node)))
    return None


def _article_links(
    body: LexborNode, base: str, url: str, source: Source, *, off_domain: bool = False
) -> Iterator[tuple[str, list[LexborNode], bool]]:
    """Each link in ``body`` outside the furniture to an article of the source (the entry's ``article_urls``, else
    an address shaped as ``_ARTICLE_PATH``), and with ``off_domain`` each to an article-shaped address of another
    site: its target, the link and its ancestors below the body (innermost first), and whether the source owns it."""
    here = _without_fragment(url)
    pattern = source.article_pattern
    for link in css(body, "a[href]"):
        chain = _ancestors(link, body)
        if chain is None:  # inside the furniture
            continue
        try:
            target = _without_fragment(absolute(base, (link.attrs.get("href") or "").strip()))
        except ValueError:
            continue
        if target == here or not target.startswith(("https://", "http://")):
            continue
        owned = source.owns(target)
        if not owned and not off_domain:
            continue
        if owned and pattern is not None:
            if not pattern.search(target):
                continue
        elif not _ARTICLE_PATH.search(urlsplit(target).path):
            continue
        yield target, [link, *chain], owned


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


def _ancestors(node: LexborNode, body: LexborNode) -> list[LexborNode] | None:
    """``node``'s ancestors below the body, innermost first; None when one of them is the site's furniture."""
    chain: list[LexborNode] = []
    parent = node.parent
    while parent is not None and parent.mem_id != body.mem_id:
        if parent.tag in FURNITURE:
            return None
        chain.append(parent)
        parent = parent.parent
    return chain


def _is_teaser(container: LexborNode, headline: LexborNode | None) -> bool:
    """Whether a block holding one article link is a teaser: a date line in it, little text outside its link, and
    not the page's headline (the article itself, when it links one other article and prints its date)."""
    if headline is not None and (container.mem_id == headline.mem_id or is_inside(headline, container)):
        return False
    dated = False
    own = 0
    pending: list[tuple[LexborNode, bool]] = [(container, False)]
    while pending:
        node, in_link = pending.pop()
        tag = node.tag
        if tag == "time":
            dated = True
        elif tag == "-text":
            text = node.text_content or ""
            dated = dated or is_date_line(text)
            if not in_link:
                own += len(" ".join(text.split()))
                if own > MAX_TEASER_TEXT:
                    return False
            continue
        in_link = in_link or tag == "a"
        pending.extend((child, in_link) for child in _children(node))
    return dated


def _own_text(body: LexborNode, teasers: set[int], headline: LexborNode | None) -> tuple[int, bool]:
    """The characters of text outside the teasers, links, headline and furniture, and whether a date line stands
    there after the headline (before it, a site's header prints today's date)."""
    running = 0
    own_date = False
    after_headline = headline is None  # without a headline, a date line anywhere is the page's own
    pending: list[LexborNode] = [body]
    while pending:  # depth first, in document order
        node = pending.pop()
        tag = node.tag
        if node.mem_id in teasers or tag in FURNITURE or tag == "-comment" or tag == "h1":
            # the headline may stand in the page's <header>: what follows it is the page's either way
            after_headline = after_headline or (
                headline is not None and (node.mem_id == headline.mem_id or is_inside(headline, node))
            )
            continue
        if tag == "-text":
            text = " ".join((node.text_content or "").split())
            own_date = own_date or (after_headline and is_date_line(text))
            running += len(text)
            continue
        if tag == "time" and after_headline:
            own_date = True
        if tag == "a":
            continue
        pending.extend(reversed(_children(node)))
    return running, own_date


def _children(node: LexborNode) -> list[LexborNode]:
    """``node``'s child nodes (elements, text, comments), in order."""
    children: list[LexborNode] = []
    child = node.child
    while child is not None:
        children.append(child)
        child = child.next
    return children
