"""The item that flows from a spider's extractor through the pipelines into the store."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


def bytes_for_feeds(value: bytes | None) -> str | None:
    """How a feed export (``scrapy crawl caliber -O items.jsonl``, Scrapyd's ``items_dir``) writes a bytes field:
    base64, which JSON, CSV and XML can all hold, and from which the bytes come back whole."""
    return base64.b64encode(value).decode("ascii") if value is not None else None


BYTES = {"serializer": bytes_for_feeds}
"""Field metadata of the items' bytes fields: Scrapy's item exporters read a field's ``serializer`` from it."""


@dataclass(slots=True)
class ArticleItem:
    # Filled by the extractor (pure function of the response).
    source: str
    """Registry key of the source (``caliber``)."""
    url: str
    """The URL as fetched (the real site's URL, also when served by the offline mirror)."""
    language: str | None = None
    canonical_url: str | None = None
    """Canonical URL the page declares; the cleanup pipeline normalises it (or derives it from ``url``)."""
    title: str | None = None
    body_html: str | None = None
    body_text: str | None = None
    published_raw: str | None = None
    """The date exactly as the page prints it."""
    published_meta: str | None = None
    """The date the page's structured metadata gives (``article:published_time``, JSON-LD, ``<time datetime>``)."""
    published_feed: str | None = None
    """The date the feed entry that led to the page gives, as the feed prints it (RSS ``pubDate``); set by the spider,
    not the extractor: the page does not hold it. The dates pipeline's last resort, after the page's metadata and
    visible text. The archive keeps only the instant it gives (``published_at``), not this text: a re-extraction or
    a sweep, which have no feed at hand, keep the archived instant when the page gives none (``Archive``)."""
    cover_image_url: str | None = None
    """The page's own picture (its ``og:image``, JSON-LD, first picture of the article)."""
    cover_feed: str | None = None
    """The picture the feed entry that led to the page gives (an image enclosure, ``media:content``), set by the
    spider as ``published_feed`` is. The article's cover when the page names none: the archive takes
    ``cover_image_url`` first (``aggregator.store.repository``). Kept apart from it so that the content hash, which
    tells a changed page from the same one, is the page's alone: a sweep's fetch of the same page, which no feed led
    to, is not a new version."""
    category: str | None = None
    fetched_at: datetime | None = None
    http_status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    raw_body: bytes = field(default=b"", repr=False, metadata=BYTES)
    """The response body as received, kept for the archive's snapshots."""
    raw_encoding: str | None = None
    linked_url: str | None = None
    """The URL the crawl asked for when the site redirected it here from another address (``urls.linked_url``):
    incremental crawls know the article by it too, so a listing that links it there does not fetch it again."""
    # Filled by the pipelines.
    published_at: datetime | None = None
    """Aware UTC instant of ``published_raw`` (dates pipeline)."""
    attribution_line: str | None = None
    """The re-publisher's line naming the source, in the article's language (attribution pipeline)."""
    cited_outlets: list[str] = field(default_factory=list)
    """Outlets the source's own text names as reporting or as the origin of the news (attribution pipeline)."""
    minhash: bytes | None = field(default=None, repr=False, metadata=BYTES)
    """The body's packed similarity sketch (dedupe pipeline); the store groups near-duplicates into stories by it."""

    def to_record(self) -> dict[str, Any]:
        """A JSON-friendly dict of the item without the raw body (for quarantine rows and ``--json``)."""
        data = asdict(self)
        data.pop("raw_body")
        data.pop("minhash")
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        return data


@dataclass(slots=True)
class FetchFailure:
    """A page the crawler could not fetch (HTTP error status, DNS, timeout): recorded, never silently lost."""

    source: str
    url: str
    reason: str
    http_status: int | None = None
    referer: str | None = None
    linked_url: str | None = None
    """As ``ArticleItem.linked_url``: the address the crawl asked for, when a redirect led to ``url``."""
    entry: bool = False
    """A way in to the site (a registry entry URL: a listing, a feed, a sitemap; or a sitemap an index names), not an
    article: its failure fails the source's crawl (the articles it leads to are not even seen) and withdraws
    nothing."""


ENTRY_META = "aggregator_entry"
"""Request meta: the request is for a way in to the site (``FetchFailure.entry``)."""
ENTRY_FAILED = "aggregator/entry_failed"
"""The stats key counting the ways in that could not be fetched (``aggregator crawl`` fails the source on any)."""
EMPTY_LISTINGS = "aggregator/empty_listings"
"""The stats key counting entry pages a generic source read as listings that linked no article of the site (a site
that moved, an entry whose ``domains`` miss the site's own): ``aggregator crawl`` fails the source on any."""

GONE_STATUSES = (404, 410)
"""A fetch failure with one of these says the page is no more: an archived article's is withdrawn by its source
(``aggregator.store.repository``). A server error, a refusal (403, 429) or a failed connection say nothing of the
article, and withdraw nothing."""


@dataclass(slots=True)
class ExtractionFailure:
    """A fetched page whose callback raised (an extractor meeting a shape its code did not expect): kept with the page,
    so that ``aggregator rejects retry`` can extract it again once the extractor is fixed."""

    source: str
    url: str
    reason: str
    http_status: int = 200
    raw_body: bytes = field(default=b"", repr=False, metadata=BYTES)
    raw_encoding: str | None = None
    fetched_at: datetime | None = None
    linked_url: str | None = None
    published_feed: str | None = None
    """As ``ArticleItem.published_feed``: the announcing feed entry's date, which the stored page does not hold."""
    cover_feed: str | None = None
    """As ``ArticleItem.cover_feed``: the announcing feed entry's picture, which the stored page does not hold."""

    def to_record(self) -> dict[str, Any]:
        """What a quarantine row keeps as its item: enough to extract the stored page again."""
        return {
            "source": self.source,
            "url": self.url,
            "http_status": self.http_status,
            "raw_encoding": self.raw_encoding,
            "fetched_at": self.fetched_at.isoformat() if self.fetched_at else None,
            "published_feed": self.published_feed,
            "cover_feed": self.cover_feed,
        }


@dataclass(slots=True)
class NotModifiedPage:
    """An archived article that answered our conditional request with 304: unchanged, and seen now (the store
    records when, as for a fetched page whose content did not change)."""

    source: str
    url: str
    """The article's canonical URL (the archive's key)."""
