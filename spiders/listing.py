"""Navigation for sites whose way in is listing pages: follow the article links of every entry listing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from aggregator.html import link_urls
from aggregator.sources import Source
from spiders.base import LinkCap, SourceSpider
from spiders.versions import pick_extractor


class FollowsArticles(Protocol):
    """A source spider with an article callback."""

    source: Source

    def parse_article(self, response: Response) -> Iterator[Any]: ...

    def fetch_failed(self, failure: Failure) -> Iterator[Any]: ...

    def link_cap(self) -> LinkCap: ...

    def note_capped(self, url: str, what: str, cap: LinkCap) -> None: ...


def listed_articles(
    spider: FollowsArticles, response: TextResponse, links: str, article_path: re.Pattern[str]
) -> Iterator[scrapy.Request]:
    """A request for each article a listing links to, once each (a card may link twice), in page order: the links
    ``links`` matches whose address (resolved against the listing's ``<base href>``, if it has one) is the source's
    and whose path is ``article_path``'s; the first ``AGGREGATOR_MAX_LINKS_PER_LISTING`` of them, those past it
    counted and said (``LinkCap``)."""
    cap = spider.link_cap()
    for url in link_urls(response, links):
        if spider.source.owns(url) and article_path.match(urlsplit(url).path) and cap.take():
            yield scrapy.Request(url, callback=spider.parse_article, errback=spider.fetch_failed)
    spider.note_capped(response.url, "listing", cap)


class ListingSpider(SourceSpider):
    """A source spider that reads its entry URLs as listings of article links.

    Subclasses set ``LISTING_LINKS`` (a CSS selector of the listing's article links, whose ``href`` is followed),
    ``ARTICLE_PATH`` (which link paths are articles) and ``extractors`` (oldest first, see ``spiders.versions``), or
    ``extractor`` for one version.
    """

    LISTING_LINKS: ClassVar[str]
    ARTICLE_PATH: ClassVar[re.Pattern[str]]

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        failure = self.not_html(response)
        if failure is not None:
            yield failure
            return
        assert isinstance(response, TextResponse)
        yield from listed_articles(self, response, self.LISTING_LINKS, self.ARTICLE_PATH)

    def parse_article(self, response: Response) -> Iterator[Any]:
        failure = self.not_html(response)
        if failure is not None:
            yield failure
            return
        assert isinstance(response, TextResponse)
        self.note_declared_language(response)
        # Fetched now: the newest markup, unless the page is still in an older one.
        yield pick_extractor(self.article_extractors, None, response.body)(response).to_item()
