"""Cleanup: the source's body HTML -> safe, clean HTML and plain text, ready to re-publish.

Drops the elements the source's registry entry lists as furniture (signatures, view counters, banners), takes
lazy images' real address, makes links absolute, sanitises to an allow-list with nh3, and normalises the
canonical URL. A body that is empty once the furniture is gone is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Self

import nh3
from scrapy.crawler import Crawler
from selectolax.lexbor import LexborHTMLParser, LexborNode

from aggregator.items import ArticleItem
from aggregator.sources import get_source
from aggregator.urls import absolute, canonical_url
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


def collapse(text: str | None) -> str:
    """Whitespace runs (including no-break spaces) as single spaces, trimmed."""
    return " ".join((text or "").split())


def _fix_media(root: LexborNode, base_url: str) -> None:
    for img in root.css("img"):
        attrs = img.attrs
        lazy = next((attrs.get(a) for a in LAZY_SRC_ATTRIBUTES if attrs.get(a)), None)
        src = lazy or attrs.get("src") or ""
        if not src or src.startswith("data:"):
            img.decompose()
            continue
        attrs["src"] = absolute(base_url, src)
    for link in root.css("a[href]"):
        link.attrs["href"] = absolute(base_url, link.attrs.get("href") or "")


_TAGS = set(ALLOWED_TAGS)
_ATTRIBUTES = {tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()}
_BLOCK_SELECTOR = ",".join(BLOCKS)


@lru_cache(maxsize=64)
def _dropped_selector(boilerplate: tuple[str, ...]) -> str:
    return ",".join((*ALWAYS_DROPPED, *boilerplate))


def _block_texts(root: LexborNode) -> list[str]:
    """Text of the innermost blocks, in order: a quote's paragraphs count once, not twice."""
    blocks = root.css(_BLOCK_SELECTOR)
    block_ids = {node.mem_id for node in blocks}
    outer: set[int] = set()
    for node in blocks:
        parent = node.parent
        while parent is not None and parent.mem_id != root.mem_id:
            if parent.mem_id in block_ids:
                outer.add(parent.mem_id)
            parent = parent.parent
    texts = (collapse(node.text(deep=True, separator="")) for node in blocks if node.mem_id not in outer)
    return [t for t in texts if t]


def clean_body(html: str, *, base_url: str, boilerplate: Iterable[str] = ()) -> tuple[str, str]:
    """``(safe_html, text)`` of an article body; text is the blocks' text, one paragraph a line apart.

    One parse: furniture, unsafe elements and paragraphs left empty are removed from the tree, the text is read
    from it, and its HTML goes through nh3's allow-list (which keeps the text of the tags it drops).
    """
    root = LexborHTMLParser(html).body
    if root is None:
        return "", ""
    # One query for all of them (each query costs a selector compile); remove() unlinks without freeing, so a
    # match inside an already removed match stays safe to touch.
    for node in root.css(_dropped_selector(tuple(boilerplate))):
        node.remove()
    _fix_media(root, base_url)
    for para in root.css("p"):  # paragraphs left empty by the removals
        if not para.text(deep=True).strip() and para.css_first("img") is None:
            para.remove()
    text = "\n\n".join(_block_texts(root)) or collapse(root.text())
    safe = nh3.clean(
        root.inner_html or "",
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener nofollow",
    )
    return safe.strip(), text


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
            item.cover_image_url = absolute(item.url, item.cover_image_url)
        item.category = collapse(item.category) or None
        item.body_html, item.body_text = clean_body(
            item.body_html or "", base_url=item.url, boilerplate=source.boilerplate
        )
        if not item.body_text:
            raise self.reject("no body (empty once boilerplate was removed)")
        return item
