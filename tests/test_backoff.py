"""A site that answers 429 (or 503 with Retry-After) is left alone as long as it asks (aggregator/backoff.py).

The crawls here are real ``aggregator crawl`` child processes against the bundled sample, served on 127.0.0.1 by
the mirror's own handler with some paths answering "slow down" first.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from time import monotonic
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from scrapy import Request
from scrapy.core.downloader import Slot
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from aggregator.backoff import LONGEST_REST, PAUSED_STAT, UNTIL_STAT, RetryAfterMiddleware, retry_after
from aggregator.crawl import project_settings
from aggregator.incremental import is_transient
from aggregator.locks import SourceResting
from aggregator.mirror import MirrorTree, _MirrorHandler, _MirrorHTTPServer, server_url
from aggregator.store.db import normalise_url
from aggregator.store.models import Article, CrawlRun
from spiders.caliber import CaliberSpider
from tests.conftest import SAMPLE, run_cli
from tests.crawl_checks import expected

HOST = "caliber.az"
LIMITED_PAGE = "/caliber.az/post/baku-i-ankara-obsudili-energeticheskij-koridor"  # linked in one form only


def caliber_articles() -> list[dict[str, Any]]:
    return [e for e in expected()["articles"] if e["url"].startswith(f"https://{HOST}/")]


class _SlowDownServer(_MirrorHTTPServer):
    limited: dict[str, list[str]]  # path -> the Retry-After values of its next 429 answers, in order
    log: list[tuple[float, str, int]]  # (monotonic time, path, status) of every answer
    lock: threading.Lock


class _SlowDownHandler(_MirrorHandler):
    server: _SlowDownServer

    def _answer(self, *, send_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        with self.server.lock:
            waits = self.server.limited.get(path)
            value = waits.pop(0) if waits else None
        if value is None:
            self.server.log.append((monotonic(), path, 200))
            super()._answer(send_body=send_body)
            return
        body = b"<html><body><h1>429 Too Many Requests</h1></body></html>"
        self.server.log.append((monotonic(), path, 429))
        self.send_response(429)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Retry-After", value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)


@contextmanager
def slow_down_mirror(limited: dict[str, list[str]]) -> Iterator[_SlowDownServer]:
    server = _SlowDownServer(("127.0.0.1", 0), _SlowDownHandler)
    server.tree = MirrorTree(SAMPLE)
    server.limited, server.log, server.lock = limited, [], threading.Lock()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def crawl(db: str, mirror: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("--db", db, "crawl", "caliber", "--mirror", mirror, env=env)


def runs(db: str) -> list[CrawlRun]:
    with Session(create_engine(normalise_url(db))) as s:
        return list(s.scalars(select(CrawlRun).order_by(CrawlRun.id)))


def archived(db: str) -> set[str]:
    with Session(create_engine(normalise_url(db))) as s:
        return set(s.scalars(select(Article.url)))


def test_a_site_that_answers_429_is_left_alone_as_long_as_it_asks(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    with slow_down_mirror({LIMITED_PAGE: ["3"]}) as server:
        done = crawl(db, server_url(server))
        log = list(server.log)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "caliber: finished" in done.stdout and "paused 1 time(s) as the site asked (429/Retry-After)" in done.stdout
    (run,) = runs(db)
    assert run.stats is not None
    assert run.status == "finished" and run.stats[PAUSED_STAT] == 1
    assert run.items_new == len(caliber_articles())  # the limited page too, fetched again after the pause
    (limited_at,) = [t for t, path, status in log if status == 429]
    (again_at,) = [t for t, path, status in log if path == LIMITED_PAGE and status == 200]
    assert again_at - limited_at >= 2.95, f"asked for again before Retry-After had passed: {log}"
    # Every request of the site waits, not only the limited page's (those sent before the crawler read the 429
    # arrive at once: a second is plenty for them).
    during = [path for t, path, _ in log if limited_at + 1 < t < limited_at + 2.95 and path.startswith("/caliber.az")]
    assert during == [], [(round(t - limited_at, 3), path, status) for t, path, status in log if t > limited_at + 0.1]


def test_a_site_that_asks_for_a_longer_wait_than_a_run_sits_out_stops_the_run_and_rests_until_then(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    longest = {"AGGREGATOR_RETRY_AFTER_MAX": "1"}  # so that the test waits out a Retry-After "longer" than that
    limited = {"/caliber.az/": ["7"] * 10}  # the home page: the first listing the spider reads
    with slow_down_mirror(limited) as server:
        began = datetime.now(UTC)
        stopped = crawl(db, server_url(server), env=longest)
        asked = [path for _, path, status in server.log if status == 429]
    assert stopped.returncode == 1
    assert "caliber: the site asked for no request before" in stopped.stderr
    assert "Retry-After" in stopped.stderr and "the next one fetches what it did not" in stopped.stderr
    assert len(asked) <= 3  # not retried into the ground
    (run,) = runs(db)
    assert run.stats is not None
    assert run.status == "partial" and run.stats["finish_reason"] == "rate_limited"
    until = datetime.fromisoformat(run.stats[UNTIL_STAT])
    assert began + timedelta(seconds=6) <= until <= datetime.now(UTC) + timedelta(seconds=7)
    assert len(archived(db)) < len(caliber_articles())
    # Before that time, the source is not crawled at all: skipped like a locked one, with the time.
    with slow_down_mirror({}) as server:
        early = crawl(db, server_url(server), env=longest)
        early_requests = len(server.log)
    if datetime.now(UTC) < until:  # (a slow machine may have got there already)
        assert early.returncode == 3, early.stderr[-3000:]
        assert f"caliber: skipped: its site asked for no request before {until.isoformat()}" in early.stderr
        assert early_requests == 0 and len(runs(db)) == 1
        # A plain `scrapy crawl` (Scrapyd's jobs) does not start either: its lock extension says why.
        overrides = {"AGGREGATOR_DB_URL": db, "TWISTED_REACTOR_ENABLED": False}
        try:
            get_crawler(CaliberSpider, project_settings(overrides).copy_to_dict())
        except SourceResting as exc:
            assert re.search(r"caliber: its site asked for no request before .*Retry-After", str(exc)), exc
        else:  # only if the time came while it was being made (a slow machine: it takes a second or more)
            assert datetime.now(UTC) >= until, "a plain scrapy crawl started before the time the site asked for"
    # After it, the next run archives the whole sample.
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.1)
    with slow_down_mirror({}) as server:
        again = crawl(db, server_url(server), env=longest)
    assert again.returncode == 0, again.stderr[-3000:]
    assert archived(db) >= {e["url"] for e in caliber_articles()}


# -- the middleware on its own ------------------------------------------------------------------------


def downloader(slot: Slot) -> SimpleNamespace:
    return SimpleNamespace(slots={HOST: slot}, get_slot_key=lambda request: HOST)


def answer(status: int, retry: str | None = None) -> HtmlResponse:
    headers = {"Retry-After": retry} if retry is not None else {}
    return HtmlResponse(url=f"https://{HOST}/post/1", status=status, headers=headers, body=b"<p>x</p>")


@pytest.mark.parametrize("autothrottle", [False, True])
def test_a_pause_holds_the_sites_slot_and_a_good_answer_after_it_gives_back_its_delay(autothrottle: bool) -> None:
    crawler = get_crawler(settings_dict={"AUTOTHROTTLE_ENABLED": autothrottle})
    assert crawler.stats is not None
    slot = Slot(8, 5.0 if autothrottle else 0.0, 0.5)
    crawler.engine = SimpleNamespace(downloader=downloader(slot))  # type: ignore[assignment]
    middleware = RetryAfterMiddleware(crawler, default_wait=0.3, longest_wait=300.0)
    request = Request(f"https://{HOST}/post/1")
    before = monotonic()
    middleware.process_response(request, answer(429, "30"))
    assert slot.lastseen >= before + 30
    assert slot.delay == (5.0 if autothrottle else 0.001)  # a delay of 0 would make the downloader not wait
    assert crawler.stats.get_value(PAUSED_STAT) == 1
    # The answer to a request sent before the pause, arriving during it: the slot stays held.
    middleware.process_response(request, answer(200))
    assert slot.delay == (5.0 if autothrottle else 0.001)
    assert slot.lastseen >= before + 30

    slot = Slot(8, 5.0 if autothrottle else 0.0, 0.5)
    crawler.engine = SimpleNamespace(downloader=downloader(slot))  # type: ignore[assignment]
    middleware = RetryAfterMiddleware(crawler, default_wait=0.3, longest_wait=300.0)
    middleware.process_response(request, answer(429))  # no Retry-After: the default wait, 0.3 s here
    time.sleep(0.35)
    middleware.process_response(request, answer(200))  # the first good answer after the pause
    assert slot.delay == 5.0 if autothrottle else slot.delay == 0.0  # AutoThrottle sets its own delay


def test_which_answers_pause_a_site() -> None:
    crawler = get_crawler()
    assert crawler.stats is not None
    slot = Slot(8, 0.0, 0.5)
    crawler.engine = SimpleNamespace(downloader=downloader(slot))  # type: ignore[assignment]
    middleware = RetryAfterMiddleware(crawler, default_wait=60.0, longest_wait=300.0)
    request = Request(f"https://{HOST}/post/1")
    for plain in (answer(503), answer(500, "10"), answer(404), answer(200, "10")):
        assert middleware.process_response(request, plain) is plain
    assert slot.lastseen == 0 and crawler.stats.get_value(PAUSED_STAT) is None
    before = monotonic()
    middleware.process_response(request, answer(503, "20"))  # maintenance, with a time to come back
    assert before + 20 <= slot.lastseen < before + 21
    middleware.process_response(request, answer(429))  # no Retry-After: AGGREGATOR_RATE_LIMIT_WAIT
    assert slot.lastseen >= before + 60
    assert crawler.stats.get_value(PAUSED_STAT) == 2


def test_a_rest_of_years_is_a_day() -> None:
    """One misconfigured answer (a CDN maintenance page asking for ten years) silenced the source until then: every
    run skipped with exit status 3 (success to systemd), its health never judged again."""
    crawler = get_crawler()
    assert crawler.stats is not None
    crawler.engine = SimpleNamespace(downloader=downloader(Slot(8, 0.0, 0.5)))  # type: ignore[assignment]
    middleware = RetryAfterMiddleware(crawler, default_wait=60.0, longest_wait=300.0)
    middleware._stopping = True  # as after a first such answer: no engine here to close the spider
    before = datetime.now(UTC)
    middleware.process_response(Request(f"https://{HOST}/"), answer(503, "315360000"))
    until = datetime.fromisoformat(crawler.stats.get_value(UNTIL_STAT))
    assert before + LONGEST_REST - timedelta(seconds=1) <= until <= datetime.now(UTC) + LONGEST_REST


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    assert retry_after("120", now) == 120.0
    assert retry_after(" 0 ", now) == 0.0
    assert retry_after(format_datetime(now + timedelta(minutes=5), usegmt=True), now) == 300.0
    assert retry_after("Thu, 03 Dec 2026 10:02:00 GMT", now) == 120.0
    assert retry_after(format_datetime(now - timedelta(minutes=5), usegmt=True), now) == 0.0
    for unreadable in (None, "", "soon", "-5", "1.5", "Thu, 99 Foo 2026"):
        assert retry_after(unreadable, now) is None, unreadable


def test_a_rate_limited_page_is_tried_again_at_the_next_run() -> None:
    assert is_transient("fetch", 429)
    assert not is_transient("fetch", 404)
