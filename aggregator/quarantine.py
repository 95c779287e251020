"""Retrying what a crawl refused: re-run extraction and the pipelines on the stored page, with no network."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aggregator.extract import NoExtractorError, extract_item, processing_pipelines, stored_page_headers
from aggregator.items import ArticleItem
from aggregator.store import Archive
from aggregator.store.models import Reject
from aggregator.store.repository import decompress
from pipelines.base import Rejected, fault


class NotRetryableError(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class RetryOutcome:
    reject_id: int
    archived: bool
    article_id: int | None = None
    stage: str | None = None
    reason: str | None = None


def item_from_record(record: dict[str, Any], raw_body: bytes = b"") -> ArticleItem:
    """The ArticleItem a quarantine row's JSON describes (datetimes back from ISO 8601)."""
    names = {f.name for f in dataclasses.fields(ArticleItem)}
    values = {k: v for k, v in record.items() if k in names}
    for key in ("fetched_at", "published_at"):
        if isinstance(values.get(key), str):
            values[key] = datetime.fromisoformat(values[key])
    values["raw_body"] = raw_body
    return ArticleItem(**values)


def _fresh_item(reject: Reject, charset: str | None = None) -> ArticleItem:
    """Re-extracted from the stored page when there is one (the fix may be in the extractor), else the stored item.

    The page is read with the encoding it was read with when fetched, or ``charset``: the operator's word for a
    page that declared another one than its bytes are in (refused as "undecodable text")."""
    record = reject.item or {}
    raw = decompress(reject.raw_body) if reject.raw_body else b""
    if raw:
        fetched = record.get("fetched_at")
        item = extract_item(
            raw, str(record.get("url") or reject.url),
            headers=stored_page_headers(charset or record.get("raw_encoding")),
            fetched_at=datetime.fromisoformat(fetched) if fetched else None,
        )  # fmt: skip
    else:
        item = item_from_record(record)
    item.linked_url = item.linked_url or reject.linked_url  # the address the listing links, kept with the article
    # The date and picture of the feed entry that led to the page are in no page: the refused item's record kept them.
    item.published_feed = item.published_feed or record.get("published_feed")
    item.cover_feed = item.cover_feed or record.get("cover_feed")
    return item


def retry_reject(
    archive: Archive, reject_id: int, pipelines: list[Any] | None = None, charset: str | None = None
) -> RetryOutcome:
    """Run the current extractor and pipelines on a quarantined page (read in ``charset`` if given); archive it if
    they now accept it."""
    reject = archive.get_reject(reject_id)
    if reject is None:
        raise NotRetryableError(f"no reject with id {reject_id}")
    if reject.resolved_at is not None:
        raise NotRetryableError(f"reject {reject_id} was already archived as article {reject.article_id}")
    if reject.item is None and not reject.raw_body:
        raise NotRetryableError(
            f"reject {reject_id} is a failed fetch ({reject.reason}): nothing was stored to retry; the next crawl "
            "fetches it again once its wait is over (AGGREGATOR_REFUSED_RETRY_HOURS), `crawl --refresh` at once"
        )
    if charset and not reject.raw_body:
        raise NotRetryableError(f"reject {reject_id} has no stored page to read in {charset}")
    try:
        item: Any = _fresh_item(reject, charset)
        for pipeline in processing_pipelines() if pipelines is None else pipelines:
            item = pipeline.process_item(item)
    except Rejected as refused:
        archive.refuse_again(reject_id, refused.stage, refused.reason)
        return RetryOutcome(reject_id, archived=False, stage=refused.stage, reason=refused.reason)
    except NoExtractorError as missing:  # a source since taken out of the registry
        archive.refuse_again(reject_id, "extract", str(missing))
        return RetryOutcome(reject_id, archived=False, stage="extract", reason=str(missing))
    except Exception as error:  # a fault, as a crawl meets it: the page stays quarantined, the batch goes on
        archive.refuse_again(reject_id, "error", fault(error))
        return RetryOutcome(reject_id, archived=False, stage="error", reason=fault(error))
    saved = archive.save([item])
    article_id = archive.article_id_for(item.canonical_url or item.url)
    assert article_id is not None
    archive.resolve_reject(reject_id, article_id)
    if saved.stale:  # a crawl archived a newer page of it meanwhile (after this reject was read, or before)
        raise NotRetryableError(
            f"reject {reject_id}: a newer version of its page is archived as article {article_id}; this older page "
            "is not written over it"
        )
    return RetryOutcome(reject_id, archived=True, article_id=article_id)


@dataclass(slots=True)
class RetryBatch:
    """What a retry of many rejects did."""

    archived: list[RetryOutcome] = dataclasses.field(default_factory=list)
    refused: list[RetryOutcome] = dataclasses.field(default_factory=list)
    skipped: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    """(reject id, why): no reject has that id, it was already archived (by a retry or a crawl, or as another reject
    of the same page was in this batch), or nothing was stored to retry (a failed fetch)."""

    @property
    def seen(self) -> int:
        return len(self.archived) + len(self.refused) + len(self.skipped)


def retry_rejects(
    archive: Archive,
    reject_ids: list[int],
    progress: Callable[[RetryBatch], None] | None = None,
    charset: str | None = None,
) -> RetryBatch:
    """``retry_reject`` for each reject in turn (one row in memory at a time), with the pipelines built once."""
    pipelines = processing_pipelines()
    batch = RetryBatch()
    for reject_id in reject_ids:
        try:
            outcome = retry_reject(archive, reject_id, pipelines, charset)
        except NotRetryableError as exc:
            batch.skipped.append((reject_id, str(exc)))
        else:
            (batch.archived if outcome.archived else batch.refused).append(outcome)
        if progress is not None:
            progress(batch)
    return batch
