"""Complete versions: a fetched page that lost the end of its document never replaces an archived version that has it.

``aggregator.truncation`` refuses a page whose transfer gave no length and whose document stops where no complete
one can. A page cut right after a tag, with no ``</body>`` and no ``</html>``, could still be whole (real pages leave
out those optional end tags), so a new article is archived as it came. A re-fetched article is another matter: its
archived version says what the site's pages look like. When the archived version's page ends its document and the
new one does not, while what was extracted changed, the new one is the archived page cut short, and the edit it
seems to be is the cut: it becomes a failed fetch (transient: tried again at the next run), and the archive keeps the
complete version. A page that never had the end tags (the site's template leaves them out) is judged by nothing here.

The archive is read only for the rare page without its document's end (one indexed query for its newest snapshot),
and only in a crawl that archives: ``aggregator extract``, ``reextract`` and Scrapy's ``parse`` read no archive.
"""

from __future__ import annotations

import logging
import zlib
from typing import Any, Self

from scrapy.crawler import Crawler
from sqlalchemy import select

from aggregator.items import ArticleItem, FetchFailure
from aggregator.store.models import Article, Snapshot
from aggregator.store.repository import content_hash, decompress
from aggregator.truncation import ends_document
from pipelines.archive_reads import ArchiveReads, archive_of
from pipelines.base import Pipeline

logger = logging.getLogger(__name__)


class CompleteVersionPipeline(Pipeline):
    """An article whose page has no ``</body>``/``</html>`` while its archived version's has, and whose extracted
    content differs from the archived one, becomes a ``FetchFailure`` (counted and quarantined by the store as a
    failed fetch, ``aggregator/incomplete_pages`` here); everything else passes as it came."""

    stage = "fetch"

    def __init__(self, crawler: Crawler | None = None, db_url: str | None = None) -> None:
        super().__init__(crawler.stats if crawler is not None else None)
        self.reads = ArchiveReads(db_url)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler, archive_of(crawler))

    def open_spider(self) -> None:
        self.reads.open()

    def close_spider(self) -> None:
        self.reads.close()

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem) or not self.reads.active or ends_document(item.raw_body):
            return item
        archived = self._archived(item.canonical_url or item.url)
        if archived is None:
            return item
        digest, page = archived
        if digest == content_hash(item) or not ends_document(page):
            return item
        self.count("incomplete_pages")
        logger.warning("%s: the page stops before its </body> and </html>, which its archived version has", item.url)
        return FetchFailure(
            item.source,
            item.url,
            "incomplete page: it stops before its </body> and </html>, which the archived version has; the archived "
            "version is kept",
            linked_url=item.linked_url,
        )

    def _archived(self, url: str) -> tuple[str, bytes] | None:
        """The archived article's content hash and the page of its newest snapshot, or None if none is archived."""
        stmt = (
            select(Article.content_hash, Snapshot.raw_body)
            .join(Snapshot, Snapshot.article_id == Article.id)
            .where(Article.url == url)
            .order_by(Snapshot.id.desc())
            .limit(1)
        )
        row = self.reads.first(stmt, f"the archived version of {url}")
        if row is None:
            return None
        try:
            return row[0], decompress(row[1])
        except zlib.error as exc:  # a stored page that does not decompress: nothing to keep
            logger.warning("Could not read the archived version of %s: %s", url, exc)
            return None
