"""A feed spider may list extractor versions as a listing spider does, and a listing spider may set one extractor:
README's "When a site changes its markup" says to list the versions in ``extractors``, and a feed spider given only
``extractors`` failed every article with an AttributeError (it read ``extractor`` alone); a listing spider given
only ``extractor`` failed the same way the other way round."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest
from scrapy.http import HtmlResponse

from spiders.base import SpiderSetupError
from spiders.feed_source import FeedSourceSpider
from spiders.haqqin import HaqqinArticle, HaqqinSpider
from spiders.listing import ListingSpider
from spiders.report import ReportArticle, ReportArticleV1, ReportSpider

PAGES = Path(__file__).parent / "fixtures" / "pages"


def page(site: str, case: str) -> HtmlResponse:
    folder = PAGES / site / case
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    return HtmlResponse(meta["url"], body=(folder / "page.html").read_bytes(), encoding="utf-8")


class HaqqinArticleNew(HaqqinArticle):
    """A newer version whose marker the saved page lacks: the page is read with the version whose markup it has."""

    VALID_FROM: ClassVar[datetime | None] = datetime(2020, 1, 1, tzinfo=UTC)
    MARKER: ClassVar[str | None] = "a-class-no-saved-page-has"


class VersionedFeedSpider(FeedSourceSpider):
    name = "haqqin"
    ARTICLE_PATH = HaqqinSpider.ARTICLE_PATH
    extractors = (HaqqinArticle, HaqqinArticleNew)


class OneVersionListingSpider(ListingSpider):
    name = "report"
    LISTING_LINKS = ReportSpider.LISTING_LINKS
    ARTICLE_PATH = ReportSpider.ARTICLE_PATH
    extractor = ReportArticle


class NoExtractorSpider(ListingSpider):
    name = "report"
    LISTING_LINKS = "a"
    ARTICLE_PATH = re.compile(".*")


def test_a_feed_spider_with_extractor_versions_reads_its_articles() -> None:
    case = sorted(p.name for p in (PAGES / "haqqin").iterdir())[0]
    (item,) = list(VersionedFeedSpider().parse_article(page("haqqin", case)))
    expected = json.loads((PAGES / "haqqin" / case / "expected.json").read_text(encoding="utf-8"))
    assert item.title == expected["title"] and item.source == "haqqin"


def test_a_listing_spider_with_one_extractor_reads_its_articles() -> None:
    newer = next(
        p.name for p in sorted((PAGES / "report").iterdir()) if ReportArticle.MARKER in (p / "page.html").read_text()
    )
    (item,) = list(OneVersionListingSpider().parse_article(page("report", newer)))
    assert item.title and item.source == "report"
    assert ReportSpider().article_extractors == (ReportArticleV1, ReportArticle)


def test_a_spider_with_no_extractor_is_refused_when_it_is_made() -> None:
    with pytest.raises(SpiderSetupError, match="has no extractor: set extractor"):
        NoExtractorSpider()
