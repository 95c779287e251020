"""Navigation for sites whose way in is listing pages: follow the article links of every entry listing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse

from spiders.base import SourceSpider
from spiders.versions import Extractor, pick_extractor


class ListingSpider(SourceSpider):
    """A source spider that reads its entry URLs as listings of article links.

    Subclasses set ``LISTING_LINKS`` (a CSS selector ending in ``::attr(href)``), ``ARTICLE_PATH`` (which link paths
    are articles) and ``extractors`` (oldest first, see ``spiders.versions``).
    """

    LISTING_LINKS: ClassVar[str]
    ARTICLE_PATH: ClassVar[re.Pattern[str]]
    extractors: ClassVar[tuple[type[Extractor], ...]]

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        failure = self.not_html(response)
        if failure is not None:
            yield failure
            return
        assert isinstance(response, TextResponse)
        for href in dict.fromkeys(response.css(self.LISTING_LINKS).getall()):  # a card may link twice
            url = response.urljoin(href.strip())
            if self.source.owns(url) and self.ARTICLE_PATH.match(urlsplit(url).path):
                yield scrapy.Request(url, callback=self.parse_article, errback=self.fetch_failed)

    def parse_article(self, response: Response) -> Iterator[Any]:
        failure = self.not_html(response)
        if failure is not None:
            yield failure
            return
        assert isinstance(response, TextResponse)
        # Fetched now: the newest markup, unless the page is still in an older one.
        yield pick_extractor(self.extractors, None, response.body)(response).to_item()
