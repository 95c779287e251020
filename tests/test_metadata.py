"""Structured publication dates on article pages: meta tags, JSON-LD, <time datetime>, in that order."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser

from spiders.metadata import published_metadata


def page(head: str = "", body: str = "") -> LexborHTMLParser:
    return LexborHTMLParser(f"<html><head>{head}</head><body>{body}</body></html>")


def test_meta_tag_first() -> None:
    tree = page(
        '<meta property="article:published_time" content=" 2026-01-11T09:15:42+04:00 ">'
        '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2020-01-01"}</script>'
    )
    assert published_metadata(tree) == "2026-01-11T09:15:42+04:00"


def test_json_ld_of_an_article_in_a_graph() -> None:
    tree = page(
        '<script type="application/ld+json">{not json</script>'
        '<script type="application/ld+json">{"@graph": [{"@type": "Organization", "datePublished": "1999-01-01"},'
        ' {"@type": ["NewsArticle"], "datePublished": "2025-09-15T13:24:00+04:00"}]}</script>'
    )
    assert published_metadata(tree) == "2025-09-15T13:24:00+04:00"


def test_time_element_inside_the_article_only() -> None:
    tree = page(
        body='<aside><time datetime="2001-01-01">x</time></aside>'
        '<div class="post"><time datetime="2025-09-15">15</time></div>'
    )
    article = tree.css_first(".post")
    assert published_metadata(tree, article) == "2025-09-15"
    assert published_metadata(page(body="<p>no dates here</p>")) is None
