"""Scale-out: three worker processes share one frontier in Redis (scrapy-redis) and store into PostgreSQL.

The mirror is generated: ``bench/sitegen.py``'s caliber-shaped site, once for caliber and once more for each
test-only source of ``tests/helpers/scaleout_sources.py`` (the same tree on its own host), >= 1,000 articles in all.
Workers run ``aggregator crawl`` (through ``tests.helpers.scaleout_worker``, which adds the test-only sources)
with ``AGGREGATOR_REDIS_URL`` set. Skipped with a reason when Redis or PostgreSQL is absent; failing when
``AGGREGATOR_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from aggregator.mirror import serve_mirror
from aggregator.store.db import normalise_url
from aggregator.store.models import Article, CrawlRun, Snapshot
from tests.conftest import (
    REDIS_NAMESPACE,
    ROOT,
    HeartbeatLoop,
    emptied_redis,
    free_port,
    redis_env,
    run_cli,
    unavailable,
)
from tests.helpers.scaleout_sources import EXTRA_KEYS

sys.path.insert(0, str(ROOT / "bench"))
import sitegen

FRONTIER = "frontier_unreachable"
FRONTIER_LINE = f"the shared frontier cannot be used ({FRONTIER}): "
PER_SOURCE = 340
SOURCES = ("caliber", *EXTRA_KEYS)
REDIS_URL = os.environ.get("AGGREGATOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
HEARTBEAT_TTL = 6  # seconds; the default 15 would make the wait for a killed worker's heartbeat to expire longer


@pytest.fixture
def redis_url() -> Iterator[str]:
    yield from emptied_redis(REDIS_URL)


@pytest.fixture(scope="module")
def generated_mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("generated")
    sitegen.generate(root, PER_SOURCE)
    template = root / sitegen.HOST
    for key in EXTRA_KEYS:
        host = f"{key}.test"
        for path in template.rglob("*"):
            if path.is_file():
                target = root / host / path.relative_to(template)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(path.read_text(encoding="utf-8").replace(sitegen.HOST, host), encoding="utf-8")
    with serve_mirror(root) as base:
        yield base


def worker(db: str, mirror: str, log: Path, redis_url: str | None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    if redis_url:
        env |= {
            **redis_env(redis_url),
            "AGGREGATOR_REDIS_IDLE_SECONDS": "3",
            "AGGREGATOR_REDIS_HEARTBEAT_TTL": str(HEARTBEAT_TTL),
        }
    command = [sys.executable, "-m", "tests.helpers.scaleout_worker", "--db", db, "crawl", *SOURCES,
               "--mirror", mirror, "--log-level", "WARNING"]  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def finish(procs: list[subprocess.Popen[bytes]], logs: list[Path], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    for proc, log in zip(procs, logs, strict=True):
        proc.wait(timeout=max(1, deadline - time.monotonic()))
        assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]


def stored(db: str) -> tuple[list[str], int]:
    engine = create_engine(normalise_url(db))
    try:
        with engine.connect() as conn:
            urls = list(conn.scalars(select(Article.url)))
            snapshots = conn.scalar(select(func.count()).select_from(Snapshot)) or 0
        return urls, snapshots
    finally:
        engine.dispose()


def article_count(db: str) -> int:
    engine = create_engine(normalise_url(db))
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(Article)) or 0
    except Exception:  # the schema is not there yet
        return 0
    finally:
        engine.dispose()


def run_rows(db: str) -> list[CrawlRun]:
    from sqlalchemy.orm import Session

    with Session(create_engine(normalise_url(db))) as s:
        return list(s.scalars(select(CrawlRun).order_by(CrawlRun.id)))


@pytest.fixture
def single_process_set(generated_mirror: str, postgres_url: str, tmp_path: Path) -> set[str]:
    log = tmp_path / "single.log"
    proc = worker(postgres_url, generated_mirror, log, None)
    finish([proc], [log])
    urls, _ = stored(postgres_url)
    assert len(urls) == len(set(urls)) >= 1000
    return set(urls)


def fresh_database(postgres_url: str, name: str) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    params = {"host": url.host, "port": url.port or 5432, "user": url.username, "dbname": url.database}
    target = f"{url.database}_{name}"
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{target}"')
    return url.set(database=target).render_as_string(hide_password=False)


def drop_database(db: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(db)
    with psycopg.connect(
        host=url.host, port=url.port or 5432, user=url.username, dbname="postgres", autocommit=True
    ) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


def crawl_with_unusable_redis(tmp_path: Path, address: str) -> tuple[subprocess.CompletedProcess[str], list[CrawlRun]]:
    """``aggregator crawl caliber report --offline`` with its frontier in the Redis at ``address``, and the run rows
    it left."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    done = run_cli("--db", db, "crawl", "caliber", "report", "--offline", env=redis_env(address))
    return done, run_rows(db)


def said_of(done: subprocess.CompletedProcess[str], key: str) -> str:
    """The one line of ``aggregator crawl``'s stderr about ``key``, without the key."""
    [line] = [line for line in done.stderr.splitlines() if line.startswith(f"{key}: ")]
    return line.removeprefix(f"{key}: ")


def test_a_redis_nothing_answers_at_fails_each_run_recorded_with_one_line(tmp_path: Path) -> None:
    # `aggregator crawl` refused to start (exit 2) and recorded nothing: `aggregator health` and /metrics went on
    # calling the sources green, for a day, while every scheduled run failed. Before that check, the crawl ended in
    # Twisted tracebacks ("RuntimeError: Engine slot not assigned") and "caliber: crawl ended with None".
    address = f"redis://:secret@127.0.0.1:{free_port()}/8"
    done, rows = crawl_with_unusable_redis(tmp_path, address)
    assert done.returncode == 1, done.stderr[-3000:]
    shown = address.replace("secret", "***")  # a password stays out of cron mail
    for key in ("caliber", "report"):
        line = said_of(done, key)
        assert line.startswith(
            "the shared frontier cannot be used (frontier_unreachable): "
            f"nothing answers at AGGREGATOR_REDIS_URL={shown}: "
        ), line
        assert line.endswith("Connection refused"), line
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "secret" not in done.stderr + done.stdout
    assert sorted((r.source, r.status, r.finish_reason, r.pages) for r in rows) == [
        ("caliber", "failed", "frontier_unreachable", 0),
        ("report", "failed", "frontier_unreachable", 0),
    ]
    for row in rows:  # `aggregator health` and /metrics say what the exit status said, in the same words
        assert row.health is not None
        assert (row.health["status"], row.health["problems"]) == ("red", [said_of(done, row.source)])


def test_a_redis_that_refuses_the_credentials_fails_each_run_with_its_words(redis_url: str, tmp_path: Path) -> None:
    # Found only as the engine opened the spider: tracebacks, no run row, and "nothing answers" where Redis had
    # answered, refusing the user and password.
    address = redis_url.replace("redis://", "redis://nobody:secret@", 1)
    done, rows = crawl_with_unusable_redis(tmp_path, address)
    assert done.returncode == 1, done.stderr[-3000:]
    shown = address.replace("secret", "***")
    assert said_of(done, "caliber") == (
        f"the shared frontier cannot be used (frontier_unreachable): Redis at AGGREGATOR_REDIS_URL={shown} refuses: "
        "invalid username-password pair or user is disabled"
    )
    assert "Traceback" not in done.stderr and "secret" not in done.stderr + done.stdout
    assert sorted((r.source, r.status, r.finish_reason) for r in rows) == [
        ("caliber", "failed", "frontier_unreachable"),
        ("report", "failed", "frontier_unreachable"),
    ]


def plain_scrapy_crawl(*settings: str) -> subprocess.CompletedProcess[str]:
    """A plain ``scrapy crawl caliber`` (what Scrapyd runs) with these ``-s`` settings, of nothing reachable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    command = [sys.executable, "-m", "scrapy", "crawl", "caliber", "-s", "AGGREGATOR_MIRROR=http://127.0.0.1:9"]
    for setting in settings:
        command += ["-s", setting]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def said_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The WARNING and ERROR lines of a crawl's log, without their time and logger."""
    return [line.split("] ", 1)[1] for line in done.stderr.splitlines() if "] WARNING: " in line or "] ERROR: " in line]


def refused_frontier_line(problem: str, run_id: int) -> str:
    return (
        f"ERROR: caliber: {FRONTIER_LINE}{problem}; this run does not start (run {run_id} recorded as failed): "
        "AGGREGATOR_REDIS_URL must name a Redis primary that answers and takes this worker's writes"
    )


def test_a_plain_scrapy_crawl_whose_redis_does_not_answer_says_so_in_one_line_and_is_recorded(
    tmp_path: Path,
) -> None:
    # Scrapyd's job log ended in "RuntimeError: Engine slot not assigned", Scrapy's clean-up failing after
    # scrapy-redis's ConnectionError, which was buried under it. Then it said why, but left no run row: `aggregator
    # health`, `runs` and /metrics showed the last good run, green, while every Scrapyd job failed. Then the reason
    # came last, under asyncio's "Task exception was never retrieved" and a traceback, exit status 1.
    address = f"redis://:secret@127.0.0.1:{free_port()}/8"
    db = f"sqlite:///{tmp_path / 'a.db'}"
    done = plain_scrapy_crawl(f"AGGREGATOR_REDIS_URL={address}", f"AGGREGATOR_DB_URL={db}")
    assert done.returncode == 0, done.stderr[-3000:]  # a closed spider, as a job of a busy source
    assert "Traceback" not in done.stderr and "Task exception" not in done.stderr, done.stderr[-3000:]
    assert "Engine slot not assigned" not in done.stderr and "secret" not in done.stderr
    [row] = run_rows(db)
    assert (row.source, row.spider, row.status, row.finish_reason) == ("caliber", "caliber", "failed", FRONTIER)
    assert row.finished_at is not None and row.pages == 0
    assert row.health is not None and row.health["status"] == "red"
    [problem] = row.health["problems"]
    shown = address.replace("secret", "***")
    assert problem.startswith(f"{FRONTIER_LINE}nothing answers at AGGREGATOR_REDIS_URL={shown}: "), problem
    assert problem.endswith("Connection refused"), problem
    assert said_lines(done) == [refused_frontier_line(problem.removeprefix(FRONTIER_LINE), row.id)], done.stderr
    assert "Spider closed (frontier_unreachable)" in done.stderr
    assert "'finish_reason': 'frontier_unreachable'" in done.stderr
    assert "Enabled item pipelines:\n[]" in done.stderr  # the refused run opens no store (no second row)
    health = run_cli("--db", db, "health", "--json")
    [verdict] = [v for v in json.loads(health.stdout) if v["source"] == "caliber"]
    assert verdict["status"] == "red", verdict


@pytest.fixture
def read_only_replica() -> Iterator[str]:
    """A Redis read-only replica on 127.0.0.1 (of a primary that is not there: it answers a PING and refuses every
    write, as a failover's old primary does)."""
    server = shutil.which("redis-server")
    if server is None:
        unavailable("redis-server", "not installed")
        raise AssertionError  # (unavailable skips or fails)
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--replicaof", "127.0.0.1", str(free_port())],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        import redis

        client = redis.Redis(port=port, socket_connect_timeout=1)
        for _ in range(100):  # until it listens, 10 s at most
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None:
                    pytest.fail("the replica's redis-server exited")
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_plain_scrapy_crawl_on_a_read_only_replica_says_so_in_one_line(
    read_only_replica: str, tmp_path: Path
) -> None:
    # It answered the start's PING: the scheduler found out as the spider opened, and the log said it three times
    # (the scheduler's error, the health monitor's failure, the red verdict's warning).
    db = f"sqlite:///{tmp_path / 'a.db'}"
    done = plain_scrapy_crawl(f"AGGREGATOR_REDIS_URL={read_only_replica}", f"AGGREGATOR_DB_URL={db}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    [row] = run_rows(db)
    problem = f"Redis at AGGREGATOR_REDIS_URL={read_only_replica} refuses: You can't write against a read only replica"
    assert said_lines(done) == [refused_frontier_line(problem, row.id)], done.stderr
    assert (row.status, row.finish_reason) == ("failed", FRONTIER)
    assert row.health is not None and row.health["problems"] == [f"{FRONTIER_LINE}{problem}"]
    assert "'finish_reason': 'frontier_unreachable'" in done.stderr


def test_a_plain_scrapy_crawl_says_redis_refused_it_rather_than_nothing_answers(redis_url: str) -> None:
    """Scrapyd's job whose credentials Redis refuses: a server answered, and "nothing answers" sent the operator to
    the network rather than to the password; its words, and the address without the password."""
    from scrapy.utils.test import get_crawler

    from aggregator.locks import RefusedRun
    from aggregator.scaleout import FrontierCheck

    address = redis_url.replace("redis://", "redis://nobody:secret@", 1)
    # Building a crawler builds its extensions, as `scrapy crawl` does before it opens the spider.
    settings = {
        "AGGREGATOR_REDIS_URL": address,
        "EXTENSIONS": {"aggregator.scaleout.FrontierCheck": 0},
        "TWISTED_REACTOR_ENABLED": False,
    }
    crawler = get_crawler(settings_dict=settings)
    [refused] = [e for e in crawler.extensions.middlewares if isinstance(e, FrontierCheck | RefusedRun)]
    assert isinstance(refused, RefusedRun) and refused.reason == FRONTIER
    assert refused.message == (
        f"default: {FRONTIER_LINE}Redis at AGGREGATOR_REDIS_URL={address.replace('secret', '***')} refuses: invalid "
        "username-password pair or user is disabled; this run does not start: AGGREGATOR_REDIS_URL must name a Redis "
        "primary that answers and takes this worker's writes"
    )


def test_scale_out_into_sqlite_crawls_with_a_warning(redis_url: str, tmp_path: Path) -> None:
    # It ran without a word, though workers on other hosts cannot share the file (the README asks for PostgreSQL).
    db = f"sqlite:///{tmp_path / 'a.db'}"
    env = {**redis_env(redis_url), "AGGREGATOR_REDIS_IDLE_SECONDS": "1"}
    done = run_cli("--db", db, "crawl", "caliber", "--offline", env=env)
    assert done.returncode == 0, done.stderr[-3000:]  # one host's workers do share it: warned, not refused
    warnings = [line for line in done.stderr.splitlines() if line.startswith("aggregator: warning: ")]
    assert len(warnings) == 1 and "SQLite" in warnings[0] and "PostgreSQL" in warnings[0], done.stderr[-3000:]


def test_redis_unreachable_says_why_or_nothing(redis_url: str) -> None:
    from aggregator.scaleout import redis_unreachable

    assert redis_unreachable(redis_url) is None
    assert "Connection refused" in (redis_unreachable(f"redis://127.0.0.1:{free_port()}/8") or "")
    assert "No such file" in (redis_unreachable(f"unix://{ROOT / 'no-such.sock'}") or "")


def test_a_workers_heartbeat_lives_as_long_as_the_setting_says(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from scrapy import Spider

    from aggregator.addon import DerivedSettings
    from aggregator.crawl import project_settings
    from aggregator.scaleout import SharedScheduler

    monkeypatch.setattr("aggregator.scaleout.LoopingCall", HeartbeatLoop)  # the first beat is open's own, the TTL its
    settings = project_settings({**redis_env(redis_url), "AGGREGATOR_REDIS_HEARTBEAT_TTL": 4.5})
    DerivedSettings().update_settings(settings)  # what Scrapy does when it builds a crawler
    spider = Spider("beating")
    spider.settings = settings  # what scrapy-redis's duplicate filter reads (no crawl, no reactor needed)
    scheduler = SharedScheduler.from_crawler(SimpleNamespace(settings=settings, stats=None))
    scheduler.open(spider)
    try:
        key = f"{REDIS_NAMESPACE}:beating:worker:{scheduler.worker}"
        assert 4000 < scheduler.server.pttl(key) <= 4500
    finally:
        scheduler.close("finished")
    assert not scheduler.server.exists(key)  # the last worker out takes its heartbeat with it


def test_the_workers_of_one_generation_name_one_crawl(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each worker's run row records the crawl it is part of (``aggregator/crawl_id`` in its stats, which the store
    writes to ``crawl_runs.crawl_id``): the first worker of a generation names it, one that joins takes its name, the
    first after the last one left names a new one."""
    from types import SimpleNamespace

    from scrapy import Spider
    from scrapy.statscollectors import MemoryStatsCollector
    from scrapy.utils.test import get_crawler

    from aggregator.addon import DerivedSettings
    from aggregator.crawl import project_settings
    from aggregator.scaleout import SharedScheduler

    monkeypatch.setattr("aggregator.scaleout.LoopingCall", HeartbeatLoop)
    settings = project_settings(dict(redis_env(redis_url)))
    DerivedSettings().update_settings(settings)
    spider = Spider("naming")
    spider.settings = settings
    host = ["a"]
    monkeypatch.setattr("aggregator.scaleout.socket.gethostname", lambda: host[0])  # a host per worker

    def open_worker() -> tuple[SharedScheduler, object]:
        host[0] += "a"
        stats = MemoryStatsCollector(get_crawler())
        scheduler = SharedScheduler.from_crawler(SimpleNamespace(settings=settings, stats=stats))
        scheduler.open(spider)
        return scheduler, stats.get_value("aggregator/crawl_id")

    first, named = open_worker()
    second, joined = open_worker()
    assert isinstance(named, str) and len(named) == 32 and joined == named
    first.close("finished")
    second.close("finished")
    third, renamed = open_worker()
    third.close("finished")
    assert isinstance(renamed, str) and renamed != named


def test_three_workers_store_every_article_once_even_when_one_is_killed(
    generated_mirror: str, redis_url: str, postgres_url: str, single_process_set: set[str], tmp_path: Path
) -> None:
    n = len(single_process_set)

    # 1. Three workers, nothing killed: the union is the single-process set, each article stored once.
    shared = fresh_database(postgres_url, "shared")
    try:
        logs = [tmp_path / f"w{i}.log" for i in range(3)]
        finish([worker(shared, generated_mirror, log, redis_url) for log in logs], logs)
        urls, snapshots = stored(shared)
        assert len(urls) == len(set(urls)) == snapshots == n
        assert set(urls) == single_process_set
        runs = run_rows(shared)
        assert len(runs) == 3 * len(SOURCES) and {r.status for r in runs} == {"finished"}
        by_worker = {pid: sum(r.items_new for r in runs if r.pid == pid) for pid in {r.pid for r in runs}}
        assert len(by_worker) == 3 and sum(by_worker.values()) == n
        assert sum(1 for stored_here in by_worker.values() if stored_here) >= 2, by_worker  # the work was shared
        # Each source's three runs were one crawl, judged whole: its workers' articles summed.
        crawls = {key: {r.crawl_id for r in runs if r.source == key} for key in SOURCES}
        assert all(len(ids) == 1 and None not in ids for ids in crawls.values()), crawls
        assert len({ids.pop() for ids in crawls.values()}) == len(SOURCES)
        health = json.loads(run_cli("--db", shared, "health", "--source", "caliber", "--json").stdout)[0]
        caliber_runs = [r for r in runs if r.source == "caliber"]
        assert health["workers"] == 3 and health["crawl"] == min(r.id for r in caliber_runs)
        assert health["items"] == sum(r.health["items"] for r in caliber_runs) >= PER_SOURCE
        assert health["status"] == "green", health
    finally:
        drop_database(shared)

    # 2. One worker SIGKILLed mid-run and restarted: nothing lost once it (or any worker) has run again.
    killed_db = fresh_database(postgres_url, "killed")
    try:
        logs = [tmp_path / f"k{i}.log" for i in range(3)]
        procs = [worker(killed_db, generated_mirror, log, redis_url) for log in logs]
        deadline = time.monotonic() + 300
        while article_count(killed_db) < n // 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert procs[0].poll() is None, "the crawl finished before a worker could be killed"
        procs[0].send_signal(signal.SIGKILL)
        gone = f"{socket.gethostname()}:{procs[0].pid}"
        procs[0].wait(timeout=30)
        assert article_count(killed_db) < n
        restarted = worker(killed_db, generated_mirror, logs[0], redis_url)
        # The worker that queued again what the killed one had in hand says so, and exits 1 (its cron mail, its
        # unit's failure); the others 0.
        for proc, log in zip([restarted, *procs[1:]], logs, strict=True):
            proc.wait(timeout=600)
            said = log.read_text(errors="replace")
            requeued = f"a worker of this crawl stopped mid-crawl (killed, or cut off from Redis): {gone}"
            assert proc.returncode == (1 if requeued in said else 0), said[-3000:]
        # The next run (what the schedule starts a few minutes later, when the killed worker's heartbeat has long
        # expired) begins a new frontier generation.
        time.sleep(HEARTBEAT_TTL + 1)
        again = tmp_path / "again.log"
        procs_again = worker(killed_db, generated_mirror, again, redis_url)
        finish([procs_again], [again])
        urls, snapshots = stored(killed_db)
        assert len(urls) == len(set(urls)) == snapshots == n
        assert set(urls) == single_process_set
        runs = run_rows(killed_db)
        assert "running" not in {r.status for r in runs}  # the killed worker's runs were recognised as abandoned
        # The killed worker may not have opened a run for every source before the kill (the sources start one after
        # another): every run it did open, and only those, ended as failed.
        killed_runs = [r.status for r in runs if r.pid == procs[0].pid]
        assert killed_runs and set(killed_runs) == {"failed"}, killed_runs
        assert sum(1 for r in runs if r.status == "failed") == len(killed_runs)
        # The next run was a crawl of its own: a new generation, a new name.
        later = {r.crawl_id for r in runs if r.pid == procs_again.pid}
        assert len(later) == len(SOURCES) and not later & {r.crawl_id for r in runs if r.pid != procs_again.pid}
    finally:
        drop_database(killed_db)


def test_a_plain_scrapy_crawl_given_the_redis_url_shares_the_frontier(
    redis_url: str, mirror_url: str, tmp_path: Path
) -> None:
    """Scrapyd runs `scrapy crawl -s ...`: AGGREGATOR_REDIS_URL makes it a scale-out worker as it does `aggregator
    crawl` (it once crawled alone, without the shared frontier and without its source's lock)."""
    from tests.crawl_checks import check_archive, runs

    db = f"sqlite:///{tmp_path / 'archive.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    env["AGGREGATOR_REDIS_IDLE_SECONDS"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "caliber", "-s", f"AGGREGATOR_REDIS_URL={redis_url}",
         "-s", f"AGGREGATOR_REDIS_NAMESPACE={REDIS_NAMESPACE}", "-s", f"AGGREGATOR_MIRROR={mirror_url}",
         "-s", f"AGGREGATOR_DB_URL={db}", "-s", "LOG_LEVEL=INFO"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    check_archive(db, "caliber")
    [run] = runs(db)
    assert run.status == "finished"
    stats = run.stats or {}
    assert stats.get("scheduler/enqueued/redis", 0) > 50, stats  # every request went through Redis
    assert "scheduler/enqueued/memory" not in stats
