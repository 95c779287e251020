"""RSS / Atom feeds -> the articles they announce, keyed on each item's link.

Feeds of the source sites are careless: one site gives every item the same ``<guid>``, another gives none, titles
carry HTML entities inside CDATA, dates end in a bare "+04", and a broken site answers its feed URL with its HTML
home page. So an entry is identified by its canonical link alone, the text fields are decoded to plain text, the date
is kept as printed for the dates pipeline, and a body that is not a feed raises ``FeedError`` (the caller records
it as a failure of the source) instead of quietly yielding nothing. An HTML page names its feeds in its head
(``declared_feeds``): a site's home page given as a way in leads to them.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

import feedparser
from scrapy.http import Response

from aggregator.html import css, document_base, http_url
from aggregator.markup import parse_html
from aggregator.urls import absolute, canonical_url
from spiders.sitemaps import SitemapEntry, SitemapError, decompressed

_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)
_IMG_SRC = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*['\"]([^'\"]+)['\"]", re.I)
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")


class FeedError(ValueError):
    """The body is not an RSS or Atom feed (an HTML page, an error text, broken XML with no items)."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    link: str
    """Absolute canonical URL of the announced article (``aggregator.urls.canonical_url``): the entry's key."""
    title: str | None
    """Plain text: entities decoded, CDATA unwrapped, tags dropped, whitespace collapsed."""
    summary: str | None
    """The description / summary as plain text, like ``title``."""
    published_raw: str | None
    """The date exactly as the feed prints it (``Tue, 15 Sep 2026 01:52:20 +0400``); the dates pipeline parses it."""
    image_url: str | None
    """Absolute URL of the item's picture: an image enclosure, ``media:content`` / ``media:thumbnail``, else the
    first ``<img>`` of the description."""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed's entries and what was left out of them, so that a spider can count it in its stats."""

    entries: list[FeedEntry]
    without_link: int = 0
    """Items skipped because they name no link (a guid alone is not a link: guids are unreliable)."""
    duplicates: int = 0
    """Items dropped because an earlier item has the same canonical link."""
    version: str = field(default="")
    """feedparser's name of the format (``rss20``, ``atom10``, ...)."""


FEED_PUBLISHED_META = "aggregator_feed_published"
"""``Request.meta`` key of an article request that a feed entry led to: the entry's date as printed, which the article's
item carries as ``published_feed`` (the dates pipeline's last resort, for a page that prints no date)."""

FEED_IMAGE_META = "aggregator_feed_image"
"""``Request.meta`` key of an article request that a feed entry led to: the entry's picture (``FeedEntry.image_url``,
or a sitemap entry's ``<image:image>``, ``SitemapEntry.image_url``), which the article's item carries as
``cover_feed``: its cover when the page names none (WordPress, DLE and Bitrix sites print no ``og:image`` on many
article pages, but give the picture in their RSS and their sitemaps)."""


DECLARED_BY_META = "aggregator_declared_by"
"""``Request.meta`` key of a request for a feed an HTML page declared (``declared_feeds``): that page's URL. A
declared feed that answers with an HTML page in turn is not searched for feeds again."""


def entry_meta(entry: FeedEntry | SitemapEntry) -> dict[str, str]:
    """The ``Request.meta`` of the request for ``entry``'s article: its date and its picture, those it gives (a feed
    entry's; a sitemap entry's ``<news:publication_date>`` and first ``<image:image>``).

    Scrapy copies a request's meta to its retries and to the request a redirect makes, and the incremental filter
    adds its own keys to it, so they reach the article's page whatever way it is fetched. Made when the request is,
    not before: a sitemap lists up to 50,000 pages, and each request waiting in the scheduler holds a copy."""
    published = entry.published_raw if isinstance(entry, FeedEntry) else entry.news_published
    meta = {FEED_PUBLISHED_META: published, FEED_IMAGE_META: entry.image_url}
    return {key: value for key, value in meta.items() if value}


def with_announcement(item: Any, response: Response) -> Any:
    """``item`` with what the feed entry (or news sitemap entry) that led to ``response``'s page gave it: its date, as
    ``published_feed`` (the dates pipeline's last resort), and its picture, as ``cover_feed`` (the cover when the page
    names none: the archive takes the page's own first, ``aggregator.store.repository``).

    Every spider that follows feed entries yields its articles through this, so that they all take the same."""
    item.published_feed = feed_published(response)
    item.cover_feed = feed_cover(response)
    return item


def feed_published(response: Response) -> str | None:
    """The date of the feed entry that led to ``response``'s page; None for a page no feed led to (a listing's
    article, the sweep's request, which carry none; a response built without a request)."""
    request = response.request
    return request.meta.get(FEED_PUBLISHED_META) if request is not None else None


def feed_cover(response: Response) -> str | None:
    """The picture of the feed or sitemap entry that led to ``response``'s page; None for a page none led to, or whose
    entry has none."""
    request = response.request
    return request.meta.get(FEED_IMAGE_META) if request is not None else None


def feed_entries(body: bytes, base_url: str, content_type: str | None = None) -> list[FeedEntry]:
    """The entries of a feed, one per canonical link, in feed order; raises FeedError if ``body`` is no feed."""
    return parse_feed(body, base_url, content_type).entries


def content_type(response: Response) -> str | None:
    """The response's Content-Type header, for ``parse_feed``."""
    value = response.headers.get(b"Content-Type")
    return value.decode("latin-1") if value else None


def parse_feed(body: bytes, base_url: str, content_type: str | None = None) -> ParsedFeed:
    """``feed_entries`` with the counts of items it left out.

    ``content_type``: the server's header. Its charset is the feed's when the XML declaration names none (a
    windows-1251 feed declaring only ``<?xml version="1.0"?>`` was read as UTF-8 mojibake: its Cyrillic links went to
    addresses that answer 404). A gzip file served as it is (``feed.xml.gz``) is inflated first."""
    if body[:2] == b"\x1f\x8b":
        try:
            body = decompressed(body)
        except SitemapError as exc:
            raise FeedError(f"not a feed: {exc}") from None
    if _HTML_START.match(body[:4096].removeprefix(b"\xef\xbb\xbf")):
        raise FeedError("not a feed: the body is an HTML page")
    headers = {"content-location": base_url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(body, response_headers=headers)
    if not parsed.get("version"):
        start = " ".join(body[:60].decode("utf-8", "replace").split())
        raise FeedError(
            f"not a feed: no RSS or Atom document in a body starting {start!r}" if start else "not a feed: empty body"
        )
    entries: dict[str, FeedEntry] = {}
    without_link = duplicates = 0
    for raw in parsed.entries:
        link = _link(raw, base_url)
        if link is None:
            without_link += 1
            continue
        if link in entries:
            duplicates += 1
            continue
        entries[link] = FeedEntry(
            link=link,
            title=_plain(raw.get("title")),
            summary=_plain(raw.get("summary")),
            published_raw=_clean_raw(raw.get("published") or raw.get("updated")),
            image_url=_image(raw, base_url),
        )
    return ParsedFeed(list(entries.values()), without_link, duplicates, str(parsed["version"]))


FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})
"""The ``type`` of a ``<link rel="alternate">`` that names a feed this module reads (feed autodiscovery)."""
_COMMENTS_FEED = re.compile(r"comment|коммент|şərh", re.IGNORECASE)
"""A feed of readers' comments (WordPress declares one for the site and one for every post): its entries are
comments on articles, not articles."""


def declared_feeds(html: str, base_url: str) -> list[str]:
    """The feeds an HTML page declares (``<link rel="alternate" type="application/rss+xml" href=...>``, as
    WordPress and most CMSs print them on every page), as absolute http(s) addresses, in page order, each once;
    not the feeds of comments.

    A site's home page given as a way in names its feed this way: an operator often copies the home page's address
    where the feed's belongs."""
    tree = parse_html(html, base_url)
    base = document_base(tree, base_url)
    found: list[str] = []
    for node in css(tree, "link[rel][href][type]"):
        attrs = node.attrs
        if "alternate" not in (attrs.get("rel") or "").lower().split():
            continue
        if (attrs.get("type") or "").split(";")[0].strip().lower() not in FEED_TYPES:
            continue
        href = (attrs.get("href") or "").strip()
        if not href or _COMMENTS_FEED.search(f"{href} {attrs.get('title') or ''}"):
            continue
        try:
            url = absolute(base, href)
        except ValueError:  # an address no request can be made to
            continue
        if url.startswith(("https://", "http://")) and url not in found:
            found.append(url)
    return found


def _link(entry: Any, base_url: str) -> str | None:
    """The item's own link; feedparser copies a permalink guid into ``link`` when there is none, which we undo."""
    href = entry.get("link")
    if not href and entry.get("links"):
        href = next((x.get("href") for x in entry["links"] if x.get("rel", "alternate") == "alternate"), None)
    if not href:
        return None
    if entry.get("guidislink") and href == entry.get("id") and not _has_link_element(entry, href):
        return None
    # feedparser has decoded the XML's entities; a link written in CDATA keeps its "&amp;" ("?id=1&amp;page=2"). Only
    # that is decoded again: every entity would turn "?id=1&section=main" into "?id=1§ion=main", a wrong address.
    try:
        url = absolute(base_url, str(href).replace("&amp;", "&"))
        if not url.startswith(("https://", "http://")):
            return None
        return canonical_url(url)
    except ValueError:  # "https://haqqin.az:99999/...": an address no request can be made to (one item, not the feed)
        return None


def _has_link_element(entry: Any, href: str) -> bool:
    # feedparser records a real <link> in ``links`` with rel=alternate; the guid fallback leaves no such record.
    return any(x.get("href") == href and x.get("rel") == "alternate" for x in entry.get("links", ()))


def _plain(value: Any) -> str | None:
    """Text with no markup and no entities: CDATA may hold both, entity-encoded or not."""
    if not value:
        return None
    text = str(value)
    for _ in range(2):  # entities inside CDATA come out of feedparser still encoded: decode one level more
        if "<" in text:
            tree = parse_html(f"<div>{text}</div>")
            node = tree.css_first("div")
            text = node.text(deep=True, separator=" ") if node is not None else text
        if "&" not in text:
            break
        text = html.unescape(text)
    text = " ".join(text.split())
    return text or None


def _clean_raw(value: Any) -> str | None:
    if not value:
        return None
    text = " ".join(str(value).split())
    return text or None


def _image(entry: Any, base_url: str) -> str | None:
    candidates: list[str] = []
    for enclosure in entry.get("enclosures", ()):
        href = enclosure.get("href")
        kind = (enclosure.get("type") or "").lower()
        if href and (kind.startswith("image/") or (not kind and _looks_like_image(href))):
            candidates.append(href)
    for key in ("media_content", "media_thumbnail"):
        for media in entry.get(key, ()):
            href = media.get("url")
            kind = (media.get("type") or media.get("medium") or "").lower()
            if href and (not kind or kind.startswith("image")):
                candidates.append(href)
    if not candidates:
        match = _IMG_SRC.search(str(entry.get("summary") or ""))
        if match:
            candidates.append(html.unescape(match.group(1)))
    # http(s) only; one no URL can be made of ("//[x/") gives way to the next: raised, it cost the whole feed
    return next((url for href in candidates if (url := http_url(base_url, href))), None)


def _looks_like_image(href: str) -> bool:
    return href.lower().split("?", 1)[0].endswith(_IMAGE_EXTENSIONS)
