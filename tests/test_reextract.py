"""Re-extraction repairs the archive from its stored pages, without the network."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from aggregator.reextract import reextract
from aggregator.store import Archive
from aggregator.store.models import Article, Snapshot
from tests.conftest import run_cli
from tests.crawl_checks import check_archive, counts, expected


def test_reextract_repairs_what_an_old_extractor_got_wrong(db_url: str, tmp_path) -> None:
    done = run_cli("--db", db_url, "crawl", "--all", "--offline", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    before = counts(db_url)
    archive = Archive.open(db_url)
    # What a buggy extractor of an earlier release had stored for two articles.
    with archive.session.begin() as session:
        session.execute(
            update(Article).where(Article.id.in_([1, 2])).values(title="(broken)", body_text="", cited_outlets=[])
        )

    result = reextract(archive)
    assert result.seen == before["articles"] and result.changed == 2 and not result.refused
    check_archive(db_url)  # titles and texts are back to what the pages say
    assert counts(db_url)["snapshots"] == before["snapshots"]  # re-reading adds no version

    assert reextract(archive).changed == 0  # idempotent
    assert reextract(archive, source="caliber", since=datetime(2100, 1, 1, tzinfo=UTC)).seen == 0
    assert archive.count(Snapshot) == before["snapshots"]
    archive.close()

    if db_url.startswith("sqlite"):
        shown = run_cli("--db", db_url, "reextract", "--source", "caliber", "--since", "2020-01-01")
        caliber = len(expected("caliber")["articles"])
        assert shown.returncode == 0 and f"re-extracted {caliber} stored page(s): 0" in shown.stdout
        bad = run_cli("--db", db_url, "reextract", "--since", "last week")
        assert bad.returncode == 2 and "--since" in bad.stderr
