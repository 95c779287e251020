"""The source registry is the only place that knows a source's name and domains."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from aggregator.sources import UnknownSourceError, all_sources, get_source, resolve_keys, source_for_url
from aggregator.text import name_key
from tests.conftest import ROOT


def test_caliber_entry() -> None:
    caliber = get_source("caliber")
    assert caliber.name == "Caliber.az"
    assert caliber.timezone == "Asia/Baku"
    assert caliber.languages == ("ru", "en", "az")
    assert all(caliber.owns(url) for url in caliber.entry_urls)
    assert caliber.owns("https://cdn.caliber.az/media/x.webp")
    assert not caliber.owns("https://notcaliber.az/post/x")
    assert source_for_url("https://caliber.az/en/post/1") is caliber
    assert source_for_url("https://example.org/") is None


@pytest.mark.parametrize(
    ("key", "name", "languages", "article"),
    [
        ("haqqin", "Haqqin.az", ("ru",), "https://haqqin.az/newsarchive/393110"),
        ("apa", "Apa.az", ("az", "ru"), "https://apa.az/ru/energetika/slug-813140"),
    ],
)
def test_feed_source_entries(key: str, name: str, languages: tuple[str, ...], article: str) -> None:
    source = get_source(key)
    assert (source.name, source.languages, source.timezone) == (name, languages, "Asia/Baku")
    assert source.entry_urls and all(source.owns(url) for url in source.entry_urls)
    assert source_for_url(article) is source
    assert source.boilerplate


def test_other_names_are_the_sources_own() -> None:
    # A name in another script ("АПА" for Apa.az) is the source's alone: no other source, and not its own name again.
    assert get_source("apa").other_names == ("АПА",)
    keys = [(s.key, name_key(n)) for s in all_sources() for n in (s.name, *s.domains, *s.other_names)]
    for source in all_sources():
        own = {name_key(n) for n in (source.name, *source.domains)}
        for other in source.other_names:
            assert name_key(other) not in own, (source.key, other)
            assert {k for k, n in keys if n == name_key(other)} == {source.key}, (source.key, other)


def test_unknown_keys_say_what_is_known() -> None:
    with pytest.raises(UnknownSourceError, match=r"known: (\w+, )*caliber\b"):
        resolve_keys(["caliber", "nope"])


def _code_strings(path: Path) -> list[str]:
    """String constants of a module that code uses, without documentation (docstrings, attribute docstrings)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    documentation = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in documentation
    ]


def test_no_code_outside_the_registry_hard_codes_a_source() -> None:
    needles = {n.lower() for s in all_sources() for n in (s.name, *s.domains)}
    offenders = []
    for package in ("aggregator", "spiders", "pipelines"):
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "aggregator" / "sources.py":
                continue
            for text in _code_strings(path):
                if any(n in text.lower() for n in needles):
                    offenders.append(f"{path.relative_to(ROOT)}: {text!r}")
    assert offenders == []
