"""Markup nested deep enough to stall the HTML parsers is flattened before it is parsed, and keeps every word."""

from __future__ import annotations

import logging
import re

import pytest
from selectolax.lexbor import LexborHTMLParser

from aggregator import markup
from aggregator.extract import extract_page
from aggregator.markup import MAX_DEPTH, SCAN_FROM, defused
from pipelines.cleanup import clean_body
from tests.conftest import ROOT

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def depth(html: str) -> int:
    """How deep the elements of a parser's serialisation nest (it closes every element it opens)."""
    deepest = level = 0
    for closing, name in re.findall(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)", html):
        if name.lower() in _VOID:
            continue
        level += -1 if closing else 1
        deepest = max(deepest, level)
    return deepest


def text(html: str) -> str:
    return re.sub(r"<[^>]*>", "", html)


def paragraphs(n: int, opener: str = "<div>") -> str:
    """``n`` paragraphs, each in a block that is never closed: what a broken template loop prints."""
    return "".join(f"{opener}<p>Абзац {k}</p>" for k in range(n))


DEEP = {
    "unclosed divs": "<html><body>" + paragraphs(SCAN_FROM),
    "unclosed sections": "<html><body>" + paragraphs(SCAN_FROM, "<section>"),
    "lists in list items": "<html><body><ul>" + "<li>пункт<ul>" * SCAN_FROM,
    "open spans, then blocks": "<html><body>" + "<span>" * SCAN_FROM + "<div>x</div>" * SCAN_FROM,
    "end tags that close nothing": "<html><body>" + "<span>" * SCAN_FROM + "</div>" * SCAN_FROM,
    "self-closing divs": "<html><body>" + "<div/>" * SCAN_FROM + "конец",
}


@pytest.mark.parametrize("name", DEEP)
def test_deep_markup_is_flattened_to_the_cap_and_keeps_its_text(name: str) -> None:
    page = DEEP[name]
    flat = defused(page)
    assert flat is not page
    assert text(flat) == text(page)  # only tags were added or dropped
    parsed = LexborHTMLParser(flat).html or ""
    assert depth(parsed) <= MAX_DEPTH + 3  # <html>, <body> and the document
    assert depth(LexborHTMLParser(page[: len(page) // 8]).html or "") > MAX_DEPTH  # the page did nest deeper


def test_flattened_paragraphs_stay_paragraphs_in_order() -> None:
    page = "<html><body>" + paragraphs(SCAN_FROM)
    tree = LexborHTMLParser(defused(page))
    assert [p.text() for p in tree.css("p")] == [f"Абзац {k}" for k in range(SCAN_FROM)]


SHALLOW = {
    "flat paragraphs": "<html><body>" + "<p>слово</p>" * SCAN_FROM,
    "paragraphs never closed": "<html><body><div>" + "<p>слово" * SCAN_FROM,
    "list items never closed": "<html><body><ul>" + "<li>пункт" * SCAN_FROM + "</ul>",
    "table cells never closed": "<html><body><table>" + "<tr><td>a<td>b" * (SCAN_FROM // 2) + "</table>",
    "inline SVG icons": "<html><body>" + '<div><svg><path d="M0"/><path d="M1"/></svg></div>' * (SCAN_FROM // 4),
    "tags in comments": "<!--" + "<div>" * SCAN_FROM + "--><p>x</p>",
    "tags in a script": "<script>" + "if (a<b) { s = '<div>'; }" * SCAN_FROM + "</script><p>x</p>",
    "links never closed": "<html><body>" + '<a href="/x">x' * SCAN_FROM + "<div>y</div>",
}


@pytest.mark.parametrize("name", SHALLOW)
def test_markup_that_does_not_nest_deep_is_left_as_it_is(name: str) -> None:
    page = SHALLOW[name]
    assert markup.needs_scan(page)  # scanned: these have as many tags as the deep ones
    assert defused(page) is page


def test_no_sample_or_saved_page_is_rewritten_even_when_scanned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markup, "SCAN_FROM", 0)  # every page scanned, not only those with many tags
    pages = [*(ROOT / "data" / "mirror").rglob("*.html"), *(ROOT / "tests" / "fixtures").rglob("*.html")]
    assert len(pages) > 150
    for path in pages:
        page = path.read_text(encoding="utf-8", errors="replace")
        assert defused(page) is page, path


def test_a_page_with_few_tags_is_not_scanned() -> None:
    page = "<div>" * (SCAN_FROM - 1)  # as deep as it can be with this many tags: about a tenth of a second a parse
    assert not markup.needs_scan(page) and not markup.needs_scan(page.encode())
    assert defused(page) is page


def test_an_article_in_a_template_loop_gone_wrong_is_archived_whole(caplog: pytest.LogCaptureFixture) -> None:
    """The crawl path: the extractor's parse of the page and the cleanup's parse of its body are both defused. The
    page with 20,000 such paragraphs took 40 s to extract here without it, 3 s with it."""
    path = ROOT / "data" / "mirror" / "caliber.az" / "post" / "liven-zatopil-ulicy-baku-9310.html"
    url = "https://caliber.az/post/liven-zatopil-ulicy-baku-9310"
    original = path.read_bytes()
    at = original.index(b">", original.index(b'class="post_body"')) + 1
    page = original[:at] + paragraphs(SCAN_FROM).encode() + original[at:]
    with caplog.at_level(logging.WARNING, logger="aggregator.markup"):
        record = extract_page(page, url)
    assert record["rejected"] is None
    assert record["title"] == extract_page(original, url)["title"]
    assert re.findall(r"Абзац \d+", record["body_text"]) == [f"Абзац {k}" for k in range(SCAN_FROM)]
    assert depth(record["body_html"]) <= MAX_DEPTH
    (warning,) = caplog.records
    asked = re.search(r"nested (\d+) elements deep", warning.getMessage())
    assert url in warning.getMessage() and asked and int(asked.group(1)) > SCAN_FROM


def test_an_element_closed_at_the_cap_takes_its_own_end_tag_not_an_ancestors() -> None:
    """A page with a properly closed block nested past the cap, in a page with enough tags to be scanned (a long
    sidebar): the end tags of the elements closed at the cap closed the article's own ``<div>``s instead, and the
    paragraphs after the block fell outside ``.post_body`` (lost from the article)."""
    nested = "<div>" * (MAX_DEPTH + 50) + "Вставка" + "</div>" * (MAX_DEPTH + 50)
    sidebar = "<ul>" + "<li><a href='/x'>ссылка</a></li>" * SCAN_FROM + "</ul>"
    page = (f"<html><body><div class='post'><div class='post_body'><p>Первый абзац.</p>{nested}<p>Второй абзац.</p>"
            f"<p>Третий абзац.</p></div></div><aside>{sidebar}</aside></body></html>")  # fmt: skip
    flat = defused(page)
    assert flat is not page and depth(flat) <= MAX_DEPTH
    body = LexborHTMLParser(flat).css_first(".post_body")
    assert body is not None
    assert [p.text() for p in body.css("p")] == ["Первый абзац.", "Второй абзац.", "Третий абзац."]
    assert "Вставка" in body.text() and "ссылка" not in body.text()


def test_a_feed_body_that_nests_too_deep_is_cleaned_whole(caplog: pytest.LogCaptureFixture) -> None:
    """A feed's article body is never parsed as a page: the cleanup pipeline defuses it itself (the sanitiser drops
    the <div>s, so the output alone does not show it; the parse took seconds)."""
    body = paragraphs(SCAN_FROM)
    with caplog.at_level(logging.WARNING, logger="aggregator.markup"):
        safe, body_text = clean_body(body, base_url="https://report.az/az/news/1")
    (warning,) = caplog.records
    assert "https://report.az/az/news/1: markup nested" in warning.getMessage()
    assert depth(safe) <= MAX_DEPTH
    assert body_text.split("\n\n") == [f"Абзац {k}" for k in range(SCAN_FROM)]


def test_the_generic_extractor_reads_a_page_that_nests_too_deep(caplog: pytest.LogCaptureFixture) -> None:
    url = "https://news.example.org/2026/11/flood"  # no registry entry: the generic extractor
    page = "<html><head><title>Ливень в Баку</title></head><body><article><h1>Ливень в Баку</h1>"
    page += paragraphs(SCAN_FROM) + "</article></body></html>"
    with caplog.at_level(logging.WARNING, logger="aggregator.markup"):
        record = extract_page(page.encode(), url)
    assert record["title"] == "Ливень в Баку"
    # trafilatura reads the defused page too: lxml, its parser, leaves out whatever nests past 256
    assert re.findall(r"Абзац \d+", record["body_text"]) == [f"Абзац {k}" for k in range(SCAN_FROM)]
    (warning,) = caplog.records
    assert url in warning.getMessage() and "nested" in warning.getMessage()
