"""Dedupe: the body's similarity sketch, so the store can put near-duplicates from any source into one story.

Same-URL duplicates need nothing here: the store upserts by canonical URL and keeps a snapshot per version. What
this step adds is the MinHash sketch of the body (``aggregator.stories``); the store's writer looks its LSH buckets
up in the database inside the batch's transaction, so concurrent crawls see each other's articles.
Computing the sketch here keeps that CPU work out of the write transaction.
"""

from __future__ import annotations

from typing import Any, Self

from scrapy.crawler import Crawler

from aggregator.items import ArticleItem
from aggregator.stories import sketch, story_text
from pipelines.base import Pipeline


class DedupePipeline(Pipeline):
    stage = "dedupe"

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, ArticleItem):
            item.minhash = sketch(story_text(item.title, item.body_text)).pack()
        return item
