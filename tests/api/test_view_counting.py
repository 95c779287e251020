"""The views counter counts readers, not requests: one view per reader (client address) per article in a window,
and a cap on a reader's counted views a minute. Every request used to add one, so a script or a reloading tab could
put any article into the most-read list that every page shows."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from aggregator.api import create_app
from aggregator.api.view_record import ViewRecord
from aggregator.cli import main
from aggregator.environment import EnvironmentValueError
from aggregator.store import Archive
from tests.api.conftest import item, save, view_as


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
