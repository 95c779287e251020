"""Validate: refuse items that are not articles we can archive (no title, no body, a URL off the source)."""

from __future__ import annotations

from typing import Any, Self

from scrapy.crawler import Crawler

from aggregator.items import ArticleItem
from aggregator.sources import get_source
from pipelines.base import Pipeline


class ValidatePipeline(Pipeline):
    stage = "validate"

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        source = get_source(item.source)
        if not source.owns(item.url):
            raise self.reject(f"URL outside source domains: {item.url}")
        if item.canonical_url and not source.owns(item.canonical_url):
            raise self.reject(f"URL outside source domains: canonical {item.canonical_url}")
        if not (item.title or "").strip():
            raise self.reject("no title")
        if not (item.body_html or "").strip() or not (item.body_text or "").strip():
            raise self.reject("no body")
        return item
