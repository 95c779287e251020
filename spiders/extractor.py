"""An article page -> ArticleItem, driven by class-constant selectors, for sites whose markup is plain.

A site module subclasses ``SelectorArticle`` and sets its selectors; a site that needs more overrides a method.
When the site changes its layout, the new layout is a subclass with the changed constants, so a layout change stays
a few-line diff and the old class keeps extracting old snapshots.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from scrapy.http import TextResponse
from selectolax.lexbor import LexborNode

from aggregator.html import (
    IMAGE_SRC_ATTRIBUTES,
    TagGroup,
    base_url,
    css,
    css_first,
    http_url,
    inline_text,
    node_text,
    page_encoding,
    parse_page,
    resolve_urls,
)
from aggregator.items import ArticleItem
from aggregator.urls import absolute
from spiders.feed_source import response_header
from spiders.metadata import CANONICAL as CANONICAL_LINK
from spiders.metadata import OG_IMAGE as OG_IMAGE_META
from spiders.metadata import HeadMeta, published_metadata

_FIELD_GROUPS: dict[type[SelectorArticle], TagGroup] = {}


def _field_group(extractor: type[SelectorArticle]) -> TagGroup:
    """The class's field selectors that one query in the root answers together (see ``TagGroup``)."""
    group = _FIELD_GROUPS.get(extractor)
    if group is None:
        fields = (extractor.TITLE, extractor.DATE, extractor.BODY, extractor.COVER, extractor.CATEGORY)
        group = _FIELD_GROUPS[extractor] = TagGroup(s for s in fields if s)
    return group


def body_text(body: LexborNode, blocks: str | None = None) -> str:
    """The text of a body that holds no paragraph: its ``blocks``' (or its own), a paragraph each.

    Without it a body with no ``<p>`` read as empty, and the article was refused as having no body: validation
    judges the extractor's text, before cleanup makes paragraphs of text outside them."""
    nodes = css(body, blocks) if blocks else [body]
    return "\n\n".join(t for t in (node_text(n) for n in nodes) if t)


class SelectorArticle:
    """One article page -> ArticleItem. Pure: no network, no settings, no spider state."""

    SOURCE: ClassVar[str]
    ROOT: ClassVar[str]
    """The article's container: every other selector but CANONICAL and OG_IMAGE is looked up inside it."""
    TITLE: ClassVar[str]
    TITLE_FALLBACK: ClassVar[str] = "h1"
    DATE: ClassVar[str]
    BODY: ClassVar[str]
    """The body container: its inner HTML is the body (cleanup drops the registry's boilerplate from it)."""
    BODY_PARAGRAPHS: ClassVar[str] = "p"
    BODY_TEXT: ClassVar[str | None] = None
    """Where the body's text lies when no paragraph holds any (a body typed as text and ``<br>``, or as ``<div>``s):
    the elements inside BODY whose text is the body's; None for BODY itself. Cleanup makes paragraphs of it."""
    COVER: ClassVar[str | None] = None
    """An ``<img>`` whose address (``IMAGE_SRC_ATTRIBUTES``, a lazy one before ``src``) is the cover picture."""
    OG_IMAGE: ClassVar[str] = OG_IMAGE_META
    CATEGORY: ClassVar[str | None] = None
    CANONICAL: ClassVar[str] = CANONICAL_LINK
    # first path segment -> language; anything else is DEFAULT_LANGUAGE
    EDITIONS: ClassVar[dict[str, str]] = {}
    DEFAULT_LANGUAGE: ClassVar[str]

    def __init__(self, response: TextResponse, fetched_at: datetime | None = None) -> None:
        self.response = response
        self.fetched_at = fetched_at or datetime.now(UTC)
        self.encoding = page_encoding(response)
        self.tree = parse_page(response, self.encoding)
        # Queries run inside the article's root: cheaper than the whole page, and deaf to sidebars.
        self.root = css_first(self.tree, self.ROOT) or self.tree.body or self.tree.root
        self._head: HeadMeta | None = None
        self._fields: dict[str, list[LexborNode]] | None = None

    @property
    def head_meta(self) -> HeadMeta:
        """Canonical link, og:image, ``<base href>`` and the meta tags' date, in one query of ``<head>``."""
        if self._head is None:
            self._head = HeadMeta(self.tree)
        return self._head

    @property
    def base_url(self) -> str:
        """What the page's relative addresses resolve against: its ``<base href>``, else its own URL."""
        return base_url(self.response.url, self.head_meta.base)

    def _field_matches(self) -> dict[str, list[LexborNode]]:
        """The matches in the root of the field selectors one query answers (empty when none or one do)."""
        if self._fields is None:
            group = _field_group(type(self))
            found = group.select(self.root) if len(group.selectors) > 1 else None
            self._fields = found if found is not None else {}
        return self._fields

    def find(self, selector: str) -> LexborNode | None:
        """The first element in the article's root that ``selector`` matches."""
        found = self._field_matches().get(selector)
        if found is not None:
            return found[0] if found else None
        return css_first(self.root, selector) if self.root is not None else None

    def find_all(self, selector: str) -> list[LexborNode]:
        """Every element in the article's root that ``selector`` matches, in document order."""
        found = self._field_matches().get(selector)
        if found is not None:
            return found
        return css(self.root, selector) if self.root is not None else []

    def language(self) -> str:
        path = self.response.url.split("://", 1)[-1].partition("/")[2]
        return self.EDITIONS.get(path.split("/", 1)[0], self.DEFAULT_LANGUAGE)

    def title(self) -> str | None:
        node = self.find(self.TITLE)
        return inline_text(node if node is not None else css_first(self.tree, self.TITLE_FALLBACK))

    def body(self) -> tuple[str | None, str | None]:
        node = self.find(self.BODY)
        if node is None:
            return None, None
        if (base := self.base_url) != self.response.url:
            resolve_urls(node, base)  # the cleanup resolves what is left relative against the page's URL
        paragraphs = (node_text(p) for p in css(node, self.BODY_PARAGRAPHS))
        return node.inner_html, "\n\n".join(p for p in paragraphs if p) or body_text(node, self.BODY_TEXT)

    def published_raw(self) -> str | None:
        return node_text(self.find(self.DATE))

    def cover_image_url(self) -> str | None:
        """The cover's real address (a lazy attribute's before ``src``, which then holds a placeholder), else the
        page's og:image; http(s) only: a ``data:`` placeholder or a ``javascript:`` address is none."""
        node = self.find(self.COVER) if self.COVER else None
        if node is not None:
            attrs = node.attributes  # a dict, built once: each ``node.attrs.get`` costs ~0.5 us
            for name in IMAGE_SRC_ATTRIBUTES:
                if url := http_url(self.base_url, attrs.get(name)):
                    return url
        return self.og_image_url()

    def og_image_url(self) -> str | None:
        if self.OG_IMAGE == OG_IMAGE_META:  # found with the other head metadata
            meta = self.head_meta.og_image
        else:
            head = self.tree.head
            meta = css_first(head, self.OG_IMAGE) if head is not None else None
        return http_url(self.base_url, meta.attrs.get("content")) if meta is not None else None

    def category(self) -> str | None:
        return node_text(self.find(self.CATEGORY)) if self.CATEGORY else None

    def canonical_url(self) -> str | None:
        if self.CANONICAL == CANONICAL_LINK:  # found with the other head metadata
            node = self.head_meta.canonical
        else:
            head = self.tree.head
            node = css_first(head, self.CANONICAL) if head is not None else None
        href = node.attrs.get("href") if node is not None else None
        return absolute(self.base_url, href) if href else None

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
            published_meta=published_metadata(self.tree, self.root, self.head_meta),
            cover_image_url=self.cover_image_url(),
            category=self.category(),
            fetched_at=self.fetched_at,
            http_status=self.response.status,
            etag=response_header(self.response, b"ETag"),
            last_modified=response_header(self.response, b"Last-Modified"),
            raw_body=self.response.body,
            raw_encoding=self.encoding,
        )
