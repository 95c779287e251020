"""Structured metadata on article pages, read the same way for every source: publication dates for now.

Preferred over visible text (htmldate's cascade): ``article:published_time`` and its kin, JSON-LD
``datePublished`` of a NewsArticle / Article, then a ``<time datetime>`` inside the article.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from aggregator.html import css, css_first

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
ARTICLE_TYPES = {"NewsArticle", "Article", "ReportageNewsArticle", "AnalysisNewsArticle", "BlogPosting", "WebPage"}


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


def published_metadata(tree: LexborHTMLParser, article: LexborNode | None = None) -> str | None:
    """The publication date the page's metadata states, as printed there (usually ISO 8601), or None."""
    head = tree.head
    if head is not None:
        # One query for all of them (each query compiles its selector), then picked by preference.
        found: dict[str | None, str] = {}
        for node in css(head, _PUBLISHED_META_ANY):
            content = (node.attrs.get("content") or "").strip()
            key = node.attrs.get("property") or node.attrs.get("name") or node.attrs.get("itemprop")
            if content and key not in found:
                found[key] = content
        for key in _PUBLISHED_META_KEYS:
            if key in found:
                return found[key]
    # An article object's date wins over a WebPage's (SEO plugins' @graph give the page a date of its own).
    page_date: str | None = None
    for script in css(tree, JSON_LD):
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
    scope = article if article is not None else tree.body
    time_node = css_first(scope, "time[datetime]") if scope is not None else None
    stamp = time_node.attrs.get("datetime") if time_node is not None else None
    return stamp.strip() if stamp and stamp.strip() else None
