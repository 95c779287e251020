"""trend.az: Russian on www., Azerbaijani on az., English on en.; listings ``ul.news-list.with-images``.

The date comes from ``article:published_time`` when the page has it; otherwise from ``span.date-time``
("15 Noyabr 10:31 (UTC+04)"), which prints no year: the dates pipeline takes the latest such date not after the
fetch. The body opens with the agency's dateline ("Bakı. Trend:", "Баку. Trend:"), which is not article text.
"""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from spiders.article import ArticlePage
from spiders.listing import ListingSpider

# The dateline as the first paragraph opens: a place (and, in English, a date) then the agency's name and a colon,
# possibly in bold. Only within the first 100 characters, and only after a full stop, so prose is never cut.
DATELINE = re.compile(
    r"^\s*(?:<(?:strong|b)>\s*)?[^<>:\n]{1,100}?\.(?:\s|&nbsp;)*Trend\s*:(?:\s|&nbsp;)*(?:</(?:strong|b)>\s*)?",
    re.IGNORECASE,
)


class TrendArticle(ArticlePage):
    SOURCE = "trend"
    ROOT = ".article-page"
    TITLE = "h1.article-title"
    DATE = "span.date-time"
    BODY = "div.article-content.article-paddings"
    COVER = ".article-image img"
    CATEGORY = ".article-category"
    FIRST_PARAGRAPH = re.compile(r"(<p\b[^>]*>)(.*?)(</p>)", re.DOTALL)
    # first label of the host -> language; anything else (www.) is the Russian edition
    EDITIONS: ClassVar[dict[str, str]] = {"az": "az", "en": "en"}
    DEFAULT_LANGUAGE = "ru"

    def language(self) -> str:
        host = (urlsplit(self.response.url).hostname or "").lower()
        return self.EDITIONS.get(host.split(".", 1)[0], self.DEFAULT_LANGUAGE)

    def body_html(self) -> str | None:
        html = super().body_html()
        if html is None:
            return None
        first = self.FIRST_PARAGRAPH.search(html)
        if first is None:
            return html
        opening, inner, closing = first.groups()
        stripped = DATELINE.sub("", inner, count=1)
        if stripped == inner:
            return html
        # A paragraph that was only the dateline goes altogether.
        replacement = f"{opening}{stripped}{closing}" if LexborHTMLParser(stripped).text().strip() else ""
        return html[: first.start()] + replacement + html[first.end() :]


class TrendSpider(ListingSpider):
    """Finds articles on the home and section listings of the three editions and follows them."""

    name = "trend"
    extractors = (TrendArticle,)

    LISTING_LINKS = "ul.news-list.with-images li a::attr(href)"
    ARTICLE_PATH = re.compile(r"^/(?:[a-z0-9-]+/)+\d+\.html$")
