"""Dedupe: one row per article, and the body's similarity sketch, so the store can put near-duplicates from any
source into one story.

Same-URL duplicates need nothing here: the store upserts by canonical URL and keeps a snapshot per version. What
needs a look is a page that declares another address as its canonical one (a numeric link to a named page, a moved
slug): that is the same article, unless a CMS bug put another article's address in its ``<link rel=canonical>``.
Taken at its word, such a page replaced that article in its row (a new version of it at each fetch, the two texts
taking turns), and was itself never archived. ``pipelines.validate`` turns down a canonical link naming the home
page or another article's number; the addresses of sites that put no number in them (report.az's slugs) can only
be told apart by what the pages say: a page whose headline and text are not those of the article at the address
it claims (the one fetched at that very address in this run, or else the first page of the run that claimed it,
whose headline is enough; else the archived one) keeps its own address (``another_article``). A page that claimed
an address before the page at that very address came, and is another article, cannot be given back its own: the
store keeps the page at the address, and the next run fetches the other again and archives it at its own
(``aggregator/canonical_claims_displaced``).
The archive is read for such pages only (one indexed query each), and only in a crawl that archives.

What this step adds besides is the MinHash sketch of the body (``aggregator.stories``); the store's writer looks its
LSH buckets up in the database inside the batch's transaction, so concurrent crawls see each other's articles.
The sketch is CPU work (about a millisecond an article): with the default writer process
(``AGGREGATOR_STORE_WRITER=process``) this step leaves it to the writer, which computes it beside the crawl and
before its transaction; with the writer thread it is computed here, out of the write transaction.
"""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector
from sqlalchemy import select

from aggregator.items import ArticleItem
from aggregator.store.models import Article
from aggregator.stories import Sketch, sketch, story_text, words
from aggregator.urls import canonical_url
from pipelines.archive_reads import ArchiveReads, archive_of
from pipelines.base import Pipeline

logger = logging.getLogger(__name__)

SAME_TITLE = 0.5
"""Least share of words two titles have in common (of all the words of both) for the same article: an edit changes
a word or two of a headline, another article most of them."""


def title_overlap(one: str | None, other: str | None) -> float:
    """The share of the words of two titles that both have (Jaccard, case-folded); 1.0 when either has none."""
    a, b = set(words((one or "").casefold())), set(words((other or "").casefold()))
    return len(a & b) / len(a | b) if a and b else 1.0


def another_article(item: ArticleItem, title: str | None, minhash: bytes | None) -> bool:
    """Whether ``item`` is another article than the one with this title and sketch (``articles.minhash``): their
    titles share less than ``SAME_TITLE`` of their words, and their texts are not one story (``Sketch.same_story``),
    or too short to tell. An edit keeps one of the two: the article rewritten under its headline, or re-titled."""
    if title_overlap(item.title, title) >= SAME_TITLE:
        return False
    archived = Sketch.unpack(minhash)
    if archived is None or not archived.eligible:
        return True
    mine = sketch(story_text(item.title, item.body_text))
    return not mine.eligible or not mine.same_story(archived)


class DedupePipeline(Pipeline):
    stage = "dedupe"

    def __init__(
        self, stats: StatsCollector | None = None, *, sketch_here: bool = True, db_url: str | None = None
    ) -> None:
        super().__init__(stats)
        self.sketch_here = sketch_here
        self.reads = ArchiveReads(db_url)
        self._titles: dict[str, str] = {}
        """Canonical URL -> title of the page that holds that address in this run: the one fetched at that very
        address, else the first page fetched elsewhere whose canonical link claimed it."""
        self._claimants: dict[str, str] = {}
        """Canonical URL -> the address of the page fetched elsewhere that claimed it first in this run, until a
        page is fetched at the address itself."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(
            crawler.stats,
            sketch_here=crawler.settings.get("AGGREGATOR_STORE_WRITER") == "thread",
            db_url=archive_of(crawler),
        )

    def open_spider(self) -> None:
        self.reads.open()

    def close_spider(self) -> None:
        self.reads.close()

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        if self.reads.crawling and item.canonical_url:
            self._keep_apart(item, item.canonical_url)
        if self.sketch_here:
            item.minhash = sketch(story_text(item.title, item.body_text)).pack()
        return item

    def _keep_apart(self, item: ArticleItem, claimed: str) -> None:
        """Give the item its own address when the one its canonical link claims is another article's: the one
        that holds the address in this run (``_titles``), else the archived one."""
        own = canonical_url(item.url)
        title = item.title or ""
        if own == claimed:
            self._at_its_address(item, own, title)
            return
        if claimed in self._titles:
            other = title_overlap(title, self._titles[claimed]) < SAME_TITLE
        else:
            archived = self._archived(claimed)
            other = archived is not None and another_article(item, *archived)
        if other:
            logger.warning("%s: canonical link %r names another article: ignored", item.url, claimed)
            self.count("canonical_ignored")
            item.canonical_url = own
            self._titles.setdefault(own, title)
        elif claimed not in self._titles:
            # Held from now on: a second page claiming it with another headline (two pages of a CMS that gives
            # them one article's canonical link) keeps its own address. Without it, the store kept the later of the
            # two (in one batch; the earlier one neither stored nor refused) or made it a new version of the
            # other (in two), and the other was archived at its own address only when a later run fetched it again.
            self._titles[claimed] = title
            self._claimants[claimed] = item.url

    def _at_its_address(self, item: ArticleItem, own: str, title: str) -> None:
        """The page at its own address holds it, whatever claimed it before in this run. A page fetched elsewhere
        that claimed it with another headline went into this article's row (the store keeps this page): it is
        fetched again at the next run, which knows this article, and archived at its own address then (the store
        learns no page as an address of an article whose content it does not show). Said, and counted."""
        claimant = self._claimants.pop(own, None)
        if claimant is not None and title_overlap(title, self._titles[own]) < SAME_TITLE:
            logger.warning(
                "%s: the page at %s claimed this address earlier in the run and is another article: it is archived "
                "at its own address when the next run fetches it again",
                item.url,
                claimant,
            )
            self.count("canonical_claims_displaced")
        self._titles[own] = title

    def _archived(self, url: str) -> tuple[str | None, bytes | None] | None:
        """The title and sketch of the archived article at ``url``; None if none is (or the archive is unreadable)."""
        row = self.reads.first(
            select(Article.title, Article.minhash).where(Article.url == url), f"the archived article {url}"
        )
        return (row[0], row[1]) if row is not None else None
