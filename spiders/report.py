"""report.az: Azerbaijani at /, Russian at /ru/; listings of ``a.news__item`` cards in ``div.index-post-block``.

The site was redesigned in spring 2026. Pages fetched before then (and old pages still served in the old template)
read with ``ReportArticleV1``; the current markup, with date and time in two items of ``ul.news__date``, with
``ReportArticle``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import ClassVar

from aggregator.html import node_text
from spiders.extractor import SelectorArticle
from spiders.listing import ListingSpider


class ReportArticleV1(SelectorArticle):
    """The template before the 2026 redesign: date and time in one element."""

    SOURCE = "report"
    VALID_FROM: ClassVar[datetime | None] = None
    MARKER: ClassVar[str | None] = "news-inner__text"
    ROOT = ".news-inner"
    TITLE = "h1.news-inner__title"
    DATE = ".news-inner__date"
    BODY = ".news-inner__text"
    COVER = ".news-inner__image img"
    CATEGORY = ".news-inner__category"
    # first path segment -> language; anything else is the Azerbaijani edition
    EDITIONS: ClassVar[dict[str, str]] = {"ru": "ru"}
    DEFAULT_LANGUAGE = "az"

    def published_raw(self) -> str | None:
        """Every element DATE matches, joined: the current template prints date and time apart."""
        parts = (node_text(n) for n in self.find_all(self.DATE))
        return " ".join(p for p in parts if p) or None


class ReportArticle(ReportArticleV1):
    """The current template: ``16 noyabr, 2025`` and ``14:00`` (Russian ``12 марта, 2026`` ``• 10:13``) in two
    ``li`` of ``ul.news__date``."""

    VALID_FROM = datetime(2026, 3, 31, 20, 0, tzinfo=UTC)  # 1 April 2026, 00:00 in Baku
    MARKER = "news-detail__desc"
    ROOT = ".news-detail"
    TITLE = "h1.section-title"
    DATE = "ul.news__date li"
    BODY = "div.news-detail__desc"
    COVER = ".news-detail__image img"
    CATEGORY = ".news-detail__category"


class ReportSpider(ListingSpider):
    """Finds articles on the home and category listings of both editions and follows them."""

    name = "report"
    extractors = (ReportArticleV1, ReportArticle)

    LISTING_LINKS = "div.index-post-block a.news__item"
    # /<category>/<slug>/ or /ru/<category>/<slug>/; a bare /ru/<category>/ is a listing
    ARTICLE_PATH = re.compile(r"^/(?:ru/)?(?!ru/)[a-z0-9-]+/[a-z0-9-]+/?$")
