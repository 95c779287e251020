"""Re-extraction: run today's extractors and pipelines over the stored pages, so a fixed extractor repairs the archive
without fetching anything.

Today's code includes today's key of an article (``aggregator.urls.canonical_url``): a release that changes it
leaves the rows an older one archived under their old key, which nothing the crawl does ever moves. An old article
is skipped as known (the incremental crawl compares canonical forms), but a recent one whose page changed, or that a
listing links once its refusal wait is over, is archived again under today's key: the same article twice on the
downstream site, and the old row never fetched at its address again, or withdrawn when a sweep finds its old address
(a dropped AMP or mobile page) gone. So a re-extraction first re-keys every row whose key is not today's form of it
(``Archive.rekey``: renamed, or merged with the row that holds today's key), then reads the pages.
"""

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
    renamed: int = 0
    """Articles given today's key of their URL (``Archive.rekey``)."""
    merged: list[tuple[int, int]] = field(default_factory=list)
    """(id merged away, id kept) of articles archived twice, under an older release's key and today's."""
    left: list[tuple[int, str]] = field(default_factory=list)
    """(article id, why) of rows whose key today's rules change but that stay under their old key."""


def reextract(
    archive: Archive,
    *,
    source: str | None = None,
    since: datetime | None = None,
    progress: Callable[[ReextractResult], None] | None = None,
) -> ReextractResult:
    """Re-key the articles (of ``source``) whose key is not today's canonical form of it, every one whatever
    ``since`` says (a key is no page, and checking them all costs a read of their URLs); then re-read each article's
    newest stored page with the current code, as of its fetch time: dates are read against it, and the extractor is
    the version in force then (``spiders.versions``)."""
    result = ReextractResult()
    keys = archive.rekey(source=source)
    result.renamed, result.merged, result.left = keys.renamed, keys.merged, keys.left
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
