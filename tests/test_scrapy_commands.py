"""Scrapy's commands for looking at one page (`scrapy parse`, `shell`, `fetch`) leave the archive alone: no run row,
nothing stored, no wait for the source's lock, no use of the scale-out workers' shared frontier
(aggregator/scrapy_commands/). Each runs as an operator would run it, in the repo root, against the offline mirror."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.locks import source_locks
from tests.conftest import REDIS_NAMESPACE, ROOT, emptied_redis, redis_env, run_cli
from tests.crawl_checks import counts, expected

REDIS_URL = "redis://127.0.0.1:6379/11"


def article() -> dict:
    """A dated Russian caliber article of the bundled sample, with what its item must say."""
    return next(
        a for a in expected("caliber")["articles"] if a["language"] == "ru" and a.get("published_at") is not None
    )


def scrapy(*args: str, mirror: str, db_url: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    full_env.update(env or {})
    command = [sys.executable, "-m", "scrapy", *args, "-s", f"AGGREGATOR_MIRROR={mirror}"]
    command += ["-s", f"AGGREGATOR_DB_URL={db_url}"]
    return subprocess.run(command, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def archive_url(tmp_path: Path) -> str:
    """An archive that exists (migrated, empty), so that a run row or a stored article would have somewhere to go."""
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    done = run_cli("--db", url, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    return url


@pytest.fixture
def redis_url() -> Iterator[str]:
    yield from emptied_redis(REDIS_URL)


def test_scrapy_parse_prints_the_item_through_the_pipelines_and_archives_nothing(
    mirror_url: str, archive_url: str
) -> None:
    page = article()
    with source_locks(archive_url, ["caliber"]) as (locked, _):
        assert locked == ["caliber"]  # a crawl of the source is running: parse must not wait for it or refuse
        done = scrapy(
            "parse", "--spider", "caliber", "-c", "parse_article", "--pipelines", page["url"],
            mirror=mirror_url, db_url=archive_url,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert f"'url': '{page['url']}'" in out
    assert "'attribution_line': 'Icma.az, ссылаясь на сайт Caliber.az, отмечает.'" in out  # the pipelines ran
    assert "'published_at': datetime.datetime(" in out
    # The raw page is its size, not hundreds of lines of escaped bytes.
    assert re.search(r"'raw_body': '<[\d,]+ bytes>'", out), out[-3000:]
    assert "\\xd0" not in out and "<!DOCTYPE" not in out
    assert counts(archive_url) == {"articles": 0, "snapshots": 0, "rejects": 0, "crawl_runs": 0}


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["fetch", "--nolog"], id="fetch"),
        pytest.param(["shell", "--nolog", "-c", "response.css('title::text').get()"], id="shell"),
    ],
)
def test_scrapy_fetch_and_shell_leave_the_archive_and_the_shared_frontier_alone(
    command: list[str], mirror_url: str, archive_url: str, redis_url: str
) -> None:
    """On a scale-out host (`AGGREGATOR_REDIS_URL` in the environment) with a crawl of the source running."""
    import redis

    page = article()
    with source_locks(archive_url, ["caliber"]) as (locked, _):
        assert locked == ["caliber"]
        done = scrapy(*command, page["url"], mirror=mirror_url, db_url=archive_url, env=redis_env(redis_url))
    assert done.returncode == 0, done.stderr[-3000:]
    assert page["title"].split()[0] in done.stdout
    # no request or fingerprint in the workers' frontier
    assert redis.Redis.from_url(redis_url).keys(f"{REDIS_NAMESPACE}:*") == []
    assert counts(archive_url)["crawl_runs"] == 0


def test_scrapy_bench_records_no_run(tmp_path: Path, archive_url: str) -> None:
    """`scrapy bench` crawls Scrapy's own local site with the project's settings: it used to add a failed "follow"
    run (health red) to the archive."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "bench", "-s", "CLOSESPIDER_TIMEOUT=2",
         "-s", f"AGGREGATOR_DB_URL={archive_url}"],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Crawled" in done.stderr  # it did crawl
    assert counts(archive_url)["crawl_runs"] == 0


def test_scrapy_parse_follows_a_listing_to_the_articles_already_archived(mirror_url: str, tmp_path: Path) -> None:
    """`scrapy parse --depth 2` of a listing shows the articles it leads to, archived or not: the incremental filter
    used to drop the archived ones, so the output held the listing's requests and no article at all."""
    archive_url = f"sqlite:///{tmp_path / 'archive.db'}"
    crawled = run_cli("--db", archive_url, "crawl", "caliber", "--mirror", mirror_url)
    assert crawled.returncode == 0, crawled.stderr[-3000:]
    archived = counts(archive_url)
    assert archived["articles"] > 0
    done = scrapy("parse", "--spider", "caliber", "-d", "2", "--nolog", "https://caliber.az/",
                  mirror=mirror_url, db_url=archive_url)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert ">>> STATUS DEPTH LEVEL 2 <<<" in done.stdout, done.stdout[:2000]
    items = re.findall(r"'url': '(https://caliber\.az/[^']+)'", done.stdout)
    assert len(items) >= 10  # the home page's article cards, parsed
    assert counts(archive_url) == archived  # and the archive is as the crawl left it


def test_scrapy_parse_creates_no_archive(mirror_url: str, tmp_path: Path) -> None:
    """Where the configured archive does not exist, looking at a page does not create it."""
    missing = tmp_path / "nothing-here.db"
    done = scrapy("parse", "--spider", "caliber", "-c", "parse_article", "--nolog", article()["url"],
                  mirror=mirror_url, db_url=f"sqlite:///{missing}")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "'attribution_line'" in done.stdout
    assert list(tmp_path.iterdir()) == []
