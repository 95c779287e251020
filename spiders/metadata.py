"""Structured metadata on article pages, read the same way for every source: publication dates for now.

Preferred over visible text (htmldate's cascade): ``article:published_time`` and its kin, JSON-LD
``datePublished`` of a NewsArticle / Article, then a ``<time datetime>`` inside the article.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

PUBLISHED_META = (
    'meta[property="article:published_time"]',
    'meta[name="article:published_time"]',
    'meta[itemprop="datePublished"]',
    'meta[name="pubdate"]',
    'meta[name="publish-date"]',
)
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
        for selector in PUBLISHED_META:
            node = head.css_first(selector)
            content = node.attrs.get("content") if node is not None else None
            if content and content.strip():
                return content.strip()
    for script in tree.css(JSON_LD):
        try:
            data = json.loads(script.text(deep=True) or "null")
        except ValueError:
            continue
        for obj in _json_ld_objects(data):
            value = obj.get("datePublished")
            if isinstance(value, str) and value.strip() and _is_article(obj):
                return value.strip()
    scope = article if article is not None else tree.body
    node = scope.css_first("time[datetime]") if scope is not None else None
    value = node.attrs.get("datetime") if node is not None else None
    return value.strip() if value and value.strip() else None
