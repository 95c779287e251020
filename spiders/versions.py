"""Extractor versions: a site changes its markup, but the pages archived before the change keep the old one.

A spider lists its extractor classes oldest first (``extractors``). Each may declare ``VALID_FROM``, the moment the
site switched to its markup, and ``MARKER``, a string only its markup contains (usually a class name). The crawl,
``aggregator extract`` and ``aggregator reextract`` all pick the class through ``pick_extractor``, so a snapshot
fetched in March is read with March's rules however many redesigns later it is re-extracted.

The fetch time decides first; the marker corrects it, because a change does not reach every page at once (a
cached page, an archive section left in the old template, a snapshot fetched the day of the switch).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from scrapy.http import TextResponse

from aggregator.items import ArticleItem


class Extractor(Protocol):
    """What the crawl needs of an extractor class: built from one response, it gives one item."""

    def __init__(self, response: TextResponse, fetched_at: datetime | None = None) -> None: ...

    def to_item(self) -> ArticleItem: ...


def extractor_versions(spider_cls: Any) -> tuple[type[Extractor], ...]:
    """A spider's extractor classes, oldest first; a spider with one version may just set ``extractor``."""
    versions = getattr(spider_cls, "extractors", None)
    if versions:
        return tuple(versions)
    single = getattr(spider_cls, "extractor", None)
    return (single,) if single is not None else ()


def valid_from(version: type[Extractor]) -> datetime | None:
    return getattr(version, "VALID_FROM", None)


def has_marker(version: type[Extractor], html: bytes | str) -> bool | None:
    """Whether the page carries the version's marker; None when the version declares none."""
    marker: str | None = getattr(version, "MARKER", None)
    if not marker:
        return None
    return (marker.encode() in html) if isinstance(html, bytes) else (marker in html)


def pick_extractor(
    versions: Sequence[type[Extractor]], fetched_at: datetime | None, html: bytes | str
) -> type[Extractor]:
    """The version for a page fetched at ``fetched_at`` (None: now): the newest in force then, unless the page
    lacks its marker and carries another version's, in which case the newest version whose markup it has."""
    if not versions:
        raise ValueError("no extractor versions to pick from")
    if len(versions) == 1:  # what the rules below come to with one version, without reading the clock
        return versions[0]
    when = fetched_at or datetime.now(UTC)
    in_force = [v for v in versions if (start := valid_from(v)) is None or start <= when]
    chosen = in_force[-1] if in_force else versions[0]
    if has_marker(chosen, html) is not False:
        return chosen
    return next((v for v in reversed(versions) if has_marker(v, html)), chosen)
