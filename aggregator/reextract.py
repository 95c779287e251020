"""Re-extraction: run today's extractors and pipelines over the stored pages, so a fixed extractor repairs the archive
without fetching anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from aggregator.extract import NoExtractorError, extract_item, processing_pipelines, stored_page_headers
from aggregator.store import Archive
from aggregator.store.repository import decompress
from pipelines.base import Rejected, fault

BATCH = 200
"""Stored pages read, re-extracted and written back together (one transaction)."""


@dataclass
class ReextractResult:
    seen: int = 0
    changed: int = 0
    unchanged: int = 0
    superseded: int = 0
    """Articles a crawl stored a newer version of while their page was re-read: left as the crawl wrote them."""
    refused: list[tuple[int, str]] = field(default_factory=list)
    """(article id, reason) of stored pages today's pipelines refuse: the article is left as it was."""


def reextract(
    archive: Archive,
    *,
    source: str | None = None,
    since: datetime | None = None,
    progress: Callable[[ReextractResult], None] | None = None,
) -> ReextractResult:
    """Re-read each article's newest stored page with the current code, as of its fetch time: dates are read against
    it, and the extractor is the version in force then (``spiders.versions``)."""
    result = ReextractResult()
    pipelines = processing_pipelines()
    snapshots = archive.latest_snapshots(source=source, since=since, batch=BATCH)
    while chunk := list(islice(snapshots, BATCH)):
        updates: list[tuple[int, Any]] = []
        read_from: dict[int, int] = {}
        for snapshot in chunk:
            result.seen += 1
            try:
                item: Any = extract_item(
                    decompress(snapshot.raw_body),
                    snapshot.url,
                    headers=stored_page_headers(snapshot.encoding),
                    fetched_at=snapshot.fetched_at,
                )
                for pipeline in pipelines:
                    item = pipeline.process_item(item)
            except (Rejected, NoExtractorError) as exc:
                result.refused.append((snapshot.article_id, getattr(exc, "reason", None) or str(exc)))
                continue
            except Exception as error:  # a fault on one page: that article stays as archived, the others go on
                result.refused.append((snapshot.article_id, fault(error)))
                continue
            item.etag, item.last_modified = snapshot.etag, snapshot.last_modified
            updates.append((snapshot.article_id, item))
            read_from[snapshot.article_id] = snapshot.id
        # One transaction a batch, not one an article; an article a crawl has given a newer version since its page
        # was read here is left as the crawl wrote it.
        changed, superseded = archive.update_extractions(updates, read_from=read_from)
        result.changed += len(changed)
        result.superseded += len(superseded)
        result.unchanged += len(updates) - len(changed) - len(superseded)
        if progress is not None:
            progress(result)
    return result
