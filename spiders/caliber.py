"""caliber.az: Russian at /, English at /en/, Azerbaijani at /az/; listings of ``.float_block`` cards."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from scrapy.http import Response, TextResponse
from selectolax.lexbor import LexborNode

from aggregator.html import base_url, css, css_first, http_url, inline_text, page_encoding, parse_page, resolve_urls
from aggregator.items import ArticleItem
from aggregator.urls import absolute
from spiders.base import SourceSpider
from spiders.extractor import body_text
from spiders.feed_source import header_value
from spiders.listing import listed_articles
from spiders.metadata import CANONICAL as CANONICAL_LINK
from spiders.metadata import HeadMeta, published_metadata

_BACKGROUND_URL = re.compile(r"background-image\s*:\s*url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", re.IGNORECASE)


def _text(node: LexborNode | None) -> str | None:
    if node is None:
        return None
    return " ".join(node.text(deep=True, separator=" ").split())


_WORD = re.compile(r"[^\W\d_]+")
_AZERBAIJANI_LOWER = str.maketrans({"I": "ı", "İ": "i"})
_AZERBAIJANI_UPPER = {"i": "İ", "ı": "I"}


def label_case(label: str | None, language: str) -> str | None:
    """A category label typed in capitals ("ПОЛИТИКА", "SİYASƏT", "KARABAKH") as the other sources print theirs
    ("Политика", "Siyasət", "Karabakh"): the first letter a capital, and in English each word's. A label with a small
    letter in it is spelt by the site, and stays.

    Kept in capitals, one category was two in the archive ("ПОЛИТИКА" from caliber.az, "Политика" from the others),
    and the copy printed its label shouting. Azerbaijani's i is cased its own way: "İ" and "I" are the capitals of
    "i" and "ı" (``str.lower`` made "SİYASƏT" "si̇yasət", with a combining dot, and "BAKI" "baki")."""
    if not label or not label.isupper():
        return label
    if language == "en":
        return _WORD.sub(lambda word: word[0].capitalize(), label)
    if language == "az":
        lowered = label.translate(_AZERBAIJANI_LOWER).lower()
        return _AZERBAIJANI_UPPER.get(lowered[0], lowered[0].upper()) + lowered[1:]
    return label.capitalize()


def background_url(node: LexborNode | None) -> str | None:
    """The URL in an element's ``style="background-image:url(...)"`` (caliber's only cover markup), as written."""
    if node is None:
        return None
    match = _BACKGROUND_URL.search(node.attrs.get("style") or "")
    return match.group(1) if match else None


class CaliberArticle:
    """One caliber.az article page -> ArticleItem. Pure: no network, no settings, no spider state."""

    SOURCE = "caliber"
    ROOT = ".post"
    TITLE = ".post_title"
    TITLE_FALLBACK = "h1"
    DATE = ".post_time"
    BODY = ".post_body"
    BODY_PARAGRAPHS = "p"  # inside BODY
    COVER = ".post_cover"
    CATEGORY = ".post_categoty"  # sic: the site's own spelling
    CANONICAL = CANONICAL_LINK
    # first path segment -> language; anything else is the Russian edition
    EDITIONS: ClassVar[dict[str, str]] = {"en": "en", "az": "az"}
    DEFAULT_LANGUAGE = "ru"

    def __init__(self, response: TextResponse, fetched_at: datetime | None = None) -> None:
        self.response = response
        self.fetched_at = fetched_at or datetime.now(UTC)
        self.encoding = page_encoding(response)
        self.tree = parse_page(response, self.encoding)
        # Queries run inside the article's root: cheaper than the whole page, and deaf to sidebars.
        self.root = css_first(self.tree, self.ROOT) or self.tree.body or self.tree.root
        self._head: HeadMeta | None = None

    @property
    def head_meta(self) -> HeadMeta:
        """Canonical link, ``<base href>`` and the meta tags' date, in one query of ``<head>``."""
        if self._head is None:
            self._head = HeadMeta(self.tree)
        return self._head

    @property
    def base_url(self) -> str:
        """What the page's relative addresses resolve against: its ``<base href>``, else its own URL."""
        return base_url(self.response.url, self.head_meta.base)

    def find(self, selector: str) -> LexborNode | None:
        return css_first(self.root, selector) if self.root is not None else None

    def language(self) -> str:
        path = self.response.url.split("://", 1)[-1].partition("/")[2]
        first = path.split("/", 1)[0]
        return self.EDITIONS.get(first, self.DEFAULT_LANGUAGE)

    def title(self) -> str | None:
        node = self.find(self.TITLE)
        if node is None:
            node = css_first(self.tree, self.TITLE_FALLBACK)
        return None if node is None else inline_text(node) or ""

    def body(self) -> tuple[str | None, str | None]:
        node = self.find(self.BODY)
        if node is None:
            return None, None
        if (base := self.base_url) != self.response.url:
            resolve_urls(node, base)  # the cleanup resolves what is left relative against the page's URL
        paragraphs = (_text(p) for p in css(node, self.BODY_PARAGRAPHS))
        return node.inner_html, "\n\n".join(p for p in paragraphs if p) or body_text(node)

    def cover_image_url(self) -> str | None:
        """The cover's background image; the page's og:image instead when the cover's is no web address (a lazy
        placeholder): the cover is there, only not in the style."""
        node = self.find(self.COVER)
        written = background_url(node)
        if not written:
            return None
        if cover := http_url(self.base_url, written):  # a style's url() resolves against the page's base too
            return cover
        meta = self.head_meta.og_image
        return http_url(self.base_url, meta.attrs.get("content")) if meta is not None else None

    def canonical_url(self) -> str | None:
        if self.CANONICAL == CANONICAL_LINK:  # found with the other head metadata
            node = self.head_meta.canonical
        else:
            head = self.tree.head
            node = css_first(head, self.CANONICAL) if head is not None else None
        href = node.attrs.get("href") if node is not None else None
        return absolute(self.base_url, href) if href else None

    def to_item(self) -> ArticleItem:
        headers = self.response.headers
        body_html, body_text = self.body()
        return ArticleItem(
            source=self.SOURCE,
            url=self.response.url,
            language=self.language(),
            canonical_url=self.canonical_url(),
            title=self.title(),
            body_html=body_html,
            body_text=body_text,
            published_raw=_text(self.find(self.DATE)),
            published_meta=published_metadata(self.tree, self.root, self.head_meta),
            cover_image_url=self.cover_image_url(),
            category=label_case(_text(self.find(self.CATEGORY)), self.language()),
            fetched_at=self.fetched_at,
            http_status=self.response.status,
            etag=_header(headers, b"ETag"),
            last_modified=_header(headers, b"Last-Modified"),
            raw_body=self.response.body,
            raw_encoding=self.encoding,
        )


def _header(headers: Any, name: bytes) -> str | None:
    return header_value(headers, name)


class CaliberSpider(SourceSpider):
    """Finds articles on the home and category listings of every edition and follows them."""

    name = "caliber"
    extractor = CaliberArticle

    LISTING_LINKS = ".float_block a[href*='/post/']"
    ARTICLE_PATH = re.compile(r"^/(?:(?:en|az)/)?post/[^/]+/?$")

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        failure = self.not_html(response)
        if failure is not None:
            yield failure
            return
        assert isinstance(response, TextResponse)
        yield from listed_articles(self, response, self.LISTING_LINKS, self.ARTICLE_PATH)  # two links per card

    def parse_article(self, response: Response) -> Iterator[Any]:
        failure = self.not_html(response)
        if failure is not None:
            yield failure
            return
        assert isinstance(response, TextResponse)
        self.note_declared_language(response)
        yield self.extractor(response).to_item()
