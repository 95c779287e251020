"""What a pipeline reads of the archive during a crawl: the archived version of the article at hand.

Two steps compare a page with what is archived: ``pipelines.complete`` (a re-fetch cut short never replaces a
complete version) and ``pipelines.dedupe`` (a canonical link naming another article is not taken). Both read only
for the rare page that needs it, and only in a crawl that archives: ``aggregator extract``, ``reextract`` and
Scrapy's ``parse`` build the pipelines but open no spider, or run without the store. The archive is opened at the
first read (one connection for the crawl, closed with the spider), never created or migrated here; a read that
fails is said in a warning and taken as nothing archived.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import Executable

from aggregator.store import Archive

logger = logging.getLogger(__name__)

STORE_PIPELINE = "pipelines.store.StorePipeline"


def archive_of(crawler: Crawler) -> str | None:
    """The database URL a crawl archives into, None when it does not archive (no store pipeline: ``scrapy parse``)."""
    archives = STORE_PIPELINE in crawler.settings.getdict("ITEM_PIPELINES")
    return crawler.settings.get("AGGREGATOR_DB_URL") if archives else None


class ArchiveReads:
    """A pipeline's reads of the archive at ``db_url`` (None: no archive to read)."""

    def __init__(self, db_url: str | None) -> None:
        self.db_url = db_url
        self.crawling = False
        """Set by ``open``: pipelines built for extraction outside a crawl open no spider, and read nothing."""
        self._archive: Archive | None = None

    @property
    def active(self) -> bool:
        """Whether reads are made: in a crawl that archives."""
        return self.crawling and bool(self.db_url)

    def open(self) -> None:
        self.crawling = True

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()
            self._archive = None

    def first(self, stmt: Executable, what: str) -> Any:
        """The first row of ``stmt``, or None: none found, not in a crawl that archives, or the read failed (said in
        a warning naming ``what``)."""
        if not self.active:
            return None
        assert self.db_url is not None
        try:
            if self._archive is None:
                self._archive = Archive.open(self.db_url, migrate=False, create=False)
            with self._archive.reading() as session:
                return session.execute(stmt).first()
        except SQLAlchemyError as exc:  # nothing readable archived: nothing to compare with
            logger.warning("Could not read %s: %s", what, str(exc).splitlines()[0])
            return None
