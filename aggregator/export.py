"""Exporting articles as JSON Lines or CSV, streamed: an archive of any size in the memory of one page of rows."""

from __future__ import annotations

import csv
import json
from typing import Any, TextIO

from sqlalchemy import Engine

from aggregator.present import utc_iso
from aggregator.store.queries import ArticleFilter, iter_articles

FORMATS = ("jsonl", "csv")
COLUMNS = (
    "id", "source", "language", "title", "url", "published_at", "published_raw", "archived_at", "updated_at",
    "category", "attribution_line", "cited_outlets", "story_id", "views", "cover_image_url", "withdrawn_at",
    "withdrawn_by", "withdrawn_reason", "body_text", "body_html",
)  # fmt: skip
_TIMES = frozenset({"published_at", "archived_at", "updated_at", "withdrawn_at"})


def record(row: Any) -> dict[str, Any]:
    values = row._mapping
    return {name: utc_iso(values[name]) if name in _TIMES else values[name] for name in COLUMNS} | {
        "cited_outlets": list(row.cited_outlets or [])
    }


def export_articles(engine: Engine, filters: ArticleFilter, fmt: str, stream: TextIO, *, batch: int = 500) -> int:
    """Write every matching article to ``stream``, newest first; returns how many."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (have: {', '.join(FORMATS)})")
    written = 0
    writer = csv.DictWriter(stream, fieldnames=COLUMNS) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    for row in iter_articles(engine, filters, batch=batch):
        data = record(row)
        if writer is not None:
            writer.writerow(data | {"cited_outlets": json.dumps(data["cited_outlets"], ensure_ascii=False)})
        else:
            stream.write(json.dumps(data, ensure_ascii=False) + "\n")
        written += 1
    return written
