"""Cleanup: the source's body HTML -> safe, clean HTML and plain text, ready to re-publish.

Drops the elements the source's registry entry lists as furniture (signatures, view counters, banners), takes
lazy images' real address, makes links absolute, sanitises to an allow-list with nh3, and normalises the
canonical URL. A body that is empty once the furniture is gone is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Self
from urllib.parse import urljoin

import nh3
from scrapy.crawler import Crawler
from selectolax.lexbor import LexborHTMLParser, LexborNode

from aggregator.items import ArticleItem
from aggregator.sources import get_source
from aggregator.urls import canonical_url
from pipelines.base import Pipeline

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "a", "img", "figure", "figcaption", "blockquote", "q", "cite",
        "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "strong", "b", "em", "i", "u", "s", "sub", "sup",
        "table", "thead", "tbody", "tr", "th", "td", "caption", "hr", "span", "pre", "code",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"}}
ALWAYS_DROPPED = ("script", "style", "noscript", "iframe", "form", "button", "input", "svg", "ins")
LAZY_SRC_ATTRIBUTES = ("data-src", "data-lazy-src", "data-original")
BLOCKS = ("p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "figcaption", "pre", "td")

_SPACES = re.compile(r"\s+")


def collapse(text: str | None) -> str:
    """Whitespace runs (including no-break spaces) as single spaces, trimmed."""
    return _SPACES.sub(" ", text or "").strip()


def _fix_media(root: LexborNode, base_url: str) -> None:
    for img in root.css("img"):
        attrs = img.attrs
        lazy = next((attrs.get(a) for a in LAZY_SRC_ATTRIBUTES if attrs.get(a)), None)
        src = lazy or attrs.get("src") or ""
        if not src or src.startswith("data:"):
            img.decompose()
            continue
        attrs["src"] = urljoin(base_url, src.strip())
    for link in root.css("a[href]"):
        link.attrs["href"] = urljoin(base_url, (link.attrs.get("href") or "").strip())


def clean_body(html: str, *, base_url: str, boilerplate: Iterable[str] = ()) -> tuple[str, str]:
    """``(safe_html, text)`` of an article body; text is the blocks' text, one paragraph a line apart."""
    tree = LexborHTMLParser(html)
    root = tree.body
    if root is None:
        return "", ""
    for selector in (*ALWAYS_DROPPED, *boilerplate):
        for node in root.css(selector):
            node.decompose()
    _fix_media(root, base_url)
    safe = nh3.clean(
        root.inner_html or "",
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener nofollow",
    )
    cleaned = LexborHTMLParser(safe).body
    if cleaned is None:
        return "", ""
    for para in cleaned.css("p"):  # paragraphs left empty by the removals
        if not collapse(para.text()) and para.css_first("img") is None:
            para.decompose()
    blocks = [collapse(node.text(deep=True, separator="")) for node in cleaned.css(",".join(BLOCKS))]
    text = "\n\n".join(b for b in blocks if b) if blocks else collapse(cleaned.text())
    return (cleaned.inner_html or "").strip(), text


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
        declared = item.canonical_url if item.canonical_url and source.owns(item.canonical_url) else None
        item.canonical_url = canonical_url(declared or item.url)
        if item.cover_image_url:
            item.cover_image_url = urljoin(item.url, item.cover_image_url)
        item.category = collapse(item.category) or None
        item.body_html, item.body_text = clean_body(
            item.body_html or "", base_url=item.url, boilerplate=source.boilerplate
        )
        if not item.body_text:
            raise self.reject("no body (empty once boilerplate was removed)")
        return item
