"""Re-extraction repairs the archive from its stored pages, without the network."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import update

from aggregator.reextract import reextract
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.models import Article, Snapshot
from tests.conftest import ROOT, SAMPLE, run_cli
from tests.crawl_checks import check_archive, counts, expected


def test_reextract_repairs_what_an_old_extractor_got_wrong(db_url: str, tmp_path, monkeypatch) -> None:
    done = run_cli("--db", db_url, "crawl", "--all", "--offline", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    before = counts(db_url)
    archive = Archive.open(db_url)
    # What a buggy extractor of an earlier release had stored for two articles.
    with archive.session.begin() as session:
        session.execute(
            update(Article).where(Article.id.in_([1, 2])).values(title="(broken)", body_text="", cited_outlets=[])
        )

    result = reextract(archive)
    assert result.seen == before["articles"] and result.changed == 2 and not result.refused
    check_archive(db_url)  # titles and texts are back to what the pages say
    assert counts(db_url)["snapshots"] == before["snapshots"]  # re-reading adds no version

    assert reextract(archive).changed == 0  # idempotent

    # A fault on one page (not a refusal) is reported for that article, which stays as archived; the rest go on.
    from aggregator import reextract as module

    faulted_pages: list[str] = []

    class Faulty:
        def process_item(self, item):
            if not faulted_pages:  # the first page re-read
                faulted_pages.append(item.url)
                raise OverflowError("date value out of range")
            return item

    real = module.processing_pipelines
    monkeypatch.setattr(module, "processing_pipelines", lambda: [Faulty(), *real()])
    faulted = reextract(archive)
    assert faulted.seen == before["articles"] and faulted.changed == 0
    ((article_id, reason),) = faulted.refused
    assert reason == "pipeline error: OverflowError: date value out of range" and len(faulted_pages) == 1
    assert archive.get_article(article_id) is not None  # reported by its article, which stays as archived
    monkeypatch.undo()
    assert reextract(archive, source="caliber", since=datetime(2100, 1, 1, tzinfo=UTC)).seen == 0
    assert archive.count(Snapshot) == before["snapshots"]
    archive.close()

    if db_url.startswith("sqlite"):
        shown = run_cli("--db", db_url, "reextract", "--source", "caliber", "--since", "2020-01-01")
        caliber = len(expected("caliber")["articles"])
        assert shown.returncode == 0 and f"re-extracted {caliber} stored page(s): 0" in shown.stdout
        bad = run_cli("--db", db_url, "reextract", "--since", "last week")
        assert bad.returncode == 2 and "--since" in bad.stderr


def snapshot_archive(db_url: str) -> tuple[Archive, dict[int, int]]:
    """Seven articles of two sources, with one to three stored versions each; returns (archive, {article id: id of
    its newest snapshot})."""
    from aggregator.sources import get_source
    from aggregator.store.models import Article as A
    from aggregator.store.models import Snapshot as S

    archive = Archive.open(db_url)
    archive.sync_sources([get_source("caliber"), get_source("apa")])
    newest: dict[int, int] = {}
    with archive.session.begin() as session:
        for n in range(1, 8):
            day = datetime(2026, 11, n, tzinfo=UTC)
            source = "caliber" if n % 2 else "apa"
            article = A(source=source, url=f"https://{source}.az/post/{n}", fetched_url=f"https://{source}.az/post/{n}",
                        title=f"t{n}", body_html="<p>b</p>", body_text="b", content_hash=f"h{n}",
                        archived_at=day, updated_at=day, last_seen_at=day)  # fmt: skip
            session.add(article)
            session.flush()
            for version in range(1 + n % 3):  # 2, 3, 1, 2, 3, 1, 2 versions: the newest is the last one added
                snapshot = S(article_id=article.id, url=article.url, fetched_at=day.replace(hour=version),
                             http_status=200, content_hash=f"h{n}.{version}", raw_body=b"x")  # fmt: skip
                session.add(snapshot)
                session.flush()
                newest[article.id] = snapshot.id
    return archive, newest


def test_latest_snapshots_are_each_articles_newest_in_batches(db_url: str) -> None:
    archive, newest = snapshot_archive(db_url)
    try:
        for batch in (2, 3, 200):
            got = [(s.article_id, s.id) for s in archive.latest_snapshots(batch=batch)]
            assert got == sorted(newest.items()), batch
        caliber = [s.article_id for s in archive.latest_snapshots(source="caliber", batch=2)]
        assert caliber == [i for i in sorted(newest) if archive.get_article(i).source == "caliber"]
        since = [s.article_id for s in archive.latest_snapshots(since=datetime(2026, 11, 4, tzinfo=UTC), batch=2)]
        assert since == [4, 5, 6, 7]
    finally:
        archive.close()


def test_a_batch_of_latest_snapshots_reads_the_index_and_scans_no_table(tmp_path) -> None:
    """A batch must not cost more as the archive grows: each of its statements looks up rows by key (SQLite's query
    plan says SEARCH), never reading a whole table (SCAN). Grouping every snapshot per batch made a re-extraction of
    100,000 articles spend 25 s in this query, and 1,000,000 about 100 times that."""
    from tests.helpers.query_plans import captured, query_plans

    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    archive, _ = snapshot_archive(db_url)
    try:
        with captured(archive.reader) as statements:
            assert len(list(archive.latest_snapshots(batch=2))) == 7
    finally:
        archive.close()
    plans = query_plans(tmp_path / "archive.db", statements)
    assert any(p.startswith("SEARCH snapshots") for p in plans), plans
    assert not [p for p in plans if p.startswith("SCAN")], plans


def test_reextract_extract_and_retry_use_the_configured_attribution(tmp_path) -> None:
    """They built the pipelines without the settings: `reextract` rewrote every attribution line a crawl had stored
    with AGGREGATOR_SITE_NAME to the default "Icma.az, ...", and `extract` printed the default whatever was set."""
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    env = {"AGGREGATOR_SITE_NAME": "Example.az", "AGGREGATOR_ATTRIBUTION_RU": "{site} со ссылкой на {source}."}
    done = run_cli("--db", db_url, "crawl", "caliber", "--offline", env=env)
    assert done.returncode == 0, done.stderr[-3000:]

    def lines() -> set[str]:
        archive = Archive.open(db_url)
        try:
            with archive.session() as s:
                return {line for (line,) in s.query(Article.attribution_line).filter(Article.language == "ru")}
        finally:
            archive.close()

    assert lines() == {"Example.az со ссылкой на Caliber.az."}
    again = run_cli("--db", db_url, "reextract", env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert " 0 article(s) changed" in again.stdout, again.stdout
    assert lines() == {"Example.az со ссылкой на Caliber.az."}
    page = next(a for a in expected("caliber")["articles"] if a["language"] == "ru")
    path = page["url"].removeprefix("https://")
    shown = run_cli("extract", "--url", page["url"], "--json", str(ROOT / "data" / "mirror" / f"{path}.html"), env=env)
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert json.loads(shown.stdout)["attribution_line"] == "Example.az со ссылкой на Caliber.az."


def test_a_version_a_crawl_stores_while_reextract_reads_is_not_taken_back(db_url: str) -> None:
    """``reextract`` reads a batch of pages, re-extracts them, then writes: a crawl that stores a new version of an
    article in between (its page edited) was overwritten with the text of the page read before, for good (the next
    crawl found the page "unchanged" against it). Such an article is left as the crawl wrote it."""
    from datetime import timedelta

    from aggregator.extract import extract_item, processing_pipelines
    from tests.test_history import FIRST, NEW_TITLE, OLD_TITLE, URL, edited

    page = (SAMPLE / "caliber.az" / "post" / "153813.html").read_bytes()

    def archived(archive: Archive, body: bytes, at: datetime) -> None:
        item = extract_item(body, URL, fetched_at=at)
        for pipeline in processing_pipelines():
            item = pipeline.process_item(item)
        archive.save([item])

    archive = Archive.open(db_url)
    try:
        archive.sync_sources(all_sources())
        archived(archive, page, FIRST)
        write = archive.update_extractions

        def crawl_first(updates, **kwargs):
            archived(archive, edited(page), FIRST + timedelta(hours=1))  # the crawl's batch commits first
            return write(updates, **kwargs)

        archive.update_extractions = crawl_first  # type: ignore[method-assign]
        result = reextract(archive)
        assert (result.seen, result.changed, result.superseded, result.unchanged) == (1, 0, 1, 0)
        (article,) = archive.list_articles()
        assert article.title == NEW_TITLE != OLD_TITLE

        archive.update_extractions = write  # type: ignore[method-assign]
        again = reextract(archive)  # the newest page now: read and written as it is
        assert (again.seen, again.superseded) == (1, 0)
        assert archive.list_articles()[0].title == NEW_TITLE
    finally:
        archive.close()
