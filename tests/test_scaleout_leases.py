"""Scale-out: what a killed worker had taken from the shared queue is queued again, and the crawl says it was killed.

scrapy-redis pops a request out of Redis. A worker killed with a source's requests in hand (a slow site: it had taken
them all, up to ``CONCURRENT_REQUESTS``) took them with it: the other workers and the restarted one found the queue
empty and every link in the duplicate filter, fetched nothing of the source, and `aggregator health` said it was
green with 0 articles. A worker now leases what it pops (``aggregator.scaleout``), lets a lease go once what its
request led to is written, and the workers alive queue again the leases of one whose heartbeat expired.

Redis at ``redis://127.0.0.1:6379/10`` (skipped with a reason when absent; failing when
``AGGREGATOR_REQUIRE_SERVICES=1``); the crawl of the review's scenario stores into PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Event
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from aggregator.mirror import _MirrorHandler
from aggregator.run_counts import REQUEUED_FOR, UNKNOWN_COUNTS
from aggregator.store.db import normalise_url
from aggregator.store.models import Article, CrawlRun
from tests.conftest import REDIS_NAMESPACE, ROOT, HeartbeatLoop, emptied_redis, redis_env, run_cli
from tests.helpers.slow_site import served_by

REDIS_URL = "redis://127.0.0.1:6379/10"
SOURCES = ("apa", "report")


@pytest.fixture
def redis_url() -> Iterator[str]:
    yield from emptied_redis(REDIS_URL)


# -- the scheduler on its own: a stand-in engine and store, no reactor ----------------------------------------


class _Store:
    """Answers the store's progress signal as told: (the batch holding what it was given, the batches written)."""

    def __init__(self) -> None:
        self.holding, self.written = 1, 0
        self.flushed = 0

    def progress(self, flush: bool = False) -> tuple[int, int]:
        self.flushed += flush
        return self.holding, self.written


def worker(redis_url: str, monkeypatch: pytest.MonkeyPatch, host: str, store: _Store | None = None, **settings: Any):
    """A worker's scheduler, open, on host ``host``, with an engine whose ``in_progress`` the test fills."""
    from scrapy import Spider
    from scrapy.signalmanager import SignalManager
    from scrapy.statscollectors import MemoryStatsCollector
    from scrapy.utils.test import get_crawler

    from aggregator.addon import DerivedSettings
    from aggregator.crawl import project_settings
    from aggregator.scaleout import SharedScheduler
    from pipelines.store import STORE_PROGRESS

    monkeypatch.setattr("aggregator.scaleout.LoopingCall", HeartbeatLoop)
    monkeypatch.setattr("aggregator.scaleout.socket.gethostname", lambda: host)  # a worker per host
    scrapy_settings = project_settings({**redis_env(redis_url), **settings})
    DerivedSettings().update_settings(scrapy_settings)
    spider = Spider("leases")
    spider.settings = scrapy_settings
    in_progress: set[Any] = set()
    signaller = SignalManager()
    if store is not None:
        signaller.connect(store.progress, signal=STORE_PROGRESS)
    crawler = SimpleNamespace(
        settings=scrapy_settings,
        stats=MemoryStatsCollector(get_crawler()),
        signals=signaller,
        engine=SimpleNamespace(_slot=SimpleNamespace(inprogress=in_progress)),
    )
    made = SharedScheduler.from_crawler(crawler)
    made.open(spider)
    return made, in_progress


def request(n: int) -> Any:
    from scrapy import Request

    return Request(f"https://apa.az/xeber/{n}")


def drain(made: Any) -> list[str]:
    urls = []
    while (got := made.next_request()) is not None:
        urls.append(got.url)
    return urls


def leased(made: Any) -> int:
    return int(made.server.hlen(f"{REDIS_NAMESPACE}:leases:leases:{made.worker}"))


def test_what_a_killed_worker_had_taken_is_queued_again_once_its_heartbeat_expires(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ttl = {"AGGREGATOR_REDIS_HEARTBEAT_TTL": 1.5}
    killed, in_hand = worker(redis_url, monkeypatch, "a", **ttl)
    assert all(killed.enqueue_request(request(n)) for n in range(5))
    taken = [killed.next_request() for _ in range(3)]
    in_hand.update(taken)
    killed._heartbeat.f()  # its heartbeat says it is busy: three requests in progress
    # SIGKILLed: no close. Another worker (still running, or restarted) finds the rest of the queue.
    other, _ = worker(redis_url, monkeypatch, "b", AGGREGATOR_REDIS_IDLE_SECONDS=0.1, **ttl)
    assert other.crawl_id == killed.crawl_id
    assert drain(other) == [request(n).url for n in (3, 4)]
    time.sleep(0.3)
    # Past its idle wait, it does not leave: the killed worker, taken for busy, may queue more or be dead.
    assert other.has_pending_requests()
    time.sleep(1.5)  # the killed worker's heartbeat has expired
    other._heartbeat.f()
    assert sorted(drain(other)) == sorted(r.url for r in taken)  # were gone with it
    assert other.stats.get_value(REQUEUED_FOR + killed.worker) == 3
    other._heartbeat.f()
    time.sleep(0.2)
    assert not other.has_pending_requests()  # nobody busy, nothing queued: its idle wait is over
    other.close("finished")
    keys = list(other.server.scan_iter(match=f"{REDIS_NAMESPACE}:leases:lease*"))
    assert not keys, keys  # the last worker out leaves no lease behind


def test_the_idle_clock_starts_when_the_frontier_is_quiet_and_the_engine_is_woken_when_it_runs_out(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine asks whether the frontier is drained only every 5 s once it has nothing to do: the heartbeat starts
    the idle clock when nothing is queued and nobody is busy, and wakes the engine when the wait is over."""
    idle = {"AGGREGATOR_REDIS_IDLE_SECONDS": 0.2}
    made, in_hand = worker(redis_url, monkeypatch, "a", **idle)
    peer, peer_hand = worker(redis_url, monkeypatch, "b", **idle)
    woken: list[float] = []
    made.crawler.engine._slot.nextcall = SimpleNamespace(schedule=lambda: woken.append(time.monotonic()))
    assert made.enqueue_request(request(1)) and made.enqueue_request(request(2))
    in_hand.add(made.next_request())
    peer_hand.add(peer.next_request())
    peer._heartbeat.f()  # the peer says it is busy
    made._heartbeat.f()  # and so is this one
    assert made._empty_since is None
    in_hand.clear()
    made._heartbeat.f()  # this one is done, the peer is not: no clock
    assert made._empty_since is None
    peer_hand.clear()
    peer._heartbeat.f()
    made._heartbeat.f()  # quiet: the clock starts now, not at the engine's next question
    assert made._empty_since is not None and not woken
    time.sleep(0.3)
    made._heartbeat.f()
    assert woken, "the engine was left to find the idle wait over at its own heartbeat"
    assert not made.has_pending_requests()  # what the woken engine asks: it may close
    made.enqueue_request(request(3))
    assert made.has_pending_requests() and made._empty_since is None  # a link queued meanwhile stops the clock


def test_a_lease_goes_once_what_its_request_led_to_is_written(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _Store()
    made, in_hand = worker(redis_url, monkeypatch, "a", store)
    assert all(made.enqueue_request(request(n)) for n in range(3))
    first, second, third = (made.next_request() for _ in range(3))
    in_hand.update((first, second, third))
    made._heartbeat.f()
    assert leased(made) == 3
    in_hand.discard(first)  # seen through: what it led to is in the store's batch 1, not written yet
    made._heartbeat.f()
    assert leased(made) == 3
    store.holding, store.written = 2, 1  # batch 1 written
    made._heartbeat.f()
    assert leased(made) == 2
    in_hand.discard(second)  # seen through, into batch 2
    made._heartbeat.f()
    assert leased(made) == 2 and not store.flushed  # its queue is not known to be empty yet
    assert made.next_request() is None
    in_hand.discard(third)
    made._heartbeat.f()
    # Nothing in progress, nothing queued: the store is asked to write what it holds, not keep it until the close
    # (a worker killed meanwhile, not busy, is not waited for).
    assert store.flushed == 1 and leased(made) == 2
    store.written = 2
    made._heartbeat.f()
    assert leased(made) == 0
    made.close("finished")


def test_a_worker_alive_takes_up_only_what_was_not_written(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ttl = {"AGGREGATOR_REDIS_HEARTBEAT_TTL": 1.5}
    store = _Store()
    killed, in_hand = worker(redis_url, monkeypatch, "a", store, **ttl)
    other, _ = worker(redis_url, monkeypatch, "b", **ttl)
    assert all(killed.enqueue_request(request(n)) for n in range(3))
    _, second, third = (killed.next_request() for _ in range(3))
    in_hand.update((second, third))  # the first is seen through, and what it led to written
    store.holding, store.written = 1, 1
    killed._heartbeat.f()
    assert leased(killed) == 2
    time.sleep(1.6)  # SIGKILLed: its heartbeat expires (the other's too, which beats now)
    other._heartbeat.f()
    try:
        assert sorted(drain(other)) == sorted(r.url for r in (second, third))
        assert other.stats.get_value(REQUEUED_FOR + killed.worker) == 2
    finally:
        other.close("finished")


def test_the_store_says_which_batch_holds_what_it_was_given_and_how_many_are_written() -> None:
    from pipelines.store import StorePipeline

    pipeline = StorePipeline(SimpleNamespace(stats=None), "sqlite://", batch_size=100, writer="thread")
    gate = Event()
    with ThreadPoolExecutor(max_workers=1) as writer:
        pipeline._writer = writer
        pipeline._to_writer = lambda fn, *args: writer.submit(gate.wait, 10)  # type: ignore[method-assign]
        assert pipeline.progress() == (0, 0)
        pipeline._seen.append("https://apa.az/xeber/1")
        assert pipeline.progress() == (1, 0)  # buffered: the next batch will hold it
        assert pipeline.progress(flush=True) == (1, 0)  # handed to the writer, not written
        pipeline._seen.append("https://apa.az/xeber/2")
        assert pipeline.progress() == (2, 0)
        gate.set()
        pipeline._unwritten[0].result(timeout=10)
        assert pipeline.progress() == (2, 1)


# -- the review's scenario: workers of a real crawl, one killed with the sources' requests in hand --------------


class _SlowSite(_MirrorHandler):
    """The sample, every page answered after a pause: a worker takes every queued request of a source at once
    (``CONCURRENT_REQUESTS``) and holds them for seconds."""

    def _answer(self, *, send_body: bool) -> None:
        if not self.path.endswith("/robots.txt"):
            time.sleep(3.0)
        with contextlib.suppress(ConnectionError):  # the killed worker's connections: nobody to answer
            super()._answer(send_body=send_body)


def start(db: str, site: str, redis_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    env |= {**redis_env(redis_url), "AGGREGATOR_REDIS_IDLE_SECONDS": "3", "AGGREGATOR_REDIS_HEARTBEAT_TTL": "4",
            "COLUMNS": "200"}  # fmt: skip
    command = [sys.executable, "-m", "aggregator", "--db", db, "crawl", *SOURCES, "--mirror", site,
               "--log-level", "INFO"]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def runs_of(db: str) -> list[CrawlRun]:
    engine = create_engine(normalise_url(db))
    try:
        with Session(engine) as s:
            return list(s.scalars(select(CrawlRun).order_by(CrawlRun.id)))
    except Exception:  # the schema is not there yet
        return []
    finally:
        engine.dispose()


def articles_of(db: str) -> set[tuple[str, str]]:
    engine = create_engine(normalise_url(db))
    try:
        with engine.connect() as conn:
            return {(source, url) for source, url in conn.execute(select(Article.source, Article.url))}
    finally:
        engine.dispose()


def entry_urls(key: str) -> int:
    from aggregator.sources import get_source

    return len(get_source(key).entry_urls)


def wait_for(what: str, ready: Any, proc: subprocess.Popen[bytes], log: Path, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while not ready():
        assert proc.poll() is None, f"worker ended before {what}:\n{log.read_text(errors='replace')[-3000:]}"
        assert time.monotonic() < deadline, f"no {what} within {within:g} s"
        time.sleep(0.1)


def test_a_worker_killed_with_the_sources_requests_in_hand_loses_none_and_the_crawl_says_so(
    redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    import redis

    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    done = run_cli("--db", reference, "crawl", *SOURCES, "--offline")
    assert done.returncode == 0, done.stderr[-3000:]
    expected = articles_of(reference)
    assert {source for source, _ in expected} == set(SOURCES)

    client = redis.Redis.from_url(redis_url)
    logs = {name: tmp_path / f"{name}.log" for name in ("killed", "other", "restarted")}
    with served_by(_SlowSite) as site:
        killed = start(postgres_url, site, redis_url, logs["killed"])
        name = f"{socket.gethostname()}:{killed.pid}"

        def taken_all() -> bool:  # each source's listings read, their links queued and all taken: in its hands
            return all(
                client.scard(f"{REDIS_NAMESPACE}:{key}:dupefilter") > entry_urls(key) + 2
                and not client.zcard(f"{REDIS_NAMESPACE}:{key}:requests")
                for key in SOURCES
            )

        wait_for("the sources' requests taken", taken_all, killed, logs["killed"])
        other = start(postgres_url, site, redis_url, logs["other"])
        wait_for("the other worker's runs", lambda: len(runs_of(postgres_url)) == 2 * len(SOURCES), killed,
                 logs["killed"])  # fmt: skip
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        restarted = start(postgres_url, site, redis_url, logs["restarted"])
        statuses = [proc.wait(timeout=300) for proc in (other, restarted)]
    said = {key: path.read_text(errors="replace") for key, path in logs.items()}

    assert articles_of(postgres_url) == expected  # none lost

    # The worker that queued the killed one's requests again says so, and exits 1: a cron job's mail, a unit's
    # failure; the other exits 0.
    requeuers = [key for key in ("other", "restarted") if "a worker of this crawl stopped mid-crawl" in said[key]]
    assert requeuers, said["other"][-3000:] + said["restarted"][-3000:]
    for key, status in zip(("other", "restarted"), statuses, strict=True):
        assert status == (1 if key in requeuers else 0), said[key][-3000:]
    # Which sources' requests were still in its hands when it was killed depends on the machine's pace (one it had
    # seen through and stored has no lease left): at least one, each said by the worker that queued them again.
    requeued = re.findall(
        rf"(\w+): worker {re.escape(name)} is gone \(its heartbeat expired\) with \d+ request",
        "".join(said[key] for key in requeuers),
    )
    assert requeued and set(requeued) <= set(SOURCES), said["other"][-3000:] + said["restarted"][-3000:]
    source = requeued[0]

    runs = runs_of(postgres_url)
    # (a source it had seen through before the kill, on a loaded machine, finished as any run does)
    dead = [run for run in runs if run.pid == killed.pid and run.status != "finished"]
    assert dead and {(r.status, r.finish_reason) for r in dead} == {("failed", "abandoned: its process is gone")}
    for run in dead:  # what the archive cannot tell of a killed worker is said, not shown as 0
        assert run.stats is not None and "items_new" in run.stats[UNKNOWN_COUNTS], run.stats
        assert run.finished_at is None or run.rejected + run.http_errors  # its end: its last write tied to it

    health = run_cli("--db", postgres_url, "health", "--source", source, "--json")
    [verdict] = json.loads(health.stdout)
    [its_run] = [run.id for run in dead if run.source == source]
    assert health.returncode == 1 and verdict["status"] == "red", verdict
    assert verdict["workers"] == 3 and verdict["items"] >= len([u for s, u in expected if s == source]), verdict
    killed_said = [p for p in verdict["problems"] if p.startswith(f"worker run {its_run} was killed")]
    assert len(killed_said) == 1, verdict["problems"]
    assert re.fullmatch(
        rf"worker run {its_run} was killed \(abandoned: its process is gone\): run \d+ queued again the \d+ "
        r"request\(s\) it had in hand",
        killed_said[0],
    ), killed_said
