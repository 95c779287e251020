"""XSS: no script-injection vector of tests/fixtures/xss/vectors.txt survives into an article body.

Every vector sits in a real-looking article: a caliber.az one (tests/fixtures/xss/build.py), and a minval.az one
for the generic extractor. The body the pipelines produce is PARSED, never searched as a string, by two parsers
(lxml's libxml2, and lexbor, an HTML5 parser like a browser's): every element must be in the allow-list with only
its allowed attributes, every ``href``/``src`` must be http(s) once cleaned the way a browser cleans it, and there
must be no comment or processing instruction.
Checked per vector, on ``extract_page`` (the crawl's extractor and pipelines, offline); per vector again in a
picture's caption on a page the generic extractor reads (trafilatura's main text, whose figures it builds again);
and end to end, on what a real ``aggregator crawl`` of a hostile mirror stores in SQLite (where no article may be
lost).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
import pytest
from lxml import etree
from selectolax.lexbor import LexborHTMLParser

from aggregator.extract import extract_page
from tests.conftest import ROOT, run_cli
from tests.fixtures.xss.build import LEAD, Vector, article_page, article_url, build_mirror, load_vectors

# The sanitiser's allow-list: element -> the attributes it may keep (``rel`` is the one nh3 adds to links).
# This constant is the one place to align the test with the sanitiser.
ALLOWED: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        (
            "p", "br", "h2", "h3", "h4", "strong", "em", "b", "i", "u", "blockquote", "ul", "ol", "li",
            "figure", "figcaption", "table", "thead", "tbody", "tr", "th", "td", "caption", "sup", "sub",
        ),
        frozenset(),
    ),
    "a": frozenset({"href", "rel"}),
    "img": frozenset({"src", "alt"}),
    "td": frozenset({"colspan", "rowspan"}),
    "th": frozenset({"colspan", "rowspan"}),
    "ol": frozenset({"start"}),
}  # fmt: skip
NUMBER_ATTRIBUTES = frozenset({"colspan", "rowspan", "start"})
"""Kept only as plain numbers."""
URL_ATTRIBUTES = ("href", "src")
URL_SCHEMES = frozenset({"http", "https"})
# Elements a parser puts around any fragment. They must stay bare: a ``<body onload=...>`` in a body is merged into
# the page's own <body> by the browser.
IMPLIED = frozenset({"html", "head", "body"})
FETCHED_AT = datetime(2024, 3, 24, 12, 0, tzinfo=UTC)
HEADERS = {"Content-Type": "text/html; charset=utf-8"}
_C0_AND_SPACE = "".join(map(chr, range(0x21)))

VECTORS = load_vectors()


def url_scheme(value: str, base_url: str) -> str:
    """The scheme a browser would see: tabs and newlines removed, C0 controls and spaces trimmed, relative resolved."""
    cleaned = "".join(ch for ch in value if ch not in "\t\n\r").strip(_C0_AND_SPACE).lower()
    return urlsplit(urljoin(base_url, cleaned)).scheme


def element_problems(tag: str, attributes: dict[str, str], base_url: str) -> list[str]:
    problems = []
    if tag in IMPLIED:
        if attributes:
            problems.append(f"<{tag}> carries attributes {attributes!r}")
    elif tag not in ALLOWED:
        problems.append(f"<{tag}> is not an allowed element (attributes {attributes!r})")
    else:
        extra = sorted(set(attributes) - ALLOWED[tag])
        if extra:
            problems.append(f"<{tag}> has attributes outside the allow-list: {extra} in {attributes!r}")
    for name, value in attributes.items():
        if name.lower() in NUMBER_ATTRIBUTES and not (value.isascii() and value.isdigit()):
            problems.append(f"<{tag} {name}={value!r}> is not a plain number")
        if name.lower() not in URL_ATTRIBUTES:
            continue
        try:
            scheme = url_scheme(value, base_url)
        except ValueError as exc:
            problems.append(f"<{tag} {name}={value!r}> is not a URL a check can read ({exc})")
            continue
        if scheme not in URL_SCHEMES:
            problems.append(f"<{tag} {name}={value!r}> has the scheme {scheme!r}")
    return problems


def _lxml_nodes(html: str) -> Iterator[Any]:
    # Wrapped as lxml.html.fragment_fromstring wraps a fragment (a body of comments alone is no document to lxml).
    root = lxml.html.document_fromstring(f"<html><body>{html}</body></html>")
    yield from root.itersiblings(preceding=True)  # anything libxml2 puts beside the root is checked too
    yield from root.iter()
    yield from root.itersiblings()


def lxml_problems(html: str, base_url: str) -> list[str]:
    problems = []
    for node in _lxml_nodes(html):
        if isinstance(node, etree._Comment):
            problems.append(f"comment {etree.tostring(node, encoding='unicode')!r}")
        elif isinstance(node, etree._ProcessingInstruction):
            problems.append(f"processing instruction {etree.tostring(node, encoding='unicode')!r}")
        elif isinstance(node, etree._Entity):
            problems.append(f"entity reference {node.text!r}")
        elif not isinstance(node.tag, str):
            problems.append(f"unexpected node {node!r}")
        else:
            problems += element_problems(node.tag.lower(), dict(node.attrib), base_url)
    return problems


def lexbor_problems(html: str, base_url: str) -> list[str]:
    tree = LexborHTMLParser(html)
    document = tree.root.parent if tree.root is not None else None
    assert document is not None, "lexbor built no document"
    problems = []
    for node in document.traverse(include_text=False):
        if node.tag == "-document":
            continue
        if node.is_comment_node:
            problems.append(f"comment {node.html!r}")
        elif not node.is_element_node:  # a doctype, a processing instruction (lexbor keeps ``<?...>``)
            problems.append(f"non-element node {node.tag!r}: {node.html!r}")
        else:
            attributes = {k: v or "" for k, v in node.attrs.items()}
            problems += element_problems((node.tag or "").lower(), attributes, base_url)
    return problems


def unsafe(html: str, base_url: str) -> list[str]:
    """What is wrong with a sanitised body, as both parsers see it (empty when it is safe)."""
    if not html.strip():
        return []
    return [f"lxml: {p}" for p in lxml_problems(html, base_url)] + [
        f"lexbor: {p}" for p in lexbor_problems(html, base_url)
    ]


# -- the checks check -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<p>x <a href="https://caliber.az/" rel="noopener nofollow">y</a></p>', []),
        ('<img src="/media/x.webp" alt="z">', []),  # relative: resolved against the page
        ("<script>alert(1)</script>", ["not an allowed element"]),
        ("<!-- x --><p>y</p>", ["comment"]),
        ("<p>y</p><?php x ?>", ["comment", "non-element node"]),  # lxml reads a PI as a comment, lexbor keeps it
        ('<p onclick="alert(1)">y</p>', ["outside the allow-list"]),
        ('<a href="  jav&#x09;ascript:alert(1)">y</a>', ["scheme 'javascript'"]),
        ('<img src="&#1;JAVASCRIPT:alert(1)">', ["scheme 'javascript'"]),
        ('<body onload="alert(1)"><p>y</p>', ["<body> carries attributes"]),
        ('<p title="x" lang="ru">y</p>', ["outside the allow-list"]),
        ('<table><tr><td colspan="2" rowspan="3">y</td></tr></table><ol start="4"><li>z</li></ol>', []),
        ('<table><tr><td colspan="2;x">y</td></tr></table>', ["not a plain number"]),
    ],
)
def test_the_checks_catch_what_they_must(html: str, expected: list[str]) -> None:
    found = unsafe(html, "https://caliber.az/post/x")
    if not expected:
        assert found == []
    for fragment in expected:
        assert any(fragment in p for p in found), (fragment, found)


# -- per vector, through the extractor and the processing pipelines -----------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=[f"line{v.line}" for v in VECTORS])
def test_vector_is_neutralised(vector: Vector) -> None:
    url = article_url(f"xss-line-{vector.line}")
    page = article_page(f"xss-line-{vector.line}", f"Проверка санитайзера: строка {vector.line}", [vector.html])
    record = extract_page(page, url, headers=HEADERS, fetched_at=FETCHED_AT)
    assert record["rejected"] is None, f"the article was refused: {record['rejected']}"
    assert LEAD in record["body_text"], "the article's own text was lost"
    found = unsafe(record["body_html"], url)
    assert not found, "\n".join([f"vector: {vector.html!r}", f"body_html: {record['body_html']!r}", *found])


# -- per vector, through the generic extractor (trafilatura's main text), in a picture's caption ---------------

GENERIC_PAGE = (
    ROOT / "tests" / "fixtures" / "pages" / "minval" / "bold-lead-figure-captions" / "page.html"
).read_text()
GENERIC_URL = "https://minval.az/news/124011"
CAPTION = "Новый мост в день открытия. "


@pytest.mark.parametrize("vector", VECTORS, ids=[f"line{v.line}" for v in VECTORS])
def test_vector_in_a_caption_is_neutralised_by_the_generic_extractor(vector: Vector) -> None:
    # the generic extractor builds each <figure> again from trafilatura's output: what it puts back is sanitised too
    assert CAPTION in GENERIC_PAGE
    page = GENERIC_PAGE.replace(CAPTION, CAPTION + vector.html, 1).encode()
    record = extract_page(page, GENERIC_URL, headers=HEADERS, fetched_at=FETCHED_AT)
    found = unsafe(record["body_html"] or "", GENERIC_URL)
    assert not found, "\n".join([f"vector: {vector.html!r}", f"body_html: {record['body_html']!r}", *found])


# -- end to end: a real crawl of a hostile mirror into SQLite -----------------------------------------------


@pytest.fixture(scope="module")
def hostile_crawl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("xss")
    tree = tmp / "mirror"
    pages = build_mirror(tree)
    db = tmp / "archive.db"
    done = run_cli("--db", f"sqlite:///{db}", "crawl", "caliber", "--offline", "--mirror-root", str(tree))
    return {"pages": pages, "db": db, "done": done}


def _rows(db: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


def test_hostile_crawl_finishes_cleanly(hostile_crawl: dict[str, Any]) -> None:
    done = hostile_crawl["done"]
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


def test_every_hostile_article_is_archived(hostile_crawl: dict[str, Any]) -> None:
    assert hostile_crawl["db"].exists(), hostile_crawl["done"].stderr[-3000:]
    pages: dict[str, list[Vector]] = hostile_crawl["pages"]
    stored = {url for (url,) in _rows(hostile_crawl["db"], "SELECT url FROM articles")}
    rejects = _rows(hostile_crawl["db"], "SELECT url, stage, reason FROM rejects ORDER BY url")
    lost = {url: [v.line for v in pages[url]] for url in sorted(set(pages) - stored)}
    # the vectors removed, the articles kept
    extra = sorted(stored - set(pages))
    assert stored == set(pages), f"lost (vectors.txt lines): {lost}; not ours: {extra}; rejects: {rejects}"
    assert len(stored) == len(pages)
    assert rejects == []


def test_no_vector_survives_in_the_archive(hostile_crawl: dict[str, Any]) -> None:
    assert hostile_crawl["db"].exists(), hostile_crawl["done"].stderr[-3000:]
    rows = _rows(hostile_crawl["db"], "SELECT url, body_html, body_text FROM articles ORDER BY url")
    assert rows, "nothing was archived"
    report = []
    for url, body_html, body_text in rows:
        assert LEAD in body_text, url
        found = unsafe(body_html, url)
        if found:
            lines = [v.line for v in hostile_crawl["pages"].get(url, [])]
            report += [f"{url} (vectors.txt lines {lines}):", f"  body_html: {body_html!r}", *(f"  {p}" for p in found)]
    assert not report, "\n".join(report)
