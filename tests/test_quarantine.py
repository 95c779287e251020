"""The quarantine: rejects listed, shown and retried without the network, on both databases."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator.quarantine import NotRetryableError, retry_reject
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.models import Article
from aggregator.store.repository import RejectRecord
from tests.conftest import SAMPLE, run_cli
from tests.crawl_checks import expected

FETCHED = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('quarantine') / 'a.db'}"
    done = run_cli("--db", url, "crawl", "--all", "--offline")
    assert done.returncode == 0, done.stderr[-2000:]
    return url


def test_rejects_list_and_show(crawled: str) -> None:
    rows = json.loads(run_cli("--db", crawled, "rejects", "list", "--json").stdout)
    refused = {r["url"]: r for r in rows if r["stage"] != "fetch"}
    failed = {r["url"]: r for r in rows if r["stage"] == "fetch"}
    assert set(refused) == {r["url"] for r in expected()["rejects"]}
    assert {u: r["http_status"] for u, r in failed.items()} == {
        e["url"]: e["status"] for e in expected()["http_errors"]
    }
    no_title = next(r for r in rows if r["reason"] == "no title")
    shown = json.loads(run_cli("--db", crawled, "rejects", "show", str(no_title["id"]), "--json").stdout)
    assert shown["item"]["url"] == no_title["url"] and shown["stored_page_bytes"] > 0
    assert no_title["attempts"] == 1 and no_title["last_seen_at"] == no_title["created_at"]
    listed = run_cli("--db", crawled, "rejects", "list").stdout
    assert "no title" in listed and "times" in listed
    # An 80-column terminal: each URL under its reason, whole once its folded lines are joined.
    narrow = run_cli("--db", crawled, "rejects", "list", "--limit", "100", env={"COLUMNS": "80"}).stdout
    assert max(len(line) for line in narrow.splitlines()) <= 80 and "reason / url" in narrow
    lines = narrow.splitlines()
    (header,) = [line for line in lines if "reason / url" in line]
    start = header.index("reason / url")
    joined = "".join(line[start:].strip() for line in lines[lines.index(header) + 2 :])  # that column, joined
    assert all(r["url"] in joined for r in rows), joined


def test_retry_of_a_page_that_is_still_broken_says_so(crawled: str) -> None:
    rows = json.loads(run_cli("--db", crawled, "rejects", "list", "--json").stdout)
    no_title = next(r for r in rows if r["reason"] == "no title")
    done = run_cli("--db", crawled, "rejects", "retry", str(no_title["id"]))
    assert done.returncode == 1 and "still refused (validate): no title" in done.stderr
    fetch = next(r for r in rows if r["stage"] == "fetch")
    failed = run_cli("--db", crawled, "rejects", "retry", str(fetch["id"]))
    assert failed.returncode == 2 and "the next crawl fetches it again" in failed.stderr


def test_a_retry_of_several_ids_none_of_which_can_be_retried_exits_2_as_one_does(crawled: str) -> None:
    """With several IDs it said "0 archived, 0 still refused, 2 skipped" and exit 0: no such reject, or a failed
    fetch, which exits 2 when given alone."""
    fetches = [r["id"] for r in json.loads(run_cli("--db", crawled, "rejects", "list", "--json").stdout)
               if r["stage"] == "fetch"][:2]  # fmt: skip
    for ids, why in ((["99998", "99999"], "no reject with id 99999"), ([str(i) for i in fetches], "a failed fetch")):
        done = run_cli("--db", crawled, "rejects", "retry", *ids)
        assert done.returncode == 2, (ids, done.stdout, done.stderr)
        assert "0 archived, 0 still refused, 2 skipped" in done.stdout and why in done.stdout
        assert (
            done.stderr.strip()
            == "aggregator: error: none of the 2 rejects given could be retried (see why each was skipped)"
        )
    unknown = run_cli("--db", crawled, "rejects", "retry", "99999", "--json")
    assert unknown.returncode == 2 and json.loads(unknown.stdout)["skipped"] == [
        {"id": 99999, "why": "no reject with id 99999"}
    ]


def test_retry_after_a_fix_archives_the_page(db_url: str) -> None:
    """A page refused by a bug that is now fixed (here: a pipeline error) is archived by a retry, offline."""
    page = (SAMPLE / "caliber.az" / "post" / "153813.html").read_bytes()
    archive = Archive.open(db_url)
    archive.sync_sources(all_sources())
    item = {"source": "caliber", "url": "https://caliber.az/post/153813", "fetched_at": FETCHED.isoformat(),
            "raw_encoding": "utf-8", "title": "…"}  # fmt: skip
    archive.save([], [RejectRecord("caliber", item["url"], "error", "pipeline error: KeyError", 200, item, page)])
    reject_id = archive.list_rejects()[0].id

    outcome = retry_reject(archive, reject_id)
    assert outcome.archived and outcome.article_id is not None
    article = archive.get_article(outcome.article_id)
    assert article is not None and article.url == "https://caliber.az/post/153813"
    assert article.title == "Генассамблея ООН завершила общие дебаты рекордным числом выступлений"
    assert article.published_at == datetime(2025, 10, 1, 21, 40, tzinfo=UTC)  # "now" is the original fetch time
    assert article.attribution_line == "Icma.az, ссылаясь на сайт Caliber.az, отмечает."
    assert archive.list_rejects() == []  # resolved: no longer listed ...
    assert archive.list_rejects(include_resolved=True)[0].article_id == outcome.article_id  # ... but kept
    assert archive.count(Article) == 1
    with pytest.raises(NotRetryableError, match="already archived"):
        retry_reject(archive, reject_id)
    with pytest.raises(NotRetryableError, match="no reject with id 999"):
        retry_reject(archive, 999)
    archive.close()


def test_a_retry_of_a_page_older_than_the_archived_version_writes_nothing_over_it(db_url: str) -> None:
    """A page quarantined at 10:00, a crawl archiving the article's edited page at 11:00 while the reject is still
    open (or while its retry runs), then the retry: the 10:00 page became the article and its newest version. It is
    not written: the reject is resolved to the article, which keeps the newer text."""
    from datetime import timedelta

    from aggregator.extract import extract_item, processing_pipelines
    from tests.test_history import NEW_TITLE, edited

    page = (SAMPLE / "caliber.az" / "post" / "153813.html").read_bytes()
    archive = Archive.open(db_url)
    try:
        archive.sync_sources(all_sources())
        item = {"source": "caliber", "url": "https://caliber.az/post/153813", "fetched_at": FETCHED.isoformat(),
                "raw_encoding": "utf-8", "title": "…"}  # fmt: skip
        archive.save([], [RejectRecord("caliber", item["url"], "error", "pipeline error: KeyError", 200, item, page)])
        reject_id = archive.list_rejects()[0].id
        newer: Any = extract_item(edited(page), item["url"], fetched_at=FETCHED + timedelta(hours=1))
        for pipeline in processing_pipelines():
            newer = pipeline.process_item(newer)
        save = archive.save

        def crawl_first(items: Any, *args: Any, **kwargs: Any) -> Any:
            archive.save = save  # type: ignore[method-assign]
            save([newer])  # the crawl's batch commits between the retry's read and its write
            return save(items, *args, **kwargs)

        archive.save = crawl_first  # type: ignore[method-assign]
        with pytest.raises(NotRetryableError, match="a newer version of its page is archived as article"):
            retry_reject(archive, reject_id)
        (article,) = archive.list_articles()
        assert article.title == NEW_TITLE
        assert len(archive.snapshots(article.id)) == 1
        assert archive.list_rejects() == []  # resolved to the article
    finally:
        archive.close()


def test_a_retry_keeps_the_date_and_picture_of_the_feed_entry_that_led_to_the_page(db_url: str) -> None:
    """The retry extracts the stored page again, and a page that prints no date was archived undated, one that shows
    no picture without a cover: the feed entry's date and picture are in no page, but in the refused item's record."""
    printed = '<span class="article__date">14.09.2026 10:30</span>'
    pictures = re.compile(r'<meta property="og:image"[^>]*>|<figure class="article__image">.*?</figure>')
    page = (SAMPLE / "haqqin.az" / "newsarchive" / "393102.html").read_text(encoding="utf-8")
    assert printed in page and len(pictures.findall(page)) == 2
    archive = Archive.open(db_url)
    archive.sync_sources(all_sources())
    item = {"source": "haqqin", "url": "https://haqqin.az/newsarchive/393102", "fetched_at": FETCHED.isoformat(),
            "raw_encoding": "utf-8", "published_feed": "Mon, 14 Sep 2026 10:20:00 +0400",
            "cover_feed": "https://i.haqqin.az/rss/393102.jpg"}  # fmt: skip
    raw = pictures.sub("", page.replace(printed, "")).encode()
    archive.save([], [RejectRecord("haqqin", item["url"], "error", "pipeline error: KeyError", 200, item, raw)])
    outcome = retry_reject(archive, archive.list_rejects()[0].id)
    assert outcome.archived and outcome.article_id is not None
    article = archive.get_article(outcome.article_id)
    assert article is not None and article.published_raw is None
    assert article.published_at == datetime(2026, 9, 14, 6, 20, tzinfo=UTC)
    assert article.cover_image_url == "https://i.haqqin.az/rss/393102.jpg"
    archive.close()


def test_retry_all_after_a_fix_archives_every_page_the_fix_accepts(db_url: str) -> None:
    """A fix deployed after a bad day: every open reject with a stored page is retried in one command, offline."""
    archive = Archive.open(db_url)
    archive.sync_sources(all_sources())

    def refused(path: str, reason: str, source: str = "caliber") -> RejectRecord:
        url = f"https://caliber.az/post/{path}"
        item = {"source": source, "url": url, "fetched_at": FETCHED.isoformat(), "raw_encoding": "utf-8"}
        page = (SAMPLE / "caliber.az" / "post" / f"{path}.html").read_bytes()
        return RejectRecord(source, url, "error", reason, 200, item, page)

    archive.save([], [refused("153813", "pipeline error: KeyError"), refused("154207", "pipeline error: KeyError")])
    archive.save([], [refused("153813", "pipeline error: ValueError")])  # the same page, another reason: two rows
    archive.save([], [refused("156118", "pipeline error: KeyError")])  # still refused today: it has no title
    archive.save([], [RejectRecord("caliber", "https://caliber.az/post/gone", "fetch", "HTTP 404", 404)])
    assert len(archive.list_rejects()) == 5
    archive.close()

    done = run_cli("--db", db_url, "rejects", "retry", "--all", "--source", "caliber", "--json")
    assert done.returncode == 1, done.stderr  # one page is still refused
    result = json.loads(done.stdout)
    assert len(result["archived"]) == 2 and all(a["article_id"] for a in result["archived"])
    assert [(r["stage"], r["reason"]) for r in result["refused"]] == [("validate", "no title")]
    # The second reject of 153813 was resolved when the first one's retry archived the page.
    first = result["archived"][0]
    assert [s["why"] for s in result["skipped"]] == [
        f"reject {first['id'] + 2} was already archived as article {first['article_id']}"
    ]
    archive = Archive.open(db_url)
    try:
        left = archive.list_rejects()
        assert {(r.url.rsplit("/", 1)[1], r.stage) for r in left} == {("156118", "validate"), ("gone", "fetch")}
        assert archive.count(Article) == 2
    finally:
        archive.close()
    again = run_cli("--db", db_url, "rejects", "retry", "--all")
    assert again.returncode == 1 and "retried 1 reject(s): 0 archived, 1 still refused" in again.stdout
    assert "still refused (validate): no title: 1" in again.stdout
    assert run_cli("--db", db_url, "rejects", "retry").returncode == 2  # neither IDs nor --all


def test_rejects_errors_are_one_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    assert run_cli("--db", db, "db", "upgrade").returncode == 0
    for args in (("rejects", "show", "42"), ("rejects", "retry", "42")):
        done = run_cli("--db", db, *args)
        assert done.returncode == 2 and done.stderr.strip() == "aggregator: error: no reject with id 42"


CRASHING_CRAWL = """
import sys
from scrapy.crawler import CrawlerProcess
from aggregator.crawl import project_settings
from aggregator.store import Archive
from spiders.caliber import CaliberArticle, CaliberSpider

class CrashingArticle(CaliberArticle):
    def to_item(self):
        if self.response.url.rstrip("/").endswith("/post/153813"):  # a listing links it with a slash too
            raise IndexError("list index out of range")  # a bug meeting a page it did not expect
        return super().to_item()

class CrashingCaliberSpider(CaliberSpider):
    extractor = CrashingArticle

db, mirror = sys.argv[1:3]
Archive.open(db).close()
process = CrawlerProcess(project_settings({"AGGREGATOR_DB_URL": db, "AGGREGATOR_MIRROR": mirror}))
process.crawl(CrashingCaliberSpider)
process.start()
"""


def test_a_page_whose_extractor_raises_is_quarantined_with_its_page_and_retried_after_a_fix(sqlite_url: str) -> None:
    """Scrapy only logs a callback's exception: the page was in no table. It is a reject of the extract stage now,
    with the error and the raw page, and a retry with the (fixed) extractor archives it."""
    import subprocess
    import sys

    from aggregator.mirror import serve_mirror
    from tests.conftest import ROOT

    with serve_mirror(SAMPLE) as mirror:
        done = subprocess.run(
            [sys.executable, "-c", CRASHING_CRAWL, sqlite_url, mirror],
            cwd=ROOT, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"Spider error processing <200 https://caliber\.az/post/153813/?>", done.stderr)
    assert "IndexError: list index out of range" in done.stderr  # the traceback is logged
    archive = Archive.open(sqlite_url)
    (crashed,) = [r for r in archive.list_rejects() if r.stage == "extract"]
    assert crashed.url.rstrip("/") == "https://caliber.az/post/153813"
    assert crashed.reason == "extraction failed: IndexError: list index out of range"
    assert crashed.raw_body and crashed.item["raw_encoding"] and crashed.crawl_run_id is not None
    run = archive.list_runs()[0]
    assert run.stats["aggregator/callback_errors"] == 1 and run.status == "finished"
    archived = archive.count(Article)
    outcome = retry_reject(archive, crashed.id)  # the crawl's extractor is the fixed one
    assert outcome.archived
    article = archive.get_article(outcome.article_id)
    assert article is not None
    assert article.title == "Генассамблея ООН завершила общие дебаты рекордным числом выступлений"
    assert archive.count(Article) == archived + 1
    archive.close()


def test_only_article_pages_are_quarantined_when_their_callback_raises() -> None:
    """A listing, feed or sitemap whose parse raised is read again at the next run: Scrapy's own handling for it."""
    from scrapy import Request
    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    from aggregator.callback_errors import CallbackErrorMiddleware
    from spiders.caliber import CaliberSpider
    from spiders.feeds import FEED_IMAGE_META, FEED_PUBLISHED_META

    crawler = get_crawler(CaliberSpider)
    spider = crawler.spider = CaliberSpider()
    middleware = CallbackErrorMiddleware.from_crawler(crawler)
    listing = Request("https://caliber.az/", callback=spider.parse)
    page = HtmlResponse(listing.url, body=b"<html></html>", encoding="utf-8", request=listing)
    assert middleware.process_spider_exception(page, ValueError("boom"), spider) is None
    article = Request("https://caliber.az/post/1", callback=spider.parse_article)
    page = HtmlResponse(article.url, body=b"<html>x</html>", encoding="utf-8", request=article)
    (failure,) = middleware.process_spider_exception(page, ValueError("boom"), spider) or []
    assert (failure.source, failure.url, failure.reason) == (
        "caliber",
        article.url,
        "extraction failed: ValueError: boom",
    )
    assert failure.raw_body == b"<html>x</html>" and failure.raw_encoding == "utf-8"
    assert failure.published_feed is None  # no feed led to it
    assert crawler.stats.get_value("aggregator/callback_errors") == 1
    # A page a feed entry led to keeps the entry's date, which a retry needs (the page does not hold it).
    announced = article.replace(
        meta={FEED_PUBLISHED_META: "Mon, 14 Sep 2026 10:30:00 +0400", FEED_IMAGE_META: "https://caliber.az/i/1.jpg"}
    )
    page = HtmlResponse(article.url, body=b"<html>x</html>", encoding="utf-8", request=announced)
    (failure,) = middleware.process_spider_exception(page, ValueError("boom"), spider) or []
    assert failure.to_record()["published_feed"] == "Mon, 14 Sep 2026 10:30:00 +0400"
    assert failure.to_record()["cover_feed"] == "https://caliber.az/i/1.jpg"  # and its picture


def test_a_failed_fetch_gives_its_reason_in_one_readable_line() -> None:
    """Scrapy wraps Twisted's failures in its own errors, and some say nothing: the reason a row keeps is readable."""
    from scrapy import Request
    from scrapy.exceptions import DownloadFailedError, ResponseDataLossError
    from twisted.internet.error import ConnectionDone
    from twisted.python.failure import Failure

    from spiders.caliber import CaliberSpider

    try:
        raise ConnectionDone()
    except ConnectionDone:
        wrapped = Failure()
    spider = CaliberSpider()
    request = Request("https://caliber.az/post/1", errback=spider.fetch_failed)
    reasons = []
    for error in (DownloadFailedError(str([wrapped])), ResponseDataLossError(), TimeoutError("took longer than 30 s")):
        failure = Failure(error)
        failure.request = request  # type: ignore[attr-defined]  # as Scrapy sets it
        (fetched,) = spider.fetch_failed(failure)
        reasons.append(fetched.reason)
    assert reasons == [
        "DownloadFailedError: ConnectionDone: Connection was closed cleanly.",  # was the repr of a Twisted Failure
        "ResponseDataLossError: Scrapy couldn't get a complete response",  # was the class name alone
        "TimeoutError: took longer than 30 s",
    ]


def test_a_pipeline_fault_on_one_page_is_recorded_and_the_retry_goes_on(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault (not a refusal) on one page of a ``retry --all``: that reject stays open at stage "error" with the
    fault's one line, and the other pages are retried (the batch stopped at the first, a traceback on the screen)."""
    from aggregator import quarantine

    archive = Archive.open(db_url)
    archive.sync_sources(all_sources())
    for path in ("153813", "154207"):
        url = f"https://caliber.az/post/{path}"
        item = {"source": "caliber", "url": url, "fetched_at": FETCHED.isoformat(), "raw_encoding": "utf-8"}
        page = (SAMPLE / "caliber.az" / "post" / f"{path}.html").read_bytes()
        archive.save([], [RejectRecord("caliber", url, "error", "pipeline error: KeyError", 200, item, page)])

    class Faulty:
        def process_item(self, item: Any) -> Any:
            if item.url.endswith("153813"):
                raise OverflowError("date value out of range")
            return item

    real = quarantine.processing_pipelines
    monkeypatch.setattr(quarantine, "processing_pipelines", lambda: [Faulty(), *real()])
    try:
        ids = [r.id for r in archive.list_rejects()]
        batch = quarantine.retry_rejects(archive, ids)
        assert len(batch.archived) == 1 and archive.count(Article) == 1
        (still,) = batch.refused
        assert (still.stage, still.reason) == ("error", "pipeline error: OverflowError: date value out of range")
        (left,) = archive.list_rejects()
        assert left.url.endswith("153813") and left.stage == "error" and left.reason == still.reason
    finally:
        archive.close()
