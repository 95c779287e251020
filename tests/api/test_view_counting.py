"""The views counter counts readers, not requests: one view per reader (client address) per article in a window,
and a cap on a reader's counted views a minute. Every request used to add one, so a script or a reloading tab could
put any article into the most-read list that every page shows."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from aggregator.api import create_app
from aggregator.api.view_record import REDIS_RETRY_SECONDS, SharedViewRecord, ViewRecord
from aggregator.cli import main
from aggregator.environment import EnvironmentValueError
from aggregator.store import Archive
from tests.api.conftest import item, save, view_as
from tests.conftest import REDIS_NAMESPACE, ROOT, emptied_redis, free_port, redis_env


class Clock:
    """A clock the test moves (seconds), instead of sleeping through a window."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def articles(url: str, count: int) -> list[int]:
    return save(url, [item(f"read-{n}", published=datetime(2026, 11, 20, tzinfo=UTC)) for n in range(count)])


def views(app: object, article_id: int) -> int:
    return int(TestClient(app).get(f"/api/articles/{article_id}").json()["views"])  # type: ignore[arg-type]


def test_a_reader_is_counted_once_per_article_within_the_window(sqlite_url: str) -> None:
    a, b = articles(sqlite_url, 2)
    clock = Clock()
    app = create_app(sqlite_url, view_record=ViewRecord(1800, clock=clock))
    reader = TestClient(app, client=("198.51.100.7", 40000))
    first = reader.post(f"/api/articles/{a}/views")
    assert first.status_code == 200 and first.json() == {"id": a, "views": 1, "counted": True}
    again = reader.post(f"/api/articles/{a}/views")  # the tab reloaded: the page still shows the count
    assert again.status_code == 200 and again.json() == {"id": a, "views": 1, "counted": False}
    # Another connection (another tab, another port) from the same address is the same reader.
    assert view_as(app, "198.51.100.7", a).json() == {"id": a, "views": 1, "counted": False}
    assert view_as(app, "203.0.113.9", a).json() == {"id": a, "views": 2, "counted": True}  # another reader
    assert reader.post(f"/api/articles/{a}/views").json() == {"id": a, "views": 2, "counted": False}  # current
    assert reader.post(f"/api/articles/{b}/views").json() == {"id": b, "views": 1, "counted": True}  # another article
    clock.now += 1799
    assert reader.post(f"/api/articles/{a}/views").json()["counted"] is False
    clock.now += 1  # the window is over: a view again is a view again
    assert reader.post(f"/api/articles/{a}/views").json() == {"id": a, "views": 3, "counted": True}
    assert views(app, a) == 3


def test_a_reader_over_the_cap_is_answered_429_until_the_minute_is_over(sqlite_url: str) -> None:
    ids = articles(sqlite_url, 5)
    clock = Clock()
    app = create_app(sqlite_url, view_record=ViewRecord(1800, per_minute=3, clock=clock))
    script = TestClient(app, client=("198.51.100.66", 40000))
    for article_id in ids[:3]:
        assert script.post(f"/api/articles/{article_id}/views").json()["counted"] is True
    refused = script.post(f"/api/articles/{ids[3]}/views")
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert "over 3 views counted from this address in a minute" in refused.json()["detail"]
    assert views(app, ids[3]) == 0
    # An article the reader has read still shows its count; another reader is not held up by this one.
    assert script.post(f"/api/articles/{ids[0]}/views").json() == {"id": ids[0], "views": 1, "counted": False}
    assert view_as(app, "203.0.113.9", ids[3]).json() == {"id": ids[3], "views": 1, "counted": True}
    clock.now += 45
    assert script.post(f"/api/articles/{ids[4]}/views").headers["retry-after"] == "15"
    clock.now += 15
    assert script.post(f"/api/articles/{ids[4]}/views").json() == {"id": ids[4], "views": 1, "counted": True}


def test_missing_and_withdrawn_articles_are_not_remembered(sqlite_url: str) -> None:
    """404 and 410 as before, a reader's view again included; neither uses up the reader's minute."""
    a, b = articles(sqlite_url, 2)
    app = create_app(sqlite_url, view_record=ViewRecord(1800, per_minute=2, clock=Clock()))
    reader = TestClient(app, client=("198.51.100.7", 40000))
    for _ in range(3):
        missing = reader.post("/api/articles/999999/views")
        assert missing.status_code == 404 and missing.json() == {"detail": "no article with id 999999"}
    assert reader.post(f"/api/articles/{a}/views").json()["counted"] is True
    archive = Archive.open(sqlite_url)
    assert archive.withdraw([a, b], "takedown") == [a, b]
    archive.close()
    for article_id in (a, b):  # a view again (read) and a new one (written)
        gone = reader.post(f"/api/articles/{article_id}/views")
        assert gone.status_code == 410 and gone.json() == {"detail": f"article {article_id} was withdrawn"}
    assert len(app.state.view_record) == 1


def test_one_readers_views_at_once_count_once(sqlite_url: str) -> None:
    """The endpoint runs in the thread pool: a reader's requests at the same moment are counted once, not each."""
    (article_id,) = articles(sqlite_url, 1)
    app = create_app(sqlite_url)
    answers: list[dict] = []
    start = threading.Barrier(8)

    def view() -> None:
        start.wait()
        answers.append(view_as(app, "198.51.100.7", article_id).json())

    threads = [threading.Thread(target=view) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a["counted"] for a in answers) == [False] * 7 + [True]
    assert views(app, article_id) == 1


def test_the_record_is_bounded_and_forgets_what_is_past_the_window() -> None:
    clock = Clock()
    record = ViewRecord(60, max_entries=3, clock=clock)
    for n in range(4):
        assert record.claim(f"192.0.2.{n}", 7).kind == "new"
    assert len(record) == 3  # the oldest dropped: that reader would be counted again
    assert record.claim("192.0.2.0", 7).kind == "new"
    assert record.claim("192.0.2.3", 7).kind == "seen"
    clock.now += 60
    assert record.claim("192.0.2.9", 7).kind == "new"
    assert len(record) == 1
    assert len(record._minutes) == 1  # each reader's minute is forgotten too
    # A window of 0 remembers nothing: every view is counted, under the minute's cap.
    every = ViewRecord(0, per_minute=2, clock=clock)
    assert [every.claim("192.0.2.1", 7).kind for _ in range(3)] == ["new", "new", "capped"]
    assert len(every) == 0


def test_the_window_comes_from_the_environment(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert create_app(sqlite_url).state.view_record.window == 1800
    monkeypatch.setenv("AGGREGATOR_VIEW_WINDOW_SECONDS", "600")
    assert create_app(sqlite_url).state.view_record.window == 600


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("30m", "AGGREGATOR_VIEW_WINDOW_SECONDS='30m': expected a number of seconds"),
        ("-5", "AGGREGATOR_VIEW_WINDOW_SECONDS='-5': expected seconds as a number of 0 or more"),
    ],
)
def test_a_bad_window_is_refused_by_name(
    value: str,
    says: str,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AGGREGATOR_VIEW_WINDOW_SECONDS", value)
    with pytest.raises(EnvironmentValueError, match=says.replace("'", ".")):
        create_app(sqlite_url)
    # `aggregator serve`: one line and exit status 2, before it listens.
    monkeypatch.setattr(sys, "argv", ["aggregator", "--db", sqlite_url, "serve", "--port", "1"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip() == f"aggregator: error: {says}"


# -- several server processes: the record in Redis (AGGREGATOR_REDIS_URL) ----------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/10"


@pytest.fixture
def redis_url() -> Iterator[str]:
    yield from emptied_redis(REDIS_URL)


def test_processes_sharing_a_redis_count_a_reader_once(
    sqlite_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`aggregator serve --workers N`, or hosts behind a balancer: each process kept its own record, so a reader whose
    views landed on two processes was counted twice, and had the minute's cap in each. Two apps built from the same
    environment stand for two processes."""
    a, b, c, d = articles(sqlite_url, 4)
    for name, value in redis_env(redis_url).items():
        monkeypatch.setenv(name, value)
    first, second = create_app(sqlite_url), create_app(sqlite_url)
    assert view_as(first, "198.51.100.7", a).json() == {"id": a, "views": 1, "counted": True}
    assert view_as(second, "198.51.100.7", a).json() == {"id": a, "views": 1, "counted": False}
    assert view_as(second, "203.0.113.9", a).json() == {"id": a, "views": 2, "counted": True}
    assert view_as(first, "203.0.113.9", a).json() == {"id": a, "views": 2, "counted": False}
    # The minute's cap is the reader's, whichever process counts: 60 views in all.
    monkeypatch.setattr(first.state.view_record, "per_minute", 3)
    monkeypatch.setattr(second.state.view_record, "per_minute", 3)
    assert view_as(second, "198.51.100.7", b).json()["counted"] is True
    assert view_as(first, "198.51.100.7", c).json()["counted"] is True
    capped = view_as(second, "198.51.100.7", d)
    assert capped.status_code == 429 and 1 <= int(capped.headers["retry-after"]) <= 60
    # A view not counted (no such article) takes nothing from the reader's minute, in either process.
    monkeypatch.setattr(first.state.view_record, "per_minute", 4)
    monkeypatch.setattr(second.state.view_record, "per_minute", 4)
    assert view_as(first, "198.51.100.7", 999999).status_code == 404
    assert view_as(second, "198.51.100.7", d).json() == {"id": d, "views": 1, "counted": True}
    # What one process remembered, a restarted one (a new app) still knows.
    assert view_as(create_app(sqlite_url), "203.0.113.9", a).json()["counted"] is False


def test_the_shared_record_forgets_with_the_window(redis_url: str) -> None:
    record = SharedViewRecord(redis_url, 0.3, namespace=REDIS_NAMESPACE, per_minute=5)
    assert record.claim("192.0.2.1", 7).kind == "new"
    assert record.claim("192.0.2.1", 7).kind == "seen"
    assert record.claim("192.0.2.1", 8).kind == "new"
    time.sleep(0.4)
    assert record.claim("192.0.2.1", 7).kind == "new"
    # A claim taken back (its view was not counted) is forgotten, and gives the reader's minute back.
    claim = record.claim("192.0.2.1", 9)
    assert claim.kind == "new"
    record.release("192.0.2.1", 9, claim)
    assert [record.claim("192.0.2.1", n).kind for n in (9, 10, 11)] == ["new", "new", "capped"]  # 5 a minute
    # Claims of one view at once (threads here; processes alike, each a script Redis runs whole): one is new.
    kinds: list[str] = []
    start = threading.Barrier(8)

    def claim() -> None:
        start.wait()
        kinds.append(record.claim("192.0.2.3", 7).kind)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(kinds) == ["new"] + ["seen"] * 7
    # A window of 0 remembers no view: each is counted, under the minute's cap.
    every = SharedViewRecord(redis_url, 0, namespace=REDIS_NAMESPACE, per_minute=2)
    assert [every.claim("192.0.2.2", 7).kind for _ in range(3)] == ["new", "new", "capped"]
    for each in (record, every):
        each.close()


def test_while_redis_does_not_answer_the_process_counts_alone(
    sqlite_url: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A Redis outage must not stop views from being counted: the process's own record answers meanwhile, Redis is
    not asked again for a few seconds (each view would wait for its timeout), and one line says so each way."""
    a, b = articles(sqlite_url, 2)
    clock = Clock()
    record = SharedViewRecord(redis_url, 1800, namespace=REDIS_NAMESPACE, clock=clock)
    asked: list[int] = []
    real = record._claim

    def down(*args: object, **kwargs: object) -> object:
        asked.append(1)
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    record._claim = down
    app = create_app(sqlite_url, view_record=record)
    with caplog.at_level(logging.WARNING, logger="aggregator.api.view_record"):
        assert view_as(app, "198.51.100.7", a).json() == {"id": a, "views": 1, "counted": True}
        assert view_as(app, "198.51.100.7", a).json() == {"id": a, "views": 1, "counted": False}
        assert view_as(app, "198.51.100.7", 999999).status_code == 404
        assert len(asked) == 1  # not asked again while it rests
        record._claim = real
        clock.now += REDIS_RETRY_SECONDS
        assert view_as(app, "198.51.100.7", b).json() == {"id": b, "views": 1, "counted": True}
        assert view_as(app, "198.51.100.7", b).json()["counted"] is False  # remembered in Redis now
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        (
            f"views: Redis at {redis_url} does not answer (ConnectionError: Error 111 connecting to 127.0.0.1:6379. "
            "Connection refused.); this process remembers its own readers until it does"
        ),
        f"views: Redis at {redis_url} answers again; the readers are remembered there",
    ]


def test_serve_with_several_workers_counts_a_reader_once(sample_db: str, redis_url: str, tmp_path: Path) -> None:
    """The real thing: `aggregator serve --workers 2` with AGGREGATOR_REDIS_URL, a reader's views over fresh
    connections (either worker takes each) counted once; the start says where readers are remembered."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")} | redis_env(redis_url)
    env["COLUMNS"] = "200"  # the start lines unwrapped
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "--db", sample_db, "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while log.read_text().count("Application startup complete") < 2:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        article_id = httpx.get(f"{base}/api/articles?limit=1", timeout=30).json()["items"][0]["id"]
        counted = [httpx.post(f"{base}/api/articles/{article_id}/views", timeout=30).json() for _ in range(12)]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert [c["counted"] for c in counted] == [True] + [False] * 11
    assert {c["views"] for c in counted} == {counted[0]["views"]}
    assert f"Views: readers remembered in Redis at {redis_url}, shared by every process" in log.read_text()
    assert server.returncode == 0 and "Traceback" not in log.read_text(), log.read_text()
