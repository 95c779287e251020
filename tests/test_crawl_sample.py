"""End-to-end: real Scrapy crawls of the bundled samples of every source, served on 127.0.0.1, into SQLite."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.crawl_checks import (
    GUIDE,
    archived_by_source,
    check_archive,
    counts,
    expected,
    runs,
    sample_mismatch,
    source_key,
    sources_with_samples,
)


@pytest.fixture(scope="module")
def crawled_twice(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Crawl the sample twice with the installed command, run from a directory outside the project (in a new
    interpreter each time, as from a shell: not forked from the tests' preloaded one)."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    url = f"sqlite:///{elsewhere / 'archive.db'}"
    first = run_cli("--db", url, "crawl", "--all", "--offline", cwd=elsewhere, fresh=True)
    after_first = counts(url)
    second = run_cli("--db", url, "crawl", "caliber", "--offline", cwd=elsewhere, fresh=True)
    return {
        "url": url,
        "first": first,
        "second": second,
        "after_first": after_first,
        "after_second": counts(url),
    }


def test_crawl_succeeds_and_summarises(crawled_twice: dict) -> None:
    first = crawled_twice["first"]
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Crawl summary" in first.stdout
    assert (
        "caliber: finished" in first.stdout and "1 page(s) read in another encoding than they declare" in first.stdout
    )
    for source in sources_with_samples():
        assert source in first.stdout


def test_every_valid_page_is_archived_as_expected(crawled_twice: dict) -> None:
    archived = crawled_twice["after_first"]["articles"]
    assert archived == len(expected()["articles"]), sample_mismatch(archived_by_source(crawled_twice["url"]))
    check_archive(crawled_twice["url"])


def test_second_crawl_adds_no_rows(crawled_twice: dict) -> None:
    assert crawled_twice["second"].returncode == 0, crawled_twice["second"].stderr[-3000:]
    first, second = crawled_twice["after_first"], crawled_twice["after_second"]
    assert second["articles"] == first["articles"]
    assert second["snapshots"] == first["snapshots"]  # unchanged pages add no version


def test_a_count_that_differs_names_the_source_and_what_to_do() -> None:
    archived = Counter(source_key(a["url"]) for a in expected()["articles"])
    n = archived["report"]
    archived["report"] = n - 1
    archived["newsite"] = 3  # a new site's pages in data/mirror/, without expectations
    assert sample_mismatch(archived) == (
        "newsite: 3 article(s) archived, and no file in tests/fixtures/sample_expected/ expects any: write "
        f"newsite.json; report: {n - 1} article(s) archived, {n} expected by tests/fixtures/sample_expected/ "
        f'(see {GUIDE}, "The sample\'s expectations")'
    )
    assert (ROOT / GUIDE).is_file()


def test_runs_are_recorded_with_their_counts(crawled_twice: dict) -> None:
    recorded = runs(crawled_twice["url"])
    assert [r.status for r in recorded] == ["finished"] * (len(sources_with_samples()) + 1), sample_mismatch(
        archived_by_source(crawled_twice["url"])
    )
    *firsts, second = recorded  # one run per source for --all, then caliber's second run
    assert sorted(r.source for r in firsts) == sorted(sources_with_samples())
    assert second.source == "caliber"
    for first in firsts:
        want = expected(first.source)
        n = len(want["articles"])
        assert first.stats["aggregator/articles_new"] == n, first.source
        broken = len(want["rejects"])
        rejected = sum(v for k, v in first.stats.items() if k.startswith("aggregator/rejected/"))
        assert rejected == broken, first.source
        assert first.stats["aggregator/http_errors"] == len(want["http_errors"]), first.source
        undated = [a for a in want["articles"] if a["published_at"] is None]
        assert first.stats.get("aggregator/dates_unparsed", 0) == len(undated), first.source
        assert first.finished_at and first.finished_at >= first.started_at
    for run in firsts:  # each page is requested once: the mirror answers under the real URL, no second request
        assert run.stats["downloader/request_count"] == run.stats["downloader/response_count"], run.source
    caliber_first = next(r for r in firsts if r.source == "caliber")
    assert caliber_first.stats["aggregator/rejected/validate"] == len(expected("caliber")["rejects"])
    assert caliber_first.stats["aggregator/dates_unparsed"] == 1
    # One page is in windows-1251 behind a header that says utf-8: read in its own encoding, and counted.
    assert caliber_first.stats["aggregator/charset_corrected"] == 1
    n = len(expected("caliber")["articles"])
    assert second.stats.get("aggregator/articles_new", 0) == 0
    # The second run is incremental: the sample's articles are years old, so none is fetched again, except the
    # undated one (its age is its archive time: just now), re-fetched with a conditional request and not modified.
    assert second.stats["aggregator/skipped_known"] == n - 1
    assert second.stats["aggregator/not_modified"] == 1
    assert second.stats.get("aggregator/articles_unchanged", 0) == 0
    assert (caliber_first.pages, caliber_first.items_new, second.pages, second.items_new) == (
        caliber_first.stats["response_received_count"],
        n,
        second.stats["response_received_count"] + 1,  # the 304 answer is a page fetched too
        0,
    )
    assert second.items_unchanged == 1  # and the article it answered for is unchanged


def test_cli_lists_what_was_archived(crawled_twice: dict) -> None:
    import json

    listed = run_cli("--db", crawled_twice["url"], "articles", "list", "--limit", "500", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert {r["url"] for r in rows} == {a["url"] for a in expected()["articles"]}
    for row in rows:
        assert set(row) >= {"id", "source", "language", "title", "url", "published_at"}
        assert row["source"] == source_key(row["url"])
    undated = json.loads(run_cli("--db", crawled_twice["url"], "articles", "list", "--undated", "--json").stdout)
    assert [r["url"] for r in undated] == [a["url"] for a in expected()["articles"] if a["published_at"] is None]
    shown = run_cli("--db", crawled_twice["url"], "articles", "show", str(rows[0]["id"]), "--json")
    detail = json.loads(shown.stdout)
    assert detail["url"] == rows[0]["url"] and detail["body_text"] and len(detail["snapshots"]) == 1
    assert detail["cover_image_url"] == rows[0]["cover_image_url"]  # listed with each article, as in the API
    assert sum(1 for r in rows if r["cover_image_url"]) > len(rows) // 2


def test_each_cited_outlet_has_one_name_in_the_export(crawled_twice: dict) -> None:
    # The sample's caliber.az pages cite Apa.az as "АПА" in Russian and "APA" in Azerbaijani and English, and
    # AZERTAC as "Азертадж": the export (and the archive) names each outlet once, as a page of the articles citing
    # it would list them. Before, 3 APA, 2 АПА, 6 Report, 1 Trend, 2 Азертадж.
    import json
    from collections import Counter

    exported = run_cli("--db", crawled_twice["url"], "export")
    assert exported.returncode == 0, exported.stderr
    cited = Counter(name for line in exported.stdout.splitlines() for name in json.loads(line)["cited_outlets"])
    assert cited == {"Report.az": 6, "Apa.az": 5, "AZERTAC": 2, "Trend.az": 1}


def test_scrapy_crawl_works_in_the_repo_root(mirror_url: str, tmp_path: Path) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    assert "caliber" in listed.stdout.split()
    url = f"sqlite:///{tmp_path / 'scrapy.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "caliber", "-s", f"AGGREGATOR_MIRROR={mirror_url}",
         "-s", f"AGGREGATOR_DB_URL={url}"],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    check_archive(url, "caliber")


def test_crawl_from_a_mirror_url(mirror_url: str, tmp_path: Path) -> None:
    """`--mirror URL`: any server holding the same tree (here one started by the test) stands in for the sites."""
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    done = run_cli("--db", url, "crawl", "--all", "--mirror", mirror_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    check_archive(url)
