"""Shared fixtures: the offline mirror, throw-away databases (SQLite, and PostgreSQL when it is there)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "mirror"
PG_URL = os.environ.get("AGGREGATOR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (pyproject's addopts): one worker more than the CPUs this process may use. Much of the suite waits on
    child processes, servers and clocks; with a worker a CPU, a quarter of the CPU time went unused (two CPUs: 16 min
    with three workers where two took 20)."""
    return len(os.sched_getaffinity(0)) + 1 if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1) + 1


LONGEST_FILES = (
    "test_unattended.py", "test_cli.py", "test_scaleout.py", "test_demo.py", "test_lint.py", "test_cli_reads.py",
    "test_withdrawn.py", "test_quarantine.py", "test_citations.py", "test_crawl_sample.py", "test_stories.py",
    "test_crash_safety.py", "test_search.py", "test_migrations.py", "test_scaleout_outages.py", "test_lost_lock.py",
    "test_truncated_pages.py", "test_schedule.py",
)  # fmt: skip
"""The test files that take longest, longest first (``--durations=0``; test_lint's mypy takes a minute in a fresh
clone, without its cache): each runs on one worker (``--dist loadfile``), and one started last kept a single worker
busy for minutes after the others had finished. pytest-xdist hands the files out in this order only with
``--no-loadscope-reorder`` (in ``addopts``): by default it sorts them by their number of tests, and test_demo's one
test ran last."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest files first, the others after them in their usual order (each file's tests in theirs)."""
    rank = {name: n for n, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def services_required() -> bool:
    return os.environ.get("AGGREGATOR_REQUIRE_SERVICES", "").strip() in {"1", "true", "yes"}


def unavailable(what: str, detail: str) -> None:
    """Skip (a laptop without the service) or fail (CI, which sets AGGREGATOR_REQUIRE_SERVICES=1)."""
    if services_required():
        pytest.fail(f"{what} is required (AGGREGATOR_REQUIRE_SERVICES=1) but unreachable: {detail}")
    pytest.skip(f"{what} not reachable ({detail}); set AGGREGATOR_REQUIRE_SERVICES=1 to fail instead")


def free_port() -> int:
    """A TCP port nothing listens on now, on 127.0.0.1 (for a server a test starts in another process)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


REDIS_NAMESPACE = f"aggregator-test-{uuid.uuid4().hex[:12]}"
"""This test session's Redis keys (``AGGREGATOR_REDIS_NAMESPACE``): the suites of several checkouts tested at once on
one machine share its Redis server, and one emptying the database under another's workers lost their frontier."""


def redis_env(url: str) -> dict[str, str]:
    """The environment of a scale-out crawl of this test session against the Redis at ``url``."""
    return {"AGGREGATOR_REDIS_URL": url, "AGGREGATOR_REDIS_NAMESPACE": REDIS_NAMESPACE}


class HeartbeatLoop:
    """Stands in for Twisted's LoopingCall in a scale-out scheduler made without a crawl: LoopingCall imports (so
    installs) the global reactor, and a later test in the same process that builds a crawler with
    TWISTED_REACTOR_ENABLED off then fails ("a Twisted reactor is installed"). Keeps the call the scheduler's heartbeat
    runs, ``f``, for the test to make. ``monkeypatch.setattr("aggregator.scaleout.LoopingCall", HeartbeatLoop)``."""

    def __init__(self, f: Any) -> None:
        self.f = f
        self.running = False

    def start(self, interval: float, now: bool = True) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False


def emptied_redis(url: str) -> Iterator[str]:
    """A Redis database for one test (each test file its own number) with this session's keys (``REDIS_NAMESPACE``)
    deleted before and after; skipped or failed as ``unavailable`` says when no server answers. For a fixture:
    ``yield from emptied_redis(URL)``; the crawls take ``redis_env(url)``."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {url}", str(exc))

    def empty() -> None:
        for key in client.scan_iter(match=f"{REDIS_NAMESPACE}:*", count=1000):
            client.delete(key)

    empty()
    yield url
    empty()


def status_overlay(folder: Path, statuses: dict[str, int]) -> Path:
    """A mirror overlay (``serve_mirror(..., overlays=(folder,))``) that answers each of these real URLs with its
    status (a page the site deleted: 404 or 410), through each site's ``_mirror.toml``."""
    by_host: dict[str, list[str]] = {}
    for url, status in statuses.items():
        host, _, path = url.split("://", 1)[1].partition("/")
        by_host.setdefault(host, []).append(f'[[response]]\npath = "/{path}"\nstatus = {status}\n')
    for host, entries in by_host.items():
        (folder / host).mkdir(parents=True, exist_ok=True)
        (folder / host / "_mirror.toml").write_text("\n".join(entries), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def mirror_url() -> Iterator[str]:
    from aggregator.mirror import serve_mirror

    with serve_mirror(SAMPLE) as base:
        yield base


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'archive.db'}"


@pytest.fixture(scope="session")
def postgres_admin() -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL)
    try:
        with psycopg.connect(
            host=url.host, port=url.port or 5432, user=url.username, dbname=url.database, connect_timeout=3
        ):
            pass
    except psycopg.Error as exc:
        unavailable(f"PostgreSQL at {url.host}:{url.port or 5432}", str(exc).strip().splitlines()[0])
    return PG_URL


@contextmanager
def postgres_database(admin_url: str, prefix: str, template: str | None = None) -> Iterator[str]:
    """A new database on the server of ``admin_url`` (a copy of ``template`` if given), dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    params = {"host": admin.host, "port": admin.port or 5432, "user": admin.username, "dbname": admin.database}
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_migrated(postgres_admin: str) -> Iterator[str]:
    """The name of a database at the newest migration, made once a test process: what the ``archive`` fixtures'
    databases are copied from (``CREATE DATABASE .. TEMPLATE``), instead of each running every migration again
    (a second a test: 78 tests)."""
    from sqlalchemy.engine import make_url

    from aggregator.store import Archive

    with postgres_database(postgres_admin, "aggregator_template") as url:
        Archive.open(url).close()  # migrated; closing leaves no connection open (a template must have none)
        yield str(make_url(url).database)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest, postgres_admin: str) -> Iterator[str]:
    """A fresh database of its own for one test, dropped afterwards: empty, or at the newest migration for a test
    with an ``archive`` fixture (which opens it first thing, and would migrate it)."""
    template = request.getfixturevalue("postgres_migrated") if "archive" in request.fixturenames else None
    with postgres_database(postgres_admin, "aggregator_test", template) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on both back ends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'archive.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def archive(db_url: str) -> Iterator[Any]:
    """An empty archive with the registry's sources, on each back end (a test module may define its own)."""
    from aggregator.sources import all_sources
    from aggregator.store import Archive

    archive = Archive.open(db_url)
    archive.sync_sources(all_sources())
    yield archive
    archive.close()


KEEP_ENV = {"AGGREGATOR_REQUIRE_SERVICES", "AGGREGATOR_TEST_PG_URL"}


FORKED = os.environ.get("AGGREGATOR_TEST_FORK", "1").strip() not in {"0", "no", "false"}
"""Whether ``run_cli`` starts its commands from the preforking server (tests/helpers/preforked.py)."""


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 180,
    stdout: Any = subprocess.PIPE,
    fresh: bool = False,
):
    """Run the ``aggregator`` command in a process of its own (a Scrapy reactor runs once per process). ``stdout``:
    where its standard output goes instead of being captured (a file, as a shell's ``>`` gives it).

    The process is forked from one that has the libraries loaded already (tests/helpers/preforked.py), a second or
    more sooner; ``fresh``: a new interpreter running the installed console script instead, for the tests of the
    script itself (as every command is with ``AGGREGATOR_TEST_FORK=0``)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_") or k in KEEP_ENV}
    full_env.update({"COLUMNS": "200", **(env or {})})
    script = Path(sys.executable).with_name("aggregator")  # the installed console script
    if FORKED and not fresh and script.exists():
        return _preforked().run(str(script), list(args), cwd or ROOT, full_env, stdout, timeout)
    command = [str(script)] if script.exists() else [sys.executable, "-m", "aggregator"]
    return subprocess.run(
        [*command, *args],
        cwd=cwd or ROOT,
        env=full_env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
    )


_server: Any = None


def _preforked() -> Any:
    global _server
    if _server is None:
        from tests.helpers.preforked import Server

        _server = Server(ROOT)
    return _server
