"""What the selector-driven extractors share: a page parsed once, queries inside the article's root, the item.

A site's extractor subclasses ``ArticlePage`` and sets its selectors as class constants; a markup change is then a
subclass that overrides the constants that changed (see ``spiders.versions``). Pure: no network, no settings, no
spider state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from scrapy.http import TextResponse
from selectolax.lexbor import LexborHTMLParser, LexborNode

from aggregator.items import ArticleItem
from aggregator.urls import absolute
from spiders.metadata import published_metadata

IMAGE_SOURCES = ("data-src", "data-lazy-src", "src")
"""Attributes holding an image's address, the lazy loaders' first (``src`` is then a placeholder)."""


def node_text(node: LexborNode | None) -> str | None:
    """The node's text with whitespace collapsed; None for no node."""
    if node is None:
        return None
    return " ".join(node.text(deep=True, separator=" ").split())


def header(response: TextResponse, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


class ArticlePage:
    """One article page -> ArticleItem, driven by the class constants below."""

    SOURCE: ClassVar[str]
    VALID_FROM: ClassVar[datetime | None] = None
    """When the site switched to this markup (``spiders.versions``); None: since the beginning."""
    MARKER: ClassVar[str | None] = None
    """A string only this markup has, used when the fetch time and the page disagree."""

    ROOT: ClassVar[str]
    TITLE: ClassVar[str]
    TITLE_FALLBACK: ClassVar[str] = "h1"
    DATE: ClassVar[str]
    """Elements whose texts, joined by a space, are the date as printed (a site may split date and time)."""
    BODY: ClassVar[str]
    BODY_PARAGRAPHS: ClassVar[str] = "p"  # inside BODY
    COVER: ClassVar[str]
    """An ``<img>`` (or an element holding one) with the article's main picture."""
    CATEGORY: ClassVar[str]
    CANONICAL: ClassVar[str] = "link[rel=canonical]"

    def __init__(self, response: TextResponse, fetched_at: datetime | None = None) -> None:
        self.response = response
        self.fetched_at = fetched_at or datetime.now(UTC)
        self.tree = LexborHTMLParser(response.text)
        # Queries run inside the article's root: cheaper than the whole page, and deaf to sidebars.
        self.root = self.tree.css_first(self.ROOT) or self.tree.body or self.tree.root

    def find(self, selector: str) -> LexborNode | None:
        return self.root.css_first(selector) if self.root is not None else None

    def language(self) -> str:
        raise NotImplementedError

    def title(self) -> str | None:
        node = self.find(self.TITLE)
        return node_text(node if node is not None else self.tree.css_first(self.TITLE_FALLBACK))

    def body(self) -> tuple[str | None, str | None]:
        node = self.find(self.BODY)
        if node is None:
            return None, None
        paragraphs = (node_text(p) for p in node.css(self.BODY_PARAGRAPHS))
        return node.inner_html, "\n\n".join(p for p in paragraphs if p)

    def published_raw(self) -> str | None:
        parts = (node_text(n) for n in self.root.css(self.DATE)) if self.root is not None else ()
        return " ".join(p for p in parts if p) or None

    def cover_image(self) -> str | None:
        node = self.find(self.COVER)
        if node is not None and node.tag != "img":
            node = node.css_first("img")
        if node is None:
            return None
        src = next((node.attrs.get(a) for a in IMAGE_SOURCES if node.attrs.get(a)), None)
        return absolute(self.response.url, src.strip()) if src else None

    def canonical_url(self) -> str | None:
        head = self.tree.head
        node = head.css_first(self.CANONICAL) if head is not None else None
        href = node.attrs.get("href") if node is not None else None
        return absolute(self.response.url, href) if href else None

    def to_item(self) -> ArticleItem:
        body_html, body_text = self.body()
        return ArticleItem(
            source=self.SOURCE,
            url=self.response.url,
            language=self.language(),
            canonical_url=self.canonical_url(),
            title=self.title(),
            body_html=body_html,
            body_text=body_text,
            published_raw=self.published_raw(),
            published_meta=published_metadata(self.tree, self.root),
            cover_image_url=self.cover_image(),
            category=node_text(self.find(self.CATEGORY)),
            fetched_at=self.fetched_at,
            http_status=self.response.status,
            etag=header(self.response, b"ETag"),
            last_modified=header(self.response, b"Last-Modified"),
            raw_body=self.response.body,
            raw_encoding=self.response.encoding,
        )
