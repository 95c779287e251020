"""Two pages of one run whose canonical links claim one address: the second is judged against the first, whatever
address each was fetched at, and neither is left out of the run.

A CMS that gives several pages one article's canonical link (a stuck template) makes each of them claim that
address. The dedupe step (``pipelines.dedupe``) keeps a page at its own address when the address it claims holds
another article: the archived one, or the one fetched at that very address in this run. Two pages claiming an
address nothing held yet both took it: the store kept the later one of a batch (the earlier one neither stored nor
refused: "left out for the run", archived only if a later run fetched it again), or made it a new version of the
other.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from scrapy.utils.test import get_crawler
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from aggregator.items import ArticleItem
from aggregator.mirror import serve_mirror
from aggregator.store.db import normalise_url
from aggregator.store.models import Article, Snapshot
from pipelines.dedupe import DedupePipeline
from spiders.report import ReportSpider
from tests.conftest import SAMPLE
from tests.helpers.report_overlay import SECTION
from tests.helpers.report_overlay import listing as _listing
from tests.test_incremental_aliases import _crawl, _serve

X_TITLE = "Открыт новый мост через реку у вокзала"
B_TITLE = "На рынке сменили расписание работы складов"
C_TITLE = "В порту разгрузили рекордный урожай зерна"
D_TITLE = "Полиция закрыла площадь для парада в субботу"


def _rows(db: str) -> dict[str, tuple[str, int]]:
    """Canonical URL -> (title, versions) of the overlay's articles."""
    with Session(create_engine(normalise_url(db))) as s:
        stmt = (
            select(Article.url, Article.title, func.count(Snapshot.id))
            .join(Snapshot, Snapshot.article_id == Article.id)
            .where(Article.url.regexp_match(r"/proisshestviya/[a-z]$"))
            .group_by(Article.id)
        )
        return {url.rsplit("/", 1)[1]: (title, n) for url, title, n in s.execute(stmt)}


def test_pages_claiming_one_address_are_each_archived_in_the_run(tmp_path: Path) -> None:
    overlay = tmp_path / "site"
    _serve(overlay, "y", C_TITLE, "c")  # c and d both claim y, which no listing links
    _serve(overlay, "y", D_TITLE, "d")
    _serve(overlay, "x", X_TITLE, "x")  # b claims x, which the listing links too
    _serve(overlay, "x", B_TITLE, "b")
    _listing(overlay, [f"/ru/proisshestviya/{slug}/" for slug in ("c", "d", "x", "b")])
    db = f"sqlite:///{tmp_path / 'archive.db'}"
    with serve_mirror(SAMPLE, overlays=(overlay,)) as mirror:
        first = _crawl(db, mirror, "0")
        rows = _rows(db)
        # One of c and d holds y (nothing could tell it is not its address), the other its own address.
        assert sorted(title for slug, (title, _) in rows.items() if slug in {"c", "d", "y"}) == [C_TITLE, D_TITLE]
        assert rows["y"][1] == 1  # neither became a version of the other
        assert rows["x"] == (X_TITLE, 1)
        # b met after x: kept at its own address. Met before it (the crawl's order decides), it took x's address
        # and x, fetched at it, took it back: said and counted, and b is archived when the next run fetches it.
        displaced = first.get("aggregator/canonical_claims_displaced", 0)
        assert ("b" in rows) == (displaced == 0)

        second = _crawl(db, mirror, "0")
        assert second.get("aggregator/articles", 0) == displaced
        final = _rows(db)
        assert final["b"] == (B_TITLE, 1)

        third = _crawl(db, mirror, "0")
    assert third.get("aggregator/articles", 0) == 0
    assert _rows(db) == final


def _item(path: str, claims: str, title: str) -> ArticleItem:
    now = datetime.now(UTC)
    return ArticleItem(
        source="report", url=f"https://{SECTION}/{path}/", canonical_url=f"https://{SECTION}/{claims}",
        language="ru", title=title, body_html="<p>Текст</p>", body_text="Текст", fetched_at=now,
        published_at=now - timedelta(hours=1),
    )  # fmt: skip


def test_the_first_page_to_claim_an_address_holds_it_for_the_run() -> None:
    crawler = get_crawler(ReportSpider)
    dedupe = DedupePipeline(crawler.stats, sketch_here=False)
    dedupe.open_spider()
    c = dedupe.process_item(_item("c", "y", C_TITLE))
    d = dedupe.process_item(_item("d", "y", D_TITLE))
    again = dedupe.process_item(_item("c-amp", "y", C_TITLE))  # the same article at yet another address
    assert (c.canonical_url, d.canonical_url, again.canonical_url) == (
        f"https://{SECTION}/y",
        f"https://{SECTION}/d",
        f"https://{SECTION}/y",
    )
    assert crawler.stats.get_value("aggregator/canonical_ignored") == 1

    # A page fetched at the address itself holds it, whatever claimed it before: said and counted when that was
    # another article, not when it was the same one.
    b = dedupe.process_item(_item("b", "x", B_TITLE))
    x = dedupe.process_item(_item("x", "x", X_TITLE))
    y = dedupe.process_item(_item("y", "y", C_TITLE))
    assert (b.canonical_url, x.canonical_url, y.canonical_url) == (f"https://{SECTION}/x", f"https://{SECTION}/x",
                                                                   f"https://{SECTION}/y")  # fmt: skip
    assert crawler.stats.get_value("aggregator/canonical_claims_displaced") == 1
    # From then on, a claim of x is judged against x's own page.
    late = dedupe.process_item(_item("b-print", "x", B_TITLE))
    assert late.canonical_url == f"https://{SECTION}/b-print"
