"""Sitemaps for discovery: ``<urlset>`` (plain, Google News, Google's image extension) and ``<sitemapindex>``,
gzipped or not.

Also tells a sitemap from a feed from a page that is neither, by its first element, so that the generic spider can
hand a feed to the feed parser and count an HTML page served at a feed's or sitemap's address as a failure; and keeps
the tally of what one of those ways in listed and what was left out (``LinkTally``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from lxml import etree
from scrapy.utils.gz import gunzip

from aggregator.html import http_url
from aggregator.urls import absolute

MAX_SITEMAP_BYTES = 50 * 1024 * 1024
"""The sitemap protocol's own limit for one file, uncompressed; a bigger body is refused, not inflated."""

DiscoveryKind = Literal["sitemap", "feed"]
_FIRST_ELEMENT = re.compile(rb"<\s*(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")
_PROLOG = re.compile(rb"\A(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>|\xef\xbb\xbf)*", re.DOTALL | re.IGNORECASE)
_KINDS: dict[bytes, DiscoveryKind] = {
    b"urlset": "sitemap",
    b"sitemapindex": "sitemap",
    b"rss": "feed",
    b"feed": "feed",
    b"rdf": "feed",
}
_NEWS = "http://www.google.com/schemas/sitemap-news/0.9"


class SitemapError(ValueError):
    """The body is not a sitemap (an HTML page, a broken download)."""


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    loc: str
    """Absolute URL of a page (``<urlset>``) or of another sitemap (``<sitemapindex>``); as written when no URL can
    be made of it, which the spider counts as an unusable address."""
    lastmod: str | None = None
    news_title: str | None = None
    """``<news:title>`` of a Google News sitemap."""
    news_published: str | None = None
    """``<news:publication_date>`` as printed (W3C datetime)."""
    news_language: str | None = None
    image_url: str | None = None
    """The page's picture: the first ``<image:image>`` whose ``<image:loc>`` is an http(s) address, made absolute
    (WordPress's SEO plugins and news sitemaps list an article's pictures so). The cover of a page that names none,
    as a feed entry's picture is (``spiders.feeds.entry_meta``)."""


@dataclass(frozen=True, slots=True)
class Sitemap:
    kind: Literal["urlset", "sitemapindex"]
    entries: tuple[SitemapEntry, ...]


def decompressed(body: bytes) -> bytes:
    """The body, inflated when it is a gzip file (``sitemap.xml.gz`` served as-is, without Content-Encoding)."""
    if body[:2] != b"\x1f\x8b":
        return body
    try:
        return gunzip(body, max_size=MAX_SITEMAP_BYTES)
    except (OSError, EOFError, ValueError) as exc:  # scrapy's _DecompressionMaxSizeExceeded is a ValueError
        raise SitemapError(f"unreadable gzip body: {exc}") from None


def discovery_kind(body: bytes) -> DiscoveryKind | None:
    """``"sitemap"`` or ``"feed"`` by the document's first element, None for anything else (an HTML page)."""
    head = decompressed(body)[:4096]
    start = _PROLOG.match(head)
    match = _FIRST_ELEMENT.match(head, start.end() if start else 0)
    return _KINDS.get(match.group(1).lower()) if match else None


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child_text(node: etree._Element, name: str, namespace: str | None = None) -> str | None:
    for child in node:
        if _local(child.tag) == name and (namespace is None or str(child.tag).startswith("{" + namespace)):
            text = (child.text or "").strip()
            return text or None
    return None


def _first_image(node: etree._Element, base_url: str) -> str | None:
    """The first picture of a ``<url>`` that is a web address; a ``data:`` or ``javascript:`` one, or one no URL can
    be made of, gives way to the next."""
    for child in node:
        if _unprefixed(child.tag) != "image":
            continue
        loc = next((c.text for c in child if _unprefixed(c.tag) == "loc"), None)
        if url := http_url(base_url, loc):
            return url
    return None


def _unprefixed(tag: object) -> str:
    """The local name of an element of Google's image extension (``<image:image><image:loc>``), in its namespace
    (``http://www.google.com/schemas/sitemap-image/1.1``) or with the prefix left undeclared, which lxml's recovering
    parser keeps in the name (``image:image``): hand-made sitemaps forget the declaration."""
    return _local(tag).rsplit(":", 1)[-1]


def _address(base_url: str, loc: str) -> str:
    """``loc`` made absolute; as written when no URL can be made of it (``//[x/``), for the spider to count as an
    unusable address: raised here, it cost every other link of the sitemap."""
    try:
        return absolute(base_url, loc)
    except ValueError:
        return loc


def parse_sitemap(body: bytes, base_url: str) -> Sitemap:
    """Every ``<loc>`` of a sitemap or sitemap index, with its date, Google News fields and picture, in document
    order."""
    data = decompressed(body)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, remove_comments=True)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise SitemapError(f"not XML: {exc}") from None
    kind = _local(root.tag) if root is not None else ""
    if kind not in ("urlset", "sitemapindex"):
        raise SitemapError(f"not a sitemap (root element <{kind or '?'}>)")
    entries = []
    for node in root:
        if _local(node.tag) not in ("url", "sitemap"):
            continue
        loc = _child_text(node, "loc")
        if not loc:
            continue
        news = next((c for c in node if _local(c.tag) == "news"), None)
        publication = next((c for c in news if _local(c.tag) == "publication"), None) if news is not None else None
        entries.append(
            SitemapEntry(
                loc=_address(base_url, loc),
                lastmod=_child_text(node, "lastmod"),
                news_title=_child_text(news, "title", _NEWS) if news is not None else None,
                news_published=_child_text(news, "publication_date", _NEWS) if news is not None else None,
                news_language=_child_text(publication, "language") if publication is not None else None,
                image_url=_first_image(node, base_url),
            )
        )
    return Sitemap("urlset" if kind == "urlset" else "sitemapindex", tuple(entries))


@dataclass(slots=True)
class LinkTally:
    """What one feed, sitemap or page of the generic spider's ways in listed, and what became of each link: the
    crawl tells "nothing new" from "every link left out, and why" by it (``GenericSpider._tally``)."""

    listed: int = 0
    followed: int = 0
    not_article_urls: int = 0
    """Left out by the registry entry's ``article_urls``."""
    unusable: int = 0
    """Addresses no request can be made to."""
    over_cap: int = 0
    """Article links of a feed or listing past ``AGGREGATOR_MAX_LINKS_PER_LISTING``, not followed (a sitemap's are
    all followed: ``spiders.base.LinkCap``)."""
    cap: int = 0
    """That cap, for the line that says it."""
    sitemaps: int = 0
    """Of ``followed``, the sitemaps a sitemap index names: documents to read, not links to pages (the run's
    ``aggregator/listed_links`` counts the links to pages and those left out)."""
    hosts: dict[str, int] = field(default_factory=dict)
    """Links off the source's domains, by host: dropped, and named, since a whole feed on another domain is most
    often an entry whose ``domains`` miss the site's own (``www.x.az`` for links to ``x.az``), or a site that
    moved."""

    def off_domain(self, url: str) -> None:
        host = (urlsplit(url).hostname or "?").lower()
        self.hosts[host] = self.hosts.get(host, 0) + 1

    @property
    def off_domain_links(self) -> int:
        return sum(self.hosts.values())

    def hosts_with(self, earlier: dict[str, int] | None, keep: int) -> dict[str, int]:
        """The ``keep`` hosts with the most links off the domains, counting ``earlier`` ones (the run's so far)."""
        merged = dict(earlier or {})
        for host, count in self.hosts.items():
            merged[host] = merged.get(host, 0) + count
        return dict(sorted(merged.items(), key=lambda item: (-item[1], item[0]))[:keep])
