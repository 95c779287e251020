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


def host_of(url: str) -> str:
    """``(urlsplit(url).hostname or "").lower()``, with a shortcut for the plain ``http(s)://host/...`` URLs a
    crawl fetches: printable ASCII without spaces, and no user, port, bracket or ``%`` in the host."""
    scheme_end = 8 if url.startswith("https://") else 7 if url.startswith("http://") else 0
    if scheme_end and url.isascii() and url.isprintable() and " " not in url:
        netloc = url[scheme_end:]
        for end in "/?#":
            netloc = netloc.partition(end)[0]
        if not any(c in netloc for c in "@:[]%"):
            return netloc.lower()
    return (urlsplit(url).hostname or "").lower()


class TrendArticle(SelectorArticle):
    SOURCE = "trend"
    ROOT = ".article-page"
    TITLE = "h1.article-title"
    DATE = "span.date-time"
    BODY = "div.article-content.article-paddings"
    COVER = ".article-image img"
    CATEGORY = ".article-category"
    FIRST_PARAGRAPH_OPENING = re.compile(r"<p\b[^>]*>")
    TAGS = re.compile(r"<[^>]*>")
    # first label of the host -> language; anything else (www.) is the Russian edition
    EDITIONS: ClassVar[dict[str, str]] = {"az": "az", "en": "en"}
    DEFAULT_LANGUAGE = "ru"

    def language(self) -> str:
        return self.EDITIONS.get(host_of(self.response.url).split(".", 1)[0], self.DEFAULT_LANGUAGE)

    def first_paragraph(self, html: str) -> tuple[int, int, int, int] | None:
        """Where the first ``<p ...>`` with text that a ``</p>`` follows opens, its inner HTML starts and ends,
        and its ``</p>`` ends; None when there is none. Empty paragraphs before it (a ``<p>&nbsp;</p>`` the editor
        left, a picture's) are passed over: the reader's first paragraph, the dateline's, is the first with words."""
        start = 0
        while (opening := self.FIRST_PARAGRAPH_OPENING.search(html, start)) is not None:
            closing = html.find("</p>", opening.end())
            if closing < 0:
                return None
            if self.TAGS.sub("", html[opening.end() : closing]).replace("&nbsp;", " ").strip():
                return opening.start(), opening.end(), closing, closing + 4
            start = closing + 4
        return None

    def body(self) -> tuple[str | None, str | None]:
        html, text = super().body()
        first = self.first_paragraph(html) if html else None
        if html is None or text is None or first is None:
            return html, text
        start, inner_start, inner_end, end = first
        inner = html[inner_start:inner_end]
        stripped = DATELINE.sub("", inner, count=1)
        if stripped == inner:
            return html, text
        # A paragraph that was only the dateline goes altogether, in the HTML and in the text.
        left = self.TAGS.sub("", stripped).replace("&nbsp;", " ").strip()
        opening, closing = html[start:inner_start], html[inner_end:end]
        html = html[:start] + (f"{opening}{stripped}{closing}" if left else "") + html[end:]
        head, _, rest = text.partition("\n\n")
        head = DATELINE.sub("", head, count=1).strip()
        return html, "\n\n".join(p for p in (head, rest) if p)


class TrendSpider(ListingSpider):
    """Finds articles on the home and section listings of the three editions and follows them."""

    name = "trend"
    extractors = (TrendArticle,)

    LISTING_LINKS = "ul.news-list.with-images li a"
    ARTICLE_PATH = re.compile(r"^/(?:[a-z0-9-]+/)+\d+\.html$")
