"""An operator's sources file (``AGGREGATOR_SOURCES_FILE``): sites added, or built-in entries replaced, without a
change to the code; a file the registry cannot use is one clear line, never a crawl of something else."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aggregator.mirror import serve_mirror
from aggregator.sources import BUILT_IN, SourcesFileError, _registry, load_sources_file
from tests.conftest import ROOT, run_cli

SITE = """
[[source]]
key = "xeberler"
name = "Xeberler.test"
domains = ["xeberler.test"]
languages = ["ru", "az"]
entry_urls = ["https://xeberler.test/rss"]
boilerplate = [".share"]
article_urls = "/news/\\\\d+"

[source.selectors]
title = "h1"
"""


def write(tmp_path: Path, text: str, name: str = "sources.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_entry_is_a_source_with_the_defaults_filled_in(tmp_path: Path) -> None:
    (source,) = load_sources_file(write(tmp_path, SITE), BUILT_IN)
    assert (source.key, source.name, source.domains, source.languages) == (
        "xeberler", "Xeberler.test", ("xeberler.test",), ("ru", "az"),
    )  # fmt: skip
    assert (source.timezone, source.homepage) == ("Asia/Baku", "https://xeberler.test")
    assert source.entry_urls == ("https://xeberler.test/rss",) and source.boilerplate == (".share",)
    assert dict(source.selectors) == {"title": "h1"} and source.article_pattern is not None
    assert source.article_pattern.search("https://xeberler.test/news/15")


def test_a_www_domain_owns_the_bare_one_too(tmp_path: Path) -> None:
    """A registry domain written "www.xeberler.test" while the feed links "xeberler.test": every link was dropped
    as off the source's sites, and the crawl archived nothing."""
    text = SITE.replace('domains = ["xeberler.test"]', 'domains = ["www.xeberler.test", "xeberler.test"]')
    (source,) = load_sources_file(write(tmp_path, text), BUILT_IN)
    assert source.domains == ("xeberler.test",)
    assert source.owns("https://xeberler.test/news/1") and source.owns("https://www.xeberler.test/news/1")


def test_a_built_in_key_is_replaced_in_its_place_and_new_keys_follow(tmp_path: Path) -> None:
    moved = SITE + '\n[[source]]\nkey = "minval"\nname = "Minval.info"\ndomains = ["minval.info"]\n'
    moved += 'entry_urls = ["https://minval.info/rss"]\nlanguages = ["ru"]\n'
    registry = _registry(BUILT_IN, str(write(tmp_path, moved)))
    assert [s.key for s in registry] == [s.key for s in BUILT_IN] + ["xeberler"]
    minval = next(s for s in registry if s.key == "minval")
    assert (minval.name, minval.domains) == ("Minval.info", ("minval.info",))
    assert _registry(BUILT_IN, None) is BUILT_IN and _registry(BUILT_IN, "") is BUILT_IN


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[[source]]\nkey = 'x'\n", "name, domains, entry_urls, languages missing"),
        # No language is assumed: an Azerbaijani site's entry without one was stored and attributed as Russian.
        (SITE.replace('languages = ["ru", "az"]\n', ""), "(xeberler): languages missing (languages: the ones the site"),
        (SITE.replace('languages = ["ru", "az"]', "languages = []"), "(xeberler): languages missing"),
        # The attribution line read "ссылаясь на сайт , отмечает".
        (SITE.replace('name = "Xeberler.test"', 'name = "  "'), "(xeberler): name is blank"),
        # Every page was refused with a traceback naming no selector, and health blamed the site's layout.
        (SITE.replace('[".share"]', '[".share", "..share[["]'), "(xeberler): boilerplate: '..share[[' is not a CSS"),
        (SITE.replace('title = "h1"', 'title = "h1 >"'), "(xeberler): selectors.title: 'h1 >' is not a CSS selector"),
        # Its pages would be both sources': the file's and apa's.
        (
            SITE.replace('["xeberler.test"]', '["news.apa.az"]').replace("xeberler.test/", "news.apa.az/"),
            "domain news.apa.az is inside apa.az, source 'apa''s",
        ),
        (
            SITE + '[[source]]\nkey = "mobil"\nname = "M"\ndomains = ["m.xeberler.test"]\nlanguages = ["az"]\n'
            'entry_urls = ["https://m.xeberler.test/rss"]\n',
            "source 'xeberler': domain xeberler.test is around m.xeberler.test, source 'mobil''s",
        ),
        ("[source\n", "not TOML"),
        ("[[site]]\nkey = 'x'\n", "unknown table(s) ['site']"),
        ("", "no [[source]] entry"),
        (SITE.replace('languages = ["ru", "az"]', 'languages = ["tr"]'), "languages must be some of ru, az, en"),
        (SITE.replace('key = "xeberler"', 'key = "Xəbərlər"'), "key must be lower-case letters"),
        (SITE.replace("boilerplate", "furniture"), "unknown field(s) ['furniture']"),
        (SITE + 'timezone = "Baku"\n', "[source.selectors]"),  # TOML: the line belongs to the selectors table
        (SITE.replace("boilerplate", 'timezone = "Asia/Bakuu"\nboilerplate'), "time zone 'Asia/Bakuu' does not"),
        (SITE.replace("https://xeberler.test/rss", "https://other.test/rss"), "not an http(s) address on the"),
        (SITE.replace('domains = ["xeberler.test"]', 'domains = ["https://xeberler.test/"]'), "is not a host name"),
        (SITE.replace('domains = ["xeberler.test"]', 'domains = "xeberler.test"'), "domains must be a list"),
        (SITE.replace('title = "h1"', 'headline = "h1"'), "unknown selector field(s) ['headline']"),
        (SITE.replace("/news/\\\\d+", "/news/(\\\\d+"), "article_urls is not a regular expression"),
        (SITE + SITE, "key 'xeberler' is given twice"),
        (SITE.replace("xeberler.test", "caliber.az"), "domain caliber.az is source 'caliber''s already"),
    ],
)
def test_what_the_registry_cannot_use_is_named_with_its_file_and_entry(tmp_path: Path, text: str, says: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SourcesFileError) as raised:
        load_sources_file(path, BUILT_IN)
    message = str(raised.value)
    if says == "[source.selectors]":  # the stray key is read as a selector of that name
        assert "unknown selector field(s) ['timezone']" in message
    else:
        assert says in message
    assert str(path) in message


def test_an_unreadable_file_is_named_with_its_variable(tmp_path: Path) -> None:
    with pytest.raises(SourcesFileError, match=r"AGGREGATOR_SOURCES_FILE=.*none\.toml: cannot read it"):
        load_sources_file(tmp_path / "none.toml")


def test_a_site_added_in_the_file_is_crawled_by_the_generic_spider_and_attributed_by_its_name(tmp_path: Path) -> None:
    """The whole way an operator goes: a file naming a site with a feed, no code; ``sources`` lists it, ``crawl``
    archives its articles under its key, and the attribution line prints the file's name for it."""
    mirror = tmp_path / "mirror"
    shutil.copytree(ROOT / "data" / "mirror" / "minval.az", mirror / "xeberler.test")
    for page in (mirror / "xeberler.test").rglob("*"):
        if page.is_file():
            page.write_bytes(page.read_bytes().replace(b"minval.az", b"xeberler.test"))
    env = {"AGGREGATOR_SOURCES_FILE": str(write(tmp_path, SITE))}
    db = f"sqlite:///{tmp_path / 'archive.db'}"

    listed = run_cli("sources", env=env, fresh=True)
    assert listed.returncode == 0, listed.stderr
    assert "Xeberler.test" in listed.stdout and "https://xeberler.test/rss" in listed.stdout
    with serve_mirror(mirror) as base:
        done = run_cli("--db", db, "crawl", "xeberler", "--mirror", base, env=env, fresh=True)
    assert done.returncode == 0, done.stderr[-3000:]
    shown = run_cli("--db", db, "articles", "list", "--json", env=env, fresh=True)
    articles = json.loads(shown.stdout)
    assert articles and {a["source"] for a in articles} == {"xeberler"}
    assert all(a["url"].startswith("https://xeberler.test/news/") for a in articles)
    first = json.loads(run_cli("--db", db, "articles", "show", str(articles[0]["id"]), "--json", env=env).stdout)
    assert "Xeberler.test" in first["attribution_line"]


def test_a_broken_file_stops_the_command_in_one_line(tmp_path: Path) -> None:
    env = {"AGGREGATOR_SOURCES_FILE": str(write(tmp_path, SITE.replace("xeberler.test", "caliber.az")))}
    done = run_cli("--db", f"sqlite:///{tmp_path / 'a.db'}", "crawl", "--all", "--offline", env=env, fresh=True)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"aggregator: error: {tmp_path / 'sources.toml'}: source 'xeberler': domain caliber.az")
    assert not (tmp_path / "a.db").exists()


def test_the_readme_example_is_an_entry_the_registry_takes(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    (source,) = load_sources_file(write(tmp_path, example), BUILT_IN)
    assert source.key == "xeberler" and source.selectors["body"] == ".entry-content"
    assert source.article_pattern is not None and source.article_pattern.search("https://xeberler.az/news/12")


def test_sources_marks_the_entries_from_the_file_and_those_replacing_a_built_in_one(tmp_path: Path) -> None:
    """A file entry of a built-in key replaces that entry whole, and nothing showed it: `sources` listed the file's
    caliber as if it were the code's."""
    moved = SITE + '\n[[source]]\nkey = "caliber"\nname = "Caliber.az"\ndomains = ["caliber.az"]\n'
    moved += 'entry_urls = ["https://caliber.az/rss"]\nlanguages = ["ru"]\n'
    env = {"AGGREGATOR_SOURCES_FILE": str(write(tmp_path, moved))}
    listed = run_cli("sources", "--json", env=env, fresh=True)
    assert listed.returncode == 0, listed.stderr
    origins = {row["key"]: row["origin"] for row in json.loads(listed.stdout)}
    assert origins == {s.key: "built-in" for s in BUILT_IN} | {"caliber": "replaced", "xeberler": "file"}
    table = run_cli("sources", env=env | {"COLUMNS": "240"}, fresh=True)
    assert table.returncode == 0, table.stderr
    caliber = next(line for line in table.stdout.splitlines() if "https://caliber.az/rss" in line)
    assert "sources file, replacing the built-in entry" in caliber
    narrow = run_cli("sources", env=env | {"COLUMNS": "100"}, fresh=True)
    assert "sources file, replacing the built-in entry" in narrow.stdout
    plain = run_cli("sources", fresh=True)  # no file: no column to say "built-in" six times
    header = next(line for line in plain.stdout.splitlines() if "entry URLs" in line)
    assert plain.returncode == 0 and "from" not in header and "from" in table.stdout


def test_extract_says_which_selector_of_the_file_is_bad_in_one_line(tmp_path: Path) -> None:
    """README sends an operator to `aggregator extract` to try an entry's selectors: a selector lexbor cannot parse
    was a raw traceback there, and in a crawl every page was refused with one that named no selector."""
    env = {"AGGREGATOR_SOURCES_FILE": str(write(tmp_path, SITE.replace('".share"', '"..share[["')))}
    page = ROOT / "data" / "mirror" / "minval.az"
    saved = next(p for p in page.rglob("*") if p.is_file() and b"<html" in p.read_bytes()[:4096])
    done = run_cli("extract", str(saved), "--url", "https://xeberler.test/news/1", env=env, fresh=True)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"aggregator: error: {tmp_path / 'sources.toml'}: [[source]] #1 (xeberler): boilerplate:")
    assert "'..share[[' is not a CSS selector" in line
