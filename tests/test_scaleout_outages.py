"""Scale-out when Redis goes away: a worker rides out a short outage, ends a long one as a failed run, and never hangs.

Redis is reached through ``tests.helpers.redis_proxy.RedisProxy``, a TCP proxy a test takes down (connections cut,
new ones refused) and brings back, so the Redis server other tests share keeps running. The crawls are real: a worker
(``aggregator crawl caliber``) over a generated caliber mirror (``bench/sitegen.py``) into an SQLite archive.
Skipped with a reason when Redis is absent; failing when ``AGGREGATOR_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, select

from aggregator.mirror import serve_mirror
from aggregator.store.db import normalise_url
from aggregator.store.models import Article
from tests.conftest import REDIS_NAMESPACE, ROOT, HeartbeatLoop, emptied_redis, redis_env
from tests.crawl_checks import runs
from tests.helpers.redis_proxy import RedisProxy

sys.path.insert(0, str(ROOT / "bench"))
import sitegen

REDIS_DB = 14
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
ARTICLES = 140
FIRST_LINKS = 12
"""The ZADD at which a proxy armed with ``down_at`` goes down: caliber's 7 entry URLs are queued first, so this is
the 5th link of the first listing: the outage comes while a listing's links are being queued."""


@pytest.fixture
def redis_url() -> Iterator[str]:
    yield from emptied_redis(REDIS_URL)


@pytest.fixture
def proxy(redis_url: str) -> Iterator[RedisProxy]:
    address = urlsplit(redis_url)
    with RedisProxy(address.port or 6379, address.hostname or "127.0.0.1") as proxy:
        yield proxy


@pytest.fixture(scope="module")
def generated_mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("generated")
    sitegen.generate(root, ARTICLES)
    with serve_mirror(root) as base:
        yield base


def start_worker(db: str, mirror: str, proxy: RedisProxy, log: Path, **env: str) -> subprocess.Popen[bytes]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    environ |= {**redis_env(proxy.url(REDIS_DB)), "AGGREGATOR_REDIS_IDLE_SECONDS": "2", **env}
    command = [sys.executable, "-m", "aggregator", "--db", db, "crawl", "caliber", "--mirror", mirror,
               "--log-level", "INFO"]  # fmt: skip
    with log.open("wb") as out:  # a session of its own: a hung worker is killed whole at the end of the test
        return subprocess.Popen(command, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip


def ended(proc: subprocess.Popen[bytes], log: Path, within: float) -> int:
    """The worker's exit status, once it has ended within ``within`` seconds; a worker still running then hangs."""
    try:
        return proc.wait(timeout=within)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(f"the worker still ran {within:g} s on (hung); its log ends:\n{tail(log)}")


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


def stored_urls(db: str) -> list[str]:
    engine = create_engine(normalise_url(db))
    try:
        with engine.connect() as conn:
            return list(conn.scalars(select(Article.url)))
    finally:
        engine.dispose()


def test_a_short_outage_while_a_listings_links_are_queued_is_ridden_out(
    generated_mirror: str, proxy: RedisProxy, tmp_path: Path
) -> None:
    # Redis gone for 4 s while the scraper queued a listing's links: the failed ZADD escaped into Scrapy's scraper,
    # which never became idle again; "Closing spider (finished)", then nothing for 10+ minutes, the run "running".
    db, log = f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "worker.log"
    proxy.down_at(b"ZADD", FIRST_LINKS, for_seconds=3)
    status = ended(start_worker(db, generated_mirror, proxy, log), log, within=30)
    said = log.read_text(errors="replace")
    assert proxy.went_down.is_set()
    assert status == 0, tail(log)
    assert "Redis (the shared frontier) does not answer" in said and "Redis answers again after" in said, said
    assert "Traceback" not in said, said
    # Nothing lost: the link whose SADD went through and whose ZADD did not was pushed unfiltered when Redis came
    # back (the filter would have called it seen), the others through the filter.
    urls = stored_urls(db)
    assert len(urls) == len(set(urls)) == ARTICLES, tail(log)
    [run] = runs(db)
    assert (run.status, run.finish_reason) == ("finished", "finished")
    assert (run.stats or {}).get("aggregator/redis_outages") == 1


def test_an_outage_longer_than_its_bound_ends_the_run_as_failed(
    generated_mirror: str, proxy: RedisProxy, tmp_path: Path
) -> None:
    # Redis gone for good mid-run: the worker hung (above), or, gone while it asked for its next request, logged
    # tracebacks every 5 s until its time limit and then exited 0 "partial closespider_timeout", health green.
    db, log = f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "worker.log"
    proxy.down_at(b"ZADD", FIRST_LINKS)
    began = time.monotonic()
    status = ended(start_worker(db, generated_mirror, proxy, log, AGGREGATOR_REDIS_OUTAGE_SECONDS="3"), log, 30)
    said = log.read_text(errors="replace")
    assert status == 1, tail(log)  # a failed run for `aggregator crawl`'s exit status
    assert "caliber: crawl ended with 'frontier_lost'" in said, said
    assert "Redis has not answered for" in said and "could not sign off from Redis" in said, said
    assert time.monotonic() - began < 25
    [run] = runs(db)
    assert (run.status, run.finish_reason) == ("failed", "frontier_lost")
    # Judged by its pages alone the run was green (so `health` and `aggregator_source_healthy`) while its requests
    # waited in an unreachable Redis.
    assert run.health is not None and run.health["status"] == "red", run.health
    assert "the shared frontier (Redis) was lost" in " ".join(run.health["problems"])


def test_a_worker_stopped_during_an_outage_stops(generated_mirror: str, proxy: RedisProxy, tmp_path: Path) -> None:
    # SIGTERM did not end the hung worker either: Scrapy's graceful stop waited for a scraper that never idled.
    db, log = f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "worker.log"
    proxy.down_at(b"ZADD", FIRST_LINKS)
    proc = start_worker(db, generated_mirror, proxy, log, AGGREGATOR_REDIS_OUTAGE_SECONDS="120")
    assert proxy.went_down.wait(timeout=20), tail(log)
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    assert ended(proc, log, within=15) == 0, tail(log)  # stopped on request: partial, as without Redis
    [run] = runs(db)
    assert (run.status, run.finish_reason) == ("partial", "shutdown")


# -- the scheduler on its own: no crawl, no reactor ---------------------------------------------------------------


def scheduler(redis_url: str, monkeypatch: pytest.MonkeyPatch, host: str, **settings: Any) -> Any:
    from scrapy import Spider

    from aggregator.addon import DerivedSettings
    from aggregator.crawl import project_settings
    from aggregator.scaleout import SharedScheduler

    monkeypatch.setattr("aggregator.scaleout.LoopingCall", HeartbeatLoop)
    monkeypatch.setattr("aggregator.scaleout.socket.gethostname", lambda: host)  # a worker per host
    scrapy_settings = project_settings({**redis_env(redis_url), **settings})
    DerivedSettings().update_settings(scrapy_settings)
    spider = Spider("outages")
    spider.settings = scrapy_settings
    made = SharedScheduler.from_crawler(SimpleNamespace(settings=scrapy_settings, stats=None))
    made.open(spider)
    return made


def request(n: int) -> Any:
    from scrapy import Request

    return Request(f"https://caliber.az/post/{n}")


def drain(made: Any) -> list[str]:
    urls = []
    while (got := made.next_request()) is not None:
        urls.append(got.url)
    return urls


def after_retry() -> None:
    from aggregator.scaleout import RETRY_SECONDS

    time.sleep(RETRY_SECONDS + 0.1)


def test_no_redis_error_reaches_scrapy_and_held_requests_go_out_when_redis_answers(
    proxy: RedisProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = scheduler(proxy.url(REDIS_DB), monkeypatch, "a")
    try:
        assert made.enqueue_request(request(1))
        proxy.down_at(b"ZADD", 1, for_seconds=None)  # request 2's SADD answers, its ZADD never reaches Redis
        assert made.enqueue_request(request(2))
        assert made.enqueue_request(request(3)) and made.enqueue_request(request(1))  # held: filtered later
        assert made.next_request() is None  # an outage, not an empty queue
        assert made.has_pending_requests() and len(made) == 3
        proxy.up()
        after_retry()
        # Request 2 was let through by the filter before its push failed: pushed unfiltered, not lost.
        assert sorted(drain(made)) == [f"https://caliber.az/post/{n}" for n in (1, 2, 3)]
        assert made.enqueue_request(request(3)) is False  # the filter still works
        proxy.down()
        started = time.monotonic()
        made.close("shutdown")  # one try, said, not raised
        assert time.monotonic() - started < 5
    finally:
        proxy.close()


def test_a_link_whose_filter_answer_was_lost_is_still_queued(
    proxy: RedisProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The duplicate filter's SADD carried out by Redis, its answer lost (a connection cut, a Redis frozen for a few
    # seconds): sent again, it answered "seen" to its own first try, and the link was dropped (redis-py's retry did
    # that inside one call; a frozen Redis lost one link of 310).
    made = scheduler(proxy.url(REDIS_DB), monkeypatch, "a")
    proxy.down_at(b"SADD", 1, forward=True)
    assert made.enqueue_request(request(7))  # held: Redis has recorded it in the filter, the worker does not know
    proxy.up()
    after_retry()
    assert drain(made) == ["https://caliber.az/post/7"]
    assert made.enqueue_request(request(7)) is False
    made.close("finished")


def test_the_heartbeat_outlives_a_redis_outage(
    proxy: RedisProxy, redis_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # One Redis error stopped the heartbeat loop for good; the worker's key expired, and the next worker to start
    # took it for dead and began a new generation under its feet, clearing the duplicate filter.
    import redis

    first = scheduler(proxy.url(REDIS_DB), monkeypatch, "a", AGGREGATOR_REDIS_HEARTBEAT_TTL=4)
    key = f"{REDIS_NAMESPACE}:outages:worker:{first.worker}"
    direct = redis.Redis.from_url(redis_url)
    assert first.enqueue_request(request(1))
    with caplog.at_level(logging.WARNING, logger="aggregator.scaleout"):
        proxy.down()
        for _ in range(3):
            first._heartbeat.f()  # what the LoopingCall runs, every 2 s: it must never raise
            after_retry()
        proxy.up()
        after_retry()
        first._heartbeat.f()
    assert 3000 < direct.pttl(key) <= 4000  # beating again
    outage = [r.getMessage() for r in caplog.records if "does not answer" in r.getMessage()]
    assert len(outage) == 1, caplog.text  # said once an outage, not once a beat
    second = scheduler(redis_url, monkeypatch, "b")
    try:
        assert second.crawl_id == first.crawl_id  # joined the crawl: no new generation
        assert second.enqueue_request(request(1)) is False  # the duplicate filter was kept
    finally:
        second.close("finished")
        first.close("finished")
        direct.close()


def test_a_new_generation_starts_from_an_empty_queue_and_a_restarted_worker_drains_the_old(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Requests a stopped or killed crawl left in Redis were fetched by the next crawl: its filter was cleared, the
    # queue kept (351 pages fetched twice in one crawl; a --refresh run's leftovers re-fetched by the next run).
    ttl = {"AGGREGATOR_REDIS_HEARTBEAT_TTL": 1.5}
    killed = scheduler(redis_url, monkeypatch, "a", **ttl)
    assert all(killed.enqueue_request(request(n)) for n in range(5))
    # SIGKILLed: no close; its heartbeat lives on a while. A worker (re)started meanwhile is of its generation and
    # drains what it left (the README's promise: a killed worker loses no article).
    restarted = scheduler(redis_url, monkeypatch, "b", **ttl)
    assert restarted.crawl_id == killed.crawl_id
    assert restarted.next_request() is not None  # and killed again, four requests left
    time.sleep(1.6)  # both heartbeats expired: the crawl is over
    fresh = scheduler(redis_url, monkeypatch, "c", **ttl)
    try:
        assert fresh.crawl_id != killed.crawl_id
        assert fresh.next_request() is None  # nothing of the old crawl's
        assert fresh.enqueue_request(request(1))  # its filter cleared too: found again on the listings, fetched
    finally:
        fresh.close("finished")
    keys = list(fresh.server.scan_iter(match=f"{REDIS_NAMESPACE}:outages:*"))
    assert not [k for k in keys if k.endswith((b":requests", b":dupefilter"))], keys  # the last out clears them
    # The request the restarted worker took, leased to it, went with the old crawl's queue
    assert not [k for k in keys if b":lease" in k], keys
