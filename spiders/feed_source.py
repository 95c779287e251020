"""Sources whose way in is a feed: the feed names the articles, the spider fetches each article page.

A feed that answers with an HTML page (a redirect to the home page, a CMS error page) is a failure of the source,
not of the crawl: it is logged, counted (``feed/not_a_feed``) and recorded as a fetch failure whose reason says so,
which is what health reports read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse

from aggregator.html import raw_header
from aggregator.items import FetchFailure
from spiders.base import SourceSpider
from spiders.feeds import FeedError, content_type, entry_meta, parse_feed, with_announcement
from spiders.versions import pick_extractor


def header_value(headers: Any, name: bytes) -> str | None:
    """The last value of a response header, as ``headers.get(name)`` decoded from Latin-1; None when absent."""
    value = raw_header(headers, name)
    return value.decode("latin-1") if value else None


def response_header(response: Response, name: bytes) -> str | None:
    return header_value(response.headers, name)


class FeedSourceSpider(SourceSpider):
    """Reads the registry's entry URLs as RSS/Atom feeds and follows the article links they hold."""

    looked_in: ClassVar[str] = "in the feeds"
    entries_are_documents: ClassVar[bool] = True

    extractor: ClassVar[Any]
    """The source's article extractor class: ``extractor(response).to_item()``; or ``extractors``, its versions oldest
    first, as a listing spider's (``spiders.versions``): a feed site changes its markup as any other."""
    ARTICLE_PATH: ClassVar[re.Pattern[str]]
    """Paths of the source's article pages; feed links elsewhere (tags, videos, other sites) are not followed."""

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        stats = self.crawler.stats
        assert stats is not None
        try:
            feed = parse_feed(response.body, response.url, content_type(response))
        except FeedError as exc:
            self.logger.error("Feed %s is unusable: %s", response.url, exc)
            stats.inc_value("feed/not_a_feed")
            yield FetchFailure(self.source.key, response.url, f"feed unusable: {exc}", http_status=response.status)
            return
        stats.inc_value("feed/entries", len(feed.entries))
        if feed.without_link:
            stats.inc_value("feed/entries_without_link", feed.without_link)
        if feed.duplicates:
            stats.inc_value("feed/duplicate_links", feed.duplicates)
        cap = self.link_cap()
        for entry in feed.entries:
            if not (self.source.owns(entry.link) and self.ARTICLE_PATH.match(urlsplit(entry.link).path)):
                stats.inc_value("feed/links_not_followed")
                continue
            if not cap.take():
                continue
            # The entry's date and picture go with the request: the page's when it names none (ArticleItem).
            yield scrapy.Request(
                entry.link, callback=self.parse_article, errback=self.fetch_failed, meta=entry_meta(entry)
            )
        self.note_capped(response.url, "feed", cap)

    def parse_article(self, response: Response) -> Iterator[Any]:
        failure = self.not_html(response)
        if failure is not None:
            yield failure
            return
        assert isinstance(response, TextResponse)
        self.note_declared_language(response)
        version = pick_extractor(self.article_extractors, None, response.body)
        yield with_announcement(version(response).to_item(), response)
