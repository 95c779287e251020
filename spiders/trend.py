"""trend.az: Russian on www., Azerbaijani on az., English on en.; listings ``ul.news-list.with-images``.

The date comes from ``article:published_time`` when the page has it; otherwise from ``span.date-time``
("15 Noyabr 10:31 (UTC+04)"), which prints no year: the dates pipeline takes the latest such date not after the
fetch. The body opens with the agency's dateline ("Bakı. Trend:", "Баку. Trend:"), which is not article text.
"""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import urlsplit

from spiders.extractor import SelectorArticle
from spiders.listing import ListingSpider

# The dateline as the first paragraph opens: a place (and, in English, a date) then the agency's name and a colon,
# possibly in bold. Only within the first 100 characters, and only after a full stop, so prose is never cut.
DATELINE = re.compile(
    r"^\s*(?:<(?:strong|b)>\s*)?[^<>:\n]{1,100}?\.(?:\s|&nbsp;)*Trend\s*:(?:\s|&nbsp;)*(?:</(?:strong|b)>\s*)?",
    re.IGNORECASE,
)


class TrendArticle(SelectorArticle):
    SOURCE = "trend"
    ROOT = ".article-page"
    TITLE = "h1.article-title"
    DATE = "span.date-time"
    BODY = "div.article-content.article-paddings"
    COVER = ".article-image img"
    CATEGORY = ".article-category"
    FIRST_PARAGRAPH = re.compile(r"(<p\b[^>]*>)(.*?)(</p>)", re.DOTALL)
    TAGS = re.compile(r"<[^>]*>")
    # first label of the host -> language; anything else (www.) is the Russian edition
    EDITIONS: ClassVar[dict[str, str]] = {"az": "az", "en": "en"}
    DEFAULT_LANGUAGE = "ru"

    def language(self) -> str:
        host = (urlsplit(self.response.url).hostname or "").lower()
        return self.EDITIONS.get(host.split(".", 1)[0], self.DEFAULT_LANGUAGE)

    def body(self) -> tuple[str | None, str | None]:
        html, text = super().body()
        first = self.FIRST_PARAGRAPH.search(html) if html else None
        if html is None or text is None or first is None:
            return html, text
        opening, inner, closing = first.groups()
        stripped = DATELINE.sub("", inner, count=1)
        if stripped == inner:
            return html, text
        # A paragraph that was only the dateline goes altogether, in the HTML and in the text.
        left = self.TAGS.sub("", stripped).replace("&nbsp;", " ").strip()
        html = html[: first.start()] + (f"{opening}{stripped}{closing}" if left else "") + html[first.end() :]
        head, _, rest = text.partition("\n\n")
        head = DATELINE.sub("", head, count=1).strip()
        return html, "\n\n".join(p for p in (head, rest) if p)


class TrendSpider(ListingSpider):
    """Finds articles on the home and section listings of the three editions and follows them."""

    name = "trend"
    extractors = (TrendArticle,)

    LISTING_LINKS = "ul.news-list.with-images li a::attr(href)"
    ARTICLE_PATH = re.compile(r"^/(?:[a-z0-9-]+/)+\d+\.html$")
