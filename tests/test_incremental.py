"""The incremental filter: what is archived is loaded once per run, and no request costs a database query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import scrapy
from scrapy.utils.test import get_crawler
from sqlalchemy import Engine, event

from aggregator.incremental import (
    ARTICLE_URL_META,
    CONDITIONAL_META,
    IncrementalMiddleware,
    KnownArticles,
    refusal_wait,
)
from aggregator.items import ArticleItem
from aggregator.sources import all_sources
from aggregator.store import Archive
from aggregator.store.repository import RefusedPage, RejectRecord
from spiders.caliber import CaliberSpider


def test_known_articles_match_any_spelling_of_an_archived_url() -> None:
    known = KnownArticles.build(
        (f"https://caliber.az/post/{n}" for n in range(5000)),
        [
            (
                "https://caliber.az/en/post/fresh",
                '"v1"',
                "Tue, 24 Nov 2026 10:00:00 GMT",
                "https://caliber.az/en/post/fresh",
            )
        ],
    )
    assert known.is_old("https://caliber.az/post/42")
    assert known.is_old("http://www.caliber.az/post/42/?utm_source=x")  # the canonical form is what counts
    assert not known.is_old("https://caliber.az/post/5000")
    assert known.validators("https://caliber.az/en/post/fresh/") == ('"v1"', "Tue, 24 Nov 2026 10:00:00 GMT")
    assert known.validators("https://caliber.az/post/42") is None
    assert known.article_of("https://caliber.az/en/post/fresh/") == "https://caliber.az/en/post/fresh"
    # An article fetched at another address than its canonical one: a 304 there is the article's.
    moved = KnownArticles.build((), [("https://caliber.az/post/123/", None, None, "https://caliber.az/post/slug-123")])
    assert moved.article_of("https://www.caliber.az/post/123") == "https://caliber.az/post/slug-123"
    assert len(known) == 5001 and known.old.itemsize == 8


def test_an_archived_article_linked_in_another_form_is_known() -> None:
    """Archived under its canonical URL, linked at the next run with tracking parameters, at the other host form
    (``www.``, the mobile or AMP site), as its AMP page or with a doubled slash: the same article, not fetched as new
    (the mobile, AMP and doubled-slash forms were fetched again at every run)."""
    article = "https://report.az/ru/proisshestviya/liven-v-baku"
    fresh = "https://report.az/ru/proisshestviya/svezhee"
    known = KnownArticles.build([article], [(fresh, '"v1"', None, fresh)])
    for form in (
        "https://report.az/ru/proisshestviya/liven-v-baku/?utm_source=facebook&utm_medium=social&fbclid=x",
        "http://www.report.az/ru/proisshestviya/liven-v-baku/#comments",
        "https://m.report.az/ru/proisshestviya/liven-v-baku/",
        "https://amp.report.az/ru/proisshestviya/liven-v-baku",
        "https://report.az/ru/proisshestviya/liven-v-baku/amp/",
        "https://report.az/ru/proisshestviya/liven-v-baku?amp=1",
        "https://report.az//ru/proisshestviya/liven-v-baku/",
        "https://REPORT.AZ:443/ru/proisshestviya/liven-v-baku",
    ):
        assert known.is_old(form), form
    assert known.validators("https://m.report.az/ru/proisshestviya/svezhee/amp/") == ('"v1"', None)
    assert known.article_of("https://m.report.az/ru/proisshestviya/svezhee/amp/") == fresh
    assert not known.is_old("https://report.az/ru/proisshestviya/liven-v-baku-2")


def _item(path: str, published: datetime, etag: str | None) -> ArticleItem:
    return ArticleItem(
        source="caliber", url=f"https://caliber.az{path}", language="ru", title=f"Title {path}",
        body_html="<p>Body</p>", body_text="Body", published_at=published, fetched_at=published, etag=etag,
        raw_body=b"<html></html>",
    )  # fmt: skip


def test_one_load_per_run_and_no_query_per_request(sqlite_url: str) -> None:
    archive = Archive.open(sqlite_url)
    archive.sync_sources(all_sources())
    now = datetime.now(UTC)
    archive.save(
        [_item("/post/old", now - timedelta(days=30), '"o"'), _item("/post/new", now - timedelta(hours=2), '"n"')],
        [RejectRecord("caliber", "https://caliber.az/post/broken", "validate", "no title", 200)],
    )
    archive.close()

    crawler = get_crawler(CaliberSpider, {"AGGREGATOR_DB_URL": sqlite_url, "AGGREGATOR_RECHECK_HOURS": 48})
    middleware = IncrementalMiddleware.from_crawler(crawler)
    spider = CaliberSpider()
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and ("articles" in statement or "rejects" in statement):
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        middleware.spider_opened(spider)
        loaded = len(statements)
        requests = [scrapy.Request(f"https://caliber.az/post/{n}") for n in range(500)]
        requests += [scrapy.Request("https://caliber.az/post/old/"), scrapy.Request("https://caliber.az/post/new")]
        requests += [scrapy.Request("https://caliber.az/post/broken/")]  # refused a moment ago: left alone
        out = list(middleware.process_spider_output(scrapy.http.Response("https://caliber.az/"), iter(requests)))
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert loaded == 3  # old URLs, recent ones with their validators, refused pages
    assert len(statements) == loaded  # 503 requests filtered without touching the database
    urls = [r.url for r in out]
    assert "https://caliber.az/post/old/" not in urls and len(out) == 501
    (recheck,) = [r for r in out if r.url.endswith("/post/new")]
    assert recheck.headers[b"If-None-Match"] == b'"n"' and recheck.meta[CONDITIONAL_META]
    assert 304 in recheck.meta["handle_httpstatus_list"]
    assert crawler.stats.get_value("aggregator/skipped_known") == 1
    assert crawler.stats.get_value("aggregator/rechecked") == 1
    assert crawler.stats.get_value("aggregator/skipped_refused") == 1


def test_a_refused_page_waits_longer_after_each_refusal() -> None:
    hour, day = timedelta(hours=1), timedelta(hours=24)
    content = [refusal_wait(n, transient=False, first=hour, longest=day) for n in range(1, 8)]
    assert content == [hour * h for h in (1, 2, 4, 8, 16, 24, 24)]
    # A server error or a failed connection may be over by the next run: retried at once, then waited on.
    server = [refusal_wait(n, transient=True, first=hour, longest=day) for n in range(1, 5)]
    assert server == [timedelta(0), hour, 2 * hour, 4 * hour]
    assert refusal_wait(10_000, transient=False, first=hour, longest=day) == day


def test_known_articles_leave_alone_only_the_refused_pages_still_waiting() -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

    def page(path: str, stage: str, status: int | None, attempts: int, minutes_ago: int) -> RefusedPage:
        reason = "no title" if stage == "validate" else f"HTTP {status}"
        return RefusedPage(
            f"https://caliber.az/post/{path}", stage, reason, status, attempts, now - timedelta(minutes=minutes_ago)
        )

    refused = [
        page("no-title", "validate", 200, 1, 30),  # waits an hour
        page("gone", "fetch", 404, 1, 90),  # its hour is over
        page("down", "fetch", 500, 1, 5),  # retried at once
        page("still-down", "fetch", 503, 2, 5),  # then waited on
        page("timeout", "fetch", None, 3, 90),  # two hours
    ]
    known = KnownArticles(waiting=KnownArticles.waiting_pages(refused, now, timedelta(hours=1), timedelta(hours=24)))
    waiting = {p.url.rsplit("/", 1)[1] for p in refused if known.waiting_for(p.url)}
    assert waiting == {"no-title", "still-down", "timeout"}
    assert known.waiting_for("http://www.caliber.az/post/no-title/?utm_source=x") == refused[0]  # any spelling


def test_a_refused_page_linked_at_both_its_addresses_is_left_alone_and_counted_once() -> None:
    """A page refused behind a redirect is known by the address it ended at and the one the crawl asked for; a run
    whose listings link both counts it once, in the stats and in the health's left-alone failures."""
    from aggregator.health import LEFT_ALONE_HTTP_ERRORS

    now = datetime.now(UTC)
    moved = RefusedPage(
        "https://caliber.az/post/new-slug", "fetch", "HTTP 404", 404, 1, now, "https://caliber.az/post/old-slug"
    )
    crawler = get_crawler(CaliberSpider, {"AGGREGATOR_DB_URL": "", "AGGREGATOR_RECHECK_HOURS": 48})
    middleware = IncrementalMiddleware.from_crawler(crawler)
    middleware.known.waiting = KnownArticles.waiting_pages([moved], now, timedelta(hours=1), timedelta(hours=24))
    linked = ["https://caliber.az/post/old-slug", "https://caliber.az/post/new-slug/", "https://caliber.az/post/x"]
    requests = [scrapy.Request(url) for url in linked]
    out = list(middleware.process_spider_output(scrapy.http.Response("https://caliber.az/"), iter(requests)))
    assert [r.url for r in out] == ["https://caliber.az/post/x"]
    assert crawler.stats.get_value("aggregator/skipped_refused") == 1
    assert crawler.stats.get_value(LEFT_ALONE_HTTP_ERRORS) == 1


def test_a_page_is_known_by_every_address_that_redirects_to_it() -> None:
    """``add_redirects``: an address leading to an old article is skipped (and counted as that article), one leading
    to a recent article is rechecked with its validators, one leading to a refused page waits with it, one leading to
    a page the archive does not hold (a listing, a page since forgotten) is fetched."""
    now = datetime.now(UTC)
    known = KnownArticles.build(
        (f"https://caliber.az/post/{n}" for n in range(1000)),
        [("https://caliber.az/post/fresh", '"v1"', None, "https://caliber.az/post/fresh")],
    )
    broken = RefusedPage("https://caliber.az/post/broken", "validate", "no body", 200, 1, now)
    known.waiting = KnownArticles.waiting_pages([broken], now, timedelta(hours=1), timedelta(hours=24))
    known.add_redirects(
        [
            ("https://caliber.az/post/old-slug", "https://caliber.az/post/7/"),
            ("https://caliber.az/post/older-slug", "https://caliber.az/post/7"),
            ("https://caliber.az/post/8", "https://caliber.az/post/9"),  # already old itself
            ("https://caliber.az/post/fresh-old-slug", "https://caliber.az/post/fresh"),
            ("https://caliber.az/post/broken-old-slug", "https://caliber.az/post/broken"),
            ("https://caliber.az/category/old", "https://caliber.az/category/new"),
        ]
    )
    assert known.is_old("https://caliber.az/post/old-slug") and known.is_old("https://caliber.az/post/older-slug/")
    assert len(known.old) == 1002 and list(known.old) == sorted(known.old)
    assert known.validators("https://caliber.az/post/fresh-old-slug") == ('"v1"', None)
    assert known.waiting_for("https://caliber.az/post/broken-old-slug") == broken
    assert (
        not known.is_old("https://caliber.az/category/old")
        and known.validators("https://caliber.az/category/old") is None
    )

    crawler = get_crawler(CaliberSpider, {"AGGREGATOR_DB_URL": "", "AGGREGATOR_RECHECK_HOURS": 48})
    middleware = IncrementalMiddleware.from_crawler(crawler)
    middleware.known = known
    linked = ["https://caliber.az/post/7", "https://caliber.az/post/old-slug", "https://caliber.az/post/older-slug",
              "https://caliber.az/post/fresh", "https://caliber.az/post/fresh-old-slug"]  # fmt: skip
    out = list(
        middleware.process_spider_output(scrapy.http.Response("https://caliber.az/"), map(scrapy.Request, linked))
    )
    assert [r.url for r in out] == ["https://caliber.az/post/fresh", "https://caliber.az/post/fresh-old-slug"]
    assert all(r.headers.get("If-None-Match") == b'"v1"' for r in out)
    # A 304 at the old address is recorded against the article it leads to.
    assert [r.meta[ARTICLE_URL_META] for r in out] == ["https://caliber.az/post/fresh"] * 2
    assert crawler.stats.get_value("aggregator/skipped_known") == 1  # one article, at three addresses
    assert crawler.stats.get_value("aggregator/rechecked") == 1
