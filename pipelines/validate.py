"""Validate: refuse items that are not articles we can archive (no title, no body, a URL off the source or too long
for the archive, text that did not decode)."""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy.crawler import Crawler

from aggregator.items import ArticleItem
from aggregator.sources import get_source
from aggregator.store.models import URL_LENGTH
from aggregator.urls import names_a_public_site
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
        if not (item.title or "").strip():
            raise self.reject("no title")
        if not (item.body_html or "").strip() or not (item.body_text or "").strip():
            raise self.reject("no body")
        if reason := undecodable(item):
            raise self.reject(reason)
        return item


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
