"""Undated articles are counted alike everywhere: the crawl summary's `undated`, `aggregator runs`, `aggregator stats`
and `articles list --undated` (a source whose date selector matched nothing said 0 in the summary and 4 in `stats`);
and a date the crawl could not read is quoted where it says so."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from tests.conftest import ROOT, run_cli

SITE = """
[[source]]
key = "xeberler"
name = "Xeberler.test"
domains = ["xeberler.test"]
entry_urls = ["https://xeberler.test/rss"]
languages = ["ru"]
article_urls = "/news/\\\\d+"

[source.selectors]
title = "h1"
date = ".news-date"
"""
NO_DATE, LOSES_ITS_DATE = "124001", "124003"
UNREADABLE = ("124002", "124005", "124006")  # three: fewer is not judged (AGGREGATOR_HEALTH_MIN_MISSING)
DATE_LINE = re.compile(r'<(span|time) class="news-date"[^>]*>[^<]*</\1>')


def mirror_of(tmp_path: Path) -> Path:
    """minval's mirror as the site xeberler.test whose only date is the one its pages print (no feed date, no
    metadata): one page prints none (the date selector matches nothing there), three a date no parser reads."""
    site = tmp_path / "mirror" / "xeberler.test"
    shutil.copytree(ROOT / "data" / "mirror" / "minval.az", site)
    for page in site.rglob("*"):
        if not page.is_file() or page.name.startswith("_"):
            continue
        text = page.read_text(encoding="utf-8").replace("minval.az", "xeberler.test")
        text = re.sub(r"<pubDate>.*?</pubDate>", "", text)
        text = re.sub(r'<meta property="article:[a-z_]+time"[^>]*>', "", text)
        text = re.sub(r'"date(Published|Modified|Created)": "[^"]*",?', "", text)
        text = re.sub(r' datetime="[^"]*"', "", text)
        if page.stem == NO_DATE:
            text = DATE_LINE.sub("", text)
        elif page.stem in UNREADABLE:
            text = DATE_LINE.sub('<span class="news-date">2026/12/06\n10h15</span>', text)
        page.write_text(text, encoding="utf-8")
    return site.parent


def summary_undated(stdout: str) -> int:
    header = next(line for line in stdout.splitlines() if line.startswith("source "))
    row = next(line for line in stdout.splitlines() if line.startswith("xeberler "))
    assert header.split()[-1] == "undated", header
    return int(row.split()[-1])


def counted_elsewhere(db: str, env: dict[str, str]) -> tuple[int, int, int]:
    """Undated articles as `runs --json` (the latest run), `stats --json` and `articles list --undated` count them."""
    runs = json.loads(run_cli("--db", db, "runs", "--json", env=env).stdout)
    days = json.loads(run_cli("--db", db, "stats", "--json", env=env).stdout)
    listed = json.loads(run_cli("--db", db, "articles", "list", "--undated", "--json", env=env).stdout)
    return runs[0]["dates_unparsed"], sum(day["undated"] for day in days), len(listed)


def test_the_crawl_summary_counts_the_undated_articles_the_archive_holds(tmp_path: Path) -> None:
    mirror = mirror_of(tmp_path)
    sources = tmp_path / "sources.toml"
    sources.write_text(SITE, encoding="utf-8")
    env = {"AGGREGATOR_SOURCES_FILE": str(sources)}
    db = f"sqlite:///{tmp_path / 'archive.db'}"

    first = run_cli("--db", db, "crawl", "xeberler", "--offline", "--mirror-root", str(mirror), env=env)
    assert first.returncode in (0, 1), first.stderr[-3000:]
    # The page that prints no date is as undated as those whose date could not be read: the summary said 3.
    assert summary_undated(first.stdout) == 4
    assert counted_elsewhere(db, env) == (4, 4, 4)
    # The date not read is quoted, on its one line.
    assert "could not be read (e.g. '2026/12/06 10h15')" in first.stderr

    # Fetched again, one dated page has lost its date line: the archive keeps its date (a version without one does
    # not take it away), so it is not undated, though the dates pipeline found no date on it; the four undated
    # pages, unchanged, still are.
    page = mirror / "xeberler.test" / "news" / f"{LOSES_ITS_DATE}.html"
    page.write_text(DATE_LINE.sub("", page.read_text(encoding="utf-8")), encoding="utf-8")
    again = run_cli("--db", db, "crawl", "xeberler", "--refresh", "--offline", "--mirror-root", str(mirror), env=env)
    assert again.returncode in (0, 1), again.stderr[-3000:]
    assert summary_undated(again.stdout) == 4
    assert counted_elsewhere(db, env) == (4, 4, 4)
