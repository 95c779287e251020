"""Saved-page tests: each case under tests/fixtures/pages/<spider>/<case>/ re-extracts to its expected.json.

``make regen-pages`` (``python -m tests.regenerate_pages``) writes a new case's expected.json, to be read whole, and
rewrites them after a deliberate change to extraction or cleanup: read the diff of each. How to add a case:
docs/adding-a-source.md.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from scrapy.spiderloader import get_spider_loader

from aggregator.crawl import project_settings
from aggregator.items import ArticleItem
from aggregator.sources import source_for_url
from tests.regenerate_pages import PAGES, PageCase, all_cases

CASES = all_cases()
ACCEPTED = [c for c in CASES if c.expected_file.exists() and c.expected()["rejected"] is None]
REFUSED = [c for c in CASES if c.expected_file.exists() and c.expected()["rejected"] is not None]

# Fields every accepted article must fill; a case may allow some to be empty with meta.json's "allow_empty".
REQUIRED_FIELDS = (
    "source",
    "url",
    "language",
    "canonical_url",
    "title",
    "body_html",
    "body_text",
    "published_raw",
    "published_at",
    "category",
    "cover_image_url",
)
META_KEYS = {"url", "headers", "fetched_at", "description", "allow_empty"}
ITEM_FIELDS = set(ArticleItem.__dataclass_fields__) - {"raw_body", "minhash"}  # bytes, not in to_record()


def ids(cases: list[PageCase]) -> list[str]:
    return [c.id for c in cases]


def spider_names() -> list[str]:
    return get_spider_loader(project_settings()).list()


def empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# -- the pages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_page_extracts_to_expected(case: PageCase) -> None:
    assert case.expected_file.exists(), (
        f"{case.id}: no expected.json; run `python -m tests.regenerate_pages {case.id}` and read it whole "
        "(docs/adding-a-source.md)"
    )
    expected = case.expected()
    actual = json.loads(json.dumps(case.extract()))  # the JSON round trip expected.json went through
    assert actual == expected, (
        f"{case.id} no longer extracts to its expected.json. If the change is deliberate, run "
        f"`python -m tests.regenerate_pages {case.id}` and read the diff."
    )


# -- the registry ------------------------------------------------------------------------------------


def test_there_are_cases() -> None:
    assert CASES, f"no saved-page cases under {PAGES}"


@pytest.mark.parametrize("spider", spider_names())
def test_every_spider_has_a_case(spider: str) -> None:
    assert (PAGES / spider).is_dir() and any(c.spider == spider for c in CASES), (
        f"spider {spider!r} has no saved-page case: add tests/fixtures/pages/{spider}/<case>/ "
        "(docs/adding-a-source.md, C.1)"
    )


def test_every_case_folder_belongs_to_a_spider() -> None:
    strays = sorted({c.spider for c in CASES} - set(spider_names()))
    assert not strays, f"case folders for spiders Scrapy does not know: {strays}"


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case_is_complete(case: PageCase) -> None:
    for file in (case.page, case.meta_file, case.expected_file):
        assert file.is_file(), f"{case.id}: missing {file.name}"
    meta = case.meta()
    assert set(meta) <= META_KEYS, f"{case.id}: unknown meta.json keys {sorted(set(meta) - META_KEYS)}"
    assert meta.get("description", "").strip(), f"{case.id}: meta.json needs a description"
    assert meta.get("fetched_at"), f"{case.id}: meta.json needs a fixed fetched_at"
    assert urlsplit(meta["url"]).scheme == "https", f"{case.id}: url must be the real https URL"
    source = source_for_url(meta["url"])
    assert source is not None and source.key == case.spider, (
        f"{case.id}: {meta['url']} does not belong to the {case.spider!r} source"
    )
    assert set(case.expected()) == ITEM_FIELDS | {"rejected", "not_an_article"}, (
        f"{case.id}: expected.json fields differ from the item's; regenerate it"
    )


@pytest.mark.parametrize("case", ACCEPTED, ids=ids(ACCEPTED))
def test_accepted_case_has_no_empty_fields(case: PageCase) -> None:
    expected = case.expected()
    allowed = set(case.meta().get("allow_empty", []))
    assert allowed <= set(REQUIRED_FIELDS), f"{case.id}: allow_empty names unknown fields"
    missing = [f for f in REQUIRED_FIELDS if f not in allowed and empty(expected.get(f))]
    assert not missing, f"{case.id}: empty fields in expected.json: {missing}"
    stale = [f for f in sorted(allowed) if not empty(expected.get(f))]
    assert not stale, f"{case.id}: allow_empty lists fields that are filled: {stale}"


@pytest.mark.parametrize("case", REFUSED, ids=ids(REFUSED))
def test_refused_case_names_its_reason(case: PageCase) -> None:
    rejected = case.expected()["rejected"]
    assert isinstance(rejected, dict), f"{case.id}: rejected must be {{'stage': ..., 'reason': ...}}"
    assert set(rejected) == {"stage", "reason"}, f"{case.id}: rejected has keys {sorted(rejected)}"
    assert not empty(rejected["stage"]), f"{case.id}: refused without a stage"
    assert not empty(rejected["reason"]), f"{case.id}: refused without a reason"
    assert "allow_empty" not in case.meta(), f"{case.id}: allow_empty means nothing on a refused case"
