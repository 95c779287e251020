"""Versioned extractors: a snapshot is read with the markup rules of the time it was fetched."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from scrapy.http import HtmlResponse
from sqlalchemy import select, update

from aggregator.extract import extract_item, extractor_for
from aggregator.items import ArticleItem
from aggregator.reextract import reextract
from aggregator.store import Archive
from aggregator.store.models import Article, Snapshot
from spiders.report import ReportArticle, ReportArticleV1, ReportSpider
from spiders.versions import extractor_versions, pick_extractor
from tests.conftest import ROOT, run_cli
from tests.crawl_checks import check_archive, expected

BEFORE = datetime(2026, 2, 1, tzinfo=UTC)
AFTER = datetime(2026, 11, 25, tzinfo=UTC)
CHANGE = datetime(2026, 6, 1, tzinfo=UTC)


class Old:
    MARKER = "old-body"

    def __init__(self, response: HtmlResponse, fetched_at: datetime | None = None) -> None: ...

    def to_item(self) -> ArticleItem:
        return ArticleItem(source="x", url="https://x.test/")


class New(Old):
    VALID_FROM = CHANGE
    MARKER = "new-body"


class Unmarked(Old):
    VALID_FROM = CHANGE
    MARKER = None


VERSIONS = (Old, New)


def test_the_fetch_time_picks_the_version_in_force() -> None:
    neither = b"<html><body><p>no marker of any version</p></body></html>"
    assert pick_extractor(VERSIONS, BEFORE, neither) is Old
    assert pick_extractor(VERSIONS, CHANGE, neither) is New  # from the moment of the change on
    assert pick_extractor(VERSIONS, AFTER, neither) is New
    assert pick_extractor(VERSIONS, None, neither) is New  # fetched now


def test_the_markup_corrects_the_fetch_time() -> None:
    old_page = b'<div class="old-body"><p>text</p></div>'
    new_page = '<div class="new-body"><p>text</p></div>'
    assert pick_extractor(VERSIONS, AFTER, old_page) is Old  # an old page still served after the redesign
    assert pick_extractor(VERSIONS, BEFORE, new_page) is New  # fetched on the day of the switch
    assert pick_extractor(VERSIONS, BEFORE, old_page) is Old
    assert pick_extractor((Old, Unmarked), AFTER, old_page) is Unmarked  # a version without a marker trusts the date


def test_no_versions_is_an_error() -> None:
    with pytest.raises(ValueError, match="no extractor versions"):
        pick_extractor((), AFTER, b"")


def test_spiders_list_their_versions_oldest_first() -> None:
    assert extractor_versions(ReportSpider) == (ReportArticleV1, ReportArticle)
    assert ReportArticle.VALID_FROM is not None and ReportArticleV1.VALID_FROM is None

    class OneVersion:
        extractor = Old

    assert extractor_versions(OneVersion) == (Old,)
    assert extractor_versions(object) == ()


def _page(case: str) -> tuple[bytes, str]:
    folder = ROOT / "tests" / "fixtures" / "pages" / "report" / case
    return (folder / "page.html").read_bytes(), json.loads((folder / "meta.json").read_text("utf-8"))["url"]


def test_extraction_on_demand_goes_through_the_versions() -> None:
    old_body, old_url = _page("v1-az-old-template")
    new_body, _ = _page("v2-az-two-element-date")
    assert extractor_for("report", BEFORE, old_body) is ReportArticleV1
    assert extractor_for("report", AFTER, new_body) is ReportArticle
    old = extract_item(old_body, old_url, fetched_at=BEFORE)
    assert old.title and old.body_text and old.published_raw == "16 noyabr 2025, 14:00"
    # Today's extractor alone knows none of the old template's elements.
    alone = ReportArticle(HtmlResponse(url=old_url, body=old_body, encoding="utf-8"), fetched_at=BEFORE).to_item()
    assert alone.body_html is None and alone.published_raw is None and alone.category is None


def test_reextract_reads_old_snapshots_with_the_old_extractor(sqlite_url: str, tmp_path) -> None:
    done = run_cli("--db", sqlite_url, "crawl", "report", "--offline", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    old_layout = [a["url"] for a in expected("report")["articles"] if a["layout"] == "v1"]
    assert len(old_layout) >= 2
    archive = Archive.open(sqlite_url)
    with archive.session.begin() as session:
        ids = list(session.scalars(select(Article.id).where(Article.url.in_(old_layout))))
        assert len(ids) == len(old_layout)
        # Snapshots fetched before the redesign (and after the articles appeared), and what a buggy release had
        # stored from them.
        fetched = datetime(2026, 3, 15, tzinfo=UTC)
        assert fetched < ReportArticle.VALID_FROM  # type: ignore[operator]
        session.execute(update(Snapshot).where(Snapshot.article_id.in_(ids)).values(fetched_at=fetched))
        session.execute(update(Article).where(Article.id.in_(ids)).values(title="(broken)", body_text=""))

    result = reextract(archive, source="report")
    assert not result.refused, result.refused
    assert result.changed == len(ids)
    archive.close()
    check_archive(sqlite_url, "report")
