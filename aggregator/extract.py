"""Extraction on demand: run on one saved page exactly what a crawl runs for its URL, without network or store."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any

from scrapy.settings import Settings
from scrapy.signalmanager import SignalManager
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.misc import load_object

from aggregator.crawl import project_settings
from aggregator.encoding import html_response
from aggregator.items import ArticleItem
from aggregator.sources import registered, site_source, source_for_url
from pipelines.base import Rejected
from spiders.versions import Extractor, extractor_versions, pick_extractor


class NoExtractorError(LookupError):
    pass


def stored_page_headers(encoding: str | None) -> dict[str, str]:
    """Headers to read a stored page back with the encoding it was decoded with when fetched."""
    return {"Content-Type": f"text/html; charset={encoding}"} if encoding else {}


class _NoCrawl:
    """What a pipeline's ``from_crawler`` reads, outside a crawl: the project's settings (the environment's
    AGGREGATOR_* included), no stats to count in, signals nobody sends."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stats = None
        self.signals = SignalManager(self)


def processing_pipelines() -> list[Any]:
    """The crawl's pipelines in order, without the store, configured as a crawl configures them. Built with no
    settings, the attribution step printed the default site name and templates whatever AGGREGATOR_SITE_NAME and
    AGGREGATOR_ATTRIBUTION_* said, and ``reextract`` rewrote every stored attribution line with them."""
    settings = project_settings()
    configured = settings.getdict("ITEM_PIPELINES")
    ordered = sorted((order, path) for path, order in configured.items() if order is not None)
    crawl = _NoCrawl(settings)
    built = []
    for _, path in ordered:
        if path.endswith(".StorePipeline"):
            continue
        cls = load_object(path)
        from_crawler = getattr(cls, "from_crawler", None)
        built.append(from_crawler(crawl) if from_crawler else cls())
    return built


@contextmanager
def _known_site(url: str) -> Iterator[None]:
    """The registry, plus a stand-in entry for the URL's site when no source owns it (the generic extractor's)."""
    if source_for_url(url) is not None:
        yield
        return
    if not url.startswith(("http://", "https://")):
        raise NoExtractorError(f"not an http(s) URL: {url}")
    with registered(site_source(url)):
        yield


@cache
def _spider_loader(spider_modules: tuple[str, ...]) -> Any:
    """The project's spider loader, built once (it imports every spider module; building it for each page was half
    of what ``aggregator reextract`` spent). Registry entries are looked up at each ``load``."""
    return get_spider_loader(project_settings())


def extractor_for(source_key: str, fetched_at: datetime | None, body: bytes) -> type[Extractor]:
    """The extractor version a crawl at ``fetched_at`` would have used for this page (``spiders.versions``)."""
    import aggregator.settings

    spider_cls = _spider_loader(tuple(aggregator.settings.SPIDER_MODULES)).load(source_key)
    versions = extractor_versions(spider_cls)
    if not versions:
        raise NoExtractorError(f"spider {source_key!r} has no extractor class")
    return pick_extractor(versions, fetched_at, body)


def extractor_name(url: str, body: bytes = b"", fetched_at: datetime | None = None) -> str:
    """Which extractor a crawl would run on the page: ``caliber (CaliberArticle)``,
    ``unregistered site (GenericArticle)``."""
    registered_source = source_for_url(url)
    with _known_site(url):
        source = source_for_url(url)
        if source is None:
            raise NoExtractorError(f"no registered source owns {url}")
        name = extractor_for(source.key, fetched_at, body).__name__
    return f"{registered_source.key if registered_source else 'unregistered site'} ({name})"


def extract_item(
    body: bytes, url: str, *, headers: Mapping[str, str] | None = None, fetched_at: datetime | None = None
) -> ArticleItem:
    """The extractor's item for a page (before the pipelines), read with the markup rules of its fetch time: the
    source's extractor for a registered site, the generic one for any other site."""
    with _known_site(url):
        return _extract_item(body, url, headers=headers, fetched_at=fetched_at)


def _extract_item(
    body: bytes, url: str, *, headers: Mapping[str, str] | None, fetched_at: datetime | None
) -> ArticleItem:
    source = source_for_url(url)
    if source is None:
        raise NoExtractorError(f"no registered source owns {url}")
    return _read_page(body, url, headers=headers, fetched_at=fetched_at)[0]


def _read_page(
    body: bytes, url: str, *, headers: Mapping[str, str] | None, fetched_at: datetime | None
) -> tuple[ArticleItem, dict[str, str] | None]:
    """The extractor's item, and for a page the generic spider would not archive (a section front, a page whose
    ``og:type`` says it is no article: ``spiders.generic.not_an_article``) what it would say of it."""
    from spiders.generic import GenericArticle, not_an_article

    source = source_for_url(url)
    if source is None:
        raise NoExtractorError(f"no registered source owns {url}")
    extractor = extractor_for(source.key, fetched_at, body)
    page = extractor(html_response(url, body, headers), fetched_at=fetched_at)
    skipped = not_an_article(page) if isinstance(page, GenericArticle) else None
    return page.to_item(), ({"kind": skipped[0], "reason": skipped[1]} if skipped else None)


def extract_page(
    body: bytes, url: str, *, headers: Mapping[str, str] | None = None, fetched_at: datetime | None = None
) -> dict[str, Any]:
    """The item after the processing pipelines, as a JSON-friendly dict.

    A page the pipelines refuse gives ``{"rejected": {"stage": ..., "reason": ...}, ...}`` with the item as
    far as it got. A page the generic spider would skip as no article gives ``{"not_an_article": {"kind": ...,
    "reason": ...}, ...}`` (``None`` otherwise), with the item it would have been: a crawl neither archives nor
    quarantines it. A URL no registered source owns is read by the generic extractor, as a site named after its
    host would be once it has a registry entry.
    """
    with _known_site(url):
        item, skipped = _read_page(body, url, headers=headers, fetched_at=fetched_at)
        rejected: dict[str, str] | None = None
        for pipeline in processing_pipelines():
            try:
                item = pipeline.process_item(item)
            except Rejected as exc:
                rejected = {"stage": exc.stage, "reason": exc.reason}
                break
    record = item.to_record()
    record["rejected"] = rejected
    record["not_an_article"] = skipped
    return record
