"""A site that answers 429 (or 503 with Retry-After) is left alone as long as it asks (aggregator/backoff.py).

The crawls here are real ``aggregator crawl`` child processes against the bundled sample, served on 127.0.0.1 by
the mirror's own handler with some paths answering "slow down" first.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
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

from aggregator.backoff import (
    FINISH_REASON,
    HOLD_RED,
    LIFTED_STAT,
    LONGEST_REST,
    MIRROR_STAT,
    PAUSED_STAT,
    UNTIL_STAT,
    PauseCutShort,
    RetryAfterMiddleware,
    lift_hold,
    resting_sources,
    retry_after,
)
from aggregator.crawl import project_settings
from aggregator.health_report import source_health
from aggregator.incremental import is_transient
from aggregator.locks import SOURCE_HELD, RefusedRun, RunLock
from aggregator.mirror import MirrorTree, _MirrorHandler, _MirrorHTTPServer, server_url
from aggregator.present import utc_iso
from aggregator.store import Archive
from aggregator.store.db import normalise_url
from aggregator.store.models import Article, CrawlRun, Reject, Snapshot
from spiders.caliber import CaliberSpider
from tests.conftest import ROOT, SAMPLE, run_cli
from tests.crawl_checks import expected

HOST = "caliber.az"
LIMITED_PAGE = "/caliber.az/post/baku-i-ankara-obsudili-energeticheskij-koridor"  # linked in one form only


def caliber_articles() -> list[dict[str, Any]]:
    return [e for e in expected()["articles"] if e["url"].startswith(f"https://{HOST}/")]


class _SlowDownServer(_MirrorHTTPServer):
    limited: dict[str, list[str]]  # path -> the Retry-After values of its next 429 answers, in order
    log: list[tuple[float, str, int]]  # (monotonic time, path, status) of every answer
    lock: threading.Lock
    slow: dict[str, float]  # path -> seconds its answers take


class _SlowDownHandler(_MirrorHandler):
    server: _SlowDownServer

    def _answer(self, *, send_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        time.sleep(self.server.slow.get(path, 0.0))
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
def slow_down_mirror(limited: dict[str, list[str]], slow: dict[str, float] | None = None) -> Iterator[_SlowDownServer]:
    server = _SlowDownServer(("127.0.0.1", 0), _SlowDownHandler)
    server.tree = MirrorTree(SAMPLE)
    server.limited, server.log, server.lock, server.slow = limited, [], threading.Lock(), slow or {}
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


def run_lock(crawler: Any) -> RunLock | RefusedRun:
    (found,) = [e for e in crawler.extensions.middlewares if isinstance(e, RunLock | RefusedRun)]
    return found


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
    assert run.stats[MIRROR_STAT] == server_url(server)  # a mirror's hold: it holds only crawls of a mirror
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
        # A plain `scrapy crawl` (Scrapyd's jobs) of a mirror does not start either: its lock extension says why.
        overrides = {
            "AGGREGATOR_DB_URL": db,
            "TWISTED_REACTOR_ENABLED": False,
            "AGGREGATOR_MIRROR": "http://127.0.0.1:9",
        }
        refused = run_lock(get_crawler(CaliberSpider, project_settings(overrides).copy_to_dict()))
        if isinstance(refused, RefusedRun):
            assert refused.reason == SOURCE_HELD
            assert re.search(r"caliber: its site asked for no request before .*Retry-After", refused.message)
        else:  # only if the time came while it was being made (a slow machine: it takes a second or more)
            assert datetime.now(UTC) >= until, "a plain scrapy crawl started before the time the site asked for"
            refused.engine_stopped()
        # One of the real site does: the mirror's Retry-After says nothing of it.
        del overrides["AGGREGATOR_MIRROR"]
        real = run_lock(get_crawler(CaliberSpider, project_settings(overrides).copy_to_dict()))
        assert isinstance(real, RunLock)
        real.engine_stopped()
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


# -- a stop during a pause ------------------------------------------------------------------------------


ROBOTS = "/caliber.az/robots.txt"  # fetched by Scrapy's robots.txt middleware before any page of the site
STOP_BOUND = 20.0
"""Seconds a stopped crawl may take to end: systemd sends SIGKILL 90 s after its SIGTERM (TimeoutStopSec)."""


@contextmanager
def crawl_in_background(
    db: str, mirror: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], threading.Event, list[str]]]:
    """``aggregator crawl caliber`` as its own process group (as a systemd unit's), with an event set once it has logged
    that it pauses the site (and the lines of its stderr so far)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}, **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--db", db, "crawl", "caliber", "--mirror", mirror, "--log-level", "INFO"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    paused, lines = threading.Event(), []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "answered 429: no request to it for 200 s" in line:
                paused.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield proc, paused, lines
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        reader.join(timeout=5)


def wait_for_the_pause(
    server: _SlowDownServer, proc: subprocess.Popen[str], paused: threading.Event, lines: list[str]
) -> None:
    """Until the crawl has paused the site, and what it sent before it read the 429 has come back (at once): then
    the pause holds the rest."""
    deadline = monotonic() + 60
    while not paused.wait(0.1):
        assert proc.poll() is None and monotonic() < deadline, "".join(lines)[-3000:]
    while server.log and monotonic() - server.log[-1][0] < 0.5 and monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "".join(lines)[-3000:]


def wait_for_the_end(proc: subprocess.Popen[str], since: str) -> float:
    """Seconds the crawl took to end (``STOP_BOUND`` at most: the test fails then)."""
    began = monotonic()
    try:
        proc.wait(timeout=STOP_BOUND)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {STOP_BOUND:.0f} s after {since}: the run waits the pause out")
    return monotonic() - began


def check_what_the_cut_run_left(db: str, log: list[tuple[float, str, int]], err: str, reason: str) -> CrawlRun:
    """The run of a crawl cut short during a pause: partial, its close having let the held requests go (logged, and
    no error), a reject only for a page the site answered (the sample's own refusals), none for one the pause held,
    and every archived article whole (with its snapshot) and counted."""
    assert "held by the pause its Retry-After asked for are not fetched" in err, err[-3000:]
    assert "] ERROR: " not in err and "Traceback" not in err, err[-3000:]
    (run,) = runs(db)
    assert run.stats is not None
    assert run.status == "partial" and run.finish_reason == reason, err[-3000:]
    assert run.stats[PAUSED_STAT] == 1
    with Session(create_engine(normalise_url(db))) as s:
        rejects = list(s.scalars(select(Reject)))
        snapshots = {url for (url,) in s.execute(select(Article.url).join(Snapshot))}
    answered = {path for _, path, status in log if status == 200}
    assert all(f"/{urlsplit(r.url).netloc}{urlsplit(r.url).path}" in answered for r in rejects), [
        (r.url, r.reason) for r in rejects
    ]
    assert archived(db) == snapshots and run.items_new == len(snapshots)
    return run


@pytest.mark.parametrize("held", [LIMITED_PAGE, ROBOTS], ids=["article", "robots.txt"])
def test_a_stop_during_a_pause_ends_the_run_at_once_and_the_next_run_fetches_what_the_pause_held(
    tmp_path: Path, held: str
) -> None:
    """``systemctl stop`` or Ctrl-C while a site's Retry-After (200 s here, under AGGREGATOR_RETRY_AFTER_MAX) holds its
    requests: the run waited the pause out (236 s in a probe; systemd kills a unit after 90). It ends at once now, as
    any stopped run: partial, and the held requests neither fetched nor claimed failed (no reject row), so that the
    next run fetches them. The pause may hold a page's retry and the pages queued behind it, or the site's
    robots.txt (which Scrapy fetches past the scheduler) and every request waiting for it."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    with slow_down_mirror({held: ["200"]}) as server:
        with crawl_in_background(db, server_url(server)) as (proc, paused, lines):
            wait_for_the_pause(server, proc, paused, lines)
            # To the crawl alone (`kill PID`, what `aggregator schedule` passes on). Not to the group: this early its
            # archive writer process (spawned as the spider opens) may not have set itself to ignore SIGTERM yet.
            proc.send_signal(signal.SIGTERM)
            stopped = monotonic()
            wait_for_the_end(proc, "SIGTERM")
            assert proc.stdout is not None
            out = proc.stdout.read()
        log = list(server.log)
    err = "".join(lines)
    if held == ROBOTS:  # no page answered before the stop (but the 429): "no page was fetched", as for any such stop
        assert proc.returncode == 1 and "caliber: no page was fetched\n" in err, err[-3000:]
    else:  # as any stopped run: exit status 0 (systemd does not mark the unit failed)
        assert proc.returncode == 0, err[-3000:]
        assert "stopped on request (SIGTERM or Ctrl-C)" in " ".join(out.split()), out
    check_what_the_cut_run_left(db, log, err, "shutdown")
    # Nothing was asked of the site after the stop, and the held page only the once it answered 429.
    assert [path for t, path, _ in log if t > stopped] == []
    assert [status for _, path, status in log if path == held] == [429]
    assert f"https://{HOST}{held.removeprefix('/' + HOST)}" not in archived(db)

    with slow_down_mirror({}) as server:
        again = crawl(db, server_url(server))
    assert again.returncode == 0, again.stderr[-3000:]
    assert archived(db) >= {e["url"] for e in caliber_articles()}


def test_a_run_at_its_time_limit_during_a_pause_ends_then(tmp_path: Path) -> None:
    """The run's time limit (``AGGREGATOR_MAX_RUN_MINUTES``, Scrapy's CLOSESPIDER_TIMEOUT) came during a pause: the run
    went on until the pause was over."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    with slow_down_mirror({LIMITED_PAGE: ["200"]}) as server:
        with crawl_in_background(db, server_url(server), env={"AGGREGATOR_MAX_RUN_MINUTES": "0.1"}) as running:
            proc, paused, lines = running
            wait_for_the_pause(server, proc, paused, lines)
            wait_for_the_end(proc, "the pause began (and the run's time limit is 6 s)")
            assert proc.stdout is not None
            out = proc.stdout.read()
        log = list(server.log)
    err = "".join(lines)
    assert proc.returncode == 0, err[-3000:]
    assert "stopped at the run time limit (0.1 min)" in " ".join(out.split()), out
    run = check_what_the_cut_run_left(db, log, err, "closespider_timeout")
    assert run.stats is not None and 5.5 < run.stats["elapsed_time_seconds"] < 5.5 + STOP_BOUND
    assert [status for _, path, status in log if path == LIMITED_PAGE] == [429]


def test_a_too_long_retry_after_during_a_pause_stops_the_run_at_once(tmp_path: Path) -> None:
    """The ``rate_limited`` stop (a Retry-After longer than AGGREGATOR_RETRY_AFTER_MAX) closes the run as a SIGTERM
    does: a pause the site asked for before (200 s, its home page's) held the close as long."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    # Both listings asked for at once, after robots.txt: the home page's 429 pauses the site, and the pages its
    # other listings link wait behind the pause when /en's answer (a second later) stops the run.
    limited = {"/caliber.az/": ["200"], "/caliber.az/en": ["400"]}
    with slow_down_mirror(limited, slow={"/caliber.az/en": 1.0}) as server:
        with crawl_in_background(db, server_url(server)) as (proc, paused, lines):
            assert paused.wait(60), "".join(lines)[-3000:]
            wait_for_the_end(proc, "the pause began")
        log = list(server.log)
    err = "".join(lines)
    assert proc.returncode == 1, err[-3000:]
    assert "caliber: the site asked for no request before" in err
    run = check_what_the_cut_run_left(db, log, err, "rate_limited")
    assert run.stats is not None
    assert datetime.fromisoformat(run.stats[UNTIL_STAT]) > datetime.now(UTC) + timedelta(seconds=300)
    stopped = max(t for t, _, status in log if status == 429)  # /en's answer
    assert [path for t, path, _ in log if t > stopped] == []


def test_a_request_the_closing_crawl_lets_go_goes_back_to_the_scheduler_once() -> None:
    """What ``process_exception`` answers for a request a pause held when the crawl began to close: a copy the
    duplicate filter lets through (it saw the request once already), back to the scheduler, which a stopped run drops
    (or keeps in its JOBDIR or shared frontier) and no errback sees. The copy coming back (``engine.download_async``,
    robots.txt's, fetches what it is given back at once) fails to its caller instead of going round for ever."""
    crawler = get_crawler()
    crawler.engine = SimpleNamespace(downloader=downloader(Slot(8, 0.0, 0.5)))  # type: ignore[assignment]
    middleware = RetryAfterMiddleware(crawler, default_wait=60.0, longest_wait=300.0)
    request = Request(f"https://{HOST}/post/1")
    cut = PauseCutShort("not fetched")
    again = middleware.process_exception(request, cut)
    assert isinstance(again, Request) and again is not request
    assert again.url == request.url and again.dont_filter and not request.dont_filter
    assert middleware.process_exception(again, cut) is None
    assert middleware.process_exception(request, TimeoutError()) is None  # any other failure: not ours
    assert middleware.process_request(request) is None  # the crawl is not closing: a request goes its way


# -- holds: which crawls they hold, what health says of them, lifting them --------------------------------


def record_run(db: str, *, hold: timedelta | None = None, mirror: str | None = None, **stats: Any) -> int:
    """A finished run of caliber, as the store records one: stopped by a site that asked for ``hold`` (from now)
    when given, against ``mirror`` when given."""
    archive = Archive.open(db)
    try:
        run = archive.start_run("caliber", "caliber")
        if hold is not None:
            stats |= {"finish_reason": FINISH_REASON, UNTIL_STAT: (datetime.now(UTC) + hold).isoformat()}
        if mirror is not None:
            stats[MIRROR_STAT] = mirror
        verdict = {"status": "green", "problems": [], "items": 12, "extracted": 12}
        reason = str(stats.get("finish_reason", "finished"))
        archive.finish_run(run, status="finished", reason=reason, stats=stats, health=verdict)
        return run
    finally:
        archive.close()


def health_of(db: str) -> dict[str, Any]:
    archive = Archive.open(db)
    try:
        with archive.engine.connect() as conn:
            (row,) = source_health(conn, ["caliber"])
            return row
    finally:
        archive.close()


MIRROR = "http://127.0.0.1:8800"


def test_a_hold_holds_only_the_crawls_of_where_it_was_asked(sqlite_url: str) -> None:
    """A test crawl against a mirror whose _mirror.toml answered 429 with an hour's Retry-After silenced the real
    crawls of the same archive for that hour (and the reverse: a mirror crawl was skipped for the real site's)."""
    record_run(sqlite_url, hold=timedelta(hours=2))  # the real site asked
    record_run(sqlite_url, hold=timedelta(hours=1), mirror=MIRROR)  # then a mirror did
    site = resting_sources(sqlite_url, ["caliber"], mirror=False)["caliber"]
    mirrored = resting_sources(sqlite_url, ["caliber"], mirror=True)["caliber"]
    assert site - mirrored > timedelta(minutes=59)  # each its own, the site's not hidden by the later mirror run
    assert resting_sources(sqlite_url, ["caliber"]) == {"caliber": mirrored}  # not said: the latest run's, as before
    # A later run of each kind that the site did not stop ends that kind's hold, and only that one.
    record_run(sqlite_url, mirror=MIRROR)
    assert resting_sources(sqlite_url, ["caliber"], mirror=True) == {}
    assert resting_sources(sqlite_url, ["caliber"], mirror=False) == {"caliber": site}
    record_run(sqlite_url)
    assert resting_sources(sqlite_url, ["caliber"], mirror=False) == {}
    # A hold that has passed holds nothing.
    record_run(sqlite_url, hold=timedelta(seconds=-1))
    assert resting_sources(sqlite_url, ["caliber"], mirror=False) == {}


def test_the_middleware_says_which_mirror_a_run_crawls() -> None:
    for mirror in (MIRROR, None):
        crawler = get_crawler(settings_dict={"AGGREGATOR_MIRROR": mirror})
        assert crawler.stats is not None
        middleware = RetryAfterMiddleware(crawler, default_wait=60.0, longest_wait=300.0)
        middleware._opened(CaliberSpider())
        assert crawler.stats.get_value(MIRROR_STAT) == mirror


@pytest.mark.parametrize(("hold", "status"), [(HOLD_RED * 3, "red"), (HOLD_RED / 6, "green")])
def test_health_shows_a_hold_of_the_real_site_red_when_it_is_long(
    sqlite_url: str, hold: timedelta, status: str
) -> None:
    """A source whose site asked for a day's rest was skipped all day, every run exiting 3 (success to a systemd
    unit), while `aggregator health` said green: nothing alerted."""
    run = record_run(sqlite_url, hold=hold)
    row = health_of(sqlite_url)
    until = resting_sources(sqlite_url, ["caliber"], mirror=False)["caliber"]
    assert row["status"] == status and row["held_until"] == utc_iso(until)
    (said,) = row["problems"]  # a short one too: a note under its green
    assert said.startswith(f"held by the site's Retry-After until {until.isoformat(timespec='seconds')} (run {run}")
    assert "`aggregator crawl caliber --lift-hold` crawls it now" in said


def test_health_says_a_hold_a_mirror_asked_for_but_stays_green_and_shows_none_lifted(sqlite_url: str) -> None:
    record_run(sqlite_url, hold=HOLD_RED * 3, mirror=MIRROR)
    row = health_of(sqlite_url)
    assert (row["status"], row["held_until"]) == ("green", None)  # the real site's runs go on
    (said,) = row["problems"]
    assert said.startswith(f"held by the mirror {MIRROR}'s Retry-After until ")
    assert "its runs against a mirror are skipped until then" in said
    assert said.endswith("`aggregator crawl caliber --offline --lift-hold` (or --mirror URL) crawls it now")
    record_run(sqlite_url, hold=HOLD_RED * 3)
    assert health_of(sqlite_url)["status"] == "red"
    lift_hold(sqlite_url, "caliber")
    lift_hold(sqlite_url, "caliber", mirror=True)
    row = health_of(sqlite_url)
    assert (row["status"], row["problems"], row["held_until"]) == ("green", [], None)


def test_the_health_command_exits_1_for_a_long_hold(sqlite_url: str) -> None:
    record_run(sqlite_url, hold=timedelta(hours=3))
    done = run_cli("--db", sqlite_url, "health", "--source", "caliber", "--json")
    assert done.returncode == 1, done.stderr
    (row,) = json.loads(done.stdout)
    assert row["status"] == "red" and row["held_until"]
    assert row["problems"][0].startswith("held by the site's Retry-After until ")


def test_lifting_a_hold_lets_the_next_run_start_and_keeps_what_the_site_asked(sqlite_url: str) -> None:
    site = record_run(sqlite_url, hold=timedelta(hours=5))
    record_run(sqlite_url, hold=timedelta(hours=1), mirror=MIRROR)
    until = resting_sources(sqlite_url, ["caliber"], mirror=False)["caliber"]
    lifted = lift_hold(sqlite_url, "caliber")
    assert lifted is not None and (lifted.run, lifted.until, lifted.mirror) == (site, until, None)
    assert resting_sources(sqlite_url, ["caliber"], mirror=False) == {}
    assert resting_sources(sqlite_url, ["caliber"], mirror=True) != {}  # the mirror's is its own
    assert lift_hold(sqlite_url, "caliber") is None  # nothing left to lift
    (run,) = [r for r in runs(sqlite_url) if r.id == site]
    assert run.stats is not None
    assert run.stats[UNTIL_STAT] == until.isoformat() and datetime.fromisoformat(run.stats[LIFTED_STAT])
    mirrored = lift_hold(sqlite_url, "caliber", mirror=True)
    assert mirrored is not None and mirrored.mirror == MIRROR
    assert resting_sources(sqlite_url, ["caliber"], mirror=True) == {}
    # A plain `scrapy crawl` starts again.
    overrides = {"AGGREGATOR_DB_URL": sqlite_url, "TWISTED_REACTOR_ENABLED": False}
    started = run_lock(get_crawler(CaliberSpider, project_settings(overrides).copy_to_dict()))
    assert isinstance(started, RunLock)
    started.engine_stopped()


def test_a_plain_scrapy_crawl_held_by_its_site_closes_with_that_reason(sqlite_url: str) -> None:
    record_run(sqlite_url, hold=timedelta(hours=3))
    overrides = {"AGGREGATOR_DB_URL": sqlite_url, "TWISTED_REACTOR_ENABLED": False}
    refused = run_lock(get_crawler(CaliberSpider, project_settings(overrides).copy_to_dict()))
    assert isinstance(refused, RefusedRun) and refused.reason == SOURCE_HELD


def test_aggregator_crawl_of_a_mirror_is_not_held_by_the_real_sites_hold(sqlite_url: str) -> None:
    record_run(sqlite_url, hold=timedelta(hours=3))
    done = run_cli("--db", sqlite_url, "crawl", "caliber", "--offline")
    assert done.returncode == 0, done.stderr[-3000:]


def test_crawl_lift_hold_crawls_a_held_source_now(sqlite_url: str) -> None:
    """An operator who knows better than a hold (a mirror's 429 in a test, a site that has recovered) lifts it from
    the command line, and the crawl goes on at once; without the option the source is skipped (status 3)."""
    record_run(sqlite_url, hold=timedelta(hours=3), mirror="http://127.0.0.1:9")
    held = run_cli("--db", sqlite_url, "crawl", "caliber", "--offline")
    assert held.returncode == 3 and "Retry-After" in held.stderr, held.stderr[-3000:]
    lifted = run_cli("--db", sqlite_url, "crawl", "caliber", "--offline", "--lift-hold")
    assert lifted.returncode == 0, lifted.stderr[-3000:]
    assert "caliber: lifted the hold the mirror http://127.0.0.1:9 asked for until " in lifted.stderr
    again = run_cli("--db", sqlite_url, "crawl", "caliber", "--offline")
    assert again.returncode == 0, again.stderr[-3000:]  # lifted for good: the next run is not held either
