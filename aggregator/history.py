"""An article's versions, each read back from its stored snapshot, and what changed between them."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any

from aggregator.extract import extract_page, stored_page_headers
from aggregator.store import Archive
from aggregator.store.repository import decompress


@dataclass(frozen=True, slots=True)
class Version:
    snapshot_id: int
    fetched_at: str
    url: str
    content_hash: str
    etag: str | None
    last_modified: str | None
    stored_bytes: int
    title: str
    diff: list[str] = field(default_factory=list)
    """Unified diff of title and body text against the previous version (empty for the first)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _lines(record: dict[str, Any]) -> list[str]:
    return [f"# {record.get('title') or ''}", *(record.get("body_text") or "").split("\n\n")]


def article_history(archive: Archive, article_id: int) -> list[Version]:
    """The versions of an article, oldest first, each with the text diff from the one before."""
    versions: list[Version] = []
    previous: list[str] | None = None
    for snap in archive.snapshots(article_id):
        record = extract_page(
            decompress(snap.raw_body), snap.url, headers=stored_page_headers(snap.encoding), fetched_at=snap.fetched_at
        )
        lines = _lines(record)
        diff = []
        if previous is not None:
            diff = list(difflib.unified_diff(previous, lines, "before", "after", lineterm="", n=0))
        versions.append(
            Version(
                snapshot_id=snap.id,
                fetched_at=snap.fetched_at.isoformat(),
                url=snap.url,
                content_hash=snap.content_hash,
                etag=snap.etag,
                last_modified=snap.last_modified,
                stored_bytes=len(snap.raw_body),
                title=str(record.get("title") or ""),
                diff=diff,
            )
        )
        previous = lines
    return versions
