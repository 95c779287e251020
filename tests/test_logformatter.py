"""The crawl's log formatter: quarantine lines that say why, and no per-page DEBUG lines below LOG_LEVEL."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.misc import load_object
from scrapy.utils.test import get_crawler

from aggregator.crawl import project_settings
from aggregator.items import ArticleItem
from aggregator.logformatter import AggregatorLogFormatter
from pipelines.base import Rejected
from spiders.caliber import CaliberSpider

URL = "https://caliber.az/post/one"


def formatter(level: str) -> AggregatorLogFormatter:
    assert load_object(project_settings()["LOG_FORMATTER"]) is AggregatorLogFormatter
    return AggregatorLogFormatter.from_crawler(get_crawler(CaliberSpider, {"LOG_LEVEL": level}))


def lines(fmt: AggregatorLogFormatter) -> tuple[Any, Any]:
    """What the formatter gives for a crawled page and for the item scraped from it."""
    response = HtmlResponse(URL, body=b"<html></html>", request=Request(URL))
    spider = CaliberSpider()
    return (
        fmt.crawled(response.request, response, spider),
        fmt.scraped(ArticleItem(source="caliber", url=URL), response, spider),
    )


@pytest.mark.parametrize("level", ["INFO", "WARNING", "ERROR"])
def test_page_and_item_lines_are_not_made_above_debug(level: str) -> None:
    """Scrapy's loggers stay at DEBUG whatever LOG_LEVEL says: a line the handler would drop is not made at all."""
    assert lines(formatter(level)) == (None, None)


def test_debug_keeps_the_page_and_item_lines() -> None:
    crawled, scraped = lines(formatter("DEBUG"))
    assert crawled is not None and crawled["level"] == logging.DEBUG and "Crawled" in crawled["msg"]
    assert scraped is not None and scraped["level"] == logging.DEBUG and "Scraped" in scraped["msg"]


def test_a_quarantine_line_says_the_stage_and_the_reason_at_any_level() -> None:
    fmt = formatter("WARNING")
    error = Rejected("no title", stage="validate")
    line = fmt.dropped(ArticleItem(source="caliber", url=URL), error, None, CaliberSpider())
    assert line["level"] == logging.INFO
    assert line["msg"] % line["args"] == f"Quarantined (validate): no title <{URL}>"
