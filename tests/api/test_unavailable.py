"""When the archive stops answering (PostgreSQL dropped or down, an SQLite file replaced by something else), every
route says so: a 503 with ``Retry-After``, JSON for the API, the feeds and the probes, an HTML page for the pages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from aggregator.api import create_app
from aggregator.api.app import RETRY_AFTER_SECONDS
from aggregator.store import queries
from aggregator.store.db import sqlite_file
from tests.api.conftest import item, save, view_as

JSON_ROUTES = ("/api/articles", "/api/articles/{id}", "/api/sources", "/api/most-read", "/api/health", "/metrics",
               "/feeds/all.rss", "/feeds/caliber.rss")  # fmt: skip
PAGES = ("/", "/news/{id}")


@pytest.fixture(params=["sqlite-replaced", "sqlite-removed", "postgresql-dropped"])
def going(request: pytest.FixtureRequest) -> str:
    """How the archive goes away: its SQLite file replaced by something else or removed, or its PostgreSQL database
    dropped."""
    return str(request.param)


def archive_url(going: str, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("postgres_url" if going.startswith("postgresql") else "sqlite_url"))


def take_away(app: FastAPI, db_url: str, going: str, request: pytest.FixtureRequest) -> None:
    """Make the archive stop answering while the app runs."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        path = sqlite_file(db_url)
        assert path is not None
        # The connections the app holds stay open: they must notice that the file they read is gone (an open file
        # outlives its name), not go on answering from it.
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        if going == "sqlite-replaced":
            path.write_bytes(b"not an archive\n" * 512)
        return
    import psycopg

    admin = make_url(request.getfixturevalue("postgres_admin"))
    with psycopg.connect(host=admin.host, port=admin.port or 5432, user=admin.username, dbname=admin.database,
                         autocommit=True) as conn:  # fmt: skip
        conn.execute(f'DROP DATABASE "{url.database}" WITH (FORCE)')  # ends the app's connections too


def test_every_route_answers_503_while_the_archive_does_not_answer(going: str, request: pytest.FixtureRequest) -> None:
    db_url = archive_url(going, request)
    (article_id,) = save(db_url, [item("one", published=datetime(2026, 11, 20, tzinfo=UTC))])
    app = create_app(db_url, most_read_ttl=0)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get(f"/news/{article_id}").status_code == 200
        client.post(f"/api/articles/{article_id}/views")  # the writing engine is open too
        take_away(app, db_url, going, request)
        retry = str(RETRY_AFTER_SECONDS)
        for path in JSON_ROUTES:
            answer = client.get(path.format(id=article_id))
            assert answer.status_code == 503, (path, answer.text)
            assert answer.headers["content-type"] == "application/json", path
            assert answer.headers["retry-after"] == retry, path
            assert answer.json()["detail"].startswith("the archive does not answer ("), path
        for views in (client.post(f"/api/articles/{article_id}/views"), view_as(app, "192.0.2.1", article_id)):
            # A reader's view again (the count read) and a new reader's (the count written).
            assert views.status_code == 503 and views.headers["retry-after"] == retry and "detail" in views.json()
        for path in PAGES:
            answer = client.get(path.format(id=article_id))
            assert answer.status_code == 503, (path, answer.text)
            assert answer.headers["content-type"] == "text/html; charset=utf-8", path
            assert answer.headers["retry-after"] == retry, path
            assert "Сайт временно недоступен" in answer.text, path
        probe = client.get("/healthz")
        assert probe.status_code == 503 and probe.json()["status"] == "error"
        assert probe.headers["retry-after"] == retry
        # robots.txt reads nothing from the archive: it still answers (its description documents no 503).
        assert client.get("/robots.txt").status_code == 200
    if going == "sqlite-removed":
        # The reads and the view counts used to open a new empty archive in the removed one's place, answer from it
        # and leave it behind for the next crawl to fill as if nothing had been archived before.
        path = sqlite_file(db_url)
        assert path is not None and not path.exists()


def test_a_fault_in_a_query_is_still_a_server_error(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only an archive that does not answer is a 503: a wrong query is a fault, raised to the server, which logs its
    traceback and answers 500."""

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ProgrammingError("SELECT nonsense", {}, Exception("syntax error"))

    save(sqlite_url, [item("one", published=datetime(2026, 11, 20, tzinfo=UTC))])
    monkeypatch.setattr(queries, "list_page", broken)
    with TestClient(create_app(sqlite_url)) as client, pytest.raises(ProgrammingError):
        client.get("/api/articles")
    with TestClient(create_app(sqlite_url), raise_server_exceptions=False) as client:
        assert client.get("/api/articles").status_code == 500


def test_an_archive_swapped_in_under_the_server_is_served_at_once(tmp_path: Path) -> None:
    """A backup restored over the archive (``mv``) while the server runs: the next request reads the restored file,
    not the one the pool's connections opened before (which a connection would go on reading: an open file outlives
    its name)."""
    live, restored = tmp_path / "archive.db", tmp_path / "restored.db"
    save(f"sqlite:///{live}", [item("before", published=datetime(2026, 11, 20, tzinfo=UTC))])
    save(f"sqlite:///{restored}", [item(f"after-{n}", published=datetime(2026, 11, 21, tzinfo=UTC)) for n in (1, 2)])
    with TestClient(create_app(f"sqlite:///{live}", most_read_ttl=0)) as client:
        titles = [i["title"] for i in client.get("/api/articles").json()["items"]]
        assert titles == ["Статья before"]
        (article_id,) = [i["id"] for i in client.get("/api/articles").json()["items"]]
        assert client.post(f"/api/articles/{article_id}/views").status_code == 200  # the writing engine opened too
        for suffix in ("-wal", "-shm"):
            Path(f"{live}{suffix}").unlink(missing_ok=True)
        restored.replace(live)
        titles = [i["title"] for i in client.get("/api/articles").json()["items"]]
        assert sorted(titles) == ["Статья after-1", "Статья after-2"]
        assert view_as(client.app, "192.0.2.1", article_id).json()["views"] == 1  # into the restored file
        assert client.get("/healthz").status_code == 200
