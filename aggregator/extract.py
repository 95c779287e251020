"""Extraction on demand: run on one saved page exactly what a crawl runs for its URL, without network or store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from scrapy.http import HtmlResponse
from scrapy.spiderloader import SpiderLoader
from scrapy.utils.misc import load_object

from aggregator.crawl import project_settings
from aggregator.items import ArticleItem
from aggregator.sources import source_for_url
from pipelines.base import Rejected
from spiders.versions import Extractor, extractor_versions, pick_extractor


class NoExtractorError(LookupError):
    pass


def stored_page_headers(encoding: str | None) -> dict[str, str]:
    """Headers to read a stored page back with the encoding it was decoded with when fetched."""
    return {"Content-Type": f"text/html; charset={encoding}"} if encoding else {}


def processing_pipelines() -> list[Any]:
    """The crawl's pipelines in order, without the store."""
    configured = project_settings().getdict("ITEM_PIPELINES")
    ordered = sorted((order, path) for path, order in configured.items() if order is not None)
    return [load_object(path)() for _, path in ordered if not path.endswith(".StorePipeline")]


def extractor_for(source_key: str, fetched_at: datetime | None, body: bytes) -> type[Extractor]:
    """The extractor version a crawl at ``fetched_at`` would have used for this page (``spiders.versions``)."""
    spider_cls = SpiderLoader.from_settings(project_settings()).load(source_key)
    versions = extractor_versions(spider_cls)
    if not versions:
        raise NoExtractorError(f"spider {source_key!r} has no extractor class")
    return pick_extractor(versions, fetched_at, body)


def extract_item(
    body: bytes, url: str, *, headers: Mapping[str, str] | None = None, fetched_at: datetime | None = None
) -> ArticleItem:
    """The extractor's item for a page (before the pipelines), read with the markup rules of its fetch time."""
    source = source_for_url(url)
    if source is None:
        raise NoExtractorError(f"no registered source owns {url}")
    extractor = extractor_for(source.key, fetched_at, body)
    response = HtmlResponse(url=url, body=body, headers=dict(headers or {}))
    return extractor(response, fetched_at=fetched_at).to_item()


def extract_page(
    body: bytes, url: str, *, headers: Mapping[str, str] | None = None, fetched_at: datetime | None = None
) -> dict[str, Any]:
    """The item after the processing pipelines, as a JSON-friendly dict.

    A page the pipelines refuse gives ``{"rejected": {"stage": ..., "reason": ...}, ...}`` with the item as
    far as it got.
    """
    item = extract_item(body, url, headers=headers, fetched_at=fetched_at)
    rejected: dict[str, str] | None = None
    for pipeline in processing_pipelines():
        try:
            item = pipeline.process_item(item)
        except Rejected as exc:
            rejected = {"stage": exc.stage, "reason": exc.reason}
            break
    record = item.to_record()
    record["rejected"] = rejected
    return record
