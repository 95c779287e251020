"""The sweep: archived articles no listing links any more are asked for again, a few each run (aggregator/sweep.py).

The rule and the pick are checked alone; the store's half on SQLite and PostgreSQL; the whole on real crawls of the
bundled sample, whose articles are made due by setting when they were last seen, with an overlay that answers 410
and 404 for two of them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scrapy import Request, signals
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler
from sqlalchemy import create_engine, func, select, update
from sqlalchemy.orm import Session

from aggregator.health import PREFIX, Measures
from aggregator.incremental import ARTICLE_URL_META, CONDITIONAL_META, NotModified, url_hash
from aggregator.items import NotModifiedPage
from aggregator.mirror import serve_mirror
from aggregator.store import Archive
from aggregator.store.db import normalise_url
from aggregator.store.models import Article, CrawlRun, Snapshot
from aggregator.store.repository import SweepCandidate
from aggregator.sweep import PRIORITY, SweepMiddleware, due_interval, pick, request_for
from spiders.caliber import CaliberSpider
from tests.conftest import SAMPLE, run_cli, status_overlay
from tests.test_store import item

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def candidate(n: int, age_days: float, seen_days_ago: float) -> SweepCandidate:
    return SweepCandidate(
        f"https://caliber.az/post/story-{n}",
        f"https://caliber.az/post/story-{n}/",
        NOW - age_days * DAY,
        NOW - seen_days_ago * DAY,
    )


def test_an_article_is_due_after_as_long_as_it_was_old_when_last_seen_from_a_day_to_a_week() -> None:
    published = NOW - 30 * DAY
    assert due_interval(published, published + timedelta(hours=3)) == DAY  # at least a day
    assert due_interval(published, published + 3 * DAY) == 3 * DAY
    assert due_interval(published, published + 20 * DAY) == 7 * DAY  # at most a week
    chosen, due = pick(
        [
            candidate(1, age_days=4, seen_days_ago=2),  # seen at 2 days old, 2 days ago: just due (1 interval)
            candidate(2, age_days=4, seen_days_ago=1.5),  # seen at 2.5 days old, 1.5 days ago: not yet
            candidate(3, age_days=29, seen_days_ago=8),  # seen at 21 days old, 8 days ago: a week is enough (8/7)
            candidate(4, age_days=10, seen_days_ago=6),  # seen at 4 days old, 6 days ago: 1.5 intervals
            candidate(5, age_days=3, seen_days_ago=2),  # seen at 1 day old, 2 days ago: 2 intervals, the most overdue
            candidate(6, age_days=5, seen_days_ago=3),  # seen at 2 days old, 3 days ago: 1.5, as 4, and newer
        ],
        NOW,
        limit=3,
    )
    assert due == 5
    assert [c.url.rsplit("-", 1)[1] for c in chosen] == ["5", "6", "4"]
    # A page in its refusal wait (at either of its addresses) is neither asked for nor counted as due.
    waiting = {url_hash("https://caliber.az/post/story-5/"): None, url_hash("https://caliber.az/post/story-4"): None}
    chosen, due = pick([candidate(n, 10, 6) for n in (3, 4, 5)], NOW, limit=10, waiting=waiting)
    assert (due, [c.url for c in chosen]) == (1, ["https://caliber.az/post/story-3"])


def test_a_sweep_request_is_conditional_late_and_recorded_against_its_article() -> None:
    spider = CaliberSpider()
    plain = request_for(candidate(1, 5, 3), spider)
    assert plain.url == "https://caliber.az/post/story-1/" and plain.priority == PRIORITY < 0
    assert plain.callback == spider.parse_article and plain.errback == spider.fetch_failed
    assert plain.meta[ARTICLE_URL_META] == "https://caliber.az/post/story-1"
    assert CONDITIONAL_META not in plain.meta and not plain.headers  # no validators: a plain fetch
    versioned = SweepCandidate(*vars_of(candidate(1, 5, 3))[:4], etag='"e1"', last_modified="Sun, 15 Mar 2026 GMT")
    conditional = request_for(versioned, spider)
    assert conditional.headers["If-None-Match"] == b'"e1"'
    assert conditional.headers["If-Modified-Since"] == b"Sun, 15 Mar 2026 GMT"
    assert conditional.meta[CONDITIONAL_META] and conditional.meta["handle_httpstatus_list"] == [304]


def test_a_304_at_another_address_than_the_articles_is_recorded_against_the_article() -> None:
    from twisted.python.failure import Failure

    spider = CaliberSpider()
    moved = SweepCandidate("https://caliber.az/post/slug-123", "https://caliber.az/post/123", NOW, NOW, etag='"e"')
    failure = Failure(NotModified("not modified"))
    failure.request = request_for(moved, spider)  # type: ignore[attr-defined]  # as Scrapy sets it
    assert list(spider.fetch_failed(failure)) == [NotModifiedPage("caliber", "https://caliber.az/post/slug-123")]
    failure.request = Request("https://www.caliber.az/post/9/")  # type: ignore[attr-defined]  # no meta: its own
    assert list(spider.fetch_failed(failure)) == [NotModifiedPage("caliber", "https://caliber.az/post/9")]


def test_a_swept_page_the_spider_makes_nothing_of_counts_as_seen_and_articles_are_counted_apart() -> None:
    crawler = get_crawler(CaliberSpider, {"AGGREGATOR_DB_URL": "sqlite://"})
    crawler.spider = CaliberSpider.from_crawler(crawler)
    middleware = SweepMiddleware.from_crawler(crawler)
    swept = request_for(candidate(1, 5, 3), crawler.spider)
    page = HtmlResponse(swept.url, body=b"<html></html>", request=swept)
    assert list(middleware.process_spider_output(page, iter(()))) == [
        NotModifiedPage("caliber", "https://caliber.az/post/story-1")
    ]
    assert list(middleware.process_spider_output(page, iter([item(1)]))) == [item(1)]
    listed = HtmlResponse(swept.url, body=b"<html></html>", request=Request(swept.url))
    assert list(middleware.process_spider_output(listed, iter(()))) == []  # not swept: left as it is
    assert list(middleware.process_spider_output(listed, iter([item(2)]))) == [item(2)]
    stats = crawler.stats.get_stats()  # type: ignore[union-attr]
    assert (stats["aggregator/swept_nothing"], stats["aggregator/swept_extracted"]) == (1, 1)


def test_what_the_duplicate_filter_drops_is_counted_where_it_belongs() -> None:
    """A sweep request dropped as asked for already (scaled out: by another worker's sweep) was not asked for by this
    run; a listing's request dropped because the sweep asked for the same page is answered by the sweep's, and the
    health check counts that answer as the listing's."""
    crawler = get_crawler(CaliberSpider, {"AGGREGATOR_DB_URL": "sqlite://"})
    crawler.spider = spider = CaliberSpider.from_crawler(crawler)
    middleware = SweepMiddleware.from_crawler(crawler)
    chosen = [candidate(n, 5, 3) for n in (1, 2, 3)]
    middleware.plan = lambda source, now: (chosen, 7)  # type: ignore[method-assign]
    swept = middleware.requests(spider)
    assert [r.url for r in swept] == [c.fetched_url for c in chosen]

    def scheduled(request: Request, first: bool) -> None:  # as the engine does: the signal, then maybe a drop
        crawler.signals.send_catch_log(signals.request_scheduled, request=request, spider=spider)
        if not first:
            crawler.signals.send_catch_log(signals.request_dropped, request=request, spider=spider)

    def listed(url: str) -> Request:
        return Request(url, callback=spider.parse_article)

    scheduled(listed("https://caliber.az/post/story-1/"), first=True)  # a listing asked first
    scheduled(swept[0], first=False)
    for request in swept[1:]:
        scheduled(request, first=True)
    scheduled(listed("https://caliber.az/post/story-2/"), first=False)  # the sweep asked first
    scheduled(listed("https://caliber.az/post/story-2/?utm_source=home"), first=False)  # linked twice: counted once
    scheduled(listed("https://caliber.az/post/story-1/"), first=False)
    scheduled(listed("https://caliber.az/post/another/"), first=False)  # nothing of the sweep's
    stats = crawler.stats.get_stats()  # type: ignore[union-attr]
    assert (stats["aggregator/sweep_due"], stats["aggregator/swept"], stats["aggregator/swept_dropped"]) == (7, 2, 1)
    assert stats["aggregator/swept_listed"] == 1


def test_health_counts_a_swept_answer_a_listing_led_to_and_no_swept_page_found_gone_as_an_error() -> None:
    stats = {"downloader/request_count": 40, PREFIX + "extracted": 30, "aggregator/skipped_known": 0,
             "aggregator/swept_extracted": 20, "aggregator/swept_listed": 5,
             "aggregator/http_errors": 9, "aggregator/swept_gone": 8}  # fmt: skip
    measures = Measures.from_stats(stats, history=[])
    assert measures.items == 30 - (20 - 5)
    assert (measures.http_errors, measures.http_error_rate) == (1, 1 / 40)


def vars_of(c: SweepCandidate) -> tuple[object, ...]:
    return (c.url, c.fetched_url, c.dated, c.last_seen_at, c.etag, c.last_modified)


@pytest.mark.parametrize(
    "settings", [{"AGGREGATOR_SWEEP_DAYS": 0}, {"AGGREGATOR_SWEEP_PER_RUN": 0}, {"AGGREGATOR_DB_URL": ""}]
)
def test_the_sweep_can_be_switched_off(settings: dict[str, object]) -> None:
    with pytest.raises(NotConfigured):
        SweepMiddleware.from_crawler(get_crawler(CaliberSpider, {"AGGREGATOR_DB_URL": "sqlite://", **settings}))


def test_the_window_holds_recent_articles_last_seen_long_enough_ago_and_not_withdrawn(archive: Archive) -> None:
    t0 = item(1).published_at
    archive.save([item(n, published_at=t0 - n * DAY) for n in range(1, 6)] + [item(6, published_at=None)])
    archive.save([item(1, body_html="<p>Текст 1, исправленный</p>", etag='"e1-v2"')])  # a second version
    with Session(archive.engine) as s:
        s.execute(update(Article).values(last_seen_at=t0 - DAY, archived_at=t0 - DAY))
        s.execute(update(Article).where(Article.url.like("%story-3")).values(last_seen_at=t0 + DAY))  # seen since
        s.commit()
    assert archive.withdraw([archive.article_id_for(item(4).canonical_url)], "takedown") != []
    window = archive.sweep_window("caliber", dated_since=t0 - 4.5 * DAY, seen_before=t0)
    by_url = {c.url.rsplit("-", 1)[1]: c for c in window}
    assert sorted(by_url) == ["1", "2", "6"]  # 3 seen since, 4 withdrawn, 5 too old; 6 undated, archived recently
    assert by_url["6"].dated == t0 - DAY and by_url["2"].dated == t0 - 2 * DAY
    assert by_url["1"].fetched_url == "https://caliber.az/post/story-1/" and by_url["1"].etag is None
    assert archive.sweep_window("other", dated_since=t0 - 4.5 * DAY, seen_before=t0) == []
    filled = {c.url.rsplit("-", 1)[1]: (c.etag, c.last_modified) for c in archive.with_validators(window)}
    assert filled == {"1": ('"e1-v2"', None), "2": ('"e2"', None), "6": ('"e6"', None)}  # the newest version's


def crawl(db: str, mirror: str, env: dict[str, str]) -> str:
    done = run_cli("--db", db, "crawl", "caliber", "--mirror", mirror, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return " ".join(done.stdout.split())


def last_run(db: str) -> CrawlRun:
    with Session(create_engine(normalise_url(db))) as s:
        run = s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
        assert run is not None
        return run


def seen(db: str) -> dict[str, datetime]:
    with Session(create_engine(normalise_url(db))) as s:
        return dict(s.execute(select(Article.url, Article.last_seen_at)).all())  # type: ignore[arg-type]


def make_all_due(db: str, days_ago: float = 10) -> None:
    with Session(create_engine(normalise_url(db))) as s:
        s.execute(update(Article).values(last_seen_at=datetime.now(UTC) - days_ago * DAY))
        s.commit()


def test_a_sweep_finds_what_the_source_deleted_after_its_listings_dropped_it(tmp_path: Path) -> None:
    deleted = {"https://caliber.az/post/153813": 410, "https://caliber.az/en/post/142379": 404}
    overlay = status_overlay(tmp_path / "deleted", deleted)
    db = f"sqlite:///{tmp_path / 'a.db'}"
    # The sample's articles are years old: a window that reaches them. No recheck of what the listings link: what
    # the archive holds is fetched again only by the sweep.
    env = {"AGGREGATOR_SWEEP_DAYS": "100000", "AGGREGATOR_SWEEP_PER_RUN": "5", "AGGREGATOR_RECHECK_HOURS": "0"}
    with serve_mirror(SAMPLE) as plain, serve_mirror(SAMPLE, overlays=(overlay,)) as with_deletions:
        crawl(db, plain, env)
        first = last_run(db)
        archived = seen(db)
        assert set(deleted) <= set(archived) and first.stats.get("aggregator/swept", 0) == 0  # all seen just now

        # Nothing is due yet: a second run fetches the listings only.
        crawl(db, plain, env)
        assert last_run(db).stats.get("aggregator/swept", 0) == 0 and seen(db) == archived
        listing_items, listing_errors = last_run(db).health["items"], last_run(db).health["http_errors"]

        # Ten days later (as far as the archive knows): every article is due; a run asks for five, conditionally.
        make_all_due(db)
        before = seen(db)
        out = crawl(db, plain, env)
        run = last_run(db)
        assert run.stats["aggregator/sweep_due"] == len(archived)
        assert run.stats["aggregator/swept"] == 5 and run.stats["aggregator/not_modified"] == 5
        assert f"5 older article(s) looked at again (sweep; {len(archived) - 5} more due)" in out, out
        runs = json.loads(run_cli("--db", db, "runs", "--json", "--limit", "1").stdout)
        assert (runs[0]["swept"], runs[0]["unchanged"]) == (5, 5)
        looked_at = {url for url, when in seen(db).items() if when != before[url]}
        assert len(looked_at) == 5
        # The health check's count is of what the listings led to: a run with a sweep is not a fuller listing (else
        # the runs without one would look broken next to it).
        assert run.health["status"] == "green" and run.health["items"] == listing_items

        # With room for all: the rest are looked at, the two pages now gone withdraw their articles.
        out = crawl(db, with_deletions, {**env, "AGGREGATOR_SWEEP_PER_RUN": "1000"})
        run = last_run(db)
        assert run.stats["aggregator/swept"] == len(archived) - 5
        assert run.stats["aggregator/articles_withdrawn"] == 2 and run.health["items"] == listing_items
        # Pages found gone are the answers that withdraw their articles, not a failing site.
        assert run.stats["aggregator/swept_gone"] == 2 and run.health["http_errors"] == listing_errors
        refused = run.stats["aggregator/skipped_refused"]
        assert "2 archived article(s) withdrawn: their pages are gone" in out, out
        withdrawn = json.loads(run_cli("--db", db, "articles", "list", "--withdrawn", "--json").stdout)
        assert {a["url"] for a in withdrawn} == set(deleted)
        assert all(seen(db)[url] > before[url] for url in set(archived) - set(deleted))

        # Due again, the withdrawn ones are not asked for. This time without validators (as from a site that sends
        # none): the pages come whole, the same as archived.
        make_all_due(db)
        with Session(create_engine(normalise_url(db))) as s:
            s.execute(update(Snapshot).values(etag=None, last_modified=None))
            s.commit()
            versions = s.scalar(select(func.count()).select_from(Snapshot))
        before = seen(db)
        # And with a recheck window that takes in every article the listings link (as after a day without runs):
        # their requests duplicate the sweep's, which come first; the health check counts them as the listings'.
        out = crawl(db, plain, {**env, "AGGREGATOR_SWEEP_PER_RUN": "1000", "AGGREGATOR_RECHECK_HOURS": "10000000"})
        run = last_run(db)
        assert "looked at again (sweep)" in out and "more due" not in out, out  # all due were fetched, one way or other
        stats = run.stats
        assert stats["aggregator/swept"] == stats["aggregator/swept_extracted"] > 0
        assert stats["aggregator/swept"] + stats.get("aggregator/swept_dropped", 0) == len(archived) - 2
        assert 0 < stats["aggregator/swept_listed"] <= stats["aggregator/swept"]
        # The listings' count, less the two pages found gone: they wait out their refusal, and are left alone.
        assert stats["aggregator/skipped_refused"] == refused + len(deleted)
        assert run.stats.get("aggregator/not_modified", 0) == 0 and run.health["items"] == listing_items - len(deleted)
        assert {url for url, when in seen(db).items() if when != before[url]} == set(archived) - set(deleted)
        assert run.items_new == 0 and run.items_updated == 0  # seen again, unchanged: no new version
        with Session(create_engine(normalise_url(db))) as s:
            assert s.scalar(select(func.count()).select_from(Snapshot)) == versions

        # Switched off, a run fetches the listings only, however much is due.
        make_all_due(db)
        before = seen(db)
        crawl(db, plain, {**env, "AGGREGATOR_SWEEP_DAYS": "0"})
        run = last_run(db)
        assert run.stats.get("aggregator/swept", 0) == 0 and run.stats.get("aggregator/not_modified", 0) == 0
        assert seen(db) == before
