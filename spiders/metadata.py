"""Structured metadata on article pages, read the same way for every source: publication dates, and the category a
breadcrumb names.

Preferred over visible text (htmldate's cascade): ``article:published_time`` and its kin, JSON-LD
``datePublished`` of a NewsArticle / Article, then a ``<time datetime>`` inside the article.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from aggregator.html import BASE, INLINE_TAGS, collapse_whitespace, css, css_first, is_inside

PUBLISHED_META = (
    'meta[property="article:published_time"]',
    'meta[name="article:published_time"]',
    'meta[itemprop="datePublished"]',
    'meta[name="pubdate"]',
    'meta[name="publish-date"]',
)
_PUBLISHED_META_ANY = ",".join(PUBLISHED_META)
_PUBLISHED_META_KEYS = ("article:published_time", "datePublished", "pubdate", "publish-date")
JSON_LD = 'script[type="application/ld+json"]'
TIME = "time[datetime]"
_JSON_LD_OR_TIME = f"{JSON_LD},{TIME}"
CANONICAL = "link[rel=canonical]"
OG_IMAGE = 'meta[property="og:image"]'
ARTICLE_TYPES = {"NewsArticle", "Article", "ReportageNewsArticle", "AnalysisNewsArticle", "BlogPosting", "WebPage"}


_TEXT_UNITS = frozenset({"p", "li", "blockquote", "dd", "td", "figcaption"})
"""The blocks of an article's text a ``<time>`` can be part of: a sentence's paragraph, a live blog's entry."""
MIN_TEXT_BESIDES = 30
"""Characters of text beside a ``<time>`` in its paragraph or list item from which it is part of the text (a
sentence's "15 октября", a live blog entry's "15:10"), not a date line of its own."""


def in_running_text(node: LexborNode) -> bool:
    """Whether a ``<time>`` is part of the article's text: its paragraph or list item (past the inline elements
    around it) holds ``MIN_TEXT_BESIDES`` characters of text besides it. Such a date is something the article tells
    of ("the meeting is on 15 October"), never the date it was published."""
    unit = node.parent
    while unit is not None and unit.tag in INLINE_TAGS:
        unit = unit.parent
    if unit is None or unit.tag not in _TEXT_UNITS:
        return False
    besides = len(collapse_whitespace(unit.text(deep=True, separator=" "))) - len(
        collapse_whitespace(node.text(deep=True, separator=" "))
    )
    return besides >= MIN_TEXT_BESIDES


def _json_ld_objects(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for entry in data:
            yield from _json_ld_objects(entry)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _json_ld_objects(data["@graph"])


def _is_article(obj: dict[str, Any]) -> bool:
    kind = obj.get("@type")
    kinds = set(kind) if isinstance(kind, list) else {kind}
    return bool(kinds & ARTICLE_TYPES)


class HeadMeta:
    """What an extractor reads from ``<head>``, found with one query: the first ``link[rel=canonical]``, the first
    ``meta[property="og:image"]``, the ``href`` of the first ``<base href>`` (None without one: see
    ``aggregator.html.base_url``) and the publication date of the meta tags (``PUBLISHED_META``).

    Sorting the matches of the one selector list is exact: only the canonical selector matches a ``link``, only the
    base one a ``base``, and a
    ``meta`` matches the og:image one exactly when its ``property`` is ``og:image`` (lexbor compares that value as
    it is written, unlike ``rel``). The date is picked from the matches as ``published_metadata`` always has; an
    og:image tag among them never counts, since its key is ``og:image``.
    """

    __slots__ = ("base", "canonical", "og_image", "published")

    QUERY = f"{CANONICAL},{OG_IMAGE},{BASE},{_PUBLISHED_META_ANY}"

    def __init__(self, tree: LexborHTMLParser) -> None:
        self.canonical: LexborNode | None = None
        self.og_image: LexborNode | None = None
        self.base: str | None = None
        self.published: str | None = None
        head = tree.head
        if head is None:
            return
        found: dict[str | None, str] = {}
        for node in css(head, self.QUERY):
            tag = node.tag
            if tag == "link":
                if self.canonical is None:
                    self.canonical = node
                continue
            if tag == "base":
                if self.base is None:
                    self.base = node.attrs.get("href") or ""
                continue
            attrs = node.attrs
            prop = attrs.get("property")
            if prop == "og:image" and self.og_image is None:
                self.og_image = node
            content = (attrs.get("content") or "").strip()
            key = prop or attrs.get("name") or attrs.get("itemprop")
            if content and key not in found:
                found[key] = content
        self.published = next((found[key] for key in _PUBLISHED_META_KEYS if key in found), None)


def _head_published(tree: LexborHTMLParser) -> str | None:
    head = tree.head
    if head is None:
        return None
    # One query for all of them (each query compiles its selector), then picked by preference.
    found: dict[str | None, str] = {}
    for node in css(head, _PUBLISHED_META_ANY):
        content = (node.attrs.get("content") or "").strip()
        key = node.attrs.get("property") or node.attrs.get("name") or node.attrs.get("itemprop")
        if content and key not in found:
            found[key] = content
    return next((found[key] for key in _PUBLISHED_META_KEYS if key in found), None)


def published_metadata(
    tree: LexborHTMLParser, article: LexborNode | None = None, head: HeadMeta | None = None
) -> str | None:
    """The publication date the page's metadata states, as printed there (usually ISO 8601), or None.

    ``head``: the page's ``HeadMeta`` when the caller has it (its date is the meta tags' one).
    """
    stamp = head.published if head is not None else _head_published(tree)
    if stamp:
        return stamp
    scope = article if article is not None else tree.body
    # The JSON-LD scripts of the whole page and the <time datetime> elements in one query; a <time> counts only
    # inside the article.
    scripts: list[LexborNode] = []
    time_node: LexborNode | None = None
    for node in css(tree, _JSON_LD_OR_TIME):
        if node.tag == "script":
            scripts.append(node)
        elif time_node is None and scope is not None and is_inside(node, scope):
            time_node = node
    # An article object's date wins over a WebPage's (SEO plugins' @graph give the page a date of its own).
    page_date: str | None = None
    for script in scripts:
        try:
            data = json.loads(script.text(deep=True) or "null")
        except ValueError:
            continue
        for obj in _json_ld_objects(data):
            value = obj.get("datePublished")
            if isinstance(value, str) and value.strip() and _is_article(obj):
                if obj.get("@type") != "WebPage":
                    return value.strip()
                page_date = page_date or value.strip()
    if page_date:
        return page_date
    stamp = time_node.attrs.get("datetime") if time_node is not None else None
    return stamp.strip() if stamp and stamp.strip() else None


NOT_CATEGORIES = frozenset(
    {
        "главная", "главная страница", "на главную", "новости", "все новости", "лента", "лента новостей", "статьи",
        "ana səhifə", "əsas səhifə", "baş səhifə", "xəbərlər", "bütün xəbərlər", "xəbər lenti", "məqalələr",
        "home", "homepage", "main", "news", "all news", "articles",
        "uncategorized", "без рубрики", "без категории", "kateqoriyasız", "kateqoriyasiz", "təsnif edilməmiş",
    }
)  # fmt: skip
"""Names that are no category: a breadcrumb's first steps (the home page, and the site's whole news list: a 1C-Bitrix
page's "Главная / Новости" says only that it is news), and WordPress's default category, which a post given none is in
("Uncategorized", "Без рубрики"), wherever a page prints it (its entry's links, its date line, its metadata)."""
MAX_CATEGORY = 40
"""Characters of a category's name at most: a longer last step of a breadcrumb is a headline (cut or not)."""
BREADCRUMBS = "nav[aria-label*=readcrumb], [class*=breadcrumb], [id*=breadcrumb], [itemtype$=BreadcrumbList]"


def category_name(name: str | None, titles: set[str]) -> str | None:
    """``name`` as a category, or None when it is none: empty, too long, a home page's or news list's name, or the
    article's own title (``titles``, lower-cased)."""
    name = collapse_whitespace(name or "").strip(" /»>|·-")
    key = name.casefold()
    if not name or len(name) > MAX_CATEGORY or key in NOT_CATEGORIES or key in titles:
        return None
    return name


def _is_page(url: str | None, page_urls: set[str]) -> bool:
    return bool(url) and (url or "").split("#")[0].rstrip("/") in page_urls


def breadcrumb_category(
    tree: LexborHTMLParser, titles: set[str], page_urls: set[str], is_home: Callable[[str | None], bool]
) -> str | None:
    """The category a page's breadcrumb names: the last step before the article, in its JSON-LD ``BreadcrumbList``
    (by ``position``), else in its breadcrumb markup (``BREADCRUMBS``: the links of the first one). The article's
    own step (its title, or a link to the page itself: ``titles`` lower-cased, ``page_urls`` without a trailing
    slash) is passed over; a step that is the home page (``is_home`` of its address) or the news list
    (``NOT_CATEGORIES``) is no category, and the steps before it are not looked at: "Главная / Новости / <title>"
    names none."""
    for script in css(tree, JSON_LD):
        try:
            data = json.loads(script.text(deep=True) or "null")
        except ValueError:
            continue
        for obj in _json_ld_objects(data):
            if obj.get("@type") != "BreadcrumbList" or not isinstance(obj.get("itemListElement"), list):
                continue
            steps: list[tuple[float, str | None, str | None]] = []
            for entry in obj["itemListElement"]:
                if not isinstance(entry, dict):
                    continue
                item = entry.get("item")
                name = entry.get("name") or (item.get("name") if isinstance(item, dict) else None)
                url = (
                    item
                    if isinstance(item, str)
                    else (item.get("@id") or item.get("url"))
                    if isinstance(item, dict)
                    else None
                )
                position = entry.get("position")
                order = float(position) if isinstance(position, (int, float)) else float(len(steps) + 1)
                steps.append((order, name if isinstance(name, str) else None, url if isinstance(url, str) else None))
            steps.sort(key=lambda step: step[0])
            return _last_step([(name, url) for _, name, url in steps], titles, page_urls, is_home)
    trail = css_first(tree, BREADCRUMBS)
    if trail is None:
        return None
    links: list[tuple[str | None, str | None]] = [
        (collapse_whitespace(a.text(deep=True, separator=" ")), a.attrs.get("href")) for a in css(trail, "a")
    ]
    return _last_step(links, titles, page_urls, is_home)


def _last_step(
    steps: list[tuple[str | None, str | None]],
    titles: set[str],
    page_urls: set[str],
    is_home: Callable[[str | None], bool],
) -> str | None:
    while steps and ((steps[-1][0] or "").strip().casefold() in titles or _is_page(steps[-1][1], page_urls)):
        steps = steps[:-1]  # the article itself
    if not steps:
        return None
    name, url = steps[-1]
    if is_home(url):
        return None
    return category_name(name, titles)
