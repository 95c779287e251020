"""Archives for the read-API tests: the bundled sample crawled once per session (a real crawl, real pipelines),
copied for each test so that counting views in one test cannot change another's."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from aggregator.api import create_app
from aggregator.items import ArticleItem
from aggregator.sources import all_sources
from aggregator.store import Archive
from tests.conftest import run_cli


def crawl_into(url: str, *extra: str) -> None:
    done = run_cli("--db", url, "crawl", "--all", "--offline", *extra)
    assert done.returncode in (0, 1), done.stderr  # 1: the sample's planted broken pages
    assert "Traceback" not in done.stderr, done.stderr


@pytest.fixture(scope="session")
def sample_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample crawled once: copy it (``sample_db``) rather than using it."""
    path = tmp_path_factory.mktemp("sample") / "archive.db"
    crawl_into(f"sqlite:///{path}")
    return path


@pytest.fixture
def sample_db(sample_template: Path, tmp_path: Path) -> str:
    target = tmp_path / "archive.db"
    for suffix in ("", "-wal", "-shm"):
        source = sample_template.with_name(sample_template.name + suffix)
        if source.exists():
            shutil.copy(source, target.with_name(target.name + suffix))
    return f"sqlite:///{target}"


@pytest.fixture
def client(sample_db: str) -> Iterator[TestClient]:
    with TestClient(create_app(sample_db, most_read_ttl=0)) as test_client:
        yield test_client


def view_as(app: Any, reader: str, article_id: int) -> httpx.Response:
    """A view of the article posted from the client address ``reader``: the counter counts each reader's view of an
    article once in its window, so tests that want several views counted post them from several readers."""
    return TestClient(app, client=(reader, 50000)).post(f"/api/articles/{article_id}/views")


ATTRIBUTION = {
    "ru": "Icma.az, ссылаясь на сайт {source}, отмечает.",
    "az": "{source} portalından əldə olunan məlumata əsasən, Icma.az xəbər verir.",
    "en": "Icma.az reports, citing {source}.",
}


def attribution(language: str, source_key: str) -> str:
    """The line an article of ``source_key`` in ``language`` must carry (the registry's name in it)."""
    from aggregator.sources import get_source

    return ATTRIBUTION[language].format(source=get_source(source_key).name)


def item(slug: str, *, published: datetime | None, language: str = "ru", title: str | None = None, **extra: Any):
    """An article as the pipelines hand it to the store (for archives built through the repository API)."""
    fetched = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    fields: dict[str, Any] = {
        "url": f"https://caliber.az/post/{slug}",
        "source": "caliber",
        "language": language,
        "title": title or f"Статья {slug}",
        "body_html": f"<p>Текст статьи {slug}.</p>",
        "body_text": f"Текст статьи {slug}.",
        "published_at": published,
        "published_raw": published.isoformat() if published else "скоро",
        "fetched_at": fetched,
        "attribution_line": "Icma.az, ссылаясь на сайт Caliber.az, отмечает.",
    }
    return ArticleItem(**(fields | extra))


def save(url: str, items: list[ArticleItem]) -> list[int]:
    archive = Archive.open(url)
    try:
        archive.sync_sources(all_sources())
        result = archive.save(items)
        return result.new_ids
    finally:
        archive.close()
