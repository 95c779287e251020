"""Sources a process does not know, and spiders with no source: the archive's sources from the sources file in a process
without ``AGGREGATOR_SOURCES_FILE``, a spider module with no registry entry, an extractor of another source, a page
in a language its entry does not list. Each is said in one line, saying what to do."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler
from sqlalchemy.orm import Session
from twisted.python.failure import Failure

import aggregator.settings
from aggregator.crawl import _could_not_start, project_settings
from aggregator.source_hints import unknown_source_hints
from aggregator.sources import UnknownSourceError, all_sources, resolve_keys
from aggregator.spiderloader import RegistrySpiderLoader
from aggregator.store import Archive
from aggregator.store.models import Article, CrawlRun
from aggregator.store.models import Source as SourceRow
from spiders.base import LANGUAGE_NOT_LISTED, SpiderSetupError
from spiders.haqqin import HaqqinArticle, HaqqinSpider
from tests.conftest import ROOT, run_cli

NOW = datetime.now(UTC).replace(microsecond=0)
GREEN = {"status": "green", "problems": [], "items": 40, "extracted": 40, "median": 41.0}
RED = GREEN | {"status": "red", "problems": ["title 40%"]}

SPIDER_MODULE = '''
from spiders.feed_source import FeedSourceSpider
from spiders.haqqin import HaqqinArticle


class GundemSpider(FeedSourceSpider):
    name = "gundem"
    extractor = HaqqinArticle


class CopiedArticle(HaqqinArticle):
    pass


class MinvalSpider(FeedSourceSpider):
    """Copied from haqqin's module, its extractor left as it was."""

    name = "minval"
    extractor = CopiedArticle
'''


def archive_with(db_url: str, runs: dict[str, dict], articles: tuple[str, ...] = ()) -> None:
    """A run judged an hour ago for each source of ``runs`` (its verdict), and an article of each of ``articles``."""
    archive = Archive.open(db_url)
    try:
        with Session(archive.engine) as s, s.begin():
            for source, health in runs.items():
                s.add(CrawlRun(source=source, spider=source, started_at=NOW - timedelta(hours=1),
                               finished_at=NOW - timedelta(minutes=59), status="finished", health=health))  # fmt: skip
            for source in dict.fromkeys(articles):
                s.add(SourceRow(key=source, name=source, homepage=f"https://{source}.test", domains=[],
                                languages=["az"], timezone="Asia/Baku"))  # fmt: skip
            s.flush()
            for n, source in enumerate(articles):
                s.add(Article(source=source, url=f"https://{source}.test/{n}", fetched_url=f"https://{source}.test/{n}",
                              title="x", body_html="<p>x</p>", body_text="x", content_hash=str(n)))  # fmt: skip
    finally:
        archive.close()


def test_an_unknown_key_the_archive_holds_says_so_and_names_the_variable(tmp_path: Path) -> None:
    """`articles list --source yenixeber` in a shell without AGGREGATOR_SOURCES_FILE said "unknown source" of a
    source whose articles the archive held, as if the key were mistyped."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    archive_with(db, {"yenixeber": RED}, articles=("yenixeber", "yenixeber"))
    done = run_cli("--db", db, "articles", "list", "--source", "yenixeber")
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("aggregator: error: unknown source 'yenixeber' (known: apa, caliber")
    assert line.endswith(
        "; the archive holds 2 article(s) and 1 run(s) of 'yenixeber': is AGGREGATOR_SOURCES_FILE unset here? it "
        "names the sources file that added it"
    )
    other = tmp_path / "sources.toml"
    other.write_text(
        '[[source]]\nkey = "xeberler"\nname = "Xeberler.test"\ndomains = ["xeberler.test"]\nlanguages = ["az"]\n'
        'entry_urls = ["https://xeberler.test/rss"]\n',
        encoding="utf-8",
    )
    done = run_cli("--db", db, "crawl", "yenixeber", env={"AGGREGATOR_SOURCES_FILE": str(other)}, fresh=True)
    assert done.returncode == 2
    assert f"the sources file {other} (AGGREGATOR_SOURCES_FILE) has no entry for it now" in done.stderr
    # A key nothing knows of is the plain error it was, the archive read only on that error's path.
    nobody = run_cli("--db", db, "articles", "list", "--source", "nobody")
    assert nobody.returncode == 2 and nobody.stderr.strip().endswith("minval, report, trend)")


def test_health_reports_the_sources_the_archive_has_runs_of_and_the_registry_does_not_know(tmp_path: Path) -> None:
    """`health` without AGGREGATOR_SOURCES_FILE left the file's sources out and exited 0 while one's last run was
    red."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    archive_with(db, {s.key: GREEN for s in all_sources()} | {"yenixeber": RED, "gone": GREEN})
    done = run_cli("--db", db, "health", "--json")
    assert done.returncode == 1, done.stderr
    rows = {row["source"]: row for row in json.loads(done.stdout)}
    assert [key for key, row in rows.items() if not row["registered"]] == ["gone", "yenixeber"]
    yenixeber = rows["yenixeber"]
    assert yenixeber["status"] == "red" and yenixeber["problems"][1:] == ["title 40%"]
    assert yenixeber["problems"][0].startswith("not in the registry now (the verdict is its last run's): is ")
    assert rows["gone"]["status"] == "green" and rows["caliber"]["registered"] is True
    table = run_cli("--db", db, "health")
    assert table.returncode == 1 and "not in the registry now" in table.stdout and "yenixeber" in table.stdout
    assert run_cli("--db", db, "health", "--source", "yenixeber").returncode == 1
    assert run_cli("--db", db, "health", "--source", "gone").returncode == 0
    assert run_cli("--db", db, "health", "--source", "caliber").returncode == 0


def test_a_source_taken_out_of_the_sources_file_is_shown_and_left_out_of_the_exit_status(tmp_path: Path) -> None:
    """Where the sources file is set and has no entry for a source the archive has runs of, it was taken out (a red
    last run kept `health` red for good: `db prune-runs` keeps a source's newest runs); where it is unset, the
    variable may be what is missing, and the source counts."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    archive_with(db, {s.key: GREEN for s in all_sources()} | {"yenixeber": RED, "xeberler": GREEN})
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[[source]]\nkey = "xeberler"\nname = "Xeberler.test"\ndomains = ["xeberler.test"]\nlanguages = ["az"]\n'
        'entry_urls = ["https://xeberler.test/rss"]\n',
        encoding="utf-8",
    )
    done = run_cli("--db", db, "health", "--json", env={"AGGREGATOR_SOURCES_FILE": str(sources)}, fresh=True)
    assert done.returncode == 0, done.stdout
    row = next(row for row in json.loads(done.stdout) if row["source"] == "yenixeber")
    assert row["status"] == "red" and row["counted"] is False
    assert row["problems"][0].endswith("has no entry for it now: left out of the exit status")
    assert run_cli("--db", db, "health", "--json").returncode == 1  # no sources file here: it counts


# -- spider modules ----------------------------------------------------------------------------------------------


@pytest.fixture
def spider_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A package of spider modules beside the project's (``SPIDER_MODULES``), importable: its name."""
    package = tmp_path / "extra_spiders"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "gundem.py").write_text(SPIDER_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(aggregator.settings, "SPIDER_MODULES", ["spiders", "extra_spiders"])
    return "extra_spiders"


def test_a_spider_module_with_no_registry_entry_is_named_where_its_key_is_refused(spider_modules: str) -> None:
    """`aggregator crawl gundem` said only "unknown source 'gundem'" with the module right there."""
    with pytest.raises(UnknownSourceError) as raised:
        resolve_keys(["gundem"])
    raised.value.hints = unknown_source_hints("gundem", "sqlite:///nowhere/archive.db")
    assert str(raised.value).endswith(
        "; a spider module for it exists (extra_spiders.gundem) but no registry entry: add an entry with "
        'key = "gundem" to BUILT_IN in aggregator/sources.py (a module shipped with the project), or a [[source]] to '
        "a sources file named by AGGREGATOR_SOURCES_FILE (unset here)"
    )
    loader = RegistrySpiderLoader(project_settings())
    assert "gundem" not in loader.list() and "minval" in loader.list()
    assert "has a spider module but no registry entry" in str(loader.spider_problem("gundem"))
    assert loader.spider_problem("haqqin") is None
    assert loader.spider_problem("nobody") == "no spider or registry entry named 'nobody' (`scrapy list` lists them)"


def test_an_extractor_of_another_source_is_refused_when_the_spider_is_made() -> None:
    """A module copied from another site's, its extractor's SOURCE left as it was: every page's item went to that
    source's pipelines, refused with a traceback and the item's dump, a page at a time."""

    class CopiedArticle(HaqqinArticle):
        pass

    class MinvalSpider(HaqqinSpider):
        name = "minval"
        extractor = CopiedArticle

    with pytest.raises(SpiderSetupError) as raised:
        MinvalSpider()
    assert str(raised.value) == (
        f"spider 'minval' ({__name__}): its extractor test_an_extractor_of_another_source_is_refused_when_the_spider"
        "_is_made.<locals>.CopiedArticle makes items of source 'haqqin' (SOURCE = 'haqqin'): set its SOURCE to "
        "'minval'"
    )
    assert HaqqinSpider.setup_problem() is None


def test_aggregator_crawl_says_a_spider_that_cannot_crawl_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    not_started: dict[str, str] = {}
    with caplog.at_level(logging.ERROR):
        _could_not_start(Failure(SpiderSetupError("spider 'minval' (m): set its SOURCE")), "minval", not_started)
    assert not_started == {"minval": "spider 'minval' (m): set its SOURCE"}
    (said,) = caplog.messages
    assert said == "minval: the crawl could not start: spider 'minval' (m): set its SOURCE"  # no traceback under it


def _scrapy(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    command = [sys.executable, "-m", "scrapy", *args, "-s", "SPIDER_MODULES=spiders,extra_spiders"]
    command += ["-s", f"AGGREGATOR_DB_URL=sqlite:///{tmp_path / 'archive.db'}"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_scrapy_crawl_of_a_spider_that_cannot_crawl_is_one_log_line(spider_modules: str, tmp_path: Path) -> None:
    """`scrapy crawl gundem` died with asyncio's "Task exception was never retrieved" and a traceback; `scrapy list`
    offered it."""
    listed = _scrapy(tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    assert "gundem" not in listed.stdout.split() and "minval" in listed.stdout.split()
    assert "left out: spider 'gundem' (extra_spiders.gundem) has a spider module but no registry entry" in listed.stderr
    for name, says in (
        ("gundem", "ERROR: spider 'gundem' (extra_spiders.gundem) has a spider module but no registry entry: add a"),
        ("minval", "ERROR: spider 'minval' (extra_spiders.gundem): its extractor CopiedArticle makes items of source"),
        ("nobody", "ERROR: no spider or registry entry named 'nobody'"),
    ):
        done = _scrapy(tmp_path, "crawl", name)
        assert done.returncode == 2, done.stderr[-2000:]
        errors = [line for line in done.stderr.splitlines() if " ERROR: " in line]
        assert len(errors) == 1 and says in errors[0], done.stderr[-2000:]
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "archive.db").exists()


# -- languages -------------------------------------------------------------------------------------------------


def test_pages_in_a_language_the_entry_does_not_list_are_counted_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An Azerbaijani site's entry that named Russian only: its pages said `<html lang="az">`, its articles were
    stored as Russian with the Russian attribution line, and the crawl was green."""
    crawler = get_crawler(HaqqinSpider)
    spider = HaqqinSpider.from_crawler(crawler)  # haqqin lists ru only
    for n, lang in enumerate(("az-Latn-AZ", "az", "ru", "tr", None)):
        html = f"<!doctype html><html{f' lang={lang!r}' if lang else ''}><body><p>x</p></body></html>"
        spider.note_declared_language(HtmlResponse(f"https://haqqin.az/newsarchive/{n}", body=html.encode()))
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    assert {k: v for k, v in stats.items() if k.startswith(LANGUAGE_NOT_LISTED)} == {
        LANGUAGE_NOT_LISTED: 3, f"{LANGUAGE_NOT_LISTED}/az": 2, f"{LANGUAGE_NOT_LISTED}/tr": 1,
    }  # fmt: skip
    with caplog.at_level(logging.WARNING):
        spider.closed("finished")
    (said,) = caplog.messages
    assert said.startswith(
        'haqqin: 3 article page(s) declare a language the registry entry does not list (2 lang="az", 1 lang="tr"; '
        "the entry lists ru): they were stored as one it lists"
    )
