"""The end-to-end crawl of the bundled sample, on PostgreSQL (skipped without a server, failing in CI)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli
from tests.crawl_checks import check_archive, counts, expected, runs, sources_with_samples


def test_crawl_into_postgresql_twice(postgres_url: str, tmp_path: Path) -> None:
    first = run_cli("--db", postgres_url, "crawl", "--all", "--offline", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    after_first = counts(postgres_url)
    assert after_first["articles"] == len(expected()["articles"])
    check_archive(postgres_url)

    second = run_cli("--db", postgres_url, "crawl", "--all", "--offline", cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    after_second = counts(postgres_url)
    assert after_second["articles"] == after_first["articles"]
    assert after_second["snapshots"] == after_first["snapshots"]
    assert [r.status for r in runs(postgres_url)] == ["finished"] * (2 * len(sources_with_samples()))
