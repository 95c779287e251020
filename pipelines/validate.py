"""Validate: refuse items that are not articles we can archive (no title, no body, a URL off the source or too long
for the archive, text that did not decode), and ignore a canonical link that cannot be the page's own address.

First of all, the page's one-line texts (title, category, printed dates) lose their control characters
(``text.without_controls``), so that every step after, and every reason a refusal gives, sees them without; the
body's are the cleanup's to remove, from the text it reads out of the sanitised HTML."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Self
from urllib.parse import urlsplit

from scrapy.crawler import Crawler

from aggregator.items import ArticleItem
from aggregator.sources import Source, get_source
from aggregator.store.models import URL_LENGTH
from aggregator.text import without_controls
from aggregator.urls import canonical_url, names_a_public_site, names_another_article
from pipelines.base import Pipeline

logger = logging.getLogger(__name__)


class ValidatePipeline(Pipeline):
    stage = "validate"

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        without_line_controls(item)
        source = get_source(item.source)
        for url in (item.url, item.canonical_url):
            if url and len(url) > URL_LENGTH:  # the archive could not keep it: say so here, not as a failed batch
                raise self.reject(f"URL longer than {URL_LENGTH} characters ({len(url)})")
        if not source.owns(item.url):
            raise self.reject(f"URL outside source domains: {item.url}")
        if item.canonical_url and not source.owns(item.canonical_url):
            if names_a_public_site(item.canonical_url):  # another outlet's article, syndicated: not ours to publish
                raise self.reject(f"URL outside source domains: canonical {item.canonical_url}")
            # A broken canonical tag (a stray character in the host, a staging host): the fetched URL stands.
            logger.warning("%s: canonical link %r names no public site: ignored", item.url, item.canonical_url)
            self.count("canonical_ignored")
            item.canonical_url = None
        elif item.canonical_url and (why := not_the_page(source, item.url, item.canonical_url)):
            # A CMS bug, not the page's address: taken, it put every such article in one row (the home page's, or
            # the other article's), each fetch a new version of it. The fetched URL stands.
            logger.warning("%s: canonical link %r names %s: ignored", item.url, item.canonical_url, why)
            self.count("canonical_ignored")
            item.canonical_url = None
        if not (item.title or "").strip():
            raise self.reject("no title")
        if not (item.body_html or "").strip() or not (item.body_text or "").strip():
            raise self.reject("no body")
        if reason := undecodable(item):
            raise self.reject(reason)
        return item


ONE_LINE_TEXTS = ("title", "category", "published_raw", "published_meta", "published_feed")
"""The item's texts a page (or a feed) gives that are one line: shown so in the tables of ``aggregator``."""


def without_line_controls(item: ArticleItem) -> None:
    """The item's ``ONE_LINE_TEXTS`` without control characters: a title holding ESC or an OSC 8 hyperlink drove the
    terminal of the operator who listed it (the raw page the archive keeps is left as it came)."""
    for name in ONE_LINE_TEXTS:
        if value := getattr(item, name):
            setattr(item, name, without_controls(value, one_line=True))


@lru_cache(maxsize=64)
def front_pages(source: Source) -> frozenset[str]:
    """The canonical URLs of the source's home page, its listings and feeds (``entry_urls``)."""
    return frozenset(canonical_url(url) for url in (source.homepage, *source.entry_urls))


def is_front_page(source: Source, url: str) -> bool:
    """Whether ``url`` is the source's home page or an edition's (``/``, ``/en``), or one of its listings."""
    canonical = canonical_url(url)
    parts = urlsplit(canonical)
    if not parts.query and (parts.path == "/" or parts.path[1:] in source.languages):
        return True
    return canonical in front_pages(source)


def not_the_page(source: Source, url: str, canonical: str) -> str | None:
    """What the canonical link ``canonical`` of the source's page fetched at ``url`` names instead of the page, if
    it cannot be its address: the home page or a listing, or another article (``names_another_article``), or no
    address at all (``https://caliber.az:99999/...``: it failed the whole article in the cleanup)."""
    try:
        if canonical_url(canonical) == canonical_url(url):
            return None
    except ValueError:
        return "no address"
    if is_front_page(source, canonical) and not is_front_page(source, url):
        return "the home page or a listing"
    if names_another_article(url, canonical):
        return "another article"
    return None


def undecodable(item: ArticleItem) -> str | None:
    """Why the item's text is garbled, if it is: U+FFFD, the mark of bytes the page's encoding could not decode, in
    more than a few places and 2% of the text (a page in one encoding that declares another, see
    aggregator/encoding.py)."""
    title, body = item.title or "", item.body_text or ""
    broken = title.count("\ufffd") + body.count("\ufffd")
    if broken <= 3 or broken * 50 <= len(title) + len(body):  # a legacy page read as UTF-8 is mostly U+FFFD
        return None
    return (
        f"undecodable text: {broken} of {len(title) + len(body)} characters of the title and body are U+FFFD "
        f"(read as {item.raw_encoding or 'an unknown encoding'}; is the page in another encoding than it declares?)"
    )
