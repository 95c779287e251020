"""An article's versions: a changed page adds a snapshot, `articles history` shows what changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from aggregator.extract import extract_item, processing_pipelines
from aggregator.history import article_history
from aggregator.sources import all_sources
from aggregator.store import Archive
from tests.conftest import SAMPLE, run_cli

URL = "https://caliber.az/post/153813"
FIRST = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
OLD_TITLE = "Генассамблея ООН завершила общие дебаты рекордным числом выступлений"
NEW_TITLE = "Генассамблея ООН завершила общие дебаты: выступили почти двести государств"


def archive_version(archive: Archive, page: bytes, fetched_at: datetime) -> None:
    item = extract_item(page, URL, fetched_at=fetched_at)
    for pipeline in processing_pipelines():
        item = pipeline.process_item(item)
    archive.save([item])


def edited(page: bytes) -> bytes:
    """The same article as the source edits it: a new headline, the second paragraph cut."""
    text = page.decode().replace(OLD_TITLE, NEW_TITLE)
    start = text.index("<p>", text.index('class="post_body"'))
    second = text.index("<p>", start + 3)
    return (text[:second] + text[text.index("</p>", second) + 4 :]).encode()


def test_history_lists_versions_with_their_diff(db_url: str, tmp_path) -> None:
    page = (SAMPLE / "caliber.az" / "post" / "153813.html").read_bytes()
    archive = Archive.open(db_url)
    archive.sync_sources(all_sources())
    archive_version(archive, page, FIRST)
    archive_version(archive, page, FIRST + timedelta(hours=1))  # unchanged: no new version
    archive_version(archive, edited(page), FIRST + timedelta(hours=2))
    article = archive.list_articles()[0]
    assert article.title == NEW_TITLE and article.archived_at < article.updated_at

    versions = article_history(archive, article.id)
    assert [v.title for v in versions] == [OLD_TITLE, NEW_TITLE]
    assert versions[0].diff == []
    diff = versions[1].diff
    assert f"-# {OLD_TITLE}" in diff and f"+# {NEW_TITLE}" in diff
    removed = [line for line in diff if line.startswith("-") and not line.startswith(("---", "-#"))]
    assert len(removed) == 1 and removed[0].startswith("-Центральными темами дебатов")
    assert versions[1].fetched_at == (FIRST + timedelta(hours=2)).isoformat()
    archive.close()

    if db_url.startswith("sqlite"):
        shown = run_cli("--db", db_url, "articles", "history", str(article.id), "--json")
        assert shown.returncode == 0, shown.stderr
        assert [v["title"] for v in json.loads(shown.stdout)] == [OLD_TITLE, NEW_TITLE]
        table = run_cli("--db", db_url, "articles", "history", str(article.id))
        assert "version 2" in table.stdout and NEW_TITLE in table.stdout
        missing = run_cli("--db", db_url, "articles", "history", "999")
        assert missing.returncode == 2 and "no article with id 999" in missing.stderr


def test_an_edit_put_back_is_a_version_of_its_own_and_reextract_keeps_it(db_url: str) -> None:
    """A, B, A: the source edits an article and then puts the first text back (a correction undone). The third fetch
    is a version too: the history ends with the text the article shows, and a re-extraction, which reads the newest
    stored page, does not bring the retracted B back. Snapshots were unique per content hash, so the third was
    dropped: history ended at B and ``reextract`` restored it."""
    from aggregator.reextract import reextract

    page = (SAMPLE / "caliber.az" / "post" / "153813.html").read_bytes()
    archive = Archive.open(db_url)
    try:
        archive.sync_sources(all_sources())
        archive_version(archive, page, FIRST)
        archive_version(archive, edited(page), FIRST + timedelta(hours=1))
        archive_version(archive, page, FIRST + timedelta(hours=2))
        archive_version(archive, page, FIRST + timedelta(hours=3))  # unchanged since the last: no version
        article = archive.list_articles()[0]
        assert article.title == OLD_TITLE

        versions = article_history(archive, article.id)
        assert [v.title for v in versions] == [OLD_TITLE, NEW_TITLE, OLD_TITLE]
        assert versions[2].fetched_at == (FIRST + timedelta(hours=2)).isoformat()
        assert f"+# {OLD_TITLE}" in versions[2].diff

        result = reextract(archive)
        assert (result.seen, result.refused) == (1, [])
        again = archive.get_article(article.id)
        assert again is not None and again.title == OLD_TITLE
        assert "Центральными темами дебатов" in again.body_text
    finally:
        archive.close()
