"""Structured metadata on article pages, read the same way for every source: publication dates for now.

Preferred over visible text (htmldate's cascade): ``article:published_time`` and its kin, JSON-LD
``datePublished`` of a NewsArticle / Article, then a ``<time datetime>`` inside the article.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from aggregator.html import BASE, INLINE_TAGS, collapse_whitespace, css, is_inside

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
