"""Dedupe: the body's similarity sketch, so the store can put near-duplicates from any source into one story.

Same-URL duplicates need nothing here: the store upserts by canonical URL and keeps a snapshot per version. What
this step adds is the MinHash sketch of the body (``aggregator.stories``); the store's writer looks its LSH buckets
up in the database inside the batch's transaction, so concurrent crawls see each other's articles.
The sketch is CPU work (about a millisecond an article): with the default writer process
(``AGGREGATOR_STORE_WRITER=process``) this step leaves it to the writer, which computes it beside the crawl and
before its transaction; with the writer thread it is computed here, out of the write transaction.
"""

from __future__ import annotations

from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

from aggregator.items import ArticleItem
from aggregator.stories import sketch, story_text
from pipelines.base import Pipeline


class DedupePipeline(Pipeline):
    stage = "dedupe"

    def __init__(self, stats: StatsCollector | None = None, *, sketch_here: bool = True) -> None:
        super().__init__(stats)
        self.sketch_here = sketch_here

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.stats, sketch_here=crawler.settings.get("AGGREGATOR_STORE_WRITER") == "thread")

    def process_item(self, item: Any) -> Any:
        if isinstance(item, ArticleItem) and self.sketch_here:
            item.minhash = sketch(story_text(item.title, item.body_text)).pack()
        return item
