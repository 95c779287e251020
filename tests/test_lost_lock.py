"""A run whose PostgreSQL lock goes with its connection (an idle timeout, a failover, a NAT that forgot the flow).

The first crawl reaches the server through a TCP proxy the test cuts (tests/helpers/tcp_proxy.py); the second crawl
and the test's own queries go to the server directly. Every crawl here is a real ``aggregator crawl`` process against
the sample served slowly on 127.0.0.1, so that the first is still crawling when the connection drops.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import ROOT
from tests.crawl_checks import runs
from tests.helpers.slow_site import slow_site
from tests.helpers.tcp_proxy import TcpProxy

CHECK_SECONDS = "0.3"


def start_crawl(db: str, site: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    env["AGGREGATOR_LOCK_CHECK_SECONDS"] = CHECK_SECONDS
    return subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--db", db, "crawl", "caliber", "--mirror", site],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for(what: Callable[[], bool], proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        if proc.poll() is not None:
            pytest.fail(f"the crawl ended first ({proc.returncode}): {proc.communicate()[1][-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail("waited in vain")
        time.sleep(0.1)


def through(proxy: TcpProxy, url: str) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    """A proxy to the test's database, which holds an archive already (so that the test can read its runs)."""
    from aggregator.store import Archive

    Archive.open(postgres_url).close()
    server = make_url(postgres_url)
    with TcpProxy(server.host or "127.0.0.1", server.port or 5432) as found:
        yield found


def test_a_run_whose_lock_went_to_another_run_stops_and_is_not_marked_stale_by_it(
    postgres_url: str, proxy: TcpProxy
) -> None:
    with slow_site() as site:
        first = start_crawl(through(proxy, postgres_url), site)
        wait_for(lambda: bool(runs(postgres_url)), first)  # crawling, its lock held by a connection through the proxy
        proxy.refusing = True  # the server cannot be reached from the first run: it cannot take its lock again
        proxy.cut()
        second = start_crawl(postgres_url, site)
        try:
            wait_for(lambda: len(runs(postgres_url)) == 2, second)  # the second run took the lock
            # The first run's row, its process alive on this host, is not "left running: marked failed" under it.
            assert [r.status for r in runs(postgres_url)] == ["running", "running"]
            proxy.refusing = False  # the first run reaches the server again: its lock is taken, it stops
            _, err = first.communicate(timeout=60)
        finally:
            second.send_signal(signal.SIGTERM)
            _, err_second = second.communicate(timeout=60)
    assert first.returncode == 1, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("caliber: ")]
    assert len(lines) == 1 and lines[0].startswith(
        "caliber: stopped: the connection holding this run's lock dropped, and another run of this source took the "
        "lock meanwhile; that run goes on"
    ), err[-3000:]
    assert "marked failed" not in err_second, err_second[-3000:]
    assert second.returncode == 0, err_second[-3000:]  # stopped on request
    one, two = runs(postgres_url)
    assert (one.status, one.finish_reason) == ("partial", "lock_lost")
    assert (two.status, two.finish_reason) == ("partial", "shutdown")
    assert one.finished_at is not None and one.finished_at < two.finished_at  # it stopped while the other ran


def test_a_lock_lost_with_its_connection_is_taken_again_when_no_other_run_took_it(
    postgres_url: str, proxy: TcpProxy
) -> None:
    with slow_site() as site:
        first = start_crawl(through(proxy, postgres_url), site)
        try:
            wait_for(lambda: bool(runs(postgres_url)), first)
            carried = proxy.accepted
            proxy.cut()
            wait_for(lambda: proxy.accepted > carried, first)  # a new connection: the lock taken again on it
            time.sleep(1.0)  # a few more looks, each finding the lock held
            refused = subprocess.run(
                [sys.executable, "-m", "aggregator", "--db", postgres_url, "crawl", "caliber", "--mirror", site],
                cwd=ROOT, capture_output=True, text=True, timeout=60,
                env={k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")},
            )  # fmt: skip
            assert first.poll() is None  # still crawling
        finally:
            first.send_signal(signal.SIGTERM)
            _, err = first.communicate(timeout=60)
    assert refused.returncode == 3, refused.stderr[-3000:]
    assert "caliber: skipped: another run of this source is in progress (locked)" in refused.stderr
    assert "no other run had taken the lock: taken again" in err, err[-3000:]
    assert first.returncode == 0, err[-3000:]  # stopped on request, nothing else wrong
    (run,) = runs(postgres_url)
    assert (run.status, run.finish_reason) == ("partial", "shutdown")


def test_sqlite_locks_are_not_watched(tmp_path: Path) -> None:
    """A file lock cannot be lost while its process lives: nothing to look at, no thread, no connection."""
    from aggregator.locks import LockCheck, SourceLocks

    locks = SourceLocks(f"sqlite:///{tmp_path / 'a.db'}")
    with locks.held(["caliber"]) as (locked, _):
        assert locked == ["caliber"]
        assert not locks.advisory
        assert locks.check() == LockCheck()
